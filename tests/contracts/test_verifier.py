"""PoCPSVerifier on a real Anvil: every external function and every custom error.

Proofs are real: products, Merkle trees and openings come from `pinfi.protocol`; cheats are
built by tampering with the product before committing (`tests/support/pocps.py`). Block numbers are
pinned with `pocps.goto_block`/`goto_epoch` (a reverted transaction is mined too and uses a block).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from pinfi import protocol as proto
from pinfi.types import ZERO_ADDRESS, DeviceState, ProofStatus
from pinfi_dev.deploy import deploy_protocol, proof_params
from tests.support import pocps
from tests.support.constants import (
    BOUNTY_BPS,
    CLASS_ID,
    EPOCH_BLOCKS,
    MIN_BOND,
    NETWORK,
    TEST_CLASS,
    TEST_CLASS_FULL,
    WEIGHT,
)
from tests.support.pocps import ADMIN_ROLE, logs, reverts

ZERO = ZERO_ADDRESS
NONE_, COMMITTED, OPENED, SLASHED, MISSED = ProofStatus
PENDING, ACTIVE, JAILED = DeviceState.PENDING, DeviceState.ACTIVE, DeviceState.JAILED
N, LEAF, K = TEST_CLASS["n"], TEST_CLASS["leaf"], TEST_CLASS["k"]
CW, OW, DW = TEST_CLASS["commitWindow"], TEST_CLASS["openWindow"], TEST_CLASS["disputeWindow"]
LOG_LEAVES = 8  # log2(64 * 64 / 16)
LOG_STRATUM = 6  # log2(256 / 4)
FRAUD_SLASH = MIN_BOND * TEST_CLASS["fraudSlashBps"] // 10_000
MISS_SLASH = MIN_BOND * TEST_CLASS["missSlashBps"] // 10_000
EMPTY_EPOCH = 2**32 - 1


WITH_POOL = False
"""The protocol without a pool, so that `setPool` and `forceChallenge` can be driven here (the
root `system` fixture reads this)."""


@pytest.fixture(scope="module", autouse=True)
def _module_setup(system, pool_key, carol, deployer, alice, bob, operator, keeper):
    """Build every broader-scoped fixture up front (ape isolation snapshots after them)."""


@pytest.fixture(scope="session")
def pool_key(accounts):
    return accounts[5]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def start(system, epoch: int) -> int:
    return pocps.epoch_start(system, epoch)


def honest_entry(system, device: int, epoch: int, leaf_index: int, entry_index: int) -> int:
    s = proto.challenge_seed(bytes(system.verifier.epochSeed(epoch)), device, epoch)
    return proto.entry(s, N, *proto.entry_coords(leaf_index, entry_index, LEAF, N))


def opening_for(chain, tree, commit_block: int, picks_of=None):
    """Opening of `tree` at the samples of the commit in `commit_block` of root `picks_of`."""
    root = tree.root if picks_of is None else picks_of
    sseed = proto.sample_seed(pocps.blockhash(chain, commit_block), root)
    picks = proto.samples(sseed, tree.n_leaves, K, LEAF)
    leaves, proof = proto.build_opening(tree, picks)
    return leaves, proof, picks


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1:]


def two_pending(system, alice, operator) -> tuple[int, int]:
    return pocps.register(system, alice, operator), pocps.register(system, alice, operator)


# --------------------------------------------------------------------------------------------
# construction, governance, hooks
# --------------------------------------------------------------------------------------------


def test_constructor_and_wiring(project, system, deployer):
    v, st = system.verifier, system.staking
    assert v.staking() == st.address
    assert v.genesisBlock() == st.genesisBlock()
    assert v.epochBlocks() == st.epochBlocks() == EPOCH_BLOCKS
    assert v.hasRole(ADMIN_ROLE, deployer)
    assert v.pool() == ZERO
    with reverts(project.PoCPSVerifier.ZeroAddress):
        project.PoCPSVerifier.deploy(ZERO, 30, deployer, sender=deployer)
    with reverts(project.PoCPSVerifier.ZeroAddress):
        project.PoCPSVerifier.deploy(st, 30, ZERO, sender=deployer)


def test_set_pool_once(system, deployer, alice, pool_key):
    pocps.check_set_once(system.verifier, "Pool", admin=deployer, stranger=alice, target=pool_key,
                         other=alice)


def test_prepare_only_by_staking(system, deployer, alice):
    v = system.verifier
    for caller in (alice, deployer):
        with reverts(v.NotStaking, caller=caller):
            v.prepare(1, sender=caller)


def test_force_challenge(chain, system, deployer, alice, bob, operator, pool_key):
    v, st = system.verifier, system.staking
    with reverts(v.NotPool, caller=alice):  # no pool yet
        v.forceChallenge(1, 1, sender=alice)
    v.setPool(pool_key, sender=deployer)
    device = pocps.activate(chain, system, alice, operator)
    pocps.set_proof_class(system, challengeBps=1)  # Active devices (almost) never sampled
    a = st.currentEpoch()
    assert not v.isChallenged(device, a)
    for caller in (alice, deployer, operator):
        with reverts(v.NotPool, caller=caller):
            v.forceChallenge(device, a + 1, sender=caller)
    tx = v.forceChallenge(device, a + 1, sender=pool_key)  # ahead of the epoch
    assert logs(tx, v.ChallengeForced) == [{"deviceId": device, "epoch": a + 1}]
    assert v.forcedEpochPlusOne(device) == a + 2
    e = pocps.next_epoch(chain, system)
    v.checkpoint(sender=bob)
    assert v.isChallenged(device, e)
    _, otx, _ = pocps.prove(chain, system, device, operator)
    assert v.proofStatus(device, e) == OPENED
    assert logs(otx, st.DeviceActivated) == []  # already Active: a forced proof only proves
    assert v.forcedPassedPlusOne(device) == e + 1
    pocps.next_epoch(chain, system)
    v.checkpoint(sender=bob)
    assert not v.isChallenged(device, e + 1)  # forced for one epoch only
    # forced again for e+2: committing recycles e's record, yet e's passed forced challenge
    # still reads Opened (the pool resolves reports from it)
    v.forceChallenge(device, e + 2, sender=pool_key)
    pocps.next_epoch(chain, system)
    pocps.commit(chain, system, device, operator)
    assert v.record(device, e).epoch == e + 2
    assert v.proofStatus(device, e + 2) == COMMITTED
    assert v.proofStatus(device, e) == OPENED
    assert v.forcedPassedPlusOne(device) == e + 1


BAD_CLASSES = [
    ({"n": 8}, "n"), ({"n": 48}, "n"), ({"n": 131_072}, "n"), ({"n": 0}, "n"),
    ({"leaf": 0}, "leaf"), ({"n": 4096, "leaf": 2048}, "leaf"), ({"n": 16, "leaf": 32}, "leaf"),
    ({"leaf": 3}, "leaf"),
    ({"k": 0}, "k"), ({"k": 128}, "k"), ({"k": 3}, "k"),
    ({"n": 16, "leaf": 16, "k": 32, "c": 1}, "k"),  # more samples than the 16 leaves
    ({"c": 5}, "c"), ({"c": 0}, "c"),
    ({"commitWindow": 0}, "commitWindow"), ({"commitWindow": 1}, "commitWindow"),
    ({"openWindow": 0}, "openWindow"),
    ({"disputeWindow": 0}, "disputeWindow"),
    ({"commitWindow": 7, "openWindow": 7, "disputeWindow": 7}, "windows"),
    ({"challengeBps": 10_001}, "challengeBps"), ({"challengeBps": 0}, "challengeBps"),
    ({"missSlashBps": 0}, "missSlashBps"), ({"missSlashBps": 10_001}, "missSlashBps"),
    ({"fraudSlashBps": 10_001}, "fraudSlashBps"), ({"fraudSlashBps": 999}, "fraudSlashBps"),
]


@pytest.mark.parametrize(("overrides", "name"), BAD_CLASSES,
                         ids=[f"{n}-{i}" for i, (_, n) in enumerate(BAD_CLASSES)])
def test_set_class_bounds(system, deployer, overrides, name):
    v = system.verifier
    with reverts(v.InvalidParameter, name=name):
        v.setClass(5, proof_params({**TEST_CLASS, **overrides}), sender=deployer)
    assert not v.classParams(5).exists


def test_set_class_accepts_bounds(system, deployer, alice):
    v = system.verifier
    with reverts(v.InvalidParameter, name="classId"):
        v.setClass(0, proof_params(TEST_CLASS), sender=deployer)
    with reverts(v.AccessControlUnauthorizedAccount, account=alice, neededRole=ADMIN_ROLE):
        v.setClass(5, proof_params(TEST_CLASS), sender=alice)
    edge = {**TEST_CLASS, "n": 65_536, "leaf": 1024, "k": 64, "c": 64, "commitWindow": 18,
            "openWindow": 1, "disputeWindow": 1, "challengeBps": 10_000, "missSlashBps": 10_000,
            "fraudSlashBps": 10_000}
    tx = v.setClass(5, proof_params(edge), sender=deployer)
    p = v.classParams(5)
    assert (p.n, p.leaf, p.k, p.c, p.logLeaves, p.logStratum, p.exists) == (
        65_536, 1024, 64, 64, 22, 16, True)
    assert (p.commitWindow, p.openWindow, p.disputeWindow) == (18, 1, 1)
    assert (p.challengeBps, p.missSlashBps, p.fraudSlashBps) == (10_000, 10_000, 10_000)
    [ev] = logs(tx, v.ClassSet)
    assert ev["classId"] == 5 and tuple(ev["params"])[:6] == (65_536, 1024, 64, 64, 22, 16)
    small = {**TEST_CLASS, "n": 16, "leaf": 16, "k": 16, "c": 1, "fraudSlashBps": 1_000,
             "commitWindow": 2, "challengeBps": 1}
    v.setClass(6, proof_params(small), sender=deployer)  # k == leaves, c == 1, fraud == miss
    p = v.classParams(6)
    assert (p.n, p.leaf, p.k, p.c, p.logLeaves, p.logStratum) == (16, 16, 16, 1, 4, 0)
    p = v.classParams(CLASS_ID)
    assert (p.n, p.leaf, p.k, p.c, p.logLeaves, p.logStratum) == (
        N, LEAF, K, TEST_CLASS["c"], LOG_LEAVES, LOG_STRATUM)


def test_set_class_open_plus_dispute_bound(project, chain, deployer):
    """The dispute recomputes samples from blockhash(commitBlock): open + dispute <= 255."""
    token = project.PinToken.deploy(10**27, 0, deployer, deployer, sender=deployer)
    st = project.Staking.deploy(token, 0, 300, 600, 1, 10, 0, 0, deployer, sender=deployer)
    v = project.PoCPSVerifier.deploy(st, 30, deployer, sender=deployer)
    ok = {**TEST_CLASS, "commitWindow": 10, "openWindow": 200, "disputeWindow": 55}
    v.setClass(1, proof_params(ok), sender=deployer)
    assert v.classParams(1).disputeWindow == 55
    with reverts(v.InvalidParameter, name="openWindow+disputeWindow"):
        v.setClass(1, proof_params({**ok, "disputeWindow": 56}), sender=deployer)
    with reverts(v.InvalidParameter, name="windows"):
        v.setClass(1, proof_params({**ok, "commitWindow": 46}), sender=deployer)


# --------------------------------------------------------------------------------------------
# checkpoint
# --------------------------------------------------------------------------------------------


def test_checkpoint(chain, system, bob):
    v = system.verifier
    pocps.goto_epoch(chain, system, 2, offset=0)
    with reverts(v.EpochNotStarted, epoch=2):  # mined in the epoch's first block
        v.checkpoint(sender=bob)
    assert chain.blocks.head.number == start(system, 2)
    assert v.epochSeed(2) == b"\x00" * 32
    tx = v.checkpoint(sender=bob)
    seed = pocps.blockhash(chain, start(system, 2))
    assert tx.block_number == start(system, 2) + 1
    assert logs(tx, v.EpochCheckpointed) == [{"epoch": 2, "seed": seed}]
    assert bytes(v.epochSeed(2)) == seed
    assert bytes(tx.return_value) == seed
    tx = v.checkpoint(sender=bob)  # stored: no second event
    assert logs(tx, v.EpochCheckpointed) == [] and bytes(tx.return_value) == seed


def test_seed_unavailable_after_256_blocks(project, chain, deployer, alice, bob, operator):
    """An epoch whose seed nobody stores within 256 blocks has no challenges."""
    network = {**NETWORK, "epochBlocks": 400, "unbondingBlocks": 800}
    cls = {**TEST_CLASS_FULL, "commitWindow": 350, "openWindow": 20, "disputeWindow": 20}
    s = deploy_protocol(project, chain, deployer, network, [cls], with_pool=False)
    v = s.verifier
    device = pocps.register(s, alice, operator)
    s1 = s.staking.genesisBlock() + 400
    pocps.goto_block(chain, s1 + 300)  # 300 blocks into epoch 1
    with reverts(v.SeedUnavailable, epoch=1):
        v.checkpoint(sender=bob)
    assert chain.blocks.head.number == s1 + 300
    with reverts(v.SeedUnavailable, epoch=1):  # the Pending device cannot even commit
        v.commit(device, 1, b"\x01" * 32, sender=operator)
    assert not v.isChallenged(device, 1)
    pocps.goto_block(chain, s1 + 350)  # commit window over: still nothing to report
    with reverts(v.NotSelected, deviceId=device, epoch=1):
        v.reportMissed(device, 1, sender=bob)
    # the boundary: blockhash(start) is readable 256 blocks later, not 257
    s2 = s1 + 400
    pocps.goto_block(chain, s2 + 257)
    with reverts(v.SeedUnavailable, epoch=2):
        v.checkpoint(sender=bob)
    s3 = s2 + 400
    pocps.goto_block(chain, s3 + 256)
    tx = v.checkpoint(sender=bob)
    assert tx.block_number == s3 + 256
    assert bytes(v.epochSeed(3)) == pocps.blockhash(chain, s3) != b"\x00" * 32


# --------------------------------------------------------------------------------------------
# commit
# --------------------------------------------------------------------------------------------


def test_commit_records_and_stores_seed(chain, system, alice, operator):
    v = system.verifier
    device = pocps.register(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    seed = pocps.blockhash(chain, start(system, e))
    s = proto.challenge_seed(seed, device, e)
    root = proto.MerkleTree.from_product(proto.product(s, N), LEAF, workers=1).root
    assert v.proofStatus(device, e) == NONE_
    tx = v.commit(device, e, root, sender=operator)  # no checkpoint before: commit stores it
    assert logs(tx, v.EpochCheckpointed) == [{"epoch": e, "seed": seed}]
    assert logs(tx, v.Committed) == [{"deviceId": device, "epoch": e, "root": root}]
    r = v.record(device, e)
    assert (bytes(r.root), r.epoch, r.commitBlock, r.openBlock, r.status) == (
        root, e, tx.block_number, 0, COMMITTED)
    assert v.proofStatus(device, e) == COMMITTED
    assert v.record(device, e + 1).epoch == EMPTY_EPOCH  # the other slot is untouched


def test_commit_errors(chain, system, alice, bob, operator):
    v = system.verifier
    d1, d2 = two_pending(system, alice, operator)
    d3 = pocps.register(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    s0 = start(system, e)
    v.checkpoint(sender=bob)
    pocps.goto_block(chain, s0 + 3)
    pocps.commit(chain, system, d1, operator)
    with reverts(v.AlreadyCommitted, deviceId=d1, epoch=e):
        v.commit(d1, e, b"\x02" * 32, sender=operator)
    _, tx = pocps.commit(chain, system, d3, operator)  # the last block of the window
    assert tx.block_number == s0 + CW - 1
    with reverts(v.CommitWindowClosed, deviceId=d2, epoch=e, deadline=s0 + CW):
        v.commit(d2, e, b"\x01" * 32, sender=operator)
    assert chain.blocks.head.number == s0 + CW
    # checked before the window
    with reverts(v.ZeroRoot):
        v.commit(d2, e, b"\x00" * 32, sender=operator)
    with reverts(v.WrongEpoch, epoch=e + 1, current=e):
        v.commit(d2, e + 1, b"\x01" * 32, sender=operator)
    with reverts(v.WrongEpoch, epoch=e - 1, current=e):
        v.commit(d2, e - 1, b"\x01" * 32, sender=operator)
    for caller in (alice, bob):  # neither the owner nor a stranger
        with reverts(v.NotOperator, deviceId=d2, caller=caller):
            v.commit(d2, e, b"\x01" * 32, sender=caller)
    with reverts(v.NotOperator, deviceId=999, caller=operator):  # unknown device
        v.commit(999, e, b"\x01" * 32, sender=operator)
    assert v.proofStatus(d2, e) == NONE_


def test_commit_not_selected(chain, system, alice, bob, operator):
    v = system.verifier
    """A committed Active device whose commitment is not drawn for opening is present: no miss
    to report (opening it anyway is allowed: it vests)."""
    device = pocps.activate(chain, system, alice, operator)
    e, _, _ = pocps.selected_epoch(chain, system, device, operator, want=False)
    assert not v.mustOpen(device, e) and v.mustCommit(device, e)
    pocps.goto_block(chain, start(system, e) + CW + OW + 1)
    with reverts(v.NotSelected, deviceId=device, epoch=e):
        v.reportMissed(device, e, sender=bob)


def test_unknown_class(chain, system, deployer, alice, bob, operator):
    """A class known to Staking but not to the verifier."""
    v = system.verifier
    system.staking.setClass(2, (MIN_BOND, WEIGHT, MIN_BOND // 10), sender=deployer)
    device = pocps.register(system, alice, operator, class_id=2)
    e = pocps.next_epoch(chain, system)
    v.checkpoint(sender=bob)
    assert not v.isChallenged(device, e)
    with reverts(v.UnknownClass, classId=2):
        v.commit(device, e, b"\x01" * 32, sender=operator)
    with reverts(v.UnknownClass, classId=2):
        v.reportMissed(device, e, sender=bob)
    pocps.call_reverts(v.UnknownClass, v.sampleAt, 2, b"\x01" * 32, 0, classId=2)


# --------------------------------------------------------------------------------------------
# open
# --------------------------------------------------------------------------------------------


def test_open_activates_pending(chain, system, alice, operator):
    v, st = system.verifier, system.staking
    device = pocps.register(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    tree, ctx = pocps.commit(chain, system, device, operator)
    leaves, proof, picks = pocps.opening(chain, tree, ctx.block_number)
    assert len(leaves) == K * LEAF * 4 and len(proof) == K * LOG_STRATUM
    pocps.after_deadline(chain, system, e)
    otx = v.open(device, e, leaves, proof, sender=operator)
    sseed = proto.sample_seed(pocps.blockhash(chain, ctx.block_number), tree.root)
    assert logs(otx, v.Opened) == [{"deviceId": device, "epoch": e, "sampleSeed": sseed}]
    assert logs(otx, st.DeviceActivated) == [{"deviceId": device, "classId": CLASS_ID}]
    assert logs(otx, v.FraudProven) == []
    r = v.record(device, e)
    assert (r.commitBlock, r.openBlock, r.status) == (ctx.block_number, otx.block_number, OPENED)
    assert v.proofStatus(device, e) == OPENED
    assert st.getDevice(device).state == ACTIVE
    for q in range(K):
        assert tuple(v.sampleAt(CLASS_ID, sseed, q)) == picks[q]


def test_open_errors(chain, system, alice, bob, operator):
    v = system.verifier
    d1, d2 = two_pending(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    blank = (b"\x00" * (K * LEAF * 4), [b"\x00" * 32] * (K * LOG_STRATUM))
    with reverts(v.NotCommitted, deviceId=d1, epoch=e):
        v.open(d1, e, *blank, sender=operator)
    tree, ctx = pocps.commit(chain, system, d1, operator)
    c1 = ctx.block_number
    leaves, proof, _ = opening_for(chain, tree, c1)
    tree2, ctx2 = pocps.commit(chain, system, d2, operator)
    c2 = ctx2.block_number
    dl = start(system, e) + CW  # the commit deadline: openings start after it
    pocps.goto_block(chain, dl)
    with reverts(v.OpenTooEarly, deviceId=d1, epoch=e):  # at the deadline itself
        v.open(d1, e, leaves, proof, sender=operator)
    # inside the window (dl + 1 .. dl + OW): the calldata checks
    with reverts(v.BadLength, leavesLength=len(leaves) - 4, proofLength=len(proof)):
        v.open(d1, e, leaves[:-4], proof, sender=operator)
    with reverts(v.BadLength, leavesLength=len(leaves), proofLength=len(proof) + 1):
        v.open(d1, e, leaves, [*proof, proof[0]], sender=operator)
    with reverts(v.BadProof, deviceId=d1, epoch=e):  # one leaf byte
        v.open(d1, e, flip(leaves, LEAF * 4 + 7), proof, sender=operator)
    bad = list(proof)
    bad[LOG_STRATUM + 2] = flip(bytes(bad[LOG_STRATUM + 2]), 0)
    with reverts(v.BadProof, deviceId=d1, epoch=e):  # one path node
        v.open(d1, e, leaves, bad, sender=operator)
    pocps.goto_block(chain, dl + OW)
    otx = v.open(d1, e, leaves, proof, sender=operator)  # the last block of the window
    assert otx.block_number == dl + OW
    with reverts(v.AlreadyOpened, deviceId=d1, epoch=e):  # replay
        v.open(d1, e, leaves, proof, sender=operator)
    with reverts(v.NotCommitted, deviceId=d1, epoch=e + 2):  # same slot, other epoch
        v.open(d1, e + 2, leaves, proof, sender=operator)
    # d2: window over
    leaves2, proof2, _ = opening_for(chain, tree2, c2)
    assert chain.blocks.head.number + 1 > dl + OW
    with reverts(v.OpenWindowClosed, deviceId=d2, epoch=e, deadline=dl + OW):
        v.open(d2, e, leaves2, proof2, sender=operator)
    for caller in (alice, bob):  # checked before the window
        with reverts(v.NotOperator, deviceId=d2, caller=caller):
            v.open(d2, e, leaves2, proof2, sender=caller)
    assert v.proofStatus(d2, e) == COMMITTED


def test_open_in_the_commit_block_is_too_early(chain, system, alice, bob, operator):
    """Commit and open mined in one block (automine off): the open reverts OpenTooEarly.

    The samples come from blockhash(commitBlock), unknown inside that block."""
    v = system.verifier
    device = pocps.register(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    v.checkpoint(sender=bob)
    tree = pocps.tree_for(system, device, e)
    blank = (b"\x00" * (K * LEAF * 4), [b"\x00" * 32] * (K * LOG_STRATUM))
    w3 = chain.provider.web3
    chain.provider.auto_mine = False
    try:
        h_commit = w3.eth.send_transaction({
            "from": operator.address, "to": v.address, "gas": 300_000,
            "data": v.commit.encode_input(device, e, tree.root)})
        h_open = w3.eth.send_transaction({
            "from": operator.address, "to": v.address, "gas": 1_000_000,
            "data": v.open.encode_input(device, e, *blank)})
        chain.provider.make_request("evm_mine", [])
    finally:
        chain.provider.auto_mine = True
    r_commit = w3.eth.get_transaction_receipt(h_commit)
    r_open = w3.eth.get_transaction_receipt(h_open)
    assert (r_commit.status, r_open.status) == (1, 0)
    assert r_commit.blockNumber == r_open.blockNumber
    trace = chain.provider.make_request("debug_traceTransaction",
                                        ["0x" + bytes(h_open).hex(), {}])
    args = pocps.decode_error(bytes.fromhex(trace["returnValue"].removeprefix("0x")),
                              v.OpenTooEarly)
    assert args == {"deviceId": device, "epoch": e}
    assert v.proofStatus(device, e) == COMMITTED


def test_proof_bound_to_device(chain, system, alice, operator):
    """Another device's proof is rejected; copying another device's root is fraud."""
    v, st = system.verifier, system.staking
    da, db = two_pending(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    tree_a, ctx_a = pocps.commit(chain, system, da, operator)
    tree_b, ctx_b = pocps.commit(chain, system, db, operator)
    pocps.after_deadline(chain, system, e)
    # A's leaves at B's sample positions, and A's own opening, sent for B
    leaves, proof, _ = opening_for(chain, tree_a, ctx_b.block_number, picks_of=tree_b.root)
    with reverts(v.BadProof, deviceId=db, epoch=e):
        v.open(db, e, leaves, proof, sender=operator)
    leaves_a, proof_a, _ = opening_for(chain, tree_a, ctx_a.block_number)
    with reverts(v.BadProof, deviceId=db, epoch=e):
        v.open(db, e, leaves_a, proof_a, sender=operator)
    v.open(da, e, leaves_a, proof_a, sender=operator)
    v.open(db, e, *opening_for(chain, tree_b, ctx_b.block_number)[:2], sender=operator)
    assert st.getDevice(db).state == ACTIVE
    # C commits A's root: its Merkle proofs verify, but the entries are A's, not C's
    dc = pocps.register(system, alice, operator)
    e2 = pocps.next_epoch(chain, system)
    v.checkpoint(sender=operator)
    tree_a2 = pocps.tree_for(system, da, e2)
    supply = system.token.totalSupply()
    pocps.goto_block(chain, start(system, e2) + 2)
    tx = v.commit(dc, e2, tree_a2.root, sender=operator)  # dc is Pending: always challenged
    pocps.after_deadline(chain, system, e2)
    leaves, proof, picks = opening_for(chain, tree_a2, tx.block_number)
    otx = v.open(dc, e2, leaves, proof, sender=operator)
    [ev] = logs(otx, v.FraudProven)
    [q] = pocps.checked_strata(chain, tree_a2, tx.block_number)
    li, ei = picks[q]
    assert (ev["deviceId"], ev["q"], ev["entry"], ev["slashed"]) == (dc, q, ei, FRAUD_SLASH)
    assert ev["claimed"] == honest_entry(system, da, e2, li, ei)
    assert ev["expected"] == honest_entry(system, dc, e2, li, ei) != ev["claimed"]
    assert st.getDevice(dc).state == JAILED
    assert system.token.totalSupply() == supply - FRAUD_SLASH


def test_proof_bound_to_epoch(chain, system, alice, operator):
    """A valid opening replayed: same epoch AlreadyOpened, next epoch BadProof, two epochs
    later (record slot recycled) NotCommitted."""
    v = system.verifier
    pocps.set_proof_class(system, challengeBps=10_000)  # Active devices challenged every epoch
    device = pocps.register(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    tree, ctx = pocps.commit(chain, system, device, operator)
    leaves, proof, _ = opening_for(chain, tree, ctx.block_number)
    pocps.after_deadline(chain, system, e)
    v.open(device, e, leaves, proof, sender=operator)
    with reverts(v.AlreadyOpened, deviceId=device, epoch=e):
        v.open(device, e, leaves, proof, sender=operator)
    e1 = pocps.next_epoch(chain, system)
    tree1, ctx1 = pocps.commit(chain, system, device, operator)
    pocps.after_deadline(chain, system, e1)
    assert tree1.root != tree.root
    with reverts(v.BadProof, deviceId=device, epoch=e1):
        v.open(device, e1, leaves, proof, sender=operator)
    with reverts(v.AlreadyOpened, deviceId=device, epoch=e):
        v.open(device, e, leaves, proof, sender=operator)
    v.open(device, e1, *opening_for(chain, tree1, ctx1.block_number)[:2], sender=operator)
    e2 = pocps.next_epoch(chain, system)
    pocps.commit(chain, system, device, operator)
    assert v.proofStatus(device, e) == NONE_  # recycled by e + 2
    assert v.proofStatus(device, e2) == COMMITTED and v.proofStatus(device, e1) == OPENED
    with reverts(v.NotCommitted, deviceId=device, epoch=e):
        v.open(device, e, leaves, proof, sender=operator)


def test_proof_bound_to_operator(chain, system, alice, operator, keeper):
    """The operator key at open time must send the opening (not the owner, not the old key)."""
    v, st = system.verifier, system.staking
    device = pocps.register(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    tree, ctx = pocps.commit(chain, system, device, operator)
    leaves, proof, _ = opening_for(chain, tree, ctx.block_number)
    pocps.after_deadline(chain, system, e)
    st.setOperator(device, keeper, sender=alice)
    for caller in (operator, alice):
        with reverts(v.NotOperator, deviceId=device, caller=caller):
            v.open(device, e, leaves, proof, sender=caller)
    v.open(device, e, leaves, proof, sender=keeper)
    assert st.getDevice(device).state == ACTIVE


def test_fraud_at_open(chain, system, alice, bob, operator):
    """Only the stratum the contract recomputes is wrong: the opening convicts itself; the
    whole fraud slash is burned (no bounty) and the device is jailed."""
    v, st, token = system.verifier, system.staking, system.token
    device = pocps.register(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    honest = pocps.tree_for(system, device, e)
    # The check is drawn from the commit block's hash: every stratum is tampered, and only the
    # checked stratum's sample is compared below.
    tree, ctx = pocps.commit(chain, system, device, operator, tamper=lambda c: c.__iadd__(1))
    pocps.after_deadline(chain, system, e)
    leaves, proof, picks = opening_for(chain, tree, ctx.block_number)
    [q] = pocps.checked_strata(chain, tree, ctx.block_number)
    assert honest.root != tree.root
    watch = [alice, bob, operator, st]
    before = [token.balanceOf(a) for a in watch]
    supply = token.totalSupply()
    otx = v.open(device, e, leaves, proof, sender=operator)
    li, ei = picks[q]
    expected = honest_entry(system, device, e, li, ei)
    assert logs(otx, v.FraudProven) == [{
        "deviceId": device, "epoch": e, "reporter": ZERO, "q": q, "entry": ei,
        "claimed": expected + 1, "expected": expected, "slashed": FRAUD_SLASH}]
    assert logs(otx, st.DeviceSlashed) == [{
        "deviceId": device, "reporter": ZERO, "slashed": FRAUD_SLASH, "bounty": 0,
        "burned": FRAUD_SLASH}]
    assert logs(otx, v.Opened) == [] and logs(otx, st.DeviceActivated) == []
    d = st.getDevice(device)
    assert (d.state, d.bond) == (JAILED, MIN_BOND - FRAUD_SLASH)
    assert token.totalSupply() == supply - FRAUD_SLASH
    assert [token.balanceOf(a) for a in watch] == [*before[:3], before[3] - FRAUD_SLASH]
    assert v.proofStatus(device, e) == SLASHED
    with reverts(v.AlreadyOpened, deviceId=device, epoch=e):
        v.open(device, e, leaves, proof, sender=operator)
    other = (q + 1) % K
    with reverts(v.NotOpened, deviceId=device, epoch=e):
        v.dispute(device, e, other, 0, tree.leaf_bytes(picks[other][0]),
                  tree.path(picks[other][0]), sender=bob)
    e1 = pocps.next_epoch(chain, system)
    v.checkpoint(sender=bob)
    with reverts(v.NotSelected, deviceId=device, epoch=e1):  # jailed: no more challenges
        v.commit(device, e1, tree.root, sender=operator)


# --------------------------------------------------------------------------------------------
# dispute
# --------------------------------------------------------------------------------------------


def test_dispute_proves_fraud_outside_the_recomputed_sample(chain, system, alice, carol,
                                                            operator):
    """Every entry wrong except stratum 0's, and the on-chain check falls on stratum 0: the
    opening passes, a dispute of sample 1 convicts; the disputer gets the bounty, the rest is
    burned."""
    v, st, token = system.verifier, system.staking, system.token

    def tamper(c):
        c[pocps.stratum_rows(1).start:, :] += 1

    # Only stratum 0 is right: wait for an opening whose on-chain check falls there.
    device, e, tree, ctx = pocps.commit_until_checked(chain, system, alice, operator, {0}, tamper)
    pocps.after_deadline(chain, system, e)
    leaves, proof, picks = opening_for(chain, tree, ctx.block_number)
    otx = v.open(device, e, leaves, proof, sender=operator)
    assert logs(otx, v.FraudProven) == [] and st.getDevice(device).state == ACTIVE
    leaf, path, ei = pocps.dispute_calldata(tree, picks, 1)
    expected = honest_entry(system, device, e, picks[1][0], ei)
    supply, before, held = token.totalSupply(), token.balanceOf(carol), token.balanceOf(st)
    tx = v.dispute(device, e, 1, ei, leaf, path, sender=carol)
    bounty = FRAUD_SLASH * BOUNTY_BPS // 10_000
    assert logs(tx, v.FraudProven) == [{
        "deviceId": device, "epoch": e, "reporter": carol.address, "q": 1, "entry": ei,
        "claimed": expected + 1, "expected": expected, "slashed": FRAUD_SLASH}]
    assert logs(tx, st.DeviceSlashed) == [{
        "deviceId": device, "reporter": carol.address, "slashed": FRAUD_SLASH, "bounty": bounty,
        "burned": FRAUD_SLASH - bounty}]
    assert token.balanceOf(carol) == before + bounty
    assert token.balanceOf(st) == held - FRAUD_SLASH
    assert token.totalSupply() == supply - (FRAUD_SLASH - bounty)
    d = st.getDevice(device)
    assert (d.state, d.bond) == (JAILED, MIN_BOND - FRAUD_SLASH)
    assert st.getDevice(device).state == JAILED
    assert v.proofStatus(device, e) == SLASHED
    leaf2, path2, ei2 = pocps.dispute_calldata(tree, picks, 2)
    with reverts(v.NotOpened, deviceId=device, epoch=e):  # one conviction per proof
        v.dispute(device, e, 2, ei2, leaf2, path2, sender=carol)


def test_dispute_errors(chain, system, alice, bob, operator):
    v = system.verifier
    pocps.set_proof_class(system, openWindow=2, disputeWindow=10)  # room for every check
    device, other = two_pending(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    pocps.commit(chain, system, other, operator)  # committed, never opened
    tree, otx, picks = pocps.prove(chain, system, device, operator)
    o = otx.block_number
    leaf, path, ei = pocps.dispute_calldata(tree, picks, 1)
    with reverts(v.BadSample, q=K, entry=0):
        v.dispute(device, e, K, 0, leaf, path, sender=bob)
    with reverts(v.BadSample, q=1, entry=LEAF):
        v.dispute(device, e, 1, LEAF, leaf, path, sender=bob)
    with reverts(v.BadLength, leavesLength=len(leaf) - 4, proofLength=LOG_LEAVES):
        v.dispute(device, e, 1, ei, leaf[:-4], path, sender=bob)
    with reverts(v.BadLength, leavesLength=len(leaf), proofLength=LOG_LEAVES - 1):
        v.dispute(device, e, 1, ei, leaf, path[:-1], sender=bob)
    bad = list(path)
    bad[LOG_LEAVES - 1] = flip(bytes(bad[LOG_LEAVES - 1]), 31)  # a node near the root
    with reverts(v.BadProof, deviceId=device, epoch=e):
        v.dispute(device, e, 1, ei, leaf, bad, sender=bob)
    leaf2, path2, _ = pocps.dispute_calldata(tree, picks, 2)
    with reverts(v.BadProof, deviceId=device, epoch=e):  # sample 2's leaf sent as sample 1
        v.dispute(device, e, 1, ei, leaf2, path2, sender=bob)
    with reverts(v.BadProof, deviceId=device, epoch=e):  # a wrong value is not in the tree
        v.dispute(device, e, 1, ei, flip(leaf, 4 * ei + 3), path, sender=bob)
    pocps.goto_block(chain, o + 10)
    with reverts(v.NoFraud, deviceId=device, epoch=e, q=1, entry=ei):  # last block of window
        v.dispute(device, e, 1, ei, leaf, path, sender=bob)
    assert chain.blocks.head.number == o + 10
    with reverts(v.DisputeWindowClosed, deviceId=device, epoch=e, deadline=o + 10):
        v.dispute(device, e, 1, ei, leaf, path, sender=bob)
    for dev, ep in ((other, e), (device, e + 1), (device, e + 2), (999, e)):
        with reverts(v.NotOpened, deviceId=dev, epoch=ep):
            v.dispute(dev, ep, 1, ei, leaf, path, sender=bob)
    assert v.proofStatus(device, e) == OPENED


def test_dispute_every_honest_sample_is_no_fraud(chain, system, alice, bob, operator):
    v = system.verifier
    pocps.set_proof_class(system, openWindow=2, disputeWindow=10)
    device = pocps.register(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    tree, _, picks = pocps.prove(chain, system, device, operator)
    for q in range(K):
        leaf, path, ei = pocps.dispute_calldata(tree, picks, q)
        other = (ei + 5) % LEAF  # any entry of an opened leaf may be disputed
        for entry in (ei, other):
            with reverts(v.NoFraud, deviceId=device, epoch=e, q=q, entry=entry):
                v.dispute(device, e, q, entry, leaf, path, sender=bob)


# --------------------------------------------------------------------------------------------
# reportMissed
# --------------------------------------------------------------------------------------------


def test_report_missed(chain, system, alice, bob, operator):
    """A first miss is a grace miss (no slash, no bounty, the next epoch is owed); a second
    miss within GRACE_EPOCHS is slashed and jailed, the reporter paid the bounty."""
    v, st, token = system.verifier, system.staking, system.token
    pocps.set_proof_class(system, challengeBps=10_000)  # `honest` stays challenged once Active
    silent, late = two_pending(system, alice, operator)
    honest = pocps.register(system, alice, operator)
    r = st.currentEpoch()
    with reverts(v.EpochNotStarted, epoch=r + 1):
        v.reportMissed(silent, r + 1, sender=bob)
    with reverts(v.NotSelected, deviceId=silent, epoch=r):  # registered in r: owes from r + 1
        v.reportMissed(silent, r, sender=bob)
    # Epoch e: silent and late miss for the first time (grace).
    e0 = pocps.next_epoch(chain, system)
    s00 = start(system, e0)
    with reverts(v.ReportTooEarly, deviceId=silent, epoch=e0, fromBlock=s00 + CW):
        v.reportMissed(silent, e0, sender=bob)
    pocps.commit(chain, system, late, operator)  # committed, never opened
    tree_h, ctx_h = pocps.commit(chain, system, honest, operator)
    pocps.goto_block(chain, s00 + CW)
    supply, before = token.totalSupply(), token.balanceOf(bob)
    tx = v.reportMissed(silent, e0, sender=bob)
    assert logs(tx, v.GraceMiss) == [
        {"deviceId": silent, "epoch": e0, "reporter": bob.address, "mustProveEpoch": e0 + 1}]
    assert logs(tx, v.MissReported) == [] and logs(tx, st.DeviceSlashed) == []
    assert (token.totalSupply(), token.balanceOf(bob)) == (supply, before)
    d = st.getDevice(silent)
    assert (d.state, d.bond) == (PENDING, MIN_BOND)
    assert v.proofStatus(silent, e0) == MISSED and v.lastMissPlusOne(silent) == e0 + 1
    with reverts(v.AlreadySlashed, deviceId=silent, epoch=e0):
        v.reportMissed(silent, e0, sender=bob)
    v.open(honest, e0, *pocps.opening(chain, tree_h, ctx_h.block_number)[:2], sender=operator)
    pocps.goto_block(chain, s00 + CW + OW + 1)
    # committed and drawn, not opened in the (long) open window: a normal miss, no grace
    tx = v.reportMissed(late, e0, sender=bob)
    assert logs(tx, v.MissReported)[0]["slashed"] == MISS_SLASH and logs(tx, v.GraceMiss) == []
    assert st.getDevice(late).bond == MIN_BOND - MISS_SLASH and v.proofStatus(late, e0) == SLASHED
    assert st.getDevice(late).state == JAILED
    # Epoch e = e0 + 1: silent misses again: slashed.
    e = pocps.next_epoch(chain, system)
    s0 = start(system, e)
    v.checkpoint(sender=bob)
    assert v.isChallenged(silent, e) and v.owedEpochPlusOne(silent) == e + 1
    assert not v.mustCommit(late, e)  # jailed: exempt
    honest_tree, honest_commit = pocps.commit(chain, system, honest, operator)
    pocps.goto_block(chain, s0 + CW)
    supply, before = token.totalSupply(), token.balanceOf(bob)
    tx = v.reportMissed(silent, e, sender=bob)
    assert tx.block_number == s0 + CW
    bounty = MISS_SLASH * BOUNTY_BPS // 10_000
    assert logs(tx, v.MissReported) == [
        {"deviceId": silent, "epoch": e, "reporter": bob.address, "slashed": MISS_SLASH}]
    assert logs(tx, st.DeviceSlashed) == [{
        "deviceId": silent, "reporter": bob.address, "slashed": MISS_SLASH, "bounty": bounty,
        "burned": MISS_SLASH - bounty}]
    assert logs(tx, st.DeviceJailed) == [{"deviceId": silent, "epoch": e}]
    assert token.balanceOf(bob) == before + bounty
    assert token.totalSupply() == supply - (MISS_SLASH - bounty)
    d = st.getDevice(silent)
    assert (d.state, d.bond) == (JAILED, MIN_BOND - MISS_SLASH)
    assert v.proofStatus(silent, e) == SLASHED and v.record(silent, e).epoch == e
    v.open(honest, e, *pocps.opening(chain, honest_tree, honest_commit.block_number)[:2],
           sender=operator)
    with reverts(v.NotMissed, deviceId=honest, epoch=e):
        v.reportMissed(honest, e, sender=bob)
    pocps.goto_epoch(chain, system, e + 2)
    with reverts(v.ReportTooLate, deviceId=honest, epoch=e):
        v.reportMissed(honest, e, sender=bob)


def test_report_missed_already_slashed(chain, system, alice, bob, operator):
    """Reported in the next epoch (the device was Active and sampled), twice: once only. A
    first missed commit is a grace miss (no bond taken); a drawn commitment never opened is a
    normal miss."""
    v, st = system.verifier, system.staking
    pocps.set_proof_class(system, challengeBps=10_000)
    silent = pocps.activate(chain, system, alice, operator)
    late = pocps.activate(chain, system, alice, operator)
    e = pocps.next_epoch(chain, system)
    pocps.commit(chain, system, late, operator)
    pocps.goto_epoch(chain, system, e + 1)
    for device, bond, status, state in ((silent, MIN_BOND, MISSED, ACTIVE),
                                        (late, MIN_BOND - MISS_SLASH, SLASHED, JAILED)):
        v.reportMissed(device, e, sender=bob)
        assert st.getDevice(device).bond == bond
        assert v.proofStatus(device, e) == status
        with reverts(v.AlreadySlashed, deviceId=device, epoch=e):
            v.reportMissed(device, e, sender=bob)
        assert st.getDevice(device).bond == bond
        assert st.getDevice(device).state == state


# --------------------------------------------------------------------------------------------
# views and the on-chain entry
# --------------------------------------------------------------------------------------------


def test_views(chain, system, alice, operator):
    v, st = system.verifier, system.staking
    assert v.currentEpoch() == st.currentEpoch()
    assert v.epochStart(7) == st.genesisBlock() + 7 * EPOCH_BLOCKS
    assert v.proofStatus(999, 0) == NONE_
    r = v.record(999, 0)
    assert (bytes(r.root), r.epoch, r.commitBlock, r.openBlock, r.status) == (
        b"\x00" * 32, 0, 0, 0, NONE_)
    assert not v.classParams(9).exists
    device = pocps.register(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    assert not v.isChallenged(device, e)  # no seed stored yet
    v.checkpoint(sender=alice)
    assert v.isChallenged(device, e)  # Pending: always
    assert not v.isChallenged(device, e - 1)  # before `since`
    assert not v.isChallenged(999, e)
    sseed = proto.keccak(b"sample seed")
    picks = proto.samples(sseed, 256, K, LEAF)
    assert [tuple(v.sampleAt(CLASS_ID, sseed, q)) for q in range(K)] == picks
    pocps.call_reverts(v.UnknownClass, v.sampleAt, 9, sseed, 0, classId=9)


def test_entry_known_vectors(system):
    vectors = proto.test_vectors()
    s = bytes.fromhex(vectors["s"][2:])
    for m in vectors["matrices"]:
        for c in m["C"]:
            assert system.verifier.entry(s, m["n"], c["i"], c["j"]) == c["value"]


@pytest.mark.parametrize("n", [64, 256, 1024])
@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hst.data())
def test_entry_matches_reference(system, n, data):
    s = data.draw(hst.binary(min_size=32, max_size=32), label="s")
    i = data.draw(hst.integers(0, n - 1), label="i")
    j = data.draw(hst.integers(0, n - 1), label="j")
    on_chain = system.verifier.entry(s, n, i, j)
    assert on_chain == proto.entry(s, n, i, j)
    a_row = proto.gen_a(s, n, rows=slice(i, i + 1))[0].astype(np.int64)
    b_col = proto.gen_b(s, n)[:, j].astype(np.int64)
    assert on_chain == int(a_row @ b_col)  # numpy's exact integer product
    if n <= 256:
        assert on_chain == int(proto.product(s, n)[i, j])  # the prover's fp32 BLAS path


def test_strict_revert_helpers_reject_mismatches(system, alice):
    """The helpers above fail on a wrong error, a wrong argument or an unknown argument name."""
    v = system.verifier
    for error, inputs in ((v.NotPool, {}), (v.NotStaking, {"caller": v.address}),
                          (v.NotStaking, {"sender": alice})):
        with pytest.raises(AssertionError):
            with reverts(error, **inputs):
                v.prepare(1, sender=alice)
    with pytest.raises(AssertionError):
        pocps.call_reverts(v.InvalidParameter, v.sampleAt, 9, b"\x01" * 32, 0)
    with pytest.raises(AssertionError):
        pocps.call_reverts(v.UnknownClass, v.sampleAt, 9, b"\x01" * 32, 0, classId=8)
    with pytest.raises(AssertionError):
        pocps.call_reverts(v.UnknownClass, v.sampleAt, 1, b"\x01" * 32, 0)  # no revert
