"""DissipativePool on a real Anvil with the real Staking and PoCPSVerifier.

Devices are activated through real PoCPS challenges (`tests/support/pocps.py`); prices are
checked bit for bit against `pinfi.protocol.lease_cost`; every custom error of the pool is
triggered.
"""

from __future__ import annotations

import random
from decimal import Decimal

import ape
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinfi import protocol as proto
from pinfi.params import PoolPricing
from pinfi.protocol.pricing import unused_share
from pinfi.types import DeviceState
from tests.support import pocps
from tests.support.constants import CLASS_ID, EPOCH_BLOCKS, NETWORK, PRICING, deploy_system
from tests.support.pool import (
    FAR,
    MAX_UINT96,
    activate_many,
    expiry_slot,
    next_offset,
    owed,
    quote_next,
    tx_offset,
)

N_DEVICES = 4
JOB = b"\x11" * 32
UNIT = 10**18
BETA = PRICING["betaBps"]
FEE = PRICING["terminateFeeBps"]
BOND = PRICING["downBond"]


@pytest.fixture(scope="module")
def env(project, chain, deployer, alice, bob, carol, operator, keeper):
    """Protocol with 4 Active devices owned by alice; bob and carol are funded, approved clients.
    No grace miss (`graceEpochs = 0`): a miss jails at once, as these pool paths need."""
    system = deploy_system(project, chain, deployer, graceEpochs=0)
    devices = activate_many(chain, system, alice, operator, N_DEVICES)
    assert system.staking.activeCount(CLASS_ID) == N_DEVICES
    for client in (bob, carol):
        system.token.transfer(client, 1_000_000 * UNIT, sender=deployer)
        system.token.approve(system.pool, 10**30, sender=client)  # large, not max: it is spent
    system.devices = devices
    return system


def lid(device: int, nonce: int) -> int:
    return (device << 64) | nonce


def params(pool) -> tuple[int, int, int]:
    pf, p0, alpha, *_ = pool.classParams(CLASS_ID)
    return pf, p0, alpha


def demand(pool) -> int:
    return pool.classState(CLASS_ID)[0]


def goto(chain, env, e: int, offset: int = 1) -> None:
    pocps.goto_epoch(chain, env, e, offset)


def epoch_start(chain, env) -> int:
    """Mine until the next block is the first of the next epoch (a lease there pays whole
    epochs: `elapsed = 0`, docs/protocol.md#pro-rata); returns that epoch."""
    e = env.staking.currentEpoch() + 1
    pocps.goto_epoch(chain, env, e, 0)
    return e


def elapsed(chain, env) -> int:
    """Blocks into its epoch of the next block (where `quote_next` prices and a lease is mined)."""
    return next_offset(chain, env) % EPOCH_BLOCKS


def share(locked: int, start: int, end_epoch: int, from_block: int) -> int:
    """`LeasePricing.unusedShare` of a lease from block offset `start` to epoch `end_epoch`."""
    return unused_share(locked, start, end_epoch * EPOCH_BLOCKS, from_block)


def set_alpha(env, alpha: int, **over) -> None:
    pricing = PoolPricing.from_json({**PRICING, "alpha": alpha, **over})
    env.pool.setClass(CLASS_ID, pricing.to_contract(), sender=env.admin)


def lease(env, device: int, epochs: int, client, max_cost: int | None = None):
    cost = quote_next(env.pool, CLASS_ID, epochs) if max_cost is None else max_cost
    return env.pool.lease(device, epochs, cost, FAR, JOB, sender=client)


def lease_escrow(env, device: int, epochs: int, client) -> int:
    """Lease ``device`` for ``epochs`` at the quoted price; returns the part of it escrowed."""
    cost = quote_next(env.pool, CLASS_ID, epochs)
    lease(env, device, epochs, client)
    return proto.split_payment(cost, BETA)[1]


# ---------------------------------------------------------------------- pricing


def test_quote_matches_mirror(chain, env, bob):
    pool = env.pool
    pocps.next_epoch(chain, env)
    # powu for whole alpha + 1 (2, 3, 5), pow otherwise (1.5, 3.718..., 4.000...001).
    alphas = [2 * UNIT, UNIT, 4 * UNIT, UNIT // 2, 2_718_281_828_459_045_235, 3 * UNIT + 1]
    pf, p0 = PRICING["pFloor"], PRICING["p0"]
    for d in range(N_DEVICES):
        assert pool.classState(CLASS_ID)[:2] == (d, N_DEVICES)
        for alpha in alphas:
            set_alpha(env, alpha)
            for m in (1, 64):
                q = quote_next(pool, CLASS_ID, m)
                el = elapsed(chain, env)
                assert q == proto.lease_cost(pf, p0, alpha, d, N_DEVICES, m, elapsed_blocks=el,
                                             epoch_blocks=EPOCH_BLOCKS), (d, alpha, m, el)
                whole = proto.lease_cost(pf, p0, alpha, d, N_DEVICES, m)
                exact = proto.lease_cost_decimal(pf, p0, alpha, d, N_DEVICES, m)
                assert abs(Decimal(whole) - exact) <= exact * Decimal(10) ** -12
        lease(env, env.devices[d], 60, bob)


@given(
    p_floor=st.integers(1, 10**21),
    p0=st.integers(0, 10**22),
    alpha=st.one_of(st.sampled_from([UNIT, 2 * UNIT, 4 * UNIT]), st.integers(UNIT // 10, 4 * UNIT)),
    epochs=st.integers(1, 8),
)
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_quote_property_against_decimal(chain, env, bob, p_floor, p0, alpha, epochs):
    """Random parameters and states: every quote equals the bit-exact mirror, stays within the
    fixed-point error bound of the real-number integral, and leasing the devices one at a time
    sums to the closed form of leasing them together."""
    snap = chain.snapshot()
    try:
        set_alpha(env, alpha, pFloor=p_floor, p0=p0)
        r = N_DEVICES
        # PRBMath's UD60x18 ops are exact to 1e-18; the result is scaled by P0*R/(alpha+1) per
        # epoch, so each of the ~10 fixed-point operations may be off by one unit of that scale.
        tol = 10 * epochs * (1 + p0 * r // 10**18)
        paid = 0
        for d in range(r):
            quote = quote_next(env.pool, CLASS_ID, epochs)
            el = elapsed(chain, env)
            assert quote == proto.lease_cost(p_floor, p0, alpha, d, r, epochs, elapsed_blocks=el,
                                             epoch_blocks=EPOCH_BLOCKS)
            whole = proto.lease_cost(p_floor, p0, alpha, d, r, epochs)
            exact = proto.lease_cost_decimal(p_floor, p0, alpha, d, r, epochs)
            assert abs(Decimal(whole) - exact) <= tol
            tx = lease(env, env.devices[d], epochs, bob)
            assert tx.events.filter(env.pool.LeaseOpened)[0].cost == quote
            paid += whole  # the whole-epoch prices sum to the closed form
            assert demand(env.pool) == d + 1
        a1 = Decimal(alpha) / UNIT + 1
        # Closed form of D: 0 -> r in one go: r*pFloor + P0*R/(a+1) * ((r/R)^(a+1) - (0/R)^(a+1)).
        full = Decimal(r) / r  # utilization after the last lease
        together = epochs * (r * Decimal(p_floor) + Decimal(p0) * r / a1 * (full**a1 - 0))
        assert abs(Decimal(paid) - together) <= r * tol
    finally:
        chain.restore(snap)


def test_price_rises_with_utilization(chain, env, bob):
    pool = env.pool
    epoch_start(chain, env)
    quotes = []
    for d in env.devices:
        q = quote_next(pool, CLASS_ID, 2)
        quotes.append(q)
        tx = lease(env, d, 2, bob)
        assert tx.events.filter(pool.LeaseOpened)[0].cost == q
    assert quotes == sorted(quotes) and len(set(quotes)) == N_DEVICES
    assert quotes[0] == 2 * proto.per_epoch_price(*params(pool), 0, N_DEVICES)
    with ape.reverts(pool.NoFreeDevice):
        quote_next(pool, CLASS_ID, 1)
    assert pool.utilization(CLASS_ID) == UNIT


# ---------------------------------------------------------------------- lease


def test_lease_moves_exact_amounts(chain, env, bob):
    pool, token = env.pool, env.token
    dev = env.devices[0]
    c = epoch_start(chain, env)
    q = quote_next(pool, CLASS_ID, 3)
    burn, escrow = proto.split_payment(q, BETA)
    bal, supply, held = token.balanceOf(bob), token.totalSupply(), token.balanceOf(pool)
    tx = pool.lease(dev, 3, q, FAR, JOB, sender=bob)
    assert tx.return_value == lid(dev, 1)
    assert token.balanceOf(bob) == bal - q
    assert token.totalSupply() == supply - burn
    assert token.balanceOf(pool) == held + escrow
    ev = tx.events.filter(pool.LeaseOpened)[0]
    assert (ev.leaseId, ev.deviceId, ev.client, ev.classId) == (
        lid(dev, 1),
        dev,
        bob.address,
        CLASS_ID,
    )
    assert (ev.startEpoch, ev.endEpoch, ev.cost, ev.burned, bytes(ev.jobSpec)) == (
        c,
        c + 3,
        q,
        burn,
        JOB,
    )
    assert tuple(pool.leaseOf(dev)) == (bob.address, c, c + 3, escrow // 3, 1, True)
    assert pool.currentLeaseId(dev) == lid(dev, 1)
    assert pool.escrowOf(dev) == (escrow, c + 3, escrow, 0, 0, 0)
    assert pool.classState(CLASS_ID) == (1, N_DEVICES, c)
    assert pool.utilization(CLASS_ID) == UNIT // N_DEVICES
    assert pool.expiryCount(CLASS_ID, c + 3) == 1
    assert pool.classHorizon(CLASS_ID) == c + 3
    assert owed(pool, env.devices) == token.balanceOf(pool)
    with ape.reverts(pool.DeviceBusy):
        pool.lease(dev, 1, 10**30, FAR, JOB, sender=bob)


def test_demand_falls_lazily(chain, env, bob, carol):
    pool = env.pool
    c = pocps.next_epoch(chain, env)
    d0, d1, d2, d3 = env.devices
    for dev, m in ((d0, 1), (d1, 3), (d2, 17), (d3, 20)):
        lease(env, dev, m, bob)
    assert pool.classState(CLASS_ID) == (4, 4, c)
    assert pool.classHorizon(CLASS_ID) == c + 20
    goto(chain, env, c + 1)
    assert pool.classState(CLASS_ID) == (3, 4, c)  # lazy: nothing stored yet
    assert not pool.leaseOf(d0)[5] and pool.leaseOf(d1)[5]
    goto(chain, env, c + 3)
    assert demand(pool) == 2
    lease(env, d0, 20, carol)  # syncs the class
    assert pool.classState(CLASS_ID) == (3, 4, c + 3)
    assert pool.classHorizon(CLASS_ID) == c + 23
    goto(chain, env, c + 17)
    assert demand(pool) == 2  # d2 expired at c + 17; d3 (c + 20) and d0 (c + 23) remain
    goto(chain, env, c + 20)
    assert demand(pool) == 1
    goto(chain, env, c + 23)
    assert demand(pool) == 0  # horizon reached: no loop at all
    tx = lease(env, d1, 1, bob)
    assert pool.classState(CLASS_ID) == (1, 4, c + 23)
    print(f"gas lease after horizon: {tx.gas_used}")


def test_sync_spans_many_words(chain, env, bob):
    """Leases ending in several 16-epoch words expire exactly when their epochs pass."""
    pool = env.pool
    c = pocps.next_epoch(chain, env)
    ends = {}
    for dev, m in zip(env.devices, (5, 17, 18, 34), strict=True):
        lease(env, dev, m, bob)
        ends[dev] = c + m
    assert pool.classHorizon(CLASS_ID) == c + 34
    # The class stays synced at c while time passes: views only.
    for e in (c + 4, c + 5, c + 16, c + 17, c + 18, c + 33):
        goto(chain, env, e)
        assert demand(pool) == sum(1 for end in ends.values() if end > e), e
    # One lease at c + 33 syncs 33 epochs at once (three words).
    tx = lease(env, env.devices[0], 1, bob)
    assert pool.classState(CLASS_ID) == (2, 4, c + 33)
    print(f"gas lease syncing 33 epochs: {tx.gas_used}")


# ---------------------------------------------------------------------- extend / terminate


def test_extend(chain, env, bob, carol):
    pool, token = env.pool, env.token
    d0, d1 = env.devices[:2]
    c = epoch_start(chain, env)
    cost0 = quote_next(pool, CLASS_ID, 2)
    lease(env, d0, 2, bob)
    lease(env, d1, 5, carol)
    lease_id = lid(d0, 1)
    pf, p0, alpha = params(pool)
    per = proto.per_epoch_price(pf, p0, alpha, 2 - 1, N_DEVICES)  # marginal integral [D-1, D]
    assert pool.quoteExtend(lease_id, 3) == 3 * per
    with ape.reverts(pool.NotClient):
        pool.extend(lease_id, 3, 10**30, FAR, sender=carol)
    with ape.reverts(pool.ZeroEpochs):
        pool.extend(lease_id, 0, 10**30, FAR, sender=bob)
    with ape.reverts(pool.TooManyEpochs):
        pool.extend(lease_id, PRICING["maxLeaseEpochs"] - 1, 10**30, FAR, sender=bob)
    with ape.reverts(pool.SlippageExceeded):
        pool.extend(lease_id, 3, 3 * per - 1, FAR, sender=bob)
    with ape.reverts(pool.DeadlineExpired):
        pool.extend(lease_id, 3, 10**30, 1, sender=bob)
    supply, bal = token.totalSupply(), token.balanceOf(bob)
    tx = pool.extend(lease_id, 3, 3 * per, FAR, sender=bob)
    burn, escrow = proto.split_payment(3 * per, BETA)
    assert tx.return_value == c + 5
    ev = tx.events.filter(pool.LeaseExtended)[0]
    assert (ev.epochs, ev.endEpoch, ev.cost, ev.burned) == (3, c + 5, 3 * per, burn)
    assert token.totalSupply() == supply - burn and token.balanceOf(bob) == bal - 3 * per
    assert pool.leaseOf(d0)[2] == c + 5
    locked = proto.split_payment(cost0, BETA)[1] + escrow
    assert pool.leaseOf(d0)[3] == locked // 5
    assert pool.escrowOf(d0)[:3] == (locked, c + 5, locked)
    assert pool.expiryCount(CLASS_ID, c + 2) == 0 and pool.expiryCount(CLASS_ID, c + 5) == 2
    assert demand(pool) == 2
    goto(chain, env, c + 4)
    assert demand(pool) == 2
    goto(chain, env, c + 5)
    assert demand(pool) == 0
    with ape.reverts(pool.LeaseNotLive):
        pool.extend(lease_id, 1, 10**30, FAR, sender=bob)
    assert owed(pool, env.devices) == token.balanceOf(pool)


def test_terminate_refunds_and_burns_fee(chain, env, alice, bob, carol):
    pool, token = env.pool, env.token
    d0 = env.devices[0]
    c = epoch_start(chain, env)
    escrow = lease_escrow(env, d0, 10, bob)
    goto(chain, env, c + 2)
    refund = escrow * (10 - 2 - 1) // 10
    fee = refund * FEE // 10_000
    with ape.reverts(pool.NotClient):
        pool.terminate(lid(d0, 1), sender=carol)
    supply, bal, held = token.totalSupply(), token.balanceOf(bob), token.balanceOf(pool)
    tx = pool.terminate(lid(d0, 1), sender=bob)
    assert tx.return_value == refund - fee
    ev = tx.events.filter(pool.LeaseTerminated)[0]
    assert (ev.epoch, ev.refunded, ev.fee) == (c + 2, refund - fee, fee)
    assert token.balanceOf(bob) == bal + refund - fee
    assert token.totalSupply() == supply - fee
    assert token.balanceOf(pool) == held - refund
    assert pool.classState(CLASS_ID) == (0, N_DEVICES, c + 2)  # D falls now
    assert pool.expiryCount(CLASS_ID, c + 10) == 0
    assert tuple(pool.leaseOf(d0))[1:3] == (c, c + 2) and not pool.leaseOf(d0)[5]
    assert pool.escrowOf(d0)[:2] == (escrow - refund, c + 3)
    with ape.reverts(pool.LeaseNotLive):
        pool.terminate(lid(d0, 1), sender=bob)
    # The rest is released after the dispute epoch of the last paid epoch (c + 2).
    goto(chain, env, c + 3)
    with ape.reverts(pool.NothingToClaim):
        pool.claim(d0, sender=alice)
    goto(chain, env, c + 4)
    assert pool.claimable(d0) == escrow - refund
    # The device is free; a new lease's escrow stays locked, the old one stays claimable.
    cost2 = quote_next(pool, CLASS_ID, 4)
    lease(env, d0, 4, carol)
    assert pool.escrowOf(d0)[:4] == (
        proto.split_payment(cost2, BETA)[1],
        c + 8,
        escrow - refund + proto.split_payment(cost2, BETA)[1],
        escrow - refund,
    )
    tx = pool.claim(d0, sender=alice)
    assert tx.return_value == escrow - refund
    with ape.reverts(pool.NothingToClaim):
        pool.claim(d0, sender=alice)
    assert owed(pool, env.devices) == token.balanceOf(pool)


def test_claim_after_dispute_epoch_only(chain, env, alice, bob):
    pool, token = env.pool, env.token
    d0 = env.devices[0]
    c = epoch_start(chain, env)
    escrow = lease_escrow(env, d0, 2, bob)
    with ape.reverts(pool.NotDeviceOwner):
        pool.claim(d0, sender=bob)
    with ape.reverts(pool.NothingToClaim):
        pool.claim(d0, sender=alice)
    goto(chain, env, c + 2)  # the dispute epoch: still locked
    assert pool.claimable(d0) == 0
    with ape.reverts(pool.NothingToClaim):
        pool.claim(d0, sender=alice)
    goto(chain, env, c + 3)
    assert pool.claimable(d0) == escrow
    bal, held = token.balanceOf(alice), token.balanceOf(pool)
    tx = pool.claim(d0, sender=alice)
    assert tx.events.filter(pool.Claimed)[0].amount == escrow
    assert token.balanceOf(alice) == bal + escrow and token.balanceOf(pool) == held - escrow
    assert pool.claimable(d0) == 0 and pool.escrowOf(d0)[2] == 0
    # Re-leasing the device in the dispute epoch of its last lease releases that lease's escrow:
    # no down report is pending (or the lease could not start), so nothing can claw it back.
    cost = quote_next(pool, CLASS_ID, 1)
    lease(env, d0, 1, bob)  # ends c + 4
    goto(chain, env, c + 4)
    assert pool.claimable(d0) == 0
    lease(env, d0, 1, bob)
    assert pool.claimable(d0) == proto.split_payment(cost, BETA)[1]


# ---------------------------------------------------------------------- down reports


def test_report_down_failed_refunds_client(chain, env, alice, bob, keeper):
    pool, token, verifier = env.pool, env.token, env.verifier
    d0 = env.devices[0]
    c = epoch_start(chain, env)
    escrow = lease_escrow(env, d0, 6, bob)
    lease_id = lid(d0, 1)
    with ape.reverts(pool.NotClient):
        pool.reportDown(lease_id, sender=alice)
    with ape.reverts(pool.NoDownReport):
        pool.resolveDown(lease_id, sender=keeper)
    bal = token.balanceOf(bob)
    tx = pool.reportDown(lease_id, sender=bob)
    assert tx.return_value == c + 1
    assert tx.events.filter(pool.DownReported)[0].bond == BOND
    assert token.balanceOf(bob) == bal - BOND
    assert verifier.forcedEpochPlusOne(d0) == c + 2
    assert pool.escrowOf(d0)[4:] == (c + 1, BOND)
    for call in (pool.reportDown, pool.terminate):
        with ape.reverts(pool.DownReportPending):
            call(lease_id, sender=bob)
    with ape.reverts(pool.DownReportPending):
        pool.extend(lease_id, 1, 10**30, FAR, sender=bob)
    with ape.reverts(pool.ResolveTooEarly):
        pool.resolveDown(lease_id, sender=keeper)
    goto(chain, env, c + 1)
    verifier.checkpoint(sender=keeper)
    assert verifier.isChallenged(d0, c + 1)
    with ape.reverts(pool.ResolveTooEarly):
        pool.resolveDown(lease_id, sender=keeper)
    # The device never proves; in the next epoch a keeper proves the miss on-chain (bounty).
    goto(chain, env, c + 2)
    verifier.reportMissed(d0, c + 1, sender=keeper)
    assert verifier.proofStatus(d0, c + 1) == 3  # Slashed
    assert env.staking.activeCount(CLASS_ID) == N_DEVICES - 1
    refund = escrow * (6 - 1) // 6  # epochs [forcedEpoch, end)
    bal, supply = token.balanceOf(bob), token.totalSupply()
    tx = pool.resolveDown(lease_id, sender=keeper)
    assert tx.return_value is False
    ev = tx.events.filter(pool.DownResolved)[0]
    assert (ev.passed, ev.bond, ev.refund) == (False, BOND, refund)
    assert token.balanceOf(bob) == bal + BOND + refund and token.totalSupply() == supply
    assert pool.classState(CLASS_ID) == (0, N_DEVICES - 1, c + 2)
    assert pool.expiryCount(CLASS_ID, c + 6) == 0
    assert not pool.leaseOf(d0)[5]
    assert pool.escrowOf(d0) == (escrow - refund, c + 1, escrow - refund, escrow - refund, 0, 0)
    with ape.reverts(pool.NoDownReport):
        pool.resolveDown(lease_id, sender=keeper)
    # Epochs before the failed challenge are the provider's, released at once.
    assert pool.claim(d0, sender=alice).return_value == escrow - refund
    assert owed(pool, env.devices) == token.balanceOf(pool)


def test_report_down_passed_pays_owner(chain, env, alice, bob, operator):
    pool, token, verifier = env.pool, env.token, env.verifier
    d0 = env.devices[0]
    c = epoch_start(chain, env)
    cost = quote_next(pool, CLASS_ID, 6)
    lease(env, d0, 6, bob)
    lease_id = lid(d0, 1)
    pool.reportDown(lease_id, sender=bob)
    goto(chain, env, c + 1)
    pocps.prove(chain, env, d0, operator)  # the forced challenge, answered honestly
    assert verifier.proofStatus(d0, c + 1) == 2  # Opened
    goto(chain, env, c + 2)
    tx = pool.resolveDown(lease_id, sender=alice)  # the provider's agent resolves
    assert tx.return_value is True
    ev = tx.events.filter(pool.DownResolved)[0]
    assert (ev.passed, ev.bond, ev.refund) == (True, BOND, 0)
    assert pool.leaseOf(d0)[5] and demand(pool) == 1
    escrow = proto.split_payment(cost, BETA)[1]
    assert pool.escrowOf(d0) == (escrow, c + 6, escrow + BOND, BOND, 0, 0)
    assert pool.claim(d0, sender=alice).return_value == BOND  # the bond, not the locked escrow
    pool.terminate(lease_id, sender=bob)  # no longer pending
    assert owed(pool, env.devices) == token.balanceOf(pool)


def test_report_down_passed_survives_late_resolution(chain, env, alice, bob, operator):
    """Resolved only after the forced epoch's proof record was recycled: the owner still wins."""
    pool, verifier = env.pool, env.verifier
    d0 = env.devices[0]
    c = pocps.next_epoch(chain, env)
    lease(env, d0, 1, bob)
    lease_id = lid(d0, 1)
    pool.reportDown(lease_id, sender=bob)
    goto(chain, env, c + 1)
    pocps.prove(chain, env, d0, operator)
    # The device commits again in an epoch of the same parity: that recycles the record.
    e = c + 3
    goto(chain, env, e)
    pocps.commit(chain, env, d0, operator, e)
    assert verifier.record(d0, c + 1).epoch == e  # the forced epoch's record is gone ...
    assert verifier.proofStatus(d0, c + 1) == 2  # ... but its passed outcome is kept
    tx = pool.resolveDown(lease_id, sender=bob)
    assert tx.return_value is True
    assert tx.events.filter(pool.DownResolved)[0].bond == BOND


def test_device_with_pending_report_is_not_leasable(chain, env, bob, carol):
    pool = env.pool
    d0 = env.devices[0]
    c = pocps.next_epoch(chain, env)
    lease(env, d0, 1, bob)
    pool.reportDown(lid(d0, 1), sender=bob)
    goto(chain, env, c + 1)  # the lease has ended, the report is pending
    assert demand(pool) == 0
    with ape.reverts(pool.DownReportPending):
        pool.lease(d0, 1, 10**30, FAR, JOB, sender=carol)
    goto(chain, env, c + 2)
    pool.resolveDown(lid(d0, 1), sender=carol)
    assert pool.escrowOf(d0)[4] == 0
    lease(env, d0, 1, carol)


# ---------------------------------------------------------------------- devices leaving Active


def ended_event(tx, pool):
    evs = tx.events.filter(pool.LeaseEndedByProvider)
    return evs[0] if evs else None


def test_jailed_device_lease_ends_and_frees_demand(chain, env, alice, bob, carol, keeper):
    """A leased device jailed by a real miss: D falls with R, the client gets its unused blocks
    back (no fee), and the last free device can be leased (it reverted NoFreeDevice before)."""
    pool, token, staking, verifier = env.pool, env.token, env.staking, env.verifier
    d0, d1, d2, d3 = env.devices
    c = pocps.next_epoch(chain, env)
    cost = quote_next(pool, CLASS_ID, 60)
    lease(env, d0, 60, bob)
    lease(env, d1, 5, carol)
    lease(env, d2, 7, carol)
    escrow = proto.split_payment(cost, BETA)[1]
    e = pocps.next_epoch(chain, env)  # d0 owes a commitment in e and never commits
    verifier.checkpoint(sender=keeper)
    goto(chain, env, e + 1)
    j = e + 1  # the jailing epoch
    assert demand(pool) == sum(1 for end in (c + 60, c + 5, c + 7) if end > j)
    d_before = demand(pool)
    # Leased in the epoch's second block; refunded from the block it is jailed in on.
    left = next_offset(chain, env)
    refund = share(escrow, c * EPOCH_BLOCKS + 1, c + 60, left)
    assert refund > escrow * (c + 60 - j - 1) // 60  # more than the whole later epochs
    bal, held, supply = token.balanceOf(bob), token.balanceOf(pool), token.totalSupply()
    tx = verifier.reportMissed(d0, e, sender=keeper)
    assert tx_offset(env, tx) == left
    assert staking.deviceSummary(d0)[2] == DeviceState.JAILED
    ev = ended_event(tx, pool)
    assert (ev.leaseId, ev.deviceId, ev.client, ev.epoch, ev.refunded) == (
        lid(d0, 1), d0, bob.address, j, refund)
    assert token.balanceOf(bob) == bal + refund  # exact, no fee
    assert token.balanceOf(pool) == held - refund
    assert token.totalSupply() == supply - tx.events.filter(staking.DeviceSlashed)[0].burned
    assert pool.classState(CLASS_ID) == (d_before - 1, N_DEVICES - 1, j)  # D falls with R
    assert pool.expiryCount(CLASS_ID, c + 60) == 0
    assert tuple(pool.leaseOf(d0))[1:3] == (c, j) and not pool.leaseOf(d0)[5]
    assert pool.escrowOf(d0)[:3] == (escrow - refund, j + 1, escrow - refund)
    assert owed(pool, env.devices) == token.balanceOf(pool)
    for call in (pool.terminate, pool.reportDown):
        with ape.reverts(pool.LeaseNotLive):
            call(lid(d0, 1), sender=bob)
    # d3 is the only free Active device. Keep d1 and d2 leased so that without the hook D
    # (3: d0 still counted) would equal R (3) and this lease would revert NoFreeDevice.
    for dev in (d1, d2):
        if not pool.leaseOf(dev)[5]:
            lease(env, dev, 1, carol)
    assert pool.classState(CLASS_ID)[:2] == (2, 3)
    lease(env, d3, 1, carol)
    assert pool.classState(CLASS_ID)[:2] == (3, 3)
    with ape.reverts(pool.NoFreeDevice):
        quote_next(pool, CLASS_ID, 1)
    # The epochs up to the jailing epoch are the provider's, released after its dispute epoch.
    goto(chain, env, j + 2)
    assert pool.claim(d0, sender=alice).return_value == escrow - refund
    assert owed(pool, env.devices) == token.balanceOf(pool)


def test_maintenance_ends_lease(chain, env, alice, bob):
    pool, token, staking = env.pool, env.token, env.staking
    d0, d1 = env.devices[:2]
    c = pocps.next_epoch(chain, env)
    cost = quote_next(pool, CLASS_ID, 10)
    lease(env, d0, 10, bob)
    escrow1 = proto.split_payment(quote_next(pool, CLASS_ID, 10), BETA)[1]
    lease(env, d1, 10, bob)
    escrow = proto.split_payment(cost, BETA)[1]
    goto(chain, env, c + 3)
    left = next_offset(chain, env)
    refund = share(escrow, c * EPOCH_BLOCKS + 1, c + 10, left)  # from the current block on
    bal, held = token.balanceOf(bob), token.balanceOf(pool)
    tx = staking.declareMaintenance(d0, 2, sender=alice)
    assert tx_offset(env, tx) == left
    ev = ended_event(tx, pool)
    got = (ev.leaseId, ev.client, ev.epoch, ev.refunded)
    assert got == (lid(d0, 1), bob.address, c + 3, refund)
    assert token.balanceOf(bob) == bal + refund and token.balanceOf(pool) == held - refund
    assert pool.classState(CLASS_ID) == (1, N_DEVICES - 1, c + 3)
    assert pool.expiryCount(CLASS_ID, c + 10) == 1  # d1's lease only
    assert pool.escrowOf(d0)[:2] == (escrow - refund, c + 4)
    assert owed(pool, env.devices) == token.balanceOf(pool)
    # A device that leaves Active without a live lease: nothing to end.
    goto(chain, env, c + 10)
    tx = staking.declareMaintenance(d1, 1, sender=alice)
    assert ended_event(tx, pool) is None and pool.escrowOf(d1)[0] == escrow1
    assert pool.classState(CLASS_ID)[:2] == (0, N_DEVICES - 2)


def test_deregister_ends_lease(chain, env, alice, bob, carol):
    pool, token, staking = env.pool, env.token, env.staking
    d0, d1, d2 = env.devices[:3]
    c = pocps.next_epoch(chain, env)
    cost = quote_next(pool, CLASS_ID, 4)
    lease(env, d0, 4, bob)
    cost1 = lease(env, d1, 8, carol).events.filter(pool.LeaseOpened)[0].cost
    escrow = proto.split_payment(cost, BETA)[1]
    goto(chain, env, c + 1)
    left = next_offset(chain, env)
    refund = share(escrow, c * EPOCH_BLOCKS + 1, c + 4, left)
    bal = token.balanceOf(bob)
    tx = staking.deregister(d0, sender=alice)
    assert tx_offset(env, tx) == left
    ev = ended_event(tx, pool)
    assert (ev.deviceId, ev.epoch, ev.refunded) == (d0, c + 1, refund)
    assert token.balanceOf(bob) == bal + refund
    assert pool.classState(CLASS_ID) == (1, N_DEVICES - 1, c + 1)
    assert pool.expiryCount(CLASS_ID, c + 4) == 0 and pool.expiryCount(CLASS_ID, c + 8) == 1
    # Lease in its last epoch: the rest of that epoch is refunded, D falls now.
    goto(chain, env, c + 7)
    left = next_offset(chain, env)
    refund1 = share(proto.split_payment(cost1, BETA)[1], c * EPOCH_BLOCKS + 2, c + 8, left)
    assert refund1 > 0
    tx = staking.deregister(d1, sender=alice)
    ev = ended_event(tx, pool)
    assert (ev.client, ev.epoch, ev.refunded) == (carol.address, c + 7, refund1)
    assert pool.classState(CLASS_ID) == (0, N_DEVICES - 2, c + 7)
    # An Active device never leased: no event.
    assert ended_event(staking.deregister(d2, sender=alice), pool) is None
    assert owed(pool, env.devices) == token.balanceOf(pool)


def test_pending_down_report_is_left_to_resolve_down(chain, env, alice, bob):
    """A device leaving Active with a down report pending: D falls at once with R (D <= R);
    the money is left to `resolveDown` (refund from the block it left, here before the forced
    epoch, and the bond back)."""
    pool, token, staking = env.pool, env.token, env.staking
    d0 = env.devices[0]
    c = pocps.next_epoch(chain, env)
    escrow = lease_escrow(env, d0, 6, bob)
    pool.reportDown(lid(d0, 1), sender=bob)
    tx = staking.declareMaintenance(d0, 3, sender=alice)
    left = tx_offset(env, tx)
    assert ended_event(tx, pool).refunded == 0  # the money waits for resolveDown
    assert pool.classState(CLASS_ID)[:2] == (0, N_DEVICES - 1)  # D fell with R
    goto(chain, env, c + 2)
    bal = token.balanceOf(bob)
    tx = pool.resolveDown(lid(d0, 1), sender=bob)
    refund = share(escrow, c * EPOCH_BLOCKS + 1, c + 6, left)
    assert tx.return_value is False
    assert token.balanceOf(bob) == bal + BOND + refund
    assert pool.classState(CLASS_ID)[:2] == (0, N_DEVICES - 1)  # not counted out twice
    assert not pool.leaseOf(d0)[5]
    assert owed(pool, env.devices) == token.balanceOf(pool)


def test_device_inactive_only_from_staking(chain, env, bob, accounts):
    pool, staking = env.pool, env.staking
    d0 = env.devices[0]
    pocps.next_epoch(chain, env)
    lease(env, d0, 3, bob)
    with ape.reverts(pool.NotStaking):
        pool.deviceInactive(d0, sender=bob)
    assert demand(pool) == 1
    # Staking itself, for a device with a live lease, ends it; a second call is a no-op.
    chain.set_balance(staking.address, 10**20)
    as_staking = accounts[staking.address]
    assert ended_event(pool.deviceInactive(d0, sender=as_staking), pool) is not None
    assert ended_event(pool.deviceInactive(d0, sender=as_staking), pool) is None
    assert demand(pool) == 0


def test_staking_set_pool_once(env, bob):
    staking, pool = env.staking, env.pool
    assert staking.pool() == pool.address  # wired by deploy_protocol
    with ape.reverts(staking.AccessControlUnauthorizedAccount):
        staking.setPool(bob, sender=bob)
    with ape.reverts(staking.PoolAlreadySet):
        staking.setPool(bob, sender=env.admin)


# ---------------------------------------------------------------------- errors


def test_lease_errors(chain, project, env, bob, alice, operator):
    pool = env.pool
    d0 = env.devices[0]
    pocps.next_epoch(chain, env)
    q = quote_next(pool, CLASS_ID, 2)
    with ape.reverts(pool.DeadlineExpired):
        pool.lease(d0, 2, q, 1, JOB, sender=bob)
    with ape.reverts(pool.ZeroEpochs):
        pool.lease(d0, 0, q, FAR, JOB, sender=bob)
    with ape.reverts(pool.ZeroEpochs):
        quote_next(pool, CLASS_ID, 0)
    with ape.reverts(pool.TooManyEpochs):
        pool.lease(d0, PRICING["maxLeaseEpochs"] + 1, 10**30, FAR, JOB, sender=bob)
    with ape.reverts(pool.TooManyEpochs):
        quote_next(pool, CLASS_ID, PRICING["maxLeaseEpochs"] + 1)
    with ape.reverts(pool.SlippageExceeded):
        pool.lease(d0, 2, quote_next(pool, CLASS_ID, 2) - 1, FAR, JOB, sender=bob)
    with ape.reverts(pool.UnknownClass):
        quote_next(pool, CLASS_ID + 1, 1)
    pending = pocps.register(env, alice, operator)
    with ape.reverts(pool.DeviceNotActive):
        pool.lease(pending, 1, 10**30, FAR, JOB, sender=bob)
    with ape.reverts(pool.DeviceNotActive):
        pool.lease(10**9, 1, 10**30, FAR, JOB, sender=bob)  # unknown device: state None
    with ape.reverts(pool.LeaseNotLive):
        pool.terminate(lid(d0, 1), sender=bob)  # never leased
    with ape.reverts(pool.LeaseNotLive):
        pool.quoteExtend(lid(d0, 1), 1)
    # A class in the pool but not in Staking has no supply.
    env.pool.setClass(CLASS_ID + 1, (1, 1, UNIT, 0, 1, 0, 1), sender=env.admin)
    with ape.reverts(pool.NoFreeDevice):
        quote_next(pool, CLASS_ID + 1, 1)
    # Amounts above uint96 (beyond any token supply) are refused before any transfer.
    set_alpha(env, UNIT, pFloor=MAX_UINT96)
    with ape.reverts(pool.AmountTooLarge):
        pool.lease(d0, 2, 2**256 - 1, FAR, JOB, sender=bob)


def test_expiry_count_overflow(chain, env, bob):
    """A lane of 65535 leases ending in one epoch refuses one more (state forced by storage)."""
    pool = env.pool
    c = pocps.next_epoch(chain, env)
    lease(env, env.devices[0], 3, bob)
    slot = expiry_slot(CLASS_ID, c + 3)
    raw = int.from_bytes(chain.provider.get_storage(pool.address, slot), "big")
    lane = ((c + 3) % 16) * 16
    assert (raw >> lane) & 0xFFFF == 1 == pool.expiryCount(CLASS_ID, c + 3)
    assert raw == pool.expiryWord(CLASS_ID, (c + 3) // 16)
    chain.provider.set_storage(pool.address, slot, (raw | (0xFFFF << lane)).to_bytes(32, "big"))
    assert pool.expiryCount(CLASS_ID, c + 3) == 0xFFFF
    with ape.reverts(pool.ExpiryCountOverflow):
        lease(env, env.devices[1], 3, bob)


def test_governance_bounds(project, chain, env, bob, deployer):
    pool = env.pool
    good = dict(PRICING)

    def set_(**over):
        p = {**good, **over}
        cid = p.pop("classId", 7)
        sender = p.pop("sender", env.admin)
        return pool.setClass(cid, PoolPricing.from_json(p).to_contract(), sender=sender)

    with ape.reverts(pool.AccessControlUnauthorizedAccount):
        set_(sender=bob)
    cases = [
        (pool.ClassIdZero, {"classId": 0}),
        (pool.PriceOutOfRange, {"pFloor": 0}),
        (pool.PriceOutOfRange, {"pFloor": 2**96}),
        (pool.PriceOutOfRange, {"p0": 2**96}),
        (pool.AlphaOutOfRange, {"alpha": 0}),
        (pool.AlphaOutOfRange, {"alpha": 4 * UNIT + 1}),
        (pool.BpsOutOfRange, {"betaBps": 10_001}),
        (pool.BpsOutOfRange, {"terminateFeeBps": 10_001}),
        (pool.MaxLeaseEpochsOutOfRange, {"maxLeaseEpochs": 0}),
        (pool.MaxLeaseEpochsOutOfRange, {"maxLeaseEpochs": 8761}),
        (pool.DownBondOutOfRange, {"downBond": 0}),
        (pool.DownBondOutOfRange, {"downBond": 2**96}),
    ]
    for err, over in cases:
        with ape.reverts(err):
            set_(**over)
    tx = set_(alpha=4 * UNIT, maxLeaseEpochs=8760, betaBps=10_000, terminateFeeBps=10_000, p0=0)
    assert tx.events.filter(pool.ClassSet)[0].classId == 7
    assert tuple(pool.classParams(7)) == (
        good["pFloor"],
        0,
        4 * UNIT,
        10_000,
        8760,
        10_000,
        good["downBond"],
    )

    # Constructor checks.
    with ape.reverts(pool.ZeroAddress):
        project.DissipativePool.deploy(
            env.token, env.staking, ape.utils.ZERO_ADDRESS, env.curve, deployer, sender=deployer
        )
    with ape.reverts(pool.ZeroAddress):
        project.DissipativePool.deploy(
            env.token, env.staking, env.verifier, ape.utils.ZERO_ADDRESS, deployer, sender=deployer
        )
    big = project.PinToken.deploy(2**96, 0, deployer, deployer, sender=deployer)
    with ape.reverts(pool.TokenCapTooLarge):
        project.DissipativePool.deploy(
            big, env.staking, env.verifier, env.curve, deployer, sender=deployer
        )
    # A clock that has not started yet.
    n = NETWORK
    staking = project.Staking.deploy(
        env.token,
        chain.blocks.head.number + 1_000,
        n["epochBlocks"],
        n["unbondingBlocks"],
        n["rewardPerBlock"],
        n["halvingBlocks"],
        0,
        n["bountyBps"],
        deployer,
        sender=deployer,
    )
    later = project.DissipativePool.deploy(
        env.token, staking, env.verifier, env.curve, deployer, sender=deployer
    )
    assert later.genesisBlock() == chain.blocks.head.number + 998
    with ape.reverts(later.BeforeGenesis):
        later.leaseOf(1)


# ---------------------------------------------------------------------- invariants


def test_random_walk_conservation(chain, env, alice, bob, carol):
    """Random leases, extensions, terminations, claims and time: D matches a model, quotes match
    the mirror, the pool owes exactly its balance, and supply falls by exactly what was burned."""
    pool, token = env.pool, env.token
    rng = random.Random(7)
    clients = {bob.address: bob, carol.address: carol}
    ends = {d: 0 for d in env.devices}  # model: device -> end epoch of its lease
    burned = 0
    supply0 = token.totalSupply()
    genesis = env.staking.genesisBlock()
    pocps.next_epoch(chain, env)
    for _ in range(30):
        if (chain.blocks.head.number + 1 - genesis) % EPOCH_BLOCKS == 0:
            chain.mine(1)  # keep the next transaction in the epoch the calls below see
        e = pool.currentEpoch()
        model_d = sum(1 for d in env.devices if ends[d] > e)
        assert demand(pool) == model_d
        if model_d < N_DEVICES:
            assert quote_next(pool, CLASS_ID, 3) == proto.lease_cost(
                PRICING["pFloor"], PRICING["p0"], PRICING["alpha"], model_d, N_DEVICES, 3,
                elapsed_blocks=elapsed(chain, env), epoch_blocks=EPOCH_BLOCKS,
            )
        op = rng.random()
        dev = rng.choice(env.devices)
        live = ends[dev] > e
        client = clients.get(pool.leaseOf(dev)[0]) if live else None
        if op < 0.4 and not live:
            tx = lease(env, dev, rng.randint(1, 6), rng.choice(list(clients.values())))
            ev = tx.events.filter(pool.LeaseOpened)[0]
            burned += ev.burned
            ends[dev] = ev.endEpoch
        elif op < 0.55 and live:
            tx = pool.extend(pool.currentLeaseId(dev), 2, 10**30, FAR, sender=client)
            ev = tx.events.filter(pool.LeaseExtended)[0]
            burned += ev.burned
            ends[dev] = ev.endEpoch
        elif op < 0.7 and live:
            tx = pool.terminate(pool.currentLeaseId(dev), sender=client)
            ev = tx.events.filter(pool.LeaseTerminated)[0]
            burned += ev.fee
            ends[dev] = ev.epoch
        elif op < 0.8 and pool.claimable(dev) > 0:
            pool.claim(dev, sender=alice)
        else:
            chain.mine(rng.randint(1, 30))
        assert owed(pool, env.devices) == token.balanceOf(pool)
        assert token.totalSupply() == supply0 - burned


# ---------------------------------------------------------------------- gas


def test_lease_gas(chain, env, alice, bob, carol):
    """`lease` gas: first lease of a device, then the steady state (device leased before, client
    with balance and allowance, expiry word already written); other entry points for the report."""
    pool = env.pool
    d0, d1, d2, d3 = env.devices
    c = pocps.next_epoch(chain, env)
    # Write the expiry words of epochs c+1 .. c+7 (at most two words) beforehand.
    lease(env, d1, 1, carol)
    lease(env, d3, 7, carol)
    first = lease(env, d0, 1, bob)
    goto(chain, env, c + 1)
    lease(env, d2, 1, carol)  # syncs the class for epoch c+1
    unclaimed = lease(env, d0, 1, bob)  # previous escrow unclaimed, still in its dispute epoch
    goto(chain, env, c + 3)
    pool.claim(d0, sender=alice)
    lease(env, d2, 1, carol)
    claimed = lease(env, d0, 1, bob)  # class synced this epoch, owner claimed
    goto(chain, env, c + 5)
    unsynced = lease(env, d0, 1, bob)  # first lease of the epoch: pays the class sync too
    goto(chain, env, c + 6)
    fresh_word = lease(env, d0, 16 + 15 - (c + 6) % 16, bob)  # ends in a word never written
    g = {
        "first": first,
        "steady": claimed,
        "steady_prev_unclaimed": unclaimed,
        "steady_first_of_epoch": unsynced,
        "fresh_expiry_word": fresh_word,
    }
    ext = pool.extend(pool.currentLeaseId(d0), 1, 10**30, FAR, sender=bob)
    rep = pool.reportDown(pool.currentLeaseId(d0), sender=bob)
    goto(chain, env, c + 8)
    res = pool.resolveDown(pool.currentLeaseId(d0), sender=carol)
    lease(env, d1, 5, carol)
    term = pool.terminate(pool.currentLeaseId(d1), sender=carol)
    goto(chain, env, c + 10)
    clm = pool.claim(d1, sender=alice)
    g.update(extend=ext, reportDown=rep, resolveDown_failed=res, terminate=term, claim=clm)
    print("\ngas " + " ".join(f"{k}={v.gas_used}" for k, v in g.items()))
    assert claimed.gas_used <= 100_000
    assert unclaimed.gas_used <= 100_000
    assert unsynced.gas_used <= 100_000


# Errors declared by DissipativePool and the test above that triggers each.
POOL_ERRORS = {
    "ZeroAddress": "test_governance_bounds",
    "TokenCapTooLarge": "test_governance_bounds",
    "ClassIdZero": "test_governance_bounds",
    "UnknownClass": "test_lease_errors",
    "PriceOutOfRange": "test_governance_bounds",
    "AlphaOutOfRange": "test_governance_bounds",
    "BpsOutOfRange": "test_governance_bounds",
    "MaxLeaseEpochsOutOfRange": "test_governance_bounds",
    "DownBondOutOfRange": "test_governance_bounds",
    "BeforeGenesis": "test_governance_bounds",
    "DeadlineExpired": "test_lease_errors",
    "ZeroEpochs": "test_lease_errors",
    "TooManyEpochs": "test_lease_errors",
    "DeviceNotActive": "test_lease_errors",
    "DeviceBusy": "test_lease_moves_exact_amounts",
    "NoFreeDevice": "test_price_rises_with_utilization",
    "SlippageExceeded": "test_lease_errors",
    "AmountTooLarge": "test_lease_errors",
    "ExpiryCountOverflow": "test_expiry_count_overflow",
    "NotClient": "test_extend",
    "LeaseNotLive": "test_lease_errors",
    "DownReportPending": "test_report_down_failed_refunds_client",
    "NoDownReport": "test_report_down_failed_refunds_client",
    "ResolveTooEarly": "test_report_down_failed_refunds_client",
    "NotDeviceOwner": "test_claim_after_dispute_epoch_only",
    "NothingToClaim": "test_claim_after_dispute_epoch_only",
    "NotStaking": "test_device_inactive_only_from_staking",
}
# Inherited from OpenZeppelin / PRBMath (library guards, not pool failure modes).
INHERITED_ERRORS = {
    "AccessControlUnauthorizedAccount",
    "AccessControlBadConfirmation",
    "ReentrancyGuardReentrantCall",
    "SafeERC20FailedOperation",
    "PRBMath_MulDiv18_Overflow",
    "PRBMath_MulDiv_Overflow",
    "PRBMath_UD60x18_Exp2_InputTooBig",
    "PRBMath_UD60x18_Log_InputTooSmall",
}


def test_every_error_is_covered(env):
    """Each pool error in the ABI is listed above with the test that triggers it."""
    names = {e.name for e in env.pool.contract_type.errors}
    assert names - INHERITED_ERRORS == set(POOL_ERRORS)
    tests = {name for name in globals() if name.startswith("test_")}
    assert set(POOL_ERRORS.values()) <= tests
