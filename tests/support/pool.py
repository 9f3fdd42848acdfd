"""Helpers for the DissipativePool tests: activate devices through real PoCPS, storage slots,
solvency accounting."""

from __future__ import annotations

from eth_utils import keccak

from tests.support import pocps
from tests.support.constants import System

# Storage slots of DissipativePool (AccessControl._roles is slot 0; ReentrancyGuardTransient uses
# transient storage): _classes = 1, _devices = 2, expiryWord = 3.
SLOT_EXPIRY = 3
FAR = 2**63  # a deadline far in the future
MAX_UINT96 = 2**96 - 1


def word(x: int) -> bytes:
    return x.to_bytes(32, "big")


def mapping_slot(key: int, slot: int) -> int:
    return int.from_bytes(keccak(word(key) + word(slot)), "big")


def expiry_slot(class_id: int, epoch: int) -> int:
    """Storage slot of `expiryWord[classId][epoch / 16]`."""
    return mapping_slot(epoch >> 4, mapping_slot(class_id, SLOT_EXPIRY))


def activate_many(chain, system: System, owner, operator, n: int) -> list[int]:
    """Register `n` devices and pass their first challenge, up to 4 per epoch (commit window 6)."""
    ids = [pocps.register(system, owner, operator) for _ in range(n)]
    for i in range(0, n, 4):
        batch = ids[i : i + 4]
        e = pocps.next_epoch(chain, system)
        system.verifier.checkpoint(sender=operator)
        commits = []
        for d in batch:
            tree, tx = pocps.commit(chain, system, d, operator, e)
            commits.append((d, tree, tx.block_number))
        pocps.after_deadline(chain, system, e)  # openings start after the commit deadline
        for d, tree, block in commits:
            leaves, proof, _ = pocps.opening(chain, tree, block)
            system.verifier.open(d, e, leaves, proof, sender=operator)
    return ids


def owed(pool, device_ids) -> int:
    """What the pool owes: every owner's `credited - claimed` and the pending down bonds."""
    total = 0
    for d in device_ids:
        _, _, owed_to_owner, _, _, bond = pool.escrowOf(d)
        total += owed_to_owner + bond
    return total


def epoch(system: System) -> int:
    return system.pool.currentEpoch()


# ---------------------------------------------------------------------- pro rata (blocks)


def next_offset(chain, system: System) -> int:
    """Block offset since genesis of the next block: the one the next transaction is mined in
    (automine) and a `pending` call runs in (a plain call runs in the head block)."""
    return chain.blocks.head.number + 1 - system.staking.genesisBlock()


def quote_next(pool, class_id: int, epochs: int) -> int:
    """`quote` in the block the next transaction is mined in: the exact cost of a lease sent
    now (a `latest` call prices the head block, one block earlier, docs/protocol.md#pro-rata)."""
    return pool.quote(class_id, epochs, block_id="pending")


def whole_cost(pool, class_id: int, epochs: int) -> int:
    """`epochs` whole epochs at today's price: the most a lease of `epochs` costs at today's
    demand, in any block (the pro-rata quote is lower except at an epoch's first block). A safe
    `maxCost` for tests whose chain moves on its own (docs/protocol.md#pro-rata)."""
    return epochs * pool.pricePerEpoch(class_id)


def tx_offset(system: System, tx) -> int:
    """Block offset since genesis of the block that mined `tx`."""
    return tx.block_number - system.staking.genesisBlock()


def permit(chain, token, owner, spender: str, value: int,
           deadline: int) -> tuple[int, bytes, bytes]:
    """EIP-2612 permit signature `(v, r, s)` of test account `owner` for `spender`."""
    from eth_account import Account

    from pinfi.chain.permit import sign_permit

    return sign_permit(Account.from_key(owner.private_key), name=token.name(),
                       chain_id=chain.chain_id, token=token.address, spender=spender,
                       value=value, nonce=token.nonces(owner.address), deadline=deadline)
