"""Regression tests of issue 10 (PoCPS v2 and contract hardening), on a real Anvil.

Each test names the old behaviour it catches; every one of them fails on the contracts before
PoCPS v2 (commit f5c075f): see the docstrings.
"""

from __future__ import annotations

import random
from math import comb

import pytest

from pinfi import protocol as proto
from pinfi.types import BPS
from pinfi_dev.deploy import pool_params, proof_params
from tests.support import pocps
from tests.support.constants import (
    BOUNTY_BPS,
    CLASS_ID,
    MIN_BOND,
    PRICING,
    TEST_CLASS,
    WEIGHT,
    deploy_system,
)
from tests.support.pocps import reverts

MISS_SLASH = MIN_BOND * TEST_CLASS["missSlashBps"] // 10_000
CW, OW = TEST_CLASS["commitWindow"], TEST_CLASS["openWindow"]
ACTIVE, JAILED, EXITING, MAINTENANCE = 2, 3, 5, 4
MISSED = 4
UNIT = 10**18
FAR = 2**64


@pytest.fixture(scope="module", autouse=True)
def _module_setup(system, deployer, alice, bob, operator, keeper):
    with pocps.quiet_revert_traces():
        yield


@pytest.fixture(scope="module")
def system(project, chain, deployer):
    return deploy_system(project, chain, deployer)


def logs(tx, event) -> list[dict]:
    return [dict(log.event_arguments) for log in tx.events.filter(event)]


def start(system, epoch: int) -> int:
    return pocps.epoch_start(system, epoch)


# --------------------------------------------------------------------------------------------
# 1. Lazy pass
# --------------------------------------------------------------------------------------------


def test_regression_lazy_pass_is_convicted(chain, system, alice, operator):
    """Old: `open` recomputed strata 0..c-1 only, so a prover that computed stratum 0 and
    committed garbage elsewhere always passed. Now the checked stratum is drawn from the commit
    block's hash: the same lazy prover is convicted at open when the draw misses stratum 0."""
    v, st = system.verifier, system.staking

    def lazy(c):  # only stratum 0 computed
        c[pocps.stratum_rows(1).start:, :] = 0

    device, e, tree, tx = pocps.commit_until_checked(chain, system, alice, operator, {1, 2, 3},
                                                     lazy)
    pocps.after_deadline(chain, system, e)
    leaves, proof, _ = pocps.opening(chain, tree, tx.block_number)
    [q] = pocps.checked_strata(chain, tree, tx.block_number)
    sseed = proto.sample_seed(pocps.blockhash(chain, tx.block_number), tree.root)
    assert list(v.checkedStrata(CLASS_ID, e, sseed)) == [q]  # mirror == contract
    otx = v.open(device, e, leaves, proof, sender=operator)
    [ev] = logs(otx, v.FraudProven)
    assert ev["q"] == q != 0 and ev["claimed"] == 0 != ev["expected"]
    assert st.getDevice(device).state == JAILED


def test_regression_checked_strata_mirror(system):
    """The contract's draw equals `pinfi.protocol.checked_strata` (c distinct strata)."""
    v = system.verifier
    pocps.set_proof_class(system, wait=False, k=4, c=3)  # scheduled: a later epoch's class
    e = v.scheduledClass(CLASS_ID)[1]
    rng = random.Random(7)
    for _ in range(8):
        sseed = rng.randbytes(32)
        got = list(v.checkedStrata(CLASS_ID, e, sseed))
        assert got == proto.checked_strata(sseed, 4, 3) and len(set(got)) == 3
        assert list(v.checkedStrata(CLASS_ID, 0, sseed)) == proto.checked_strata(sseed, 4, 1)


@pytest.mark.parametrize(("k", "c", "computed"), [(16, 1, 8), (16, 2, 8), (16, 3, 12), (8, 2, 1),
                                                  (64, 4, 48)])
def test_regression_survival_at_most_f_to_the_c(k, c, computed):
    """A prover that computed `computed` of the k strata (the first ones: the old lazy
    attack, which survived with probability 1) survives the on-chain check with the measured
    frequency <= f^c, over 20,000 sample seeds (mirror of the contract's draw)."""
    rng = random.Random(k * 1000 + c * 10 + computed)
    trials = 20_000
    survived = sum(
        all(s < computed for s in proto.checked_strata(rng.randbytes(32), k, c))
        for _ in range(trials))
    f = computed / k
    exact = comb(computed, c) / comb(k, c)
    assert exact <= f**c
    # 5 standard deviations of the binomial around the exact survival probability.
    sd = (exact * (1 - exact) / trials) ** 0.5
    assert abs(survived / trials - exact) <= 5 * sd + 1e-9
    assert survived / trials <= f**c + 5 * sd


def test_regression_c_and_challenge_bps_bounds(system, deployer):
    """Old: `c = 0` (no on-chain check at all) and `challengeBps = 0` were accepted."""
    v = system.verifier
    for over, name in (({"c": 0}, "c"), ({"c": 5}, "c"), ({"challengeBps": 0}, "challengeBps")):
        with reverts(v.InvalidParameter, name=name):
            v.setClass(9, proof_params({**TEST_CLASS, **over}), sender=deployer)


# --------------------------------------------------------------------------------------------
# 2. No retroactive governance
# --------------------------------------------------------------------------------------------


def test_regression_class_change_mid_epoch_keeps_the_opening_valid(chain, system, alice,
                                                                  operator, deployer):
    """Old: changing n, L or k between commit and open made the honest opening impossible
    (BadLength / BadProof). Now the change takes effect two epochs later."""
    v, st = system.verifier, system.staking
    device = pocps.register(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    tree, tx = pocps.commit(chain, system, device, operator)
    from_epoch = pocps.set_proof_class(system, wait=False, n=32, leaf=8, k=8)
    assert from_epoch == e + 2
    assert v.classParams(CLASS_ID).n == TEST_CLASS["n"] and v.paramsAt(CLASS_ID, e + 2).n == 32
    pocps.after_deadline(chain, system, e)
    leaves, proof, _ = pocps.opening(chain, tree, tx.block_number)
    otx = v.open(device, e, leaves, proof, sender=operator)
    assert logs(otx, v.Opened) and st.getDevice(device).state == ACTIVE


def test_regression_raising_challenge_bps_is_not_retroactive(chain, system, alice, bob,
                                                             operator):
    """Old: raising challengeBps after the commit window made Active devices "selected"
    after the fact and reportable as missed (slashed). Now epoch e is judged by e's class."""
    v, st = system.verifier, system.staking
    pocps.set_proof_class(system, challengeBps=1)
    device = pocps.activate(chain, system, alice, operator)
    e, _, _ = pocps.selected_epoch(chain, system, device, operator, want=False)
    pocps.set_proof_class(system, wait=False, challengeBps=10_000)  # after the deadline
    assert not v.isChallenged(device, e)
    pocps.goto_block(chain, start(system, e) + CW + OW + 1)
    with reverts(v.NotSelected, deviceId=device, epoch=e):
        v.reportMissed(device, e, sender=bob)
    assert st.getDevice(device).bond == MIN_BOND
    assert v.isChallenged(device, e + 2) is False  # no seed yet; in force from e + 2
    assert v.paramsAt(CLASS_ID, e + 2).challengeBps == 10_000


def test_regression_change_in_the_switch_epoch_waits(chain, system, deployer):
    """The version replaced in epoch `since` still judges `since - 1`: no change then."""
    v = system.verifier
    since = pocps.set_proof_class(system, wait=False, challengeBps=7_000)
    pocps.goto_epoch(chain, system, since)
    with reverts(v.ClassChangePending, classId=CLASS_ID, fromEpoch=since + 1):
        v.setClass(CLASS_ID, proof_params({**TEST_CLASS, "challengeBps": 6_000}), sender=deployer)
    assert v.paramsAt(CLASS_ID, since - 1).challengeBps == TEST_CLASS["challengeBps"]
    pocps.goto_epoch(chain, system, since + 1)
    v.setClass(CLASS_ID, proof_params({**TEST_CLASS, "challengeBps": 6_000}), sender=deployer)
    assert v.paramsAt(CLASS_ID, since).challengeBps == 7_000
    assert v.paramsAt(CLASS_ID, since + 3).challengeBps == 6_000


def test_regression_live_lease_keeps_its_terminate_fee(chain, system, alice, bob, deployer):
    """Old: raising terminateFeeBps took from live leases. Now a lease keeps its fee."""
    pool, token = system.pool, system.token
    device = pocps.activate(chain, system, alice, alice)
    token.transfer(bob, 10_000 * UNIT, sender=deployer)
    token.approve(pool, 10**30, sender=bob)
    pocps.next_epoch(chain, system)
    lease_id = int(pool.lease(device, 10, 10**30, FAR, b"\x00" * 32, sender=bob).return_value)
    pool.setClass(CLASS_ID, pool_params({**PRICING, "terminateFeeBps": 10_000}), sender=deployer)
    tx = pool.terminate(lease_id, sender=bob)
    [ev] = logs(tx, pool.LeaseTerminated)
    refund = ev["refunded"] + ev["fee"]
    assert refund > 0 and ev["fee"] == refund * PRICING["terminateFeeBps"] // 10_000


# --------------------------------------------------------------------------------------------
# 3. Window stuffing, bounty cap, self-report
# --------------------------------------------------------------------------------------------


def test_regression_window_stuffing_costs_no_bond(chain, system, alice, bob, operator):
    """Old: whoever filled the commit window's blocks kept the honest commit out, reported the
    miss and collected 10% of the miss slash; the honest provider lost 10% of its bond and
    was jailed. Now the first miss is a grace miss: no bond lost, no jail, no bounty; the
    provider proves the next epoch and stays Active."""
    v, st, token = system.verifier, system.staking, system.token
    pocps.set_proof_class(system, challengeBps=10_000)
    device = pocps.activate(chain, system, alice, operator)
    e = pocps.next_epoch(chain, system)
    v.checkpoint(sender=bob)
    assert v.mustCommit(device, e)
    # The attacker fills every block of the commit window: the honest commit never lands.
    pocps.goto_block(chain, start(system, e) + CW)
    with reverts(v.CommitWindowClosed, deviceId=device, epoch=e, deadline=start(system, e) + CW):
        v.commit(device, e, b"\x01" * 32, sender=operator)
    supply, before = token.totalSupply(), token.balanceOf(bob)
    tx = v.reportMissed(device, e, sender=bob)
    assert logs(tx, v.GraceMiss) == [
        {"deviceId": device, "epoch": e, "reporter": bob.address, "mustProveEpoch": e + 1}]
    assert logs(tx, st.DeviceSlashed) == []
    assert token.balanceOf(bob) == before and token.totalSupply() == supply  # nothing paid
    d = st.getDevice(device)
    assert (d.state, d.bond) == (ACTIVE, MIN_BOND)
    assert v.proofStatus(device, e) == MISSED
    # The honest provider proves the owed epoch and carries on.
    pocps.next_epoch(chain, system)
    pocps.prove(chain, system, device, operator)
    assert st.getDevice(device).state == ACTIVE


def test_regression_bounty_bps_capped(project, system, deployer):
    """Old: the constructor accepted bountyBps = 10000 (a self-reported miss cost nothing)."""
    t = system.token
    args = (t, 0, 20, 40, UNIT, 10_000, 0)
    with reverts(system.staking.InvalidParameter, name="bountyBps"):
        project.Staking.deploy(*args, 10_000, deployer, sender=deployer)
    with reverts(system.staking.InvalidParameter, name="bountyBps"):
        project.Staking.deploy(*args, 2_001, deployer, sender=deployer)
    assert project.Staking.deploy(*args, 2_000, deployer, sender=deployer).bountyBps() == 2_000


def test_regression_self_report_pays_the_effective_slash(chain, system, alice, operator,
                                                         keeper, deployer):
    """A provider reporting its own (second) miss from another address loses the slash less
    the bounty, and the bounty is capped by the class's flat `maxBounty`: the effective slash
    is `slashed - min(slashed * bountyBps / 10000, maxBounty)`."""
    v, st, token = system.verifier, system.staking, system.token
    cap = 3 * UNIT
    st.setClass(CLASS_ID, (MIN_BOND, WEIGHT, cap), sender=deployer)
    pocps.set_proof_class(system, challengeBps=10_000)
    device = pocps.activate(chain, system, alice, operator)
    e = pocps.next_epoch(chain, system)
    v.checkpoint(sender=keeper)
    pocps.goto_block(chain, start(system, e) + CW)
    v.reportMissed(device, e, sender=keeper)  # grace
    pocps.goto_epoch(chain, system, e + 1, offset=CW)  # misses the owed epoch too
    before = token.balanceOf(alice) + token.balanceOf(keeper)
    tx = v.reportMissed(device, e + 1, sender=keeper)  # alice's second key
    [ev] = logs(tx, st.DeviceSlashed)
    assert ev["slashed"] == MISS_SLASH
    assert ev["bounty"] == min(MISS_SLASH * BOUNTY_BPS // 10_000, cap) == cap
    assert token.balanceOf(alice) + token.balanceOf(keeper) == before + cap
    assert MISS_SLASH - ev["bounty"] >= MISS_SLASH * (10_000 - st.MAX_BOUNTY_BPS()) // 10_000
    assert st.getDevice(device).state == JAILED


# --------------------------------------------------------------------------------------------
# 5. Smaller items
# --------------------------------------------------------------------------------------------


def test_regression_fingerprint_freed_at_deregister(chain, system, alice, bob, operator):
    """Old: a fingerprint stayed taken until withdraw, which a squatter need never call."""
    st, token = system.staking, system.token
    device = pocps.register(system, alice, operator)
    fp = bytes(st.getDevice(device).fingerprint)
    st.deregister(device, sender=alice)
    assert st.deviceOfFingerprint(fp) == 0
    token.transfer(bob, MIN_BOND, sender=system.admin)
    token.approve(st, MIN_BOND, sender=bob)
    again = int(st.registerDevice(CLASS_ID, fp, operator, sender=bob).return_value)
    assert st.deviceOfFingerprint(fp) == again != device


@pytest.mark.parametrize("escape", ["maintenance", "deregister"])
def test_regression_pending_duty_survives_state_change(chain, system, alice, bob, operator,
                                                       escape):
    """Old: a Pending device that did not prove its first epoch declared maintenance (or
    deregistered) in that epoch: its duty became Sampled, and at a low challengeBps nothing
    was reportable. Now the epoch stays owed as Always: the miss is reported."""
    v, st = system.verifier, system.staking
    pocps.set_proof_class(system, challengeBps=1)
    device = pocps.register(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    v.checkpoint(sender=bob)
    if escape == "maintenance":
        st.declareMaintenance(device, 3, sender=alice)
        assert st.getDevice(device).state == MAINTENANCE
    else:
        st.deregister(device, sender=alice)
        assert st.getDevice(device).state == EXITING
    assert st.challengeInfo(device, e).mode == 1  # Always
    assert v.isChallenged(device, e)
    pocps.goto_block(chain, start(system, e) + CW)
    tx = v.reportMissed(device, e, sender=bob)
    assert logs(tx, v.GraceMiss)[0]["deviceId"] == device
    assert v.proofStatus(device, e) == MISSED


def test_regression_pending_owed_proof_after_state_change_is_accepted(chain, system, alice,
                                                                      operator):
    """The honest side of the rule above: a Pending device that deregisters and still proves
    its owed epoch opens normally (no revert from activation) and stays Exiting."""
    v, st = system.verifier, system.staking
    device = pocps.register(system, alice, operator)
    pocps.next_epoch(chain, system)
    st.deregister(device, sender=alice)
    _, otx, _ = pocps.prove(chain, system, device, operator)
    assert logs(otx, v.Opened) and st.getDevice(device).state == EXITING


# --------------------------------------------------------------------------------------------
# 4. No ghost profit, bounded Sybil leverage
# --------------------------------------------------------------------------------------------


def credit_of(st, device, epoch, odds) -> int:
    """`Staking._credit` in Python: the device's weight times epoch `epoch`'s emission per weight
    (accumulator snapshots), divided by the probability `odds / BPS` it had to be opened."""
    delta = st.rewardPerWeightAtEpoch(epoch + 1) - st.rewardPerWeightAtEpoch(epoch)
    return st.getDevice(device).weight * delta * BPS // odds // UNIT


def credited(tx, st) -> list[dict]:
    return logs(tx, st.RewardsCredited)


def test_regression_ghost_never_earns(chain, system, alice, bob, operator):
    """Old: an Active device earned emissions whether or not it could compute (v1), and with
    vesting the first honest pass still paid everything accrued since. Now only a passed opening
    earns: a ghost that commits junk and does not open earns nothing for the epoch (a drawn
    commitment not opened is a normal miss: slashed), and `claim` pays only its one honest
    activation epoch."""
    v, st, token = system.verifier, system.staking, system.token
    pocps.set_proof_class(system, challengeBps=10_000)
    device = pocps.activate(chain, system, alice, operator)
    a = st.currentEpoch()
    e = pocps.next_epoch(chain, system)  # the activation epoch is over: its credit is final
    activation = credit_of(st, device, a, BPS)
    assert activation > 0 and st.earned(device) == activation == st.owedRewards(device)
    pocps.commit(chain, system, device, operator, tamper=lambda c: c.__iadd__(1))  # junk root
    pocps.goto_block(chain, start(system, e) + CW + OW + 1)
    assert v.openOdds(device, e) == BPS and st.pendingReward(device) == 0
    tx = v.reportMissed(device, e, sender=bob)  # drawn, never opened: a normal miss
    assert logs(tx, v.MissReported) and not logs(tx, v.GraceMiss)
    assert st.getDevice(device).state == JAILED
    pocps.next_epoch(chain, system)
    pocps.next_epoch(chain, system)
    assert st.owedRewards(device) == activation  # nothing for the junk epoch, nothing since
    supply = token.totalSupply()
    assert st.claim(device, sender=alice).return_value == activation
    assert token.totalSupply() == supply + activation


def test_regression_voluntary_opening_earns_nothing(chain, system, alice, operator):
    """Old (vesting): a device not drawn could open voluntarily and vest everything it had
    accrued, which let one card rotate its real product onto the identity holding the most
    unvested rewards. Now an undrawn opening is accepted and earns nothing."""
    v, st = system.verifier, system.staking
    pocps.set_proof_class(system, challengeBps=5_000)
    device = pocps.activate(chain, system, alice, operator)
    e, tree, tx = pocps.selected_epoch(chain, system, device, operator, want=False)
    owed = st.owedRewards(device)
    assert v.openOdds(device, e) == 0
    leaves, proof, _ = pocps.opening(chain, tree, tx.block_number)
    otx = v.open(device, e, leaves, proof, sender=operator)
    assert logs(otx, v.Opened) and st.getDevice(device).creditEpochPlusOne != e + 1
    pocps.next_epoch(chain, system)
    assert st.owedRewards(device) == owed and st.pendingReward(device) == 0


def test_regression_rotating_sybil_earns_at_most_m_shares(chain, system, alice, bob, operator):
    """Old (vesting since the last pass): one card (m = 1 product per window) behind N
    identities rotated its real product onto the identity holding the most unvested rewards and
    collected N identities' accruals. Now every identity commits before the draw, only a passed
    drawn opening earns, and it earns exactly one share / p: per epoch the card's identities
    are credited at most m = 1 opening, whichever identity it chose."""
    v, st = system.verifier, system.staking
    bps = 5_000
    pocps.set_proof_class(system, challengeBps=bps)
    ids = [pocps.activate(chain, system, alice, operator) for _ in range(3)]
    pocps.next_epoch(chain, system)
    pocps.next_epoch(chain, system)
    base = {d: st.owedRewards(d) for d in ids}  # the activation credits
    paid = {d: 0 for d in ids}
    credits = 0
    for t in range(6):
        e = pocps.next_epoch(chain, system)
        alive = [d for d in ids if v.mustCommit(d, e)]  # jailed identities owe nothing
        if not alive:
            break
        real = alive[t % len(alive)]  # the one product the card computes this window
        trees = {d: pocps.commit(chain, system, d, operator,
                                 tamper=None if d == real else (lambda c: c.__iadd__(1)))
                 for d in alive}
        pocps.after_deadline(chain, system, e)
        chain.mine(1)
        for d, (tree, tx) in trees.items():
            if d == real:  # the card opens its real product, drawn or not (voluntary)
                leaves, proof, _ = pocps.opening(chain, tree, tx.block_number)
                v.open(d, e, leaves, proof, sender=operator)
        pocps.goto_block(chain, start(system, e) + CW + OW + 1)
        for d in alive:
            if d != real and v.mustOpen(d, e):
                v.reportMissed(d, e, sender=bob)  # drawn junk: a miss (grace, then slashed)
        odds = v.openOdds(real, e)
        pocps.next_epoch(chain, system)
        for d in ids:
            earned_now = st.owedRewards(d) - base[d] - paid[d]
            want = credit_of(st, d, e, odds) if d == real and odds else 0
            assert earned_now == want, (t, d, earned_now, want)
            paid[d] += earned_now
            credits += earned_now > 0
        assert credits <= t + 1  # at most m = 1 credited opening per epoch


def test_regression_every_device_commits_every_epoch(chain, system, alice, bob, operator):
    """Old: selection was drawn per owner at the epoch start, so an unselected device owed
    nothing (one card could answer for many identities). Now every non-exempt device commits
    every epoch; a missing commitment is a miss whatever the draw."""
    v = system.verifier
    pocps.set_proof_class(system, challengeBps=1)
    device = pocps.activate(chain, system, alice, operator)
    e = pocps.next_epoch(chain, system)
    v.checkpoint(sender=bob)
    pocps.goto_block(chain, start(system, e) + CW)
    assert v.mustCommit(device, e) and not v.mustOpen(device, e)
    tx = v.reportMissed(device, e, sender=bob)
    assert logs(tx, v.GraceMiss)[0]["deviceId"] == device


def test_regression_opening_drawn_per_device_after_the_deadline(chain, system, alice, operator):
    """The draw is per device (not per owner) from the commit deadline block's hash, unknown
    while any commitment of the epoch can still land (mirror: `pinfi.protocol.must_open`)."""
    v = system.verifier
    bps = 5_000
    pocps.set_proof_class(system, challengeBps=bps)
    devices = [pocps.activate(chain, system, alice, operator) for _ in range(2)]
    for _ in range(3):
        e = pocps.next_epoch(chain, system)
        for d in devices:
            pocps.commit(chain, system, d, operator)
        deadline = start(system, e) + CW
        assert not any(v.mustOpen(d, e) for d in devices)  # unknown before the deadline
        pocps.after_deadline(chain, system, e)
        chain.mine(1)  # a view reads blockhash(deadline) once the head is past it
        seed = pocps.blockhash(chain, deadline)
        for d in devices:
            assert v.mustOpen(d, e) == proto.must_open(seed, d, bps)


# --------------------------------------------------------------------------------------------
# 5. Forced challenge convicted after passing
# --------------------------------------------------------------------------------------------


def test_regression_convicted_forced_opening_does_not_read_as_passed(chain, system, alice, bob,
                                                                     keeper, operator, deployer):
    """Old: a forced challenge's opening that passed `open` kept `forcedPassedPlusOne` after a
    dispute convicted it, so once its record slot was recycled `proofStatus` read Opened and a
    late `resolveDown` paid the client's bond to the cheater. Now the conviction clears it."""
    from tests.support.pool import activate_many

    v, pool, token = system.verifier, system.pool, system.token
    bad = TEST_CLASS["k"] - 1
    rows = pocps.stratum_rows(bad)

    def lazy(c):  # every stratum right but the last
        c[rows, :] += 1

    token.transfer(bob, 10_000 * UNIT, sender=deployer)
    token.approve(pool, 10**30, sender=bob)
    for device in activate_many(chain, system, alice, operator, 4):
        pocps.next_epoch(chain, system)
        lease_id = int(pool.lease(device, 3, 10**30, FAR, b"\x00" * 32,
                                  sender=bob).return_value)
        f = int(pool.reportDown(lease_id, sender=bob).return_value)
        pocps.goto_epoch(chain, system, f)
        tree, tx = pocps.commit(chain, system, device, operator, tamper=lazy)
        pocps.after_deadline(chain, system, f)
        leaves, proof, picks = pocps.opening(chain, tree, tx.block_number)
        otx = v.open(device, f, leaves, proof, sender=operator)
        if logs(otx, v.Opened):  # the check missed the corrupted stratum (3 in 4)
            break
    else:
        raise AssertionError("every check fell on the corrupted stratum (p = 1/256)")
    assert v.forcedPassedPlusOne(device) == f + 1
    leaf, path, ei = pocps.dispute_calldata(tree, picks, bad)
    v.dispute(device, f, bad, ei, leaf, path, sender=keeper)
    assert v.forcedPassedPlusOne(device) == 0 and v.lastPassPlusOne(device) != f + 1
    assert system.staking.getDevice(device).creditEpochPlusOne != f + 1  # credit revoked
    pocps.goto_epoch(chain, system, f + 1)
    assert pool.resolveDown(lease_id, sender=bob).return_value is False


def test_regression_demand_follows_supply_with_a_pending_report(chain, system, alice, bob,
                                                               operator, deployer):
    """Old: a device leaving Active while a down report was pending kept its lease in D (the
    hook returned early), so D > R until `resolveDown`. Now D falls with R at once, and
    `resolveDown` settles the money without counting the lease out twice."""
    pool, st, token = system.pool, system.staking, system.token
    device = pocps.activate(chain, system, alice, operator)
    token.transfer(bob, 10_000 * UNIT, sender=deployer)
    token.approve(pool, 10**30, sender=bob)
    pocps.next_epoch(chain, system)
    lease_id = int(pool.lease(device, 5, 10**30, FAR, b"\x00" * 32, sender=bob).return_value)
    f = int(pool.reportDown(lease_id, sender=bob).return_value)
    assert tuple(pool.classState(CLASS_ID))[:2] == (1, 1)
    tx = st.deregister(device, sender=alice)  # leaves Active: R falls to 0
    assert logs(tx, pool.LeaseEndedByProvider)[0]["refunded"] == 0  # money left to resolveDown
    demand, supply, _ = pool.classState(CLASS_ID)
    assert (demand, supply) == (0, 0)
    pocps.goto_epoch(chain, system, f + 1)
    before = token.balanceOf(bob)
    rtx = pool.resolveDown(lease_id, sender=bob)
    assert rtx.return_value is False  # exempt from the forced epoch on: no opening
    [ev] = logs(rtx, pool.DownResolved)
    assert token.balanceOf(bob) == before + ev["bond"] + ev["refund"] and ev["refund"] > 0
    assert tuple(pool.classState(CLASS_ID))[:2] == (0, 0)
    assert not pool.leaseOf(device)[5]
