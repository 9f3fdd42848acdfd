// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {PinToken} from "./PinToken.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {IPoCPSVerifier} from "./interfaces/IPoCPSVerifier.sol";
import {IDissipativePoolHooks} from "./interfaces/IDissipativePoolHooks.sol";
import {EpochClock} from "./lib/EpochClock.sol";
import {RewardMath} from "./lib/RewardMath.sol";
import {StakingDevices} from "./staking/StakingDevices.sol";
import {StakingRewards} from "./staking/StakingRewards.sol";

/// @title Staking
/// @notice Providers bond PIN behind devices; Active devices earn block emissions (halving,
///         capped) per passed PoCPS opening, in expectation their class weight's share; the PoCPS
///         verifier activates devices that prove themselves and slashes those that fail.
/// @dev This contract is the device lifecycle (docs/protocol.md#device-state-machine), the bonds
///      and the verifier's hooks; the device table (`StakingDevices`) and the emission
///      accumulator (`StakingRewards`) are modules. A passed opening of epoch P earns the
///      device's weight times the epoch's emission per weight, divided by the probability it
///      was opened (docs/protocol.md#vesting). Every function is O(1) in the number of devices
///      and epochs. The owner key manages bond and rewards; the operator key (held by the agent
///      daemon) can only prove. See docs/protocol.md for the state machine and every bound.
contract Staking is StakingDevices, StakingRewards, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Largest number of epochs a maintenance declaration may cover (30 days at 1 h).
    uint256 public constant MAX_MAINTENANCE_EPOCHS = 720;
    /// @notice Largest `bountyBps`: a reporter never gets more than a fifth of a slash.
    uint256 public constant MAX_BOUNTY_BPS = 2_000;
    /// @dev Basis-point denominator (slashes, bounties).
    uint256 internal constant BPS = RewardMath.BPS;

    PinToken public immutable token;
    /// @notice Blocks between `deregister` and `withdraw` (>= 2 epochs: late fault reports fit).
    uint256 public immutable unbondingBlocks;
    /// @notice Share of a slash paid to its reporter, in basis points; the rest is burned.
    uint16 public immutable bountyBps;

    IPoCPSVerifier public verifier;
    /// @notice Bonds held (conservation: token balance of this contract == totalBonded).
    uint256 public totalBonded;
    /// @notice Dissipative pool told when a device leaves the Active set (0: none, no call).
    IDissipativePoolHooks public pool;

    // ---------------------------------------------------------------- construction / governance

    /// @dev Every bound of docs/protocol.md#network-parameters, checked here in one place (the
    ///      modules' constructors only store).
    constructor(
        PinToken token_,
        uint256 genesisBlock_,
        uint256 epochBlocks_,
        uint256 unbondingBlocks_,
        uint256 rewardPerBlock_,
        uint256 halvingBlocks_,
        uint256 maxEmission_,
        uint16 bountyBps_,
        address admin
    ) EpochClock(genesisBlock_, epochBlocks_) StakingRewards(rewardPerBlock_, halvingBlocks_, maxEmission_) {
        if (address(token_) == address(0) || admin == address(0)) revert ZeroAddress();
        if (epochBlocks_ == 0 || epochBlocks_ > type(uint32).max) revert InvalidParameter("epochBlocks");
        if (unbondingBlocks_ < 2 * epochBlocks_) revert InvalidParameter("unbondingBlocks");
        if (halvingBlocks_ == 0) revert InvalidParameter("halvingBlocks");
        if (rewardPerBlock_ >= REWARD_PER_BLOCK_LIMIT) revert InvalidParameter("rewardPerBlock");
        if (maxEmission_ > token_.cap() - token_.totalSupply()) revert InvalidParameter("maxEmission");
        // Keeps the accumulator below 2^156 and every credit's product far from overflow.
        if (maxEmission_ >= MAX_EMISSION_LIMIT) revert InvalidParameter("maxEmission");
        if (bountyBps_ > MAX_BOUNTY_BPS) revert InvalidParameter("bountyBps");
        token = token_;
        unbondingBlocks = unbondingBlocks_;
        bountyBps = bountyBps_;
        _startRewards();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Wire the PoCPS verifier (once). It alone may activate and slash.
    function setVerifier(address verifier_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(verifier) != address(0)) revert VerifierAlreadySet();
        if (verifier_ == address(0)) revert ZeroAddress();
        verifier = IPoCPSVerifier(verifier_);
        emit VerifierSet(verifier_);
    }

    /// @notice Wire the dissipative pool (once). `Staking` calls its `deviceInactive` whenever an
    ///         Active device leaves the Active set, so that the pool's demand D falls with R.
    /// @dev Until it is set no call is made (deployments without a pool).
    function setPool(address pool_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(pool) != address(0)) revert PoolAlreadySet();
        if (pool_ == address(0)) revert ZeroAddress();
        pool = IDissipativePoolHooks(pool_);
        emit PoolSet(pool_);
    }

    // ---------------------------------------------------------------- provider actions

    /// @notice Register a device of `classId`, bonding the class's `minBond` from the caller.
    /// @param fingerprint Hash of the hardware identity (GPU UUID, model); unique while bonded.
    /// @param operator Hot key of the agent daemon: commits and opens proofs, nothing else.
    /// @return deviceId The new device, Pending: it must pass a challenge to become Active.
    function registerDevice(uint16 classId, bytes32 fingerprint, address operator)
        external
        nonReentrant
        returns (uint256 deviceId)
    {
        ClassParams storage c = classes[classId];
        if (!c.exists) revert UnknownClass(classId);
        if (operator == address(0)) revert ZeroAddress();
        uint256 holder = deviceOfFingerprint[fingerprint];
        if (holder != 0) revert FingerprintInUse(fingerprint, holder);
        uint128 bond = c.minBond;
        deviceId = ++deviceCount;
        deviceOfFingerprint[fingerprint] = deviceId;
        DeviceRecord storage d = _devices[deviceId];
        d.owner = msg.sender;
        d.classId = classId;
        d.state = DeviceState.Pending;
        d.since = uint32(currentEpoch() + 1);
        d.operator = operator;
        d.bond = bond;
        d.fingerprint = fingerprint;
        totalBonded += bond;
        emit DeviceRegistered(deviceId, msg.sender, classId, fingerprint, operator, bond);
        verifier.prepare(deviceId);
        IERC20(address(token)).safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @notice Owner: hand proving to another hot key.
    function setOperator(uint256 deviceId, address operator) external {
        DeviceRecord storage d = _ownedDevice(deviceId);
        if (operator == address(0)) revert ZeroAddress();
        d.operator = operator;
        emit OperatorChanged(deviceId, operator);
    }

    /// @notice Owner: take the device down for `epochs` epochs from the next one without penalty.
    /// @dev The current epoch's challenge is still owed. Rewards stop now; the device is not
    ///      leasable; after the maintenance it must pass a challenge again to be Active.
    function declareMaintenance(uint256 deviceId, uint256 epochs) external {
        DeviceRecord storage d = _ownedDevice(deviceId);
        if (epochs == 0 || epochs > MAX_MAINTENANCE_EPOCHS) {
            revert MaintenanceTooLong(epochs, MAX_MAINTENANCE_EPOCHS);
        }
        DeviceState s = d.state;
        if (s != DeviceState.Active && s != DeviceState.Pending) revert WrongState(deviceId, s);
        if (s == DeviceState.Active) _leaveRewards(deviceId, d);
        uint256 from = currentEpoch() + 1;
        // A Pending device still owes the proofs of this epoch as Always (no escape by declaring).
        d.owedAlways = s == DeviceState.Pending;
        d.state = DeviceState.Maintenance;
        d.stateEpoch = uint32(from);
        d.maintUntil = uint32(from + epochs);
        emit MaintenanceDeclared(deviceId, uint32(from), uint32(from + epochs));
    }

    /// @notice Owner: bring a Jailed device back to Pending, topping its bond up to `minBond`.
    function unjail(uint256 deviceId) external nonReentrant {
        DeviceRecord storage d = _ownedDevice(deviceId);
        if (d.state != DeviceState.Jailed) revert WrongState(deviceId, d.state);
        // Not in the jailing epoch: the previous epoch's faults stay reportable until it ends,
        // and unjailing resets the device's duties (`since`).
        if (currentEpoch() <= d.stateEpoch) revert UnjailTooEarly(deviceId, d.stateEpoch + 1);
        uint128 minBond = classes[d.classId].minBond;
        uint128 topUp = d.bond < minBond ? minBond - d.bond : 0;
        d.state = DeviceState.Pending;
        d.since = uint32(currentEpoch() + 1);
        d.owedAlways = false;
        d.bond += topUp;
        totalBonded += topUp;
        emit DeviceUnjailed(deviceId, topUp);
        if (topUp > 0) IERC20(address(token)).safeTransferFrom(msg.sender, address(this), topUp);
    }

    /// @notice Owner: start unbonding. The device owes the current epoch's challenge and stays
    ///         slashable for earlier faults until `withdraw` becomes possible.
    function deregister(uint256 deviceId) external {
        DeviceRecord storage d = _ownedDevice(deviceId);
        DeviceState s = d.state;
        if (s == DeviceState.Exiting || s == DeviceState.Withdrawn) revert WrongState(deviceId, s);
        if (s == DeviceState.Active) _leaveRewards(deviceId, d);
        // Duties end after the current epoch; a jailed device's, or a maintenance that already
        // began, ended earlier and stay ended (no slashing for declared maintenance epochs).
        uint32 next = uint32(currentEpoch() + 1);
        if (s == DeviceState.Maintenance && next > d.maintUntil) {
            // Maintenance is over and the device owes proofs again from maintUntil: those stay
            // reportable, the maintenance epochs before them stay exempt.
            d.since = d.maintUntil;
            d.stateEpoch = next;
        } else if (s != DeviceState.Jailed && !(s == DeviceState.Maintenance && d.stateEpoch <= next)) {
            d.stateEpoch = next;
            // A Pending device still owes the proofs before `next` as Always.
            if (s == DeviceState.Pending) d.owedAlways = true;
        }
        d.state = DeviceState.Exiting;
        // The fingerprint is free at once (no squatting); the bond stays slashable until withdraw.
        if (deviceOfFingerprint[d.fingerprint] == deviceId) delete deviceOfFingerprint[d.fingerprint];
        uint64 unbondAt = uint64(block.number + unbondingBlocks);
        d.unbondAt = unbondAt;
        emit DeviceExiting(deviceId, unbondAt);
    }

    /// @notice Owner: after unbonding, take the remaining bond back and free the fingerprint.
    function withdraw(uint256 deviceId) external nonReentrant {
        DeviceRecord storage d = _ownedDevice(deviceId);
        if (d.state != DeviceState.Exiting) revert WrongState(deviceId, d.state);
        if (block.number < d.unbondAt) revert StillUnbonding(deviceId, d.unbondAt);
        uint256 amount = d.bond;
        d.bond = 0;
        d.state = DeviceState.Withdrawn;
        totalBonded -= amount;
        emit BondWithdrawn(deviceId, msg.sender, amount);
        if (amount > 0) IERC20(address(token)).safeTransfer(msg.sender, amount);
    }

    /// @notice Owner: mint the device's final rewards to the owner, as far as the emission
    ///         schedule allows (never beyond `emittedUntil(now)`, hence never beyond
    ///         `maxEmission`); what the schedule cannot pay yet stays owed to the device. O(1).
    function claim(uint256 deviceId) external nonReentrant returns (uint256 amount) {
        DeviceRecord storage d = _ownedDevice(deviceId);
        _applyCredit(deviceId, d);
        uint256 owed = d.rewards;
        uint256 available = _emittedUntil(block.number) - totalMinted;
        amount = owed < available ? owed : available;
        if (amount == 0) revert NothingToClaim(deviceId);
        d.rewards = uint128(owed - amount);
        totalMinted += amount;
        emit RewardsClaimed(deviceId, msg.sender, amount);
        token.mint(msg.sender, amount);
    }

    // ---------------------------------------------------------------- verifier hooks

    /// @inheritdoc IStaking
    function proofPassed(uint256 deviceId, uint256 epoch, uint256 oddsBps) external onlyVerifier {
        DeviceRecord storage d = _devices[deviceId];
        DeviceState s = d.state;
        // A Pending device, or one back from maintenance, becomes Active. One that left Pending
        // (maintenance declared, deregistered) proving an epoch it still owed meets the duty
        // without changing state.
        if (s == DeviceState.Pending || (s == DeviceState.Maintenance && currentEpoch() >= d.stateEpoch)) {
            _activate(deviceId, d);
        }
        if (oddsBps == 0) return;
        // The previous credit's epoch is over (one opening per epoch, in its epoch): final. It
        // is replaced by this one (the slot is written once).
        _addFinalCredit(deviceId, d);
        d.creditEpochPlusOne = uint32(epoch + 1);
        d.creditOddsBps = uint16(oddsBps);
    }

    /// @inheritdoc IStaking
    function revokeProof(uint256 deviceId, uint256 epoch) external onlyVerifier {
        DeviceRecord storage d = _devices[deviceId];
        if (d.creditEpochPlusOne != epoch + 1) return;
        d.creditEpochPlusOne = 0;
        emit ProofRevoked(deviceId, epoch);
    }

    /// @inheritdoc IStaking
    function checkpointEpoch() external onlyVerifier {
        _updateRewards();
    }

    /// @inheritdoc IStaking
    function slash(uint256 deviceId, uint256 bps, address reporter)
        external
        onlyVerifier
        nonReentrant
        returns (uint256 slashed)
    {
        DeviceRecord storage d = _devices[deviceId];
        DeviceState s = d.state;
        if (s == DeviceState.None || s == DeviceState.Withdrawn) revert WrongState(deviceId, s);
        slashed = uint256(d.bond) * bps / BPS;
        // slashed <= bond because bps <= 10_000 (checked by the verifier's class bounds).
        d.bond -= uint128(slashed);
        totalBonded -= slashed;
        if (s != DeviceState.Exiting && s != DeviceState.Jailed) {
            d.state = DeviceState.Jailed;
            d.stateEpoch = uint32(currentEpoch());
            d.maintUntil = 0;
            emit DeviceJailed(deviceId, currentEpoch());
        }
        // Effects before the pool's `deviceInactive` hook (checks-effects-interactions): the
        // device is already Jailed when the pool reads it.
        if (s == DeviceState.Active) _leaveRewards(deviceId, d);
        uint256 bounty = reporter == address(0) ? 0 : slashed * bountyBps / BPS;
        uint256 cap = classes[d.classId].maxBounty;
        if (bounty > cap) bounty = cap;
        uint256 burned = slashed - bounty;
        emit DeviceSlashed(deviceId, reporter, slashed, bounty, burned);
        if (bounty > 0) IERC20(address(token)).safeTransfer(reporter, bounty);
        if (burned > 0) token.burn(burned);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IStaking
    function earned(uint256 deviceId) external view returns (uint256) {
        uint256 owed = _owedOf(deviceId);
        uint256 available = _emittedUntil(block.number) - totalMinted;
        return owed < available ? owed : available;
    }

    /// @inheritdoc IStaking
    function owedRewards(uint256 deviceId) external view returns (uint256) {
        return _owedOf(deviceId);
    }

    /// @inheritdoc IStaking
    function pendingReward(uint256 deviceId) external view returns (uint256) {
        DeviceRecord storage d = _devices[deviceId];
        uint256 plusOne = d.creditEpochPlusOne;
        if (plusOne == 0 || currentEpoch() >= plusOne) return 0;
        (uint256 rpw,) = _rewardPerWeightAt(block.number);
        return RewardMath.credit(d.weight, _rewardPerWeightAtEpoch(plusOne - 1), rpw, d.creditOddsBps);
    }

    // ---------------------------------------------------------------- internals

    modifier onlyVerifier() {
        if (msg.sender != address(verifier)) revert NotVerifier(msg.sender);
        _;
    }

    /// @dev The device's latest credit, when its epoch is over (final): its amount (0: none yet).
    function _finalCredit(DeviceRecord storage d) internal view returns (uint256 amount, uint256 epoch) {
        uint256 plusOne = d.creditEpochPlusOne;
        if (plusOne == 0 || currentEpoch() < plusOne) return (0, 0);
        epoch = plusOne - 1;
        amount = _creditOf(d.weight, epoch, d.creditOddsBps);
    }

    /// @dev Add the device's latest credit to its owed rewards once final, and clear it. O(1).
    function _applyCredit(uint256 deviceId, DeviceRecord storage d) internal {
        if (_addFinalCredit(deviceId, d)) d.creditEpochPlusOne = 0;
    }

    /// @dev Add the device's latest credit to its owed rewards if final (its epoch is over);
    ///      the caller clears or replaces it. Returns whether there was one.
    function _addFinalCredit(uint256 deviceId, DeviceRecord storage d) internal returns (bool) {
        uint256 plusOne = d.creditEpochPlusOne;
        if (plusOne == 0 || currentEpoch() < plusOne) return false;
        uint256 epoch = plusOne - 1;
        uint256 amount = _creditOf(d.weight, epoch, d.creditOddsBps);
        d.rewards = SafeCast.toUint128(uint256(d.rewards) + amount);
        emit RewardsCredited(deviceId, epoch, amount);
        return true;
    }

    /// @dev Final credits owed to the device (views).
    function _owedOf(uint256 deviceId) internal view returns (uint256) {
        DeviceRecord storage d = _devices[deviceId];
        (uint256 amount,) = _finalCredit(d);
        return uint256(d.rewards) + amount;
    }

    /// @dev Pending (or back from maintenance) -> Active: its weight joins the accumulator.
    function _activate(uint256 deviceId, DeviceRecord storage d) internal {
        _updateRewards();
        ClassParams storage c = classes[d.classId];
        uint32 w = c.weight;
        d.weight = w;
        totalWeight += w;
        c.active += 1;
        d.state = DeviceState.Active;
        emit DeviceActivated(deviceId, d.classId);
    }

    /// @dev An Active device leaves: bring the accumulator up to date, remove its weight and count (R),
    ///      and tell the pool (if wired), which ends the device's live lease so that D falls too.
    ///      The single exit from Active: `slash`, `declareMaintenance` and `deregister` all pass
    ///      here. The pool is trusted (set once by the admin) and calls back only Staking's views
    ///      and the token; a revert there reverts the exit.
    function _leaveRewards(uint256 deviceId, DeviceRecord storage d) internal {
        _updateRewards();
        ClassParams storage c = classes[d.classId];
        totalWeight -= c.weight;
        c.active -= 1;
        IDissipativePoolHooks p = pool;
        if (address(p) != address(0)) p.deviceInactive(deviceId);
    }
}
