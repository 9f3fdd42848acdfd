"""Drive real PoCPS challenges from tests: register, wait for epochs, prove, cheat."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pinfi import protocol as proto
from tests.conftest import CLASS_ID, EPOCH_BLOCKS, MIN_BOND, TEST_CLASS, System

_fingerprints = iter(range(1, 10**9))


def register(system: System, owner, operator, class_id: int = CLASS_ID) -> int:
    """Fund `owner` if needed, bond `MIN_BOND` and register a fresh device; returns its id."""
    if system.token.balanceOf(owner) < MIN_BOND:
        system.token.transfer(owner, MIN_BOND * 10, sender=system.admin)
    system.token.approve(system.staking, MIN_BOND, sender=owner)
    fp = next(_fingerprints).to_bytes(32, "big")
    tx = system.staking.registerDevice(class_id, fp, operator, sender=owner)
    return int(tx.return_value)


def epoch_start(system: System, epoch: int) -> int:
    return system.staking.genesisBlock() + epoch * EPOCH_BLOCKS


def goto_epoch(chain, system: System, epoch: int, offset: int = 1) -> None:
    """Mine until the next block to be mined is `epoch_start(epoch) + offset`."""
    target = epoch_start(system, epoch) + offset
    head = chain.blocks.head.number
    if head + 1 < target:
        chain.mine(target - head - 1)


def next_epoch(chain, system: System) -> int:
    e = system.staking.currentEpoch() + 1
    goto_epoch(chain, system, e)
    return e


def blockhash(chain, number: int) -> bytes:
    return bytes(chain.provider.web3.eth.get_block(number)["hash"])


def tree_for(system: System, device_id: int, epoch: int,
             tamper: Callable[[np.ndarray], None] | None = None) -> proto.MerkleTree:
    """The honest (or `tamper`ed) Merkle tree of `device_id`'s challenge in `epoch`."""
    seed = bytes(system.verifier.epochSeed(epoch))
    s = proto.challenge_seed(seed, device_id, epoch)
    c = proto.product(s, TEST_CLASS["n"])
    if tamper is not None:
        tamper(c)
    return proto.MerkleTree.from_product(c, TEST_CLASS["leaf"], workers=1)


def commit(chain, system: System, device_id: int, operator, epoch: int | None = None,
           tamper: Callable[[np.ndarray], None] | None = None):
    """Checkpoint, compute and commit; returns (tree, receipt)."""
    epoch = system.staking.currentEpoch() if epoch is None else epoch
    if system.verifier.epochSeed(epoch) == b"\x00" * 32:
        system.verifier.checkpoint(sender=operator)
    tree = tree_for(system, device_id, epoch, tamper)
    tx = system.verifier.commit(device_id, epoch, tree.root, sender=operator)
    return tree, tx


def opening(chain, tree: proto.MerkleTree, commit_block: int) -> tuple[bytes, list[bytes], list]:
    """Calldata of `open` for a commit mined in `commit_block`."""
    sseed = proto.sample_seed(blockhash(chain, commit_block), tree.root)
    picks = proto.samples(sseed, tree.n_leaves, TEST_CLASS["k"], TEST_CLASS["leaf"])
    leaves, proof = proto.build_opening(tree, picks)
    return leaves, proof, picks


def prove(chain, system: System, device_id: int, operator, epoch: int | None = None,
          tamper: Callable[[np.ndarray], None] | None = None):
    """Commit then open in the next block; returns (tree, open receipt, samples)."""
    tree, tx = commit(chain, system, device_id, operator, epoch, tamper)
    epoch = system.staking.currentEpoch() if epoch is None else epoch
    leaves, proof, picks = opening(chain, tree, tx.block_number)
    otx = system.verifier.open(device_id, epoch, leaves, proof, sender=operator)
    return tree, otx, picks


def activate(chain, system: System, owner, operator) -> int:
    """Register a device and pass its first challenge: returns an Active device id."""
    device_id = register(system, owner, operator)
    next_epoch(chain, system)
    prove(chain, system, device_id, operator)
    return device_id


def selected_epoch(chain, system: System, device_id: int, want: bool = True,
                   limit: int = 40) -> int:
    """Advance epoch by epoch until the device is (or is not) challenged; returns the epoch."""
    for _ in range(limit):
        e = next_epoch(chain, system)
        system.verifier.checkpoint(sender=system.admin)
        if bool(system.verifier.isChallenged(device_id, e)) == want:
            return e
    raise AssertionError("selection never matched")
