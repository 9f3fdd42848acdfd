"""Staking on a real Anvil: every external function and every custom error.

Numbers are exact: bonds, balances, supply and rewards are recomputed in Python from the block
numbers of the receipts (rewards replay the contract's reward-per-weight accumulator).
"""

from __future__ import annotations

import pytest

from pinfi.types import ZERO_ADDRESS, ChallengeMode, DeviceState
from tests.support import pocps
from tests.support.constants import (
    BOUNTY_BPS,
    CLASS_ID,
    EPOCH_BLOCKS,
    HALVING_BLOCKS,
    MAX_EMISSION,
    MIN_BOND,
    NETWORK,
    REWARD_PER_BLOCK,
    TEST_CLASS,
    TEST_CLASS_FULL,
    UNBONDING_BLOCKS,
    WEIGHT,
    deploy_system,
)
from tests.support.pocps import ADMIN_ROLE, logs, reverts

ZERO = ZERO_ADDRESS
NONE, PENDING, ACTIVE, JAILED, MAINTENANCE, EXITING, WITHDRAWN = DeviceState
EXEMPT, ALWAYS, SAMPLED = ChallengeMode
EMPTY_EPOCH = 2**32 - 1
MISS_SLASH = MIN_BOND * TEST_CLASS["missSlashBps"] // 10_000
UNIT = 10**18


WITH_POOL = False
"""These tests only need Staking and the verifier (the root `system` fixture reads this)."""


@pytest.fixture(scope="module", autouse=True)
def _module_setup(system, as_verifier, deployer, alice, bob, operator, keeper):
    """Build every broader-scoped fixture up front (ape isolation snapshots after them) and
    silence ape's per-revert trace printout."""
    with pocps.quiet_revert_traces():
        yield


@pytest.fixture(scope="module")
def system(project, chain, deployer):
    """The protocol without a pool: these tests only need Staking and the verifier. No grace
    miss (`graceEpochs = 0`): every miss is slashed, so duties are visible as slashes (grace
    misses are tested in test_verifier.py and test_regressions.py)."""
    return deploy_system(project, chain, deployer, with_pool=False, graceEpochs=0)


@pytest.fixture(scope="module")
def as_verifier(system, accounts, chain):
    """The verifier contract's address, impersonated, to drive `activate`/`slash` directly."""
    chain.set_balance(system.verifier.address, 10**20)
    return accounts[system.verifier.address]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def emitted(block: int, genesis: int, rate: int = REWARD_PER_BLOCK,
            halving: int = HALVING_BLOCKS, cap: int = MAX_EMISSION) -> int:
    """Python model of `Staking.emittedUntil`."""
    if block <= genesis:
        return 0
    elapsed, total = block - genesis, 0
    for _ in range(64):
        if rate == 0:
            break
        if elapsed <= halving:
            total += elapsed * rate
            break
        total += halving * rate
        elapsed -= halving
        rate >>= 1
    return min(total, cap)


def deploy_staking(project, token, sender, **kw):
    args = {
        "token": token, "genesis": 0, "epochBlocks": EPOCH_BLOCKS,
        "unbondingBlocks": UNBONDING_BLOCKS, "rewardPerBlock": REWARD_PER_BLOCK,
        "halvingBlocks": HALVING_BLOCKS, "maxEmission": MAX_EMISSION, "bountyBps": BOUNTY_BPS,
        "admin": sender, **kw,
    }
    return project.Staking.deploy(*args.values(), sender=sender)


def activate_pair(chain, system, owners, operator):
    """Register one device per owner this epoch, prove them all next epoch in order.

    Returns [(device, activation block)]."""
    devices = [pocps.register(system, owner, operator) for owner in owners]
    e = pocps.next_epoch(chain, system)
    commits = [(device, *pocps.commit(chain, system, device, operator)) for device in devices]
    pocps.after_deadline(chain, system, e)
    out = []
    for device, tree, tx in commits:
        leaves, proof, _ = pocps.opening(chain, tree, tx.block_number)
        otx = system.verifier.open(device, e, leaves, proof, sender=operator)
        out.append((device, otx.block_number))
    return out


def vest(chain, system, device, operator) -> int:
    """Prove `device` in the next epoch (a voluntary opening) and let that epoch end: its
    rewards vest up to the end of the passed epoch. Returns that block (the next epoch's start).
    """
    pocps.next_epoch(chain, system)
    pocps.prove(chain, system, device, operator)
    e = pocps.next_epoch(chain, system)
    return pocps.epoch_start(system, e)


def accrued(st, device) -> int:
    """Vested plus unvested rewards of a device now."""
    return st.earned(device) + st.pendingReward(device)


def jail(system, as_verifier, device, bps=TEST_CLASS["missSlashBps"], reporter=ZERO):
    return system.staking.slash(device, bps, reporter, sender=as_verifier)


# --------------------------------------------------------------------------------------------
# construction and governance
# --------------------------------------------------------------------------------------------


def test_constructor_sets_parameters(project, chain, system, deployer):
    token = system.token
    past = deploy_staking(project, token, deployer, genesis=0, bountyBps=2_000)
    deploy_block = chain.blocks.head.number
    assert past.genesisBlock() == 0
    assert past.lastRewardBlock() == deploy_block  # max(genesis, block.number)
    assert past.epochBlocks() == EPOCH_BLOCKS
    assert past.unbondingBlocks() == UNBONDING_BLOCKS
    assert past.rewardPerBlock() == REWARD_PER_BLOCK
    assert past.halvingBlocks() == HALVING_BLOCKS
    assert past.maxEmission() == MAX_EMISSION
    assert past.bountyBps() == 2_000
    assert past.token() == token.address
    assert past.verifier() == ZERO
    assert past.hasRole(ADMIN_ROLE, deployer)
    assert past.MAX_MAINTENANCE_EPOCHS() == 720
    future = deploy_staking(project, token, deployer, genesis=deploy_block + 1_000)
    assert future.lastRewardBlock() == deploy_block + 1_000
    assert future.emittedUntil(deploy_block + 1_000) == 0
    assert future.emittedUntil(deploy_block + 1_003) == 3 * REWARD_PER_BLOCK


@pytest.mark.parametrize(("overrides", "name"), [
    ({"epochBlocks": 0}, "epochBlocks"),
    ({"epochBlocks": 2**32, "unbondingBlocks": 2**33}, "epochBlocks"),
    ({"unbondingBlocks": 2 * EPOCH_BLOCKS - 1}, "unbondingBlocks"),
    ({"halvingBlocks": 0}, "halvingBlocks"),
    ({"rewardPerBlock": 2**128}, "rewardPerBlock"),
    ({"maxEmission": None}, "maxEmission"),  # None: one more than the cap leaves
    ({"bountyBps": 10_001}, "bountyBps"), ({"bountyBps": 2_001}, "bountyBps"),
])
def test_constructor_bounds(project, system, deployer, overrides, name):
    token = system.token
    if "maxEmission" in overrides:
        overrides = {"maxEmission": token.cap() - token.totalSupply() + 1}
    with reverts(project.Staking.InvalidParameter, name=name):
        deploy_staking(project, token, deployer, **overrides)


def test_constructor_accepts_bounds_and_rejects_zero_addresses(project, system, deployer):
    token = system.token
    room = token.cap() - token.totalSupply()
    s = deploy_staking(project, token, deployer, epochBlocks=2**32 - 1,
                       unbondingBlocks=2 * (2**32 - 1), halvingBlocks=1,
                       rewardPerBlock=2**128 - 1, maxEmission=room, bountyBps=2_000)
    assert s.epochBlocks() == 2**32 - 1
    assert s.maxEmission() == room
    s = deploy_staking(project, token, deployer, unbondingBlocks=2 * EPOCH_BLOCKS)
    assert s.unbondingBlocks() == 2 * EPOCH_BLOCKS
    with reverts(project.Staking.ZeroAddress):
        deploy_staking(project, ZERO, deployer)
    with reverts(project.Staking.ZeroAddress):
        deploy_staking(project, token, deployer, admin=ZERO)


def test_set_verifier_once(project, system, deployer, alice):
    s = deploy_staking(project, system.token, deployer)
    pocps.check_set_once(s, "Verifier", admin=deployer, stranger=alice, target=alice,
                         other=deployer)
    with reverts(system.staking.VerifierAlreadySet):
        system.staking.setVerifier(alice, sender=deployer)


def test_set_class_bounds(system, deployer, alice):
    st = system.staking
    with reverts(st.InvalidParameter, name="classId"):
        st.setClass(0, (MIN_BOND, WEIGHT, MIN_BOND // 10), sender=deployer)
    with reverts(st.InvalidParameter, name="minBond"):
        st.setClass(7, (0, WEIGHT, 0), sender=deployer)
    with reverts(st.InvalidParameter, name="weight"):
        st.setClass(7, (MIN_BOND, 0, MIN_BOND // 10), sender=deployer)
    with reverts(st.InvalidParameter, name="weight"):
        st.setClass(7, (MIN_BOND, 1_000_001, MIN_BOND // 10), sender=deployer)
    with reverts(st.AccessControlUnauthorizedAccount, account=alice, neededRole=ADMIN_ROLE):
        st.setClass(7, (MIN_BOND, WEIGHT, MIN_BOND // 10), sender=alice)
    assert not st.classes(7).exists
    with reverts(st.InvalidParameter, name="maxBounty"):
        st.setClass(7, (MIN_BOND, WEIGHT, MIN_BOND + 1), sender=deployer)
    tx = st.setClass(7, (1, 1_000_000, 1), sender=deployer)
    assert logs(tx, st.ClassSet) == [
        {"classId": 7, "minBond": 1, "weight": 1_000_000, "maxBounty": 1}]
    c = st.classes(7)
    assert (c.minBond, c.weight, c.active, c.exists, c.maxBounty) == (1, 1_000_000, 0, True, 1)


def test_set_class_weight_change_rule(chain, system, deployer, alice, operator):
    st = system.staking
    # no Active device: allowed
    st.setClass(CLASS_ID, (MIN_BOND, WEIGHT * 2, MIN_BOND // 10), sender=deployer)
    st.setClass(CLASS_ID, (MIN_BOND, WEIGHT, MIN_BOND // 10), sender=deployer)
    device = pocps.activate(chain, system, alice, operator)
    assert st.classes(CLASS_ID).active == 1
    with reverts(st.InvalidParameter, name="weight"):
        st.setClass(CLASS_ID, (MIN_BOND, WEIGHT + 1, MIN_BOND // 10), sender=deployer)
    # same weight, new bond: fine
    st.setClass(CLASS_ID, (2 * MIN_BOND, WEIGHT, 2 * MIN_BOND // 10), sender=deployer)
    assert st.classes(CLASS_ID).minBond == 2 * MIN_BOND
    assert st.getDevice(device).bond == MIN_BOND  # existing bonds are untouched
    st.declareMaintenance(device, 1, sender=alice)  # leaves the Active set
    assert st.classes(CLASS_ID).active == 0
    st.setClass(CLASS_ID, (MIN_BOND, WEIGHT + 1, MIN_BOND // 10), sender=deployer)
    assert st.classes(CLASS_ID).weight == WEIGHT + 1


# --------------------------------------------------------------------------------------------
# registration, operator
# --------------------------------------------------------------------------------------------


def test_register_device(system, deployer, alice, operator):
    st, token = system.staking, system.token
    token.transfer(alice, 5 * MIN_BOND, sender=deployer)
    token.approve(st, MIN_BOND, sender=alice)
    alice_before, staking_before = token.balanceOf(alice), token.balanceOf(st)
    bonded_before, count_before = st.totalBonded(), st.deviceCount()
    fp = b"\xab" * 32
    tx = st.registerDevice(CLASS_ID, fp, operator, sender=alice)
    device = int(tx.return_value)
    assert device == count_before + 1 == st.deviceCount()
    assert token.balanceOf(alice) == alice_before - MIN_BOND
    assert token.balanceOf(st) == staking_before + MIN_BOND
    assert st.totalBonded() == bonded_before + MIN_BOND
    assert token.allowance(alice, st) == 0
    assert logs(tx, st.DeviceRegistered) == [{
        "deviceId": device, "owner": alice.address, "classId": CLASS_ID, "fingerprint": fp,
        "operator": operator.address, "bond": MIN_BOND,
    }]
    d = st.getDevice(device)
    epoch = st.currentEpoch()
    assert (d.owner, d.classId, d.state, d.since, d.operator, d.bond, d.rewards, d.fingerprint) == (
        alice.address, CLASS_ID, PENDING, epoch + 1, operator.address, MIN_BOND, 0, fp)
    assert st.deviceOfFingerprint(fp) == device
    assert tuple(st.deviceSummary(device)) == (alice.address, CLASS_ID, PENDING)
    for parity in (0, 1):  # the verifier warmed both proof-record slots
        r = system.verifier.record(device, parity)
        assert (bytes(r.root), r.epoch) == ((1).to_bytes(32, "big"), EMPTY_EPOCH)
    info = st.challengeInfo(device, epoch)
    assert (info.owner, info.operator, info.classId, info.mode) == (
        alice.address, operator.address, CLASS_ID, EXEMPT)
    assert st.challengeInfo(device, epoch + 1).mode == ALWAYS


def test_register_device_errors(system, deployer, alice, bob, operator):
    st, token = system.staking, system.token
    token.transfer(alice, 5 * MIN_BOND, sender=deployer)
    with reverts(st.UnknownClass, classId=9):
        st.registerDevice(9, b"\x01" * 32, operator, sender=alice)
    with reverts(st.ZeroAddress):
        st.registerDevice(CLASS_ID, b"\x01" * 32, ZERO, sender=alice)
    with reverts(token.ERC20InsufficientAllowance, spender=st.address, allowance=0,
                 needed=MIN_BOND):
        st.registerDevice(CLASS_ID, b"\x01" * 32, operator, sender=alice)
    token.approve(st, 2 * MIN_BOND, sender=alice)
    device = int(st.registerDevice(CLASS_ID, b"\x01" * 32, operator, sender=alice).return_value)
    with reverts(st.FingerprintInUse, fingerprint=b"\x01" * 32, deviceId=device):
        st.registerDevice(CLASS_ID, b"\x01" * 32, operator, sender=alice)
    token.transfer(bob, MIN_BOND, sender=deployer)
    token.approve(st, MIN_BOND, sender=bob)
    with reverts(st.FingerprintInUse, fingerprint=b"\x01" * 32, deviceId=device):
        st.registerDevice(CLASS_ID, b"\x01" * 32, operator, sender=bob)


def test_set_operator(chain, system, alice, bob, operator, keeper):
    st = system.staking
    device = pocps.register(system, alice, operator)
    with reverts(st.ZeroAddress):
        st.setOperator(device, ZERO, sender=alice)
    tx = st.setOperator(device, keeper, sender=alice)
    assert logs(tx, st.OperatorChanged) == [{"deviceId": device, "operator": keeper.address}]
    assert st.getDevice(device).operator == keeper.address
    assert st.challengeInfo(device, 0).operator == keeper.address
    e = pocps.next_epoch(chain, system)
    system.verifier.checkpoint(sender=bob)
    with reverts(system.verifier.NotOperator, deviceId=device, caller=operator):
        system.verifier.commit(device, e, b"\x01" * 32, sender=operator)
    pocps.prove(chain, system, device, keeper)  # the new hot key proves
    assert st.getDevice(device).state == ACTIVE


@pytest.mark.parametrize("fn", ["setOperator", "declareMaintenance", "unjail", "deregister",
                                "withdraw", "claim"])
def test_owner_only(system, alice, bob, operator, fn):
    st = system.staking
    device = pocps.register(system, alice, operator)
    extra = {"setOperator": [bob], "declareMaintenance": [1]}.get(fn, [])
    with reverts(st.UnknownDevice, deviceId=999):
        getattr(st, fn)(999, *extra, sender=alice)
    with reverts(st.NotDeviceOwner, deviceId=device, caller=bob):
        getattr(st, fn)(device, *extra, sender=bob)
    with reverts(st.NotDeviceOwner, deviceId=device, caller=operator):  # the hot key cannot
        getattr(st, fn)(device, *extra, sender=operator)


# --------------------------------------------------------------------------------------------
# maintenance
# --------------------------------------------------------------------------------------------


def test_declare_maintenance_bounds(system, alice, operator):
    st = system.staking
    device = pocps.register(system, alice, operator)
    with reverts(st.MaintenanceTooLong, epochs=0, maxEpochs=720):
        st.declareMaintenance(device, 0, sender=alice)
    with reverts(st.MaintenanceTooLong, epochs=721, maxEpochs=720):
        st.declareMaintenance(device, 721, sender=alice)
    tx = st.declareMaintenance(device, 720, sender=alice)  # from Pending, the longest allowed
    e = st.currentEpoch()
    assert logs(tx, st.MaintenanceDeclared) == [
        {"deviceId": device, "fromEpoch": e + 1, "untilEpoch": e + 721}]
    d = st.getDevice(device)
    assert (d.state, d.stateEpoch, d.maintUntil) == (MAINTENANCE, e + 1, e + 721)
    with reverts(st.WrongState, deviceId=device, state=MAINTENANCE):
        st.declareMaintenance(device, 1, sender=alice)


def test_declare_maintenance_wrong_states(chain, system, as_verifier, alice, operator):
    st = system.staking
    jailed = pocps.register(system, alice, operator)
    jail(system, as_verifier, jailed)
    with reverts(st.WrongState, deviceId=jailed, state=JAILED):
        st.declareMaintenance(jailed, 1, sender=alice)
    exiting = pocps.register(system, alice, operator)
    st.deregister(exiting, sender=alice)
    with reverts(st.WrongState, deviceId=exiting, state=EXITING):
        st.declareMaintenance(exiting, 1, sender=alice)
    chain.mine(UNBONDING_BLOCKS)
    st.withdraw(exiting, sender=alice)
    with reverts(st.WrongState, deviceId=exiting, state=WITHDRAWN):
        st.declareMaintenance(exiting, 1, sender=alice)


def test_maintenance_stops_rewards_and_needs_a_new_proof(chain, system, alice, bob, operator):
    """Rewards stop at the declaration; no challenge during maintenance even though the
    provider is sampled every epoch; Active again only after proving once it ends."""
    st, v = system.staking, system.verifier
    pocps.set_proof_class(system, challengeBps=10_000)  # Active devices always sampled
    genesis = st.genesisBlock()
    [(device, b_act)] = activate_pair(chain, system, [alice], operator)
    e = st.currentEpoch()
    chain.mine(3)
    tx = st.declareMaintenance(device, 2, sender=alice)
    m = tx.block_number
    owed = emitted(m, genesis) - emitted(b_act, genesis)  # alone: the whole emission
    assert st.pendingReward(device) == owed and st.earned(device) == 0  # no pass since activation
    assert st.classes(CLASS_ID).active == 0 and st.totalWeight() == 0
    assert [st.challengeInfo(device, x).mode for x in range(e, e + 5)] == [
        SAMPLED, EXEMPT, EXEMPT, ALWAYS, ALWAYS]
    # epoch e+1: exempt
    pocps.goto_epoch(chain, system, e + 1)
    v.checkpoint(sender=bob)
    assert not v.isChallenged(device, e + 1)
    with reverts(v.NotSelected, deviceId=device, epoch=e + 1):
        v.commit(device, e + 1, b"\x01" * 32, sender=operator)
    # epoch e+2: still exempt; epoch e+1 cannot be reported as missed
    pocps.goto_epoch(chain, system, e + 2, offset=TEST_CLASS["commitWindow"])
    with reverts(v.NotSelected, deviceId=device, epoch=e + 1):
        v.reportMissed(device, e + 1, sender=bob)
    v.checkpoint(sender=bob)
    assert not v.isChallenged(device, e + 2)
    # frozen while in maintenance; the activation proof of e vested e's rewards once e ended
    assert st.earned(device) == owed and st.pendingReward(device) == 0
    # epoch e+3: maintenance over, still not Active until it proves
    pocps.goto_epoch(chain, system, e + 3)
    v.checkpoint(sender=bob)
    assert st.getDevice(device).state == MAINTENANCE
    assert v.isChallenged(device, e + 3)
    assert st.earned(device) == owed
    _, otx, _ = pocps.prove(chain, system, device, operator)
    assert logs(otx, st.DeviceActivated) == [{"deviceId": device, "classId": CLASS_ID}]
    assert st.getDevice(device).state == ACTIVE and st.classes(CLASS_ID).active == 1
    chain.mine(2)
    supply = system.token.totalSupply()
    before = system.token.balanceOf(alice)
    ctx = st.claim(device, sender=alice)
    amount = owed  # vested; what accrued since the re-activation is not (yet)
    assert st.pendingReward(device) == emitted(ctx.block_number, genesis) - emitted(
        otx.block_number, genesis)
    assert ctx.return_value == amount
    assert system.token.balanceOf(alice) == before + amount
    assert system.token.totalSupply() == supply + amount


def test_maintenance_over_without_proof_is_a_miss(chain, system, alice, bob, operator):
    st, v = system.staking, system.verifier
    [(device, _)] = activate_pair(chain, system, [alice], operator)
    e = st.currentEpoch()
    st.declareMaintenance(device, 1, sender=alice)  # exempt in e+1, must prove in e+2
    pocps.goto_epoch(chain, system, e + 2, offset=TEST_CLASS["commitWindow"])
    tx = v.reportMissed(device, e + 2, sender=bob)
    assert logs(tx, v.MissReported) == [
        {"deviceId": device, "epoch": e + 2, "reporter": bob.address, "slashed": MISS_SLASH}]
    assert st.getDevice(device).state == JAILED


# --------------------------------------------------------------------------------------------
# jail, unjail, deregister, withdraw
# --------------------------------------------------------------------------------------------


def test_unjail_tops_up_to_min_bond(chain, system, as_verifier, deployer, alice, operator):
    st, token = system.staking, system.token
    device = pocps.register(system, alice, operator)
    with reverts(st.WrongState, deviceId=device, state=PENDING):
        st.unjail(device, sender=alice)
    jail(system, as_verifier, device)
    assert st.getDevice(device).bond == MIN_BOND - MISS_SLASH
    chain.mine(EPOCH_BLOCKS)
    token.approve(st, MISS_SLASH, sender=alice)
    before, held, bonded = token.balanceOf(alice), token.balanceOf(st), st.totalBonded()
    tx = st.unjail(device, sender=alice)
    assert logs(tx, st.DeviceUnjailed) == [{"deviceId": device, "topUp": MISS_SLASH}]
    d = st.getDevice(device)
    assert (d.state, d.since, d.bond) == (PENDING, st.currentEpoch() + 1, MIN_BOND)
    assert token.balanceOf(alice) == before - MISS_SLASH
    assert token.balanceOf(st) == held + MISS_SLASH
    assert st.totalBonded() == bonded + MISS_SLASH
    assert st.challengeInfo(device, st.currentEpoch()).mode == EXEMPT
    assert st.challengeInfo(device, st.currentEpoch() + 1).mode == ALWAYS  # prove again
    pocps.next_epoch(chain, system)
    pocps.prove(chain, system, device, operator)
    assert st.getDevice(device).state == ACTIVE
    # a bond already at or above minBond needs no top-up (and no allowance)
    jail(system, as_verifier, device)
    with reverts(st.UnjailTooEarly, deviceId=device, fromEpoch=st.currentEpoch() + 1):
        st.unjail(device, sender=alice)
    chain.mine(EPOCH_BLOCKS)
    st.setClass(CLASS_ID, (MIN_BOND // 2, WEIGHT, MIN_BOND // 2 // 10), sender=deployer)
    before = token.balanceOf(alice)
    tx = st.unjail(device, sender=alice)
    assert logs(tx, st.DeviceUnjailed) == [{"deviceId": device, "topUp": 0}]
    assert token.balanceOf(alice) == before
    assert st.getDevice(device).bond == MIN_BOND - MISS_SLASH


def test_deregister_withdraw_frees_fingerprint(chain, system, alice, bob, operator):
    st, token = system.staking, system.token
    device = pocps.register(system, alice, operator)
    fp = bytes(st.getDevice(device).fingerprint)
    with reverts(st.WrongState, deviceId=device, state=PENDING):
        st.withdraw(device, sender=alice)
    tx = st.deregister(device, sender=alice)
    unbond_at = tx.block_number + UNBONDING_BLOCKS
    assert logs(tx, st.DeviceExiting) == [{"deviceId": device, "unbondAt": unbond_at}]
    d = st.getDevice(device)
    assert (d.state, d.stateEpoch, d.unbondAt) == (EXITING, st.currentEpoch() + 1, unbond_at)
    with reverts(st.WrongState, deviceId=device, state=EXITING):
        st.deregister(device, sender=alice)
    pocps.goto_block(chain, unbond_at - 1)
    with reverts(st.StillUnbonding, deviceId=device, unbondAt=unbond_at):
        st.withdraw(device, sender=alice)
    assert chain.blocks.head.number == unbond_at - 1
    before, bonded = token.balanceOf(alice), st.totalBonded()
    tx = st.withdraw(device, sender=alice)
    assert tx.block_number == unbond_at
    assert logs(tx, st.BondWithdrawn) == [
        {"deviceId": device, "owner": alice.address, "amount": MIN_BOND}]
    assert token.balanceOf(alice) == before + MIN_BOND
    assert st.totalBonded() == bonded - MIN_BOND
    d = st.getDevice(device)
    assert (d.state, d.bond) == (WITHDRAWN, 0)
    assert st.deviceOfFingerprint(fp) == 0
    assert st.challengeInfo(device, st.currentEpoch() + 1).mode == EXEMPT
    with reverts(st.WrongState, deviceId=device, state=WITHDRAWN):
        st.withdraw(device, sender=alice)
    with reverts(st.WrongState, deviceId=device, state=WITHDRAWN):
        st.deregister(device, sender=alice)
    # the fingerprint is free again, for anyone
    token.transfer(bob, MIN_BOND, sender=system.admin)
    token.approve(st, MIN_BOND, sender=bob)
    again = int(st.registerDevice(CLASS_ID, fp, operator, sender=bob).return_value)
    assert again == device + 1 and st.deviceOfFingerprint(fp) == again


def test_deregister_active_stops_rewards(chain, system, alice, operator):
    """Leaving stops accrual; the still-owed epoch, proved, vests what was earned."""
    st = system.staking
    genesis = st.genesisBlock()
    [(device, b_act)] = activate_pair(chain, system, [alice], operator)
    e = st.currentEpoch()
    tx = st.deregister(device, sender=alice)
    owed = emitted(tx.block_number, genesis) - emitted(b_act, genesis)
    assert st.pendingReward(device) == owed and st.earned(device) == 0
    assert st.classes(CLASS_ID).active == 0 and st.totalWeight() == 0
    assert st.challengeInfo(device, e).mode == SAMPLED  # the current epoch is still owed
    assert st.challengeInfo(device, e + 1).mode == EXEMPT
    with reverts(st.NothingToClaim, deviceId=device):
        st.claim(device, sender=alice)
    # activate_pair proved epoch e: once e is over, the pass vests up to e's end (>= the exit)
    pocps.next_epoch(chain, system)
    assert st.earned(device) == owed and st.pendingReward(device) == 0
    assert st.claim(device, sender=alice).return_value == owed
    with reverts(st.NothingToClaim, deviceId=device):
        st.claim(device, sender=alice)
def test_exiting_stays_slashable_for_an_earlier_miss(chain, system, alice, bob, operator):
    st, v, token = system.staking, system.verifier, system.token
    pocps.set_proof_class(system, challengeBps=10_000)
    [(device, _)] = activate_pair(chain, system, [alice], operator)
    e = pocps.next_epoch(chain, system)  # selected (10_000 bps), never commits
    tx = st.deregister(device, sender=alice)
    unbond_at = tx.block_number + UNBONDING_BLOCKS
    pocps.goto_epoch(chain, system, e + 1)
    assert st.challengeInfo(device, e).mode == SAMPLED
    assert st.challengeInfo(device, e + 1).mode == EXEMPT
    supply, bob_before = token.totalSupply(), token.balanceOf(bob)
    tx = v.reportMissed(device, e, sender=bob)
    bounty = MISS_SLASH * BOUNTY_BPS // 10_000
    assert logs(tx, st.DeviceSlashed) == [{
        "deviceId": device, "reporter": bob.address, "slashed": MISS_SLASH, "bounty": bounty,
        "burned": MISS_SLASH - bounty}]
    assert logs(tx, st.DeviceJailed) == []  # stays Exiting
    assert st.getDevice(device).state == EXITING
    assert token.balanceOf(bob) == bob_before + bounty
    assert token.totalSupply() == supply - (MISS_SLASH - bounty)
    pocps.goto_epoch(chain, system, e + 1, offset=TEST_CLASS["commitWindow"])
    with reverts(v.NotSelected, deviceId=device, epoch=e + 1):  # nothing owed after exit
        v.reportMissed(device, e + 1, sender=bob)
    pocps.goto_block(chain, unbond_at)
    before = token.balanceOf(alice)
    tx = st.withdraw(device, sender=alice)
    assert logs(tx, st.BondWithdrawn)[0]["amount"] == MIN_BOND - MISS_SLASH
    assert token.balanceOf(alice) == before + MIN_BOND - MISS_SLASH


def test_deregister_jailed_keeps_jail_epoch(chain, system, as_verifier, alice, operator):
    st = system.staking
    device = pocps.register(system, alice, operator)
    pocps.goto_epoch(chain, system, st.currentEpoch() + 2)
    jail(system, as_verifier, device)
    j = st.currentEpoch()
    assert st.getDevice(device).stateEpoch == j
    chain.mine(EPOCH_BLOCKS)
    st.deregister(device, sender=alice)
    d = st.getDevice(device)
    assert (d.state, d.stateEpoch) == (EXITING, j)
    assert st.challengeInfo(device, j - 1).mode == SAMPLED
    assert st.challengeInfo(device, j).mode == EXEMPT


# --------------------------------------------------------------------------------------------
# rewards
# --------------------------------------------------------------------------------------------


def test_two_devices_share_emission_by_weight(chain, system, alice, bob, operator):
    st, token = system.staking, system.token
    genesis = st.genesisBlock()
    assert st.emittedUntil(genesis) == 0
    assert st.emittedUntil(genesis + 7) == 7 * REWARD_PER_BLOCK
    (dev_a, b_a), (dev_b, b_b) = activate_pair(chain, system, [alice, bob], operator)
    assert b_b > b_a
    assert st.totalWeight() == 2 * WEIGHT and st.activeCount(CLASS_ID) == 2
    # emission before the first activation moves no accumulator (it stays undistributed)
    chain.mine(10)
    e = lambda b: emitted(b, genesis)  # noqa: E731
    with reverts(st.NotDeviceOwner, deviceId=dev_a, caller=operator):
        st.claim(dev_a, sender=operator)
    head = chain.blocks.head.number
    # in words: the epoch's emission per weight so far (A alone, then half each), and both
    # activation proofs are owed (Always): each earns the epoch's per-weight emission x1
    assert accrued(st, dev_a) == (e(b_b) - e(b_a)) + (e(head) - e(b_b)) // 2
    assert accrued(st, dev_b) == accrued(st, dev_a)
    # Both passed the activation epoch: once it is over, the credits are final.
    p = pocps.next_epoch(chain, system)
    end = pocps.epoch_start(system, p)
    supply, a_before, b_before = token.totalSupply(), token.balanceOf(alice), token.balanceOf(bob)
    tx_a = st.claim(dev_a, sender=alice)
    tx_b = st.claim(dev_b, sender=bob)
    rpw1 = (e(b_b) - e(b_a)) * UNIT // WEIGHT
    rpw_end = rpw1 + (e(end) - e(b_b)) * UNIT // (2 * WEIGHT)
    want_a = WEIGHT * rpw_end // UNIT
    want_b = want_a
    assert tx_a.return_value == want_a and tx_b.return_value == want_b
    assert st.rewardPerWeightAtEpoch(p) == rpw_end
    assert logs(tx_a, st.RewardsClaimed) == [
        {"deviceId": dev_a, "owner": alice.address, "amount": want_a}]
    assert token.balanceOf(alice) == a_before + want_a
    assert token.balanceOf(bob) == b_before + want_b
    assert token.totalSupply() == supply + want_a + want_b
    assert st.totalMinted() == want_a + want_b
    assert st.getDevice(dev_a).rewards == 0
    assert logs(tx_a, st.RewardsCredited) == [
        {"deviceId": dev_a, "epoch": p - 1, "amount": want_a}]
    # after the claims nothing accrues without a proof: no pending credit
    assert st.pendingReward(dev_b) == 0 == st.earned(dev_b)
def test_claim_nothing(chain, system, as_verifier, alice, operator):
    st = system.staking
    pending = pocps.register(system, alice, operator)
    with reverts(st.NothingToClaim, deviceId=pending):
        st.claim(pending, sender=alice)
    [(device, _)] = activate_pair(chain, system, [alice], operator)
    pocps.next_epoch(chain, system)  # the activation epoch ends: its rewards vest
    chain.mine(3)
    jail(system, as_verifier, device)  # a slash keeps the vested rewards, forfeits the rest
    owed = st.earned(device)
    assert owed > 0 and st.pendingReward(device) == 0
    assert st.claim(device, sender=alice).return_value == owed
    with reverts(st.NothingToClaim, deviceId=device):
        st.claim(device, sender=alice)
def test_halving(project, chain, deployer, alice, operator):
    halving = 30
    s = deploy_system(project, chain, deployer, with_pool=False, halvingBlocks=halving)
    st = s.staking
    g = st.genesisBlock()
    r = REWARD_PER_BLOCK
    assert st.emittedUntil(g + halving) == halving * r
    assert st.emittedUntil(g + halving + 1) == halving * r + r // 2
    assert st.emittedUntil(g + 2 * halving + 3) == halving * (r + r // 2) + 3 * (r // 4)
    for block in (g + 7, g + 5 * halving + 11, g + 70 * halving, g + 10**9):
        assert st.emittedUntil(block) == emitted(block, g, halving=halving)
    # after 60 halvings 1e18 >> 60 == 0: the sum converges below 2 * halving * r
    assert st.emittedUntil(g + 10**9) == sum(halving * (r >> i) for i in range(64))
    [(device, b_act)] = activate_pair(chain, s, [alice], operator)
    assert b_act < g + halving  # the activation epoch spans the first halving
    a = st.currentEpoch()
    end = pocps.epoch_start(s, a + 1)
    assert end > g + halving
    pocps.goto_epoch(chain, s, a + 1)
    tx = st.claim(device, sender=alice)  # the activation proof's credit (x1): b_act .. end
    want = emitted(end, g, halving=halving) - emitted(b_act, g, halving=halving)
    assert tx.return_value == want
    assert s.token.balanceOf(alice) >= want


def test_emission_cap(project, chain, deployer, alice, operator):
    cap = 40 * REWARD_PER_BLOCK
    s = deploy_system(project, chain, deployer, with_pool=False, maxEmission=cap)
    st, token = s.staking, s.token
    g = st.genesisBlock()
    assert st.emittedUntil(g + 39) == 39 * REWARD_PER_BLOCK
    assert st.emittedUntil(g + 40) == cap
    assert st.emittedUntil(g + 41) == cap
    assert st.emittedUntil(g + 10**9) == cap
    [(device, b_act)] = activate_pair(chain, s, [alice], operator)
    assert b_act < g + 40
    pocps.goto_block(chain, g + 60)
    vest(chain, s, device, operator)
    supply = token.totalSupply()
    tx = st.claim(device, sender=alice)
    want = cap - (b_act - g) * REWARD_PER_BLOCK  # the start before any activation is never paid
    assert tx.return_value == want
    assert token.totalSupply() == supply + want
    assert st.emissionAccounted() == cap and st.totalMinted() == want
    chain.mine(50)
    assert st.earned(device) == 0
    with reverts(st.NothingToClaim, deviceId=device):
        st.claim(device, sender=alice)


# --------------------------------------------------------------------------------------------
# verifier hooks
# --------------------------------------------------------------------------------------------


def test_hooks_only_by_verifier(system, deployer, alice, operator):
    st = system.staking
    device = pocps.register(system, alice, operator)
    for caller in (alice, deployer, operator):
        with reverts(st.NotVerifier, caller=caller):
            st.proofPassed(device, 0, 10_000, sender=caller)
        with reverts(st.NotVerifier, caller=caller):
            st.revokeProof(device, 0, sender=caller)
        with reverts(st.NotVerifier, caller=caller):
            st.slash(device, 10_000, caller, sender=caller)
    assert st.getDevice(device).state == PENDING


def test_proof_passed_states(chain, system, as_verifier, alice, operator):
    """`proofPassed` activates a Pending device (or one back from maintenance) and is a no-op
    for the state of any other: an owed proof of an Exiting or Jailed device meets its duty."""
    st = system.staking
    device = pocps.register(system, alice, operator)
    e = st.currentEpoch()
    tx = st.proofPassed(device, e, 0, sender=as_verifier)  # odds 0: activation, no credit
    assert logs(tx, st.DeviceActivated) == [{"deviceId": device, "classId": CLASS_ID}]
    assert st.lastRewardBlock() == tx.block_number and st.getDevice(device).weight == WEIGHT
    assert st.getDevice(device).creditEpochPlusOne == 0
    tx = st.proofPassed(device, e, 10_000, sender=as_verifier)  # Active: credit only
    assert logs(tx, st.DeviceActivated) == [] and st.getDevice(device).creditEpochPlusOne == e + 1
    tx = st.revokeProof(device, e + 1, sender=as_verifier)  # another epoch: nothing
    assert logs(tx, st.ProofRevoked) == [] and st.getDevice(device).creditEpochPlusOne == e + 1
    tx = st.revokeProof(device, e, sender=as_verifier)
    assert logs(tx, st.ProofRevoked) == [{"deviceId": device, "epoch": e}]
    assert st.getDevice(device).creditEpochPlusOne == 0
    jail(system, as_verifier, device)
    tx = st.proofPassed(device, e, 0, sender=as_verifier)
    assert logs(tx, st.DeviceActivated) == [] and st.getDevice(device).state == JAILED
    st.deregister(device, sender=alice)
    tx = st.proofPassed(device, e, 0, sender=as_verifier)  # an owed proof of an Exiting device
    assert logs(tx, st.DeviceActivated) == [] and st.getDevice(device).state == EXITING
    maint = pocps.register(system, alice, operator)
    e = st.currentEpoch()
    st.declareMaintenance(maint, 1, sender=alice)  # exempt e+1, proves again from e+2
    tx = st.proofPassed(maint, e, 0, sender=as_verifier)  # the proof of e, still owed
    assert logs(tx, st.DeviceActivated) == [] and st.getDevice(maint).state == MAINTENANCE
    pocps.goto_epoch(chain, system, e + 2)
    st.proofPassed(maint, e + 2, 0, sender=as_verifier)  # Maintenance -> Active
    assert st.getDevice(maint).state == ACTIVE


def test_slash_paths(chain, system, as_verifier, alice, bob, operator):
    st, token = system.staking, system.token
    with reverts(st.WrongState, deviceId=999, state=NONE):
        jail(system, as_verifier, 999)
    device = pocps.register(system, alice, operator)
    pocps.next_epoch(chain, system)
    supply, bob_before, held = token.totalSupply(), token.balanceOf(bob), token.balanceOf(st)
    bonded = st.totalBonded()
    tx = jail(system, as_verifier, device, bps=2_500, reporter=bob)
    slashed = MIN_BOND // 4
    bounty = slashed * BOUNTY_BPS // 10_000
    assert tx.return_value == slashed
    assert logs(tx, st.DeviceSlashed) == [{"deviceId": device, "reporter": bob.address,
                                           "slashed": slashed, "bounty": bounty,
                                           "burned": slashed - bounty}]
    assert logs(tx, st.DeviceJailed) == [{"deviceId": device, "epoch": st.currentEpoch()}]
    d = st.getDevice(device)
    assert (d.state, d.stateEpoch, d.bond) == (JAILED, st.currentEpoch(), MIN_BOND - slashed)
    assert token.balanceOf(bob) == bob_before + bounty
    assert token.balanceOf(st) == held - slashed
    assert token.totalSupply() == supply - (slashed - bounty)
    assert st.totalBonded() == bonded - slashed
    # Jailed again: no second jailing, no reporter -> everything burned
    supply = token.totalSupply()
    tx = jail(system, as_verifier, device, bps=10_000)
    rest = MIN_BOND - slashed
    assert logs(tx, st.DeviceJailed) == []
    assert logs(tx, st.DeviceSlashed)[0]["burned"] == rest
    assert token.totalSupply() == supply - rest
    assert st.getDevice(device).bond == 0
    # a zero bond: withdraw works and transfers nothing
    st.deregister(device, sender=alice)
    chain.mine(UNBONDING_BLOCKS)
    tx = st.withdraw(device, sender=alice)
    assert logs(tx, st.BondWithdrawn)[0]["amount"] == 0
    with reverts(st.WrongState, deviceId=device, state=WITHDRAWN):
        jail(system, as_verifier, device)


def test_slash_active_leaves_rewards(chain, system, as_verifier, alice, operator):
    st = system.staking
    genesis = st.genesisBlock()
    [(device, b_act)] = activate_pair(chain, system, [alice], operator)
    tx = jail(system, as_verifier, device)
    assert st.activeCount(CLASS_ID) == 0 and st.totalWeight() == 0
    owed = emitted(tx.block_number, genesis) - emitted(b_act, genesis)
    # the activation proof's credit stays the device's (a slash takes bond, not earned credits);
    # its epoch is not over: pending, then final
    assert st.pendingReward(device) == owed and st.earned(device) == 0
    pocps.next_epoch(chain, system)
    assert st.earned(device) == owed and st.pendingReward(device) == 0


# --------------------------------------------------------------------------------------------
# views
# --------------------------------------------------------------------------------------------


def test_challenge_info_modes(chain, system, as_verifier, alice, operator, keeper):
    st = system.staking
    e0 = st.currentEpoch()
    none = st.challengeInfo(999, e0 + 1)
    assert (none.owner, none.operator, none.classId, none.mode) == (ZERO, ZERO, 0, EXEMPT)
    pending = pocps.register(system, alice, operator)
    active, maint, jailed = (pocps.register(system, alice, keeper) for _ in range(3))
    assert [st.challengeInfo(pending, x).mode for x in (e0, e0 + 1, e0 + 9)] == [
        EXEMPT, ALWAYS, ALWAYS]  # since = e0 + 1
    for device in (active, maint, jailed):
        st.proofPassed(device, e0, 0, sender=as_verifier)
    assert [st.challengeInfo(active, x).mode for x in (e0, e0 + 1, e0 + 9)] == [
        EXEMPT, SAMPLED, SAMPLED]
    info = st.challengeInfo(active, e0 + 1)
    assert (info.owner, info.operator, info.classId) == (alice.address, keeper.address, CLASS_ID)
    e = e0 + 2
    pocps.goto_epoch(chain, system, e)
    st.declareMaintenance(maint, 3, sender=alice)  # owes e, exempt e+1 .. e+3, Always from e+4
    assert [st.challengeInfo(maint, x).mode for x in range(e - 1, e + 6)] == [
        SAMPLED, SAMPLED, EXEMPT, EXEMPT, EXEMPT, ALWAYS, ALWAYS]
    jail(system, as_verifier, jailed)  # jailed in e: duties before e remain
    assert [st.challengeInfo(jailed, x).mode for x in range(e - 1, e + 2)] == [
        SAMPLED, EXEMPT, EXEMPT]
    st.deregister(active, sender=alice)  # exiting in e: owes e, nothing after
    assert [st.challengeInfo(active, x).mode for x in range(e - 1, e + 2)] == [
        SAMPLED, SAMPLED, EXEMPT]
    chain.mine(UNBONDING_BLOCKS)
    st.withdraw(active, sender=alice)
    assert [st.challengeInfo(active, x).mode for x in range(e - 1, e + 3)] == [EXEMPT] * 4


def test_views_and_clock(chain, system, alice, operator):
    st = system.staking
    genesis = st.genesisBlock()
    head = chain.blocks.head.number
    assert st.currentEpoch() == (head - genesis) // EPOCH_BLOCKS
    pocps.goto_epoch(chain, system, 3, offset=0)
    assert st.currentEpoch() == 2  # the call runs at the head, the epoch's last block
    chain.mine(1)
    assert st.currentEpoch() == 3
    assert st.deviceCount() == 0 and st.activeCount(CLASS_ID) == 0 and st.activeCount(9) == 0
    c = st.classes(CLASS_ID)
    assert (c.minBond, c.weight, c.active, c.exists) == (MIN_BOND, WEIGHT, 0, True)
    assert tuple(st.deviceSummary(1)) == (ZERO, 0, NONE)
    device = pocps.register(system, alice, operator)
    assert tuple(st.deviceSummary(device)) == (alice.address, CLASS_ID, PENDING)
    assert st.earned(device) == 0
    assert st.verifier() == system.verifier.address
    assert NETWORK["maxEmission"] == st.maxEmission()


# --------------------------------------------------------------------------------------------
# contract bugs (strict xfail: the test describes the intended behaviour)
# --------------------------------------------------------------------------------------------


def test_deregister_during_maintenance_keeps_it_exempt(chain, system, as_verifier, alice, bob,
                                                      operator):
    """Leaving during a declared maintenance does not revive its duties; leaving right after
    declaring one still owes the current epoch."""
    st, v = system.staking, system.verifier
    pocps.set_proof_class(system, challengeBps=10_000)  # the provider is sampled every epoch
    [(device, _)] = activate_pair(chain, system, [alice], operator)
    e = st.currentEpoch()
    st.declareMaintenance(device, 5, sender=alice)  # exempt e+1 .. e+5
    other = pocps.register(system, alice, operator)
    st.proofPassed(other, e, 0, sender=as_verifier)
    pocps.goto_epoch(chain, system, e + 1)
    st.declareMaintenance(other, 5, sender=alice)  # exempt e+2 .. e+6
    st.deregister(other, sender=alice)  # before its maintenance begins: owes e+1
    v.checkpoint(sender=bob)
    pocps.goto_epoch(chain, system, e + 2)
    st.deregister(device, sender=alice)  # during its maintenance
    d = st.getDevice(device)
    assert (d.state, d.stateEpoch) == (EXITING, e + 1)
    assert [st.challengeInfo(device, x).mode for x in range(e, e + 3)] == [
        SAMPLED, EXEMPT, EXEMPT]
    assert [st.challengeInfo(other, x).mode for x in range(e + 1, e + 3)] == [SAMPLED, EXEMPT]
    with reverts(v.NotSelected, deviceId=device, epoch=e + 1):
        v.reportMissed(device, e + 1, sender=bob)
    assert st.getDevice(device).bond == MIN_BOND
    v.reportMissed(other, e + 1, sender=bob)  # other did owe e + 1
    assert st.getDevice(other).bond == MIN_BOND - MISS_SLASH


def test_deregister_after_maintenance_keeps_the_missed_reproof(chain, system, alice, bob,
                                                               operator):
    st, v = system.staking, system.verifier
    pocps.set_proof_class(system, challengeBps=10_000)
    [(device, _)] = activate_pair(chain, system, [alice], operator)
    e = st.currentEpoch()
    st.declareMaintenance(device, 1, sender=alice)  # exempt e+1, must prove again in e+2
    pocps.goto_epoch(chain, system, e + 2, offset=TEST_CLASS["commitWindow"])
    assert st.challengeInfo(device, e + 2).mode == ALWAYS  # owed, and missed
    st.deregister(device, sender=alice)
    assert st.challengeInfo(device, e + 1).mode == EXEMPT  # the maintenance epoch stays exempt
    v.reportMissed(device, e + 2, sender=bob)  # the missed re-proof stays reportable
    assert st.getDevice(device).bond == MIN_BOND - MISS_SLASH


def test_unjail_keeps_earlier_misses_slashable(chain, system, alice, bob, operator):
    st, v, token = system.staking, system.verifier, system.token
    pocps.set_proof_class(system, challengeBps=10_000)
    [(device, _)] = activate_pair(chain, system, [alice], operator)
    e = pocps.next_epoch(chain, system)  # misses e
    v.checkpoint(sender=bob)
    pocps.goto_epoch(chain, system, e + 1, offset=TEST_CLASS["commitWindow"])  # misses e+1
    v.reportMissed(device, e + 1, sender=bob)  # jailed in e+1
    token.approve(st, 2 * MISS_SLASH, sender=alice)
    # Unjailing in the jailing epoch would erase e's still-reportable miss: refused.
    with reverts(st.UnjailTooEarly, deviceId=device, fromEpoch=e + 2):
        st.unjail(device, sender=alice)
    v.reportMissed(device, e, sender=bob)  # e's miss is still inside its report window
    after_one = MIN_BOND - MISS_SLASH
    assert st.getDevice(device).bond == after_one - after_one * TEST_CLASS["missSlashBps"] // 10_000
    pocps.goto_epoch(chain, system, e + 2)
    st.unjail(device, sender=alice)
    assert st.getDevice(device).bond == MIN_BOND


def test_conftest_class_is_wired(system):
    """Guard: the numbers above assume the conftest test class."""
    assert TEST_CLASS_FULL["minBond"] == MIN_BOND
    assert system.staking.classes(CLASS_ID).weight == WEIGHT
    assert system.verifier.classParams(CLASS_ID).fraudSlashBps == TEST_CLASS["fraudSlashBps"]
