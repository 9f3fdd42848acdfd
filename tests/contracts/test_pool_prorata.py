"""Fair billing and one-transaction leases of the DissipativePool (issues 10 and 11), on a real
Anvil with the real Staking and PoCPSVerifier.

Pro rata by block (docs/protocol.md#pro-rata): a lease pays the current epoch's remaining blocks
and the later epochs whole; `quote` is that cost at the block it is read in. Refunds are per block
(docs/protocol.md#refunds): a device leaving Active refunds from the current block on, `terminate`
the whole epochs after the current one. `leaseWithPermit` leases with an EIP-2612 permit.
Every test here fails on the whole-epoch pool (it charged the first epoch in full, refunded per
epoch and had no `leaseWithPermit`).
"""

from __future__ import annotations

import ape
import pytest

from pinfi.protocol.pricing import (
    lease_cost,
    per_epoch_price,
    prorated_cost,
    split_payment,
    unused_share,
)
from tests.support import pocps
from tests.support.constants import CLASS_ID, EPOCH_BLOCKS, PRICING, deploy_system
from tests.support.pool import (
    FAR,
    activate_many,
    next_offset,
    owed,
    permit,
    quote_next,
    tx_offset,
)

EB = EPOCH_BLOCKS
N_DEVICES = 4
JOB = b"\x22" * 32
UNIT = 10**18
BETA = PRICING["betaBps"]
FEE = PRICING["terminateFeeBps"]
BOND = PRICING["downBond"]


@pytest.fixture(scope="module")
def market(project, chain, deployer, alice, bob, operator, keeper):
    """4 Active devices of alice; bob is a funded client that approved the pool. No grace miss
    (`graceEpochs = 0`): a missed forced challenge fails the report at once. (`keeper` is
    created here, before the module's snapshot, so that no test rebases the isolation.)"""
    system = deploy_system(project, chain, deployer, graceEpochs=0)
    system.devices = activate_many(chain, system, alice, operator, N_DEVICES)
    system.token.transfer(bob, 1_000_000 * UNIT, sender=deployer)
    system.token.approve(system.pool, 10**30, sender=bob)
    return system


def lid(device: int, nonce: int) -> int:
    return (device << 64) | nonce


def per_epoch(pool, demand: int = 0, supply: int = N_DEVICES) -> int:
    pf, p0, alpha, *_ = pool.classParams(CLASS_ID)
    return per_epoch_price(pf, p0, alpha, demand, supply)


def at(chain, market, epoch: int, elapsed: int) -> int:
    """Mine until the next block is `elapsed` blocks into `epoch`; returns its block offset."""
    pocps.goto_epoch(chain, market, epoch, elapsed)
    off = next_offset(chain, market)
    assert off == epoch * EB + elapsed
    return off


def opened(pool, tx):
    return tx.events.filter(pool.LeaseOpened)[0]


def ended(pool, tx):
    return tx.events.filter(pool.LeaseEndedByProvider)[0]


# ---------------------------------------------------------------------- pro-rata cost


def test_lease_in_last_block_of_epoch_pays_one_block(chain, market, bob):
    pool, token = market.pool, market.token
    d0 = market.devices[0]
    c = pocps.next_epoch(chain, market)
    start = at(chain, market, c, EB - 1)  # the epoch's last block
    per = per_epoch(pool)
    q = quote_next(pool, CLASS_ID, 3)  # read in the block the lease is mined in
    # A plain (latest) call prices the head block: one block earlier in the epoch.
    assert pool.quote(CLASS_ID, 3) == prorated_cost(per, 3, EB - 2, EB)
    assert q == prorated_cost(per, 3, EB - 1, EB) == 2 * per + per // EB
    assert q == lease_cost(*pool.classParams(CLASS_ID)[:3], 0, N_DEVICES, 3,
                           elapsed_blocks=EB - 1, epoch_blocks=EB)
    assert q < 3 * per - per // 2  # the old pool charged 3 whole epochs
    bal = token.balanceOf(bob)
    tx = pool.lease(d0, 3, q, FAR, JOB, sender=bob)
    assert tx_offset(market, tx) == start
    ev = opened(pool, tx)
    assert (ev.startEpoch, ev.endEpoch, ev.cost) == (c, c + 3, q)
    assert token.balanceOf(bob) == bal - q
    escrow = split_payment(q, BETA)[1]
    # leaseOf keeps its shape: the start EPOCH, and the escrow per whole epoch.
    assert tuple(pool.leaseOf(d0)) == (bob.address, c, c + 3, escrow * EB // (2 * EB + 1), 1, True)
    assert owed(pool, market.devices) == token.balanceOf(pool)


@pytest.mark.parametrize("elapsed", [0, 1, EB // 2, EB - 1])
def test_quote_is_the_cost_at_every_block_of_the_epoch(chain, market, bob, elapsed):
    pool = market.pool
    c = pocps.next_epoch(chain, market) + 1
    pool.lease(market.devices[3], 2, 10**30, FAR, JOB, sender=bob)  # D = 1
    at(chain, market, c, elapsed)
    q = quote_next(pool, CLASS_ID, 5)
    assert q == prorated_cost(per_epoch(pool, 1), 5, elapsed, EB)
    tx = pool.lease(market.devices[0], 5, q, FAR, JOB, sender=bob)
    assert opened(pool, tx).cost == q


def test_quote_falls_within_an_epoch_and_jumps_at_its_boundary(chain, market, bob):
    """A client passes the quote it read as maxCost: mined later in the same epoch it pays less,
    mined in the next epoch it fails with SlippageExceeded instead of paying a whole epoch more."""
    pool = market.pool
    c = pocps.next_epoch(chain, market)
    at(chain, market, c, EB - 2)
    q_early = quote_next(pool, CLASS_ID, 2)
    chain.mine(1)  # next block: the epoch's last
    q_last = quote_next(pool, CLASS_ID, 2)
    assert q_last < q_early
    chain.mine(1)  # next block: the next epoch's first
    assert quote_next(pool, CLASS_ID, 2) == 2 * per_epoch(pool)
    with ape.reverts(pool.SlippageExceeded):
        pool.lease(market.devices[0], 2, q_early, FAR, JOB, sender=bob)
    q_now = quote_next(pool, CLASS_ID, 2)
    assert q_now == prorated_cost(per_epoch(pool), 2, next_offset(chain, market) % EB, EB)
    tx = pool.lease(market.devices[0], 2, q_now, FAR, JOB, sender=bob)
    assert opened(pool, tx).cost == q_now


# ---------------------------------------------------------------------- refunds per block


def test_maintenance_mid_epoch_refunds_the_unused_blocks(chain, market, alice, bob):
    """The device leaves Active 7 blocks into an epoch: the client gets back the other blocks of
    that epoch and the later epochs (no fee); the owner keeps exactly the blocks it served."""
    pool, token, staking = market.pool, market.token, market.staking
    d0 = market.devices[0]
    c = pocps.next_epoch(chain, market)
    start = at(chain, market, c, 1)
    tx = pool.lease(d0, 5, quote_next(pool, CLASS_ID, 5), FAR, JOB, sender=bob)
    escrow = split_payment(opened(pool, tx).cost, BETA)[1]
    left = at(chain, market, c + 2, 7)
    end_blk = (c + 5) * EB
    refund = unused_share(escrow, start, end_blk, left)
    assert refund == escrow * (end_blk - left) // (end_blk - start)
    assert refund > escrow * (5 - 2 - 1) // 5  # the old per-epoch refund kept the whole epoch
    bal, held = token.balanceOf(bob), token.balanceOf(pool)
    tx = staking.declareMaintenance(d0, 2, sender=alice)
    assert tx_offset(market, tx) == left
    ev = ended(pool, tx)
    assert (ev.leaseId, ev.epoch, ev.refunded) == (lid(d0, 1), c + 2, refund)
    assert token.balanceOf(bob) == bal + refund and token.balanceOf(pool) == held - refund
    assert pool.escrowOf(d0)[:2] == (escrow - refund, c + 3)
    pocps.goto_epoch(chain, market, c + 4)
    assert pool.claim(d0, sender=alice).return_value == escrow - refund
    assert owed(pool, market.devices) == token.balanceOf(pool)


def test_terminate_refunds_the_whole_later_epochs_less_fee(chain, market, alice, bob):
    pool, token = market.pool, market.token
    d0 = market.devices[0]
    c = pocps.next_epoch(chain, market)
    start = at(chain, market, c, 5)
    tx = pool.lease(d0, 6, quote_next(pool, CLASS_ID, 6), FAR, JOB, sender=bob)
    escrow = split_payment(opened(pool, tx).cost, BETA)[1]
    at(chain, market, c + 2, 9)
    end_blk = (c + 6) * EB
    refund = unused_share(escrow, start, end_blk, (c + 3) * EB)
    assert refund == escrow * (6 - 2 - 1) * EB // (6 * EB - 5)
    fee = refund * FEE // 10_000
    bal, supply = token.balanceOf(bob), token.totalSupply()
    tx = pool.terminate(lid(d0, 1), sender=bob)
    assert tx.return_value == refund - fee
    assert (tx.events.filter(pool.LeaseTerminated)[0].fee) == fee
    assert token.balanceOf(bob) == bal + refund - fee and token.totalSupply() == supply - fee
    assert pool.escrowOf(d0)[:2] == (escrow - refund, c + 3)
    assert owed(pool, market.devices) == token.balanceOf(pool)


def test_failed_down_report_refunds_from_the_forced_epoch(chain, market, bob, keeper):
    pool, token, verifier = market.pool, market.token, market.verifier
    d0 = market.devices[0]
    c = pocps.next_epoch(chain, market)
    start = at(chain, market, c, 3)
    tx = pool.lease(d0, 4, quote_next(pool, CLASS_ID, 4), FAR, JOB, sender=bob)
    escrow = split_payment(opened(pool, tx).cost, BETA)[1]
    pool.reportDown(lid(d0, 1), sender=bob)
    pocps.goto_epoch(chain, market, c + 1)
    verifier.checkpoint(sender=keeper)
    pocps.goto_epoch(chain, market, c + 2)
    verifier.reportMissed(d0, c + 1, sender=keeper)  # jailed: left Active, report pending
    refund = unused_share(escrow, start, (c + 4) * EB, (c + 1) * EB)
    bal = token.balanceOf(bob)
    tx = pool.resolveDown(lid(d0, 1), sender=keeper)
    assert tx.return_value is False
    assert tx.events.filter(pool.DownResolved)[0].refund == refund
    assert token.balanceOf(bob) == bal + BOND + refund
    assert pool.escrowOf(d0)[:2] == (escrow - refund, c + 1)
    assert owed(pool, market.devices) == token.balanceOf(pool)


def test_failed_down_report_refunds_from_the_block_the_device_left(chain, market, alice, bob):
    """The device leaves Active before the forced epoch: the failed report refunds from the
    block it left (never less than a passed report would)."""
    pool, token, staking = market.pool, market.token, market.staking
    d0 = market.devices[0]
    c = pocps.next_epoch(chain, market)
    start = at(chain, market, c, 1)
    tx = pool.lease(d0, 6, quote_next(pool, CLASS_ID, 6), FAR, JOB, sender=bob)
    escrow = split_payment(opened(pool, tx).cost, BETA)[1]
    pool.reportDown(lid(d0, 1), sender=bob)
    tx = staking.declareMaintenance(d0, 3, sender=alice)
    left = tx_offset(market, tx)
    assert ended(pool, tx).refunded == 0 and left < (c + 1) * EB
    pocps.goto_epoch(chain, market, c + 2)
    refund = unused_share(escrow, start, (c + 6) * EB, left)
    bal = token.balanceOf(bob)
    tx = pool.resolveDown(lid(d0, 1), sender=bob)
    assert tx.return_value is False
    assert tx.events.filter(pool.DownResolved)[0].refund == refund
    assert token.balanceOf(bob) == bal + BOND + refund
    assert owed(pool, market.devices) == token.balanceOf(pool)


def test_passed_down_report_refunds_from_the_block_the_device_left(chain, market, alice, bob,
                                                                    operator):
    pool, token, staking, verifier = market.pool, market.token, market.staking, market.verifier
    d0 = market.devices[0]
    c = pocps.next_epoch(chain, market)
    start = at(chain, market, c, 1)
    tx = pool.lease(d0, 6, quote_next(pool, CLASS_ID, 6), FAR, JOB, sender=bob)
    escrow = split_payment(opened(pool, tx).cost, BETA)[1]
    pool.reportDown(lid(d0, 1), sender=bob)
    pocps.goto_epoch(chain, market, c + 1)
    pocps.prove(chain, market, d0, operator)
    assert verifier.proofStatus(d0, c + 1) == 2  # Opened
    tx = staking.declareMaintenance(d0, 2, sender=alice)  # leaves Active mid-epoch, pending
    left = tx_offset(market, tx)
    assert left // EB == c + 1 and left % EB != 0
    pocps.goto_epoch(chain, market, c + 2)
    back = unused_share(escrow, start, (c + 6) * EB, left)
    bal = token.balanceOf(bob)
    tx = pool.resolveDown(lid(d0, 1), sender=bob)
    assert tx.return_value is True
    assert tx.events.filter(pool.DownResolved)[0].refund == back
    assert token.balanceOf(bob) == bal + back
    assert pool.escrowOf(d0)[:2] == (escrow - back, c + 2)
    assert owed(pool, market.devices) == token.balanceOf(pool)


# ---------------------------------------------------------------------- leaseWithPermit


@pytest.fixture
def newcomer(accounts, deployer, market):
    """A funded client that never approved the pool."""
    acct = accounts[8]
    market.token.transfer(acct, 100_000 * UNIT, sender=deployer)
    assert market.token.allowance(acct, market.pool) == 0
    return acct


def test_lease_with_permit_in_one_transaction(chain, market, newcomer):
    pool, token = market.pool, market.token
    pocps.next_epoch(chain, market)
    q = quote_next(pool, CLASS_ID, 2)
    deadline = chain.pending_timestamp + 3600
    v, r, s = permit(chain, token, newcomer, pool.address, q, deadline)
    bal = token.balanceOf(newcomer)
    tx = pool.leaseWithPermit(market.devices[0], 2, q, deadline, JOB, v, r, s, sender=newcomer)
    assert tx.return_value == lid(market.devices[0], 1)
    assert opened(pool, tx).cost == q and opened(pool, tx).client == newcomer.address
    assert token.balanceOf(newcomer) == bal - q
    assert token.allowance(newcomer, pool) == 0  # the permit granted exactly maxCost = cost


def test_lease_with_permit_survives_a_front_run_permit(chain, market, newcomer, bob):
    pool, token = market.pool, market.token
    pocps.next_epoch(chain, market)
    q = quote_next(pool, CLASS_ID, 2)
    deadline = chain.pending_timestamp + 3600
    v, r, s = permit(chain, token, newcomer, pool.address, q, deadline)
    # Someone copies the signature from the mempool and submits the permit first.
    token.permit(newcomer, pool, q, deadline, v, r, s, sender=bob)
    assert token.allowance(newcomer, pool) == q
    cost = quote_next(pool, CLASS_ID, 2)  # one block later in the same epoch: a little less
    assert cost <= q
    tx = pool.leaseWithPermit(market.devices[0], 2, q, deadline, JOB, v, r, s, sender=newcomer)
    assert opened(pool, tx).cost == cost
    assert token.allowance(newcomer, pool) == q - cost


def test_lease_with_a_bad_permit_fails_with_the_token_error(chain, market, newcomer, bob):
    pool, token = market.pool, market.token
    pocps.next_epoch(chain, market)
    q = quote_next(pool, CLASS_ID, 2)
    deadline = chain.pending_timestamp + 3600
    v, r, s = permit(chain, token, bob, pool.address, q, deadline)  # signed by the wrong account
    with ape.reverts(token.ERC20InsufficientAllowance):
        pool.leaseWithPermit(market.devices[0], 2, q, deadline, JOB, v, r, s, sender=newcomer)
    # A good permit with too small a maxCost: the lease's own slippage error.
    q = quote_next(pool, CLASS_ID, 2)
    v, r, s = permit(chain, token, newcomer, pool.address, q - 1, deadline)
    with ape.reverts(pool.SlippageExceeded):
        pool.leaseWithPermit(market.devices[0], 2, q - 1, deadline, JOB, v, r, s, sender=newcomer)


def test_second_exit_with_the_same_report_pending_counts_the_lease_out_once(
        chain, market, alice, bob, operator):
    """Left Active, proved itself Active again and left again, all while one down report
    pends: D fell at the first exit only (the second used to decrement it again: with no other
    lease it underflowed and Staking's exit reverted)."""
    pool, token, staking = market.pool, market.token, market.staking
    d0 = market.devices[0]
    c = pocps.next_epoch(chain, market)
    start = at(chain, market, c, 1)
    tx = pool.lease(d0, 8, quote_next(pool, CLASS_ID, 8), FAR, JOB, sender=bob)
    escrow = split_payment(opened(pool, tx).cost, BETA)[1]
    pool.reportDown(lid(d0, 1), sender=bob)
    tx = staking.declareMaintenance(d0, 1, sender=alice)  # maintenance in c + 1
    left = tx_offset(market, tx)
    assert pool.classState(CLASS_ID)[:2] == (0, N_DEVICES - 1)
    pocps.goto_epoch(chain, market, c + 2)
    pocps.prove(chain, market, d0, operator)  # back to Active
    assert staking.activeCount(CLASS_ID) == N_DEVICES
    tx = staking.declareMaintenance(d0, 1, sender=alice)  # leaves again, report still pending
    assert pool.classState(CLASS_ID)[:2] == (0, N_DEVICES - 1)
    # The report settles from the first exit's block (it failed: the forced epoch was skipped).
    refund = unused_share(escrow, start, (c + 8) * EB, left)
    bal = token.balanceOf(bob)
    tx = pool.resolveDown(lid(d0, 1), sender=bob)
    assert tx.return_value is False
    assert token.balanceOf(bob) == bal + BOND + refund
    assert pool.classState(CLASS_ID)[0] == 0
    assert owed(pool, market.devices) == token.balanceOf(pool)
