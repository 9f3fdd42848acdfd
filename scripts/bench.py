"""`ape run bench`: gas of every hot path on Anvil's default hardfork -> bench/results/gas.json.

Deploys a fresh system with a bench class (n=1024, L=32, k=8, c=1) and its k=16 twin, drives real
PoCPS proofs, a real dispute and leases, and records `gas_used` of each transaction. `claim_1`
and `claim_1000` are the same (non-first) claim of the same device before and after 999 more
devices are registered: O(1) claims make them equal.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand

from pinfi import protocol as proto
from pinfi_dev.deploy import deploy_protocol

OUT = Path("bench/results/gas.json")
UNIT = 10**18
NETWORK = {
    "maxSupply": 10**9 * UNIT, "genesisSupply": 10**8 * UNIT, "epochBlocks": 60,
    "unbondingBlocks": 120, "rewardPerBlock": UNIT, "halvingBlocks": 10**6, "bountyBps": 1_000,
}
COMMON = {
    "commitWindow": 20, "openWindow": 20, "disputeWindow": 20, "challengeBps": 10_000,
    "missSlashBps": 1_000, "fraudSlashBps": 5_000, "minBond": 1_000 * UNIT, "weight": 10,
    "pFloor": UNIT, "p0": 10 * UNIT, "alpha": 3 * UNIT // 2, "betaBps": 2_000,
    "maxLeaseEpochs": 100, "terminateFeeBps": 500, "downBond": 10 * UNIT,
}
TINY = {**COMMON, "id": 1, "n": 64, "leaf": 16, "k": 4, "c": 1, "minBond": UNIT}
K8 = {**COMMON, "id": 2, "n": 1024, "leaf": 32, "k": 8, "c": 1}
K16 = {**COMMON, "id": 3, "n": 1024, "leaf": 32, "k": 16, "c": 1}
GOALS = {"lease": 100_000, "commit": 60_000, "open": 200_000}


def permit_signature(token, owner, spender: str, value: int,
                     deadline: int) -> tuple[int, bytes, bytes]:
    """EIP-2612 permit `(v, r, s)` of test account `owner` (PinToken's domain, version "1")."""
    from eth_account import Account

    from pinfi.chain.permit import sign_permit

    return sign_permit(Account.from_key(owner.private_key), name=token.name(),
                       chain_id=chain.chain_id, token=token.address, spender=spender,
                       value=value, nonce=token.nonces(owner.address), deadline=deadline)


class Bench:
    def __init__(self, with_pool: bool) -> None:
        self.admin = accounts.test_accounts[0]
        self.d = deploy_protocol(project, chain, self.admin, NETWORK, [TINY, K8, K16],
                                 with_pool=with_pool)
        self.gas: dict[str, int] = {}
        self.trees: dict[int, proto.MerkleTree] = {}
        self.fp = 0

    def record(self, name: str, tx) -> None:
        self.gas[name] = int(tx.gas_used)
        data = bytes(chain.provider.web3.eth.get_transaction(tx.txn_hash)["input"])
        zeros = data.count(0)
        floor = 21_000 + 10 * (zeros + 4 * (len(data) - zeros))
        click.echo(f"  {name:<12} {tx.gas_used:>9,} gas  calldata {len(data):>5} B"
                   f"  (EIP-7623 floor {floor:,})")

    def register(self, owner, operator, cls: dict, name: str | None = None) -> int:
        self.fp += 1
        tx = self.d.staking.registerDevice(cls["id"], self.fp.to_bytes(32, "big"), operator,
                                           sender=owner)
        if name:
            self.record(name, tx)
        return int(tx.return_value)

    def next_epoch(self) -> int:
        e = self.d.staking.currentEpoch() + 1
        target = self.d.staking.genesisBlock() + e * NETWORK["epochBlocks"] + 1
        chain.mine(max(0, target - chain.blocks.head.number - 1))
        self.d.verifier.checkpoint(sender=self.admin)
        return e

    def prove_epoch(self, device: int, operator, cls: dict) -> None:
        """Commit and open `device` in the next epoch (a passed opening: it vests)."""
        e = self.next_epoch()
        tree, tx = self.commit(device, operator, cls, e)
        self.after_deadline(e)
        self.open(device, operator, cls, e, tree, tx)

    def after_deadline(self, epoch: int) -> None:
        """Mine until the next block is the first after the commit deadline of `epoch`."""
        target = (self.d.staking.genesisBlock() + epoch * NETWORK["epochBlocks"]
                  + COMMON["commitWindow"] + 1)
        chain.mine(max(0, target - chain.blocks.head.number - 1))

    def commit(self, device: int, operator, cls: dict, epoch: int, name: str | None = None,
               tamper_rows: tuple[int, int] | None = None):
        s = proto.challenge_seed(bytes(self.d.verifier.epochSeed(epoch)), device, epoch)
        c = proto.product(s, cls["n"])
        if tamper_rows is not None:
            c[tamper_rows[0]:tamper_rows[1], :] += 1
        tree = proto.MerkleTree.from_product(c, cls["leaf"])
        tx = self.d.verifier.commit(device, epoch, tree.root, sender=operator)
        if name:
            self.record(name, tx)
        return tree, tx

    def open(self, device: int, operator, cls: dict, epoch: int, tree, commit_tx,
             name: str | None = None):
        bh = bytes(chain.provider.web3.eth.get_block(commit_tx.block_number)["hash"])
        sseed = proto.sample_seed(bh, tree.root)
        picks = proto.samples(sseed, tree.n_leaves, cls["k"], cls["leaf"])
        leaves, proof = proto.build_opening(tree, picks)
        tx = self.d.verifier.open(device, epoch, leaves, proof, sender=operator)
        if name:
            self.record(name, tx)
        return picks, tx


@click.command(cls=ConnectedProviderCommand)
def cli() -> None:
    t0 = time.time()
    with_pool = hasattr(project, "DissipativePool")
    b = Bench(with_pool)
    d, admin = b.d, b.admin
    provider, operator, client, keeper = (accounts.test_accounts[i] for i in (1, 2, 3, 4))
    d.token.transfer(provider, 10**6 * UNIT, sender=admin)
    d.token.transfer(client, 10**6 * UNIT, sender=admin)
    d.token.approve(d.staking, 2**255, sender=provider)
    d.token.approve(d.staking, 2**255, sender=admin)
    click.echo("gas benchmark (Anvil default hardfork)")
    b.record("transfer", d.token.transfer(keeper, UNIT, sender=provider))

    dev8 = b.register(provider, operator, K8, "register")
    dev16 = b.register(provider, operator, K16)
    cheats = [b.register(provider, operator, K8) for _ in range(3)]
    # Epoch 1: first proofs; opening them activates the devices (a one-off cost per device).
    e = b.next_epoch()
    first = [(dev, cls, *b.commit(dev, operator, cls, e, "commit_first" if dev == dev8 else None))
             for dev, cls in ((dev8, K8), (dev16, K16))]
    b.after_deadline(e)  # openings start after the commit deadline
    for dev, cls, tree, ctx in first:
        b.open(dev, operator, cls, e, tree, ctx, "open_first" if dev == dev8 else None)
    # Epoch 2: the steady state of an Active device (challengeBps = 100%: always selected).
    e = b.next_epoch()
    tree8, ctx8 = b.commit(dev8, operator, K8, e, "commit")
    tree16, ctx16 = b.commit(dev16, operator, K16, e)
    # Each cheater corrupts the rows of the last stratum only. The stratum `open` recomputes is
    # drawn from the commit block's hash: a cheater whose draw misses the corrupted stratum
    # passes `open` and is convicted by a dispute of that stratum's sample (1 - 1/k per cheater).
    rows = (K8["n"] * K8["n"] // K8["k"]) // K8["n"]
    bad = K8["k"] - 1
    span = (bad * rows, (bad + 1) * rows)
    commits = [(cheat, *b.commit(cheat, operator, K8, e, tamper_rows=span)) for cheat in cheats]
    b.after_deadline(e)
    b.open(dev8, operator, K8, e, tree8, ctx8, "open")
    b.open(dev16, operator, K16, e, tree16, ctx16, "open_k16")
    for cheat, treec, ctxc in commits:
        picks, otx = b.open(cheat, operator, K8, e, treec, ctxc)
        if not otx.events.filter(d.verifier.FraudProven):
            break
    else:
        raise SystemExit("every cheater's check fell on the corrupted stratum (p = 1/512)")
    q = bad
    li, ei = picks[q]
    tx = d.verifier.dispute(cheat, e, q, ei, treec.leaf_bytes(li), treec.path(li), sender=keeper)
    b.record("dispute", tx)

    # Claims: warm up once, then the same claim with 1 and with 1,000 devices registered. Each
    # claim is made in a fresh epoch after its checkpoint (which the keeper makes every epoch
    # and which stores the accumulator snapshot), so that both claims vest the same way.
    b.next_epoch()
    d.staking.claim(dev8, sender=provider)
    b.prove_epoch(dev8, operator, K8)  # vests at the next claim
    b.next_epoch()
    chain.mine(10)
    b.record("claim_1", d.staking.claim(dev8, sender=provider))
    # PINFI_BENCH_EXTRA_DEVICES shortens the run while developing; the benchmark uses 999.
    extra = int(os.environ.get("PINFI_BENCH_EXTRA_DEVICES", "999"))
    click.echo(f"  registering {extra} more devices ...")
    for i in range(extra):
        b.register(admin, operator, TINY)
        if (i + 1) % 250 == 0:
            click.echo(f"    {i + 1}/{extra}")
    assert d.staking.deviceCount() >= extra + 1
    b.prove_epoch(dev8, operator, K8)
    b.next_epoch()
    chain.mine(10)
    b.record("claim_1000", d.staking.claim(dev8, sender=provider))

    if with_pool:
        pool = d.pool
        d.token.approve(pool, 2**255, sender=client)
        deadline = chain.pending_timestamp + 3600
        b.record("lease_first", pool.lease(dev8, 1, 2**255, deadline, b"\x01" * 32, sender=client))
        b.next_epoch()
        b.next_epoch()
        deadline = chain.pending_timestamp + 3600
        b.record("lease", pool.lease(dev8, 1, 2**255, deadline, b"\x02" * 32, sender=client))
        # The same steady-state lease by a client that never approved the pool: one transaction
        # with an EIP-2612 permit (`leaseWithPermit`); it adds the permit's signature check and
        # nonce and allowance writes.
        newcomer = accounts.test_accounts[5]
        d.token.transfer(newcomer, 10**3 * UNIT, sender=admin)
        b.next_epoch()
        b.next_epoch()
        deadline = chain.pending_timestamp + 3600
        max_cost = 10**3 * UNIT
        v, r, s = permit_signature(d.token, newcomer, pool.address, max_cost, deadline)
        b.record("lease_permit", pool.leaseWithPermit(dev8, 1, max_cost, deadline, b"\x03" * 32,
                                                      v, r, s, sender=newcomer))

    OUT.parent.mkdir(parents=True, exist_ok=True)
    gas = b.gas
    OUT.write_text(json.dumps(gas, indent=2) + "\n")
    click.echo("")
    click.echo(f"{'operation':<12} {'gas':>9}  goal")
    for name, value in gas.items():
        goal = GOALS.get(name)
        verdict = "" if goal is None else f"<= {goal:,} {'ok' if value <= goal else 'MISSED'}"
        click.echo(f"{name:<12} {value:>9,}  {verdict}")
    ratio = gas["claim_1000"] / gas["claim_1"]
    click.echo(f"claim_1000 / claim_1 = {ratio:.4f} (goal within 1%)")
    click.echo(f"wrote {OUT} in {time.time() - t0:.0f}s")
