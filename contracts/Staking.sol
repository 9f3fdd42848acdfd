// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {PinToken} from "./PinToken.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {IPoCPSVerifier} from "./interfaces/IPoCPSVerifier.sol";
import {IDissipativePoolHooks} from "./interfaces/IDissipativePoolHooks.sol";

/// @title Staking
/// @notice Providers bond PIN behind devices; Active devices earn block emissions (halving,
///         capped) per passed PoCPS opening, in expectation their class weight's share; the PoCPS
///         verifier activates devices that prove themselves and slashes those that fail.
/// @dev One reward-per-weight accumulator (Synthetix StakingRewards / Livepeer LIP-36) gives the
///      emission per weight of each epoch; a passed opening of epoch P earns the device's weight
///      times that, divided by the probability it was opened (docs/protocol.md#vesting). Every
///      function is O(1) in the number of devices and epochs. The owner key manages bond and rewards; the operator key (held by the agent
///      daemon) can only prove. See docs/protocol.md for the state machine and every bound.
contract Staking is IStaking, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    // ---------------------------------------------------------------- types

    /// @notice The full record of a device, as `getDevice` returns it (field order is the ABI's).
    struct Device {
        address owner;
        uint16 classId;
        DeviceState state;
        uint32 since; // first epoch the device owes challenges
        uint32 stateEpoch; // Jailed/Exiting: first epoch with no duty; Maintenance: first exempt epoch
        bool owedAlways; // left Pending by maintenance or deregister: epochs before stateEpoch stay Always
        address operator;
        uint32 maintUntil; // Maintenance: first epoch the device must prove again
        uint64 unbondAt; // Exiting: block from which the bond can be withdrawn
        uint128 bond;
        uint128 rewards; // final credits of passed openings, not yet paid
        uint32 weight; // the class weight at the device's last activation
        // The latest passed opening's credit, final once its epoch is over (a fraud conviction
        // inside the epoch revokes it): epoch + 1 (0: none) and the odds it was opened with.
        uint32 creditEpochPlusOne;
        uint16 creditOddsBps;
        bytes32 fingerprint;
    }

    /// @dev Storage form of `Device`, packed into 5 slots. Slot 0: owner | classId | state |
    ///      since | stateEpoch | owedAlways. Slot 1: operator | maintUntil | unbondAt (slots 0 and
    ///      1 are what `challengeInfo` reads). Slot 2: bond. Slot 3: fingerprint. Slot 4, the one
    ///      slot the hook of a passed opening reads and writes (it finalises the previous credit
    ///      into `rewards`): rewards | weight | creditEpochPlusOne | creditOddsBps.
    struct DeviceRecord {
        address owner;
        uint16 classId;
        DeviceState state;
        uint32 since;
        uint32 stateEpoch;
        bool owedAlways;
        address operator;
        uint32 maintUntil;
        uint64 unbondAt;
        uint128 bond;
        bytes32 fingerprint;
        uint128 rewards;
        uint32 weight;
        uint32 creditEpochPlusOne;
        uint16 creditOddsBps;
    }

    /// @dev Staking-side parameters of a device class (PoCPS and pricing live in their contracts).
    struct ClassParams {
        uint128 minBond;
        uint32 weight;
        uint32 active; // Active devices of the class: the pool's supply R
        bool exists;
        uint128 maxBounty; // flat cap of one report's bounty (base units)
    }

    /// @notice Governance input of `setClass`.
    /// @param minBond Bond of one device, > 0; applies to registrations and unjails from now on.
    /// @param weight Reward weight in [1, 1e6]; may change only while no device of the class is Active.
    /// @param maxBounty Flat cap of a report's bounty, <= minBond.
    struct StakeParams {
        uint128 minBond;
        uint32 weight;
        uint128 maxBounty;
    }

    // ---------------------------------------------------------------- constants / immutables

    /// @notice Largest number of epochs a maintenance declaration may cover (30 days at 1 h).
    uint256 public constant MAX_MAINTENANCE_EPOCHS = 720;
    /// @dev Halvings after which the emission is treated as zero: bounds `_emittedUntil`'s loop.
    uint256 internal constant MAX_HALVINGS = 64;
    /// @dev Basis-point denominator.
    uint256 internal constant BPS = 10_000;
    /// @dev Fixed-point unit of the reward-per-weight accumulator.
    uint256 internal constant WAD = 1e18;
    /// @notice Largest `bountyBps`: a reporter never gets more than a fifth of a slash.
    uint256 public constant MAX_BOUNTY_BPS = 2_000;

    PinToken public immutable token;
    /// @inheritdoc IStaking
    uint256 public immutable genesisBlock;
    /// @inheritdoc IStaking
    uint256 public immutable epochBlocks;
    /// @notice Blocks between `deregister` and `withdraw` (>= 2 epochs: late fault reports fit).
    uint256 public immutable unbondingBlocks;
    /// @notice Emission per block before the first halving (base units).
    uint256 public immutable rewardPerBlock;
    /// @notice Blocks between halvings of `rewardPerBlock`.
    uint256 public immutable halvingBlocks;
    /// @notice Most tokens emissions may ever create (<= token cap - supply at deployment).
    uint256 public immutable maxEmission;
    /// @notice Share of a slash paid to its reporter, in basis points; the rest is burned.
    uint16 public immutable bountyBps;

    // ---------------------------------------------------------------- storage

    IPoCPSVerifier public verifier;
    uint256 public deviceCount;
    mapping(uint256 deviceId => DeviceRecord) internal _devices;
    mapping(uint16 classId => ClassParams) public classes;
    /// @notice Device holding a fingerprint (0 when free). Freed at `deregister`.
    mapping(bytes32 fingerprint => uint256 deviceId) public deviceOfFingerprint;

    /// @notice Reward-per-weight accumulator, scaled by 1e18.
    uint256 public rewardPerWeight;
    /// @notice Emission accounted into the accumulator (or forfeited while no device was Active).
    uint256 public emissionAccounted;
    /// @notice Block up to which emission is accounted.
    uint256 public lastRewardBlock;
    /// @notice Sum of the class weights of Active devices.
    uint256 public totalWeight;
    /// @notice Tokens minted as rewards so far (<= emissionAccounted <= maxEmission).
    uint256 public totalMinted;
    /// @notice Bonds held (conservation: token balance of this contract == totalBonded).
    uint256 public totalBonded;
    /// @notice Dissipative pool told when a device leaves the Active set (0: none, no call).
    IDissipativePoolHooks public pool;
    /// @dev Accumulator value at the first block of each epoch, plus one (0: not stored). Stored
    ///      by the first accumulator update of the epoch (the verifier makes one when it stores
    ///      the epoch's seed): the credit of a passed opening reads it.
    mapping(uint256 epoch => uint256) internal _rpwAtEpochPlusOne;

    // ---------------------------------------------------------------- construction / governance

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
    ) {
        if (address(token_) == address(0) || admin == address(0)) revert ZeroAddress();
        if (epochBlocks_ == 0 || epochBlocks_ > type(uint32).max) revert InvalidParameter("epochBlocks");
        if (unbondingBlocks_ < 2 * epochBlocks_) revert InvalidParameter("unbondingBlocks");
        if (halvingBlocks_ == 0) revert InvalidParameter("halvingBlocks");
        if (rewardPerBlock_ >= 2 ** 128) revert InvalidParameter("rewardPerBlock");
        if (maxEmission_ > token_.cap() - token_.totalSupply()) revert InvalidParameter("maxEmission");
        // Keeps the accumulator below 2^156 and every credit's product far from overflow.
        if (maxEmission_ >= 2 ** 96) revert InvalidParameter("maxEmission");
        if (bountyBps_ > MAX_BOUNTY_BPS) revert InvalidParameter("bountyBps");
        token = token_;
        genesisBlock = genesisBlock_;
        epochBlocks = epochBlocks_;
        unbondingBlocks = unbondingBlocks_;
        rewardPerBlock = rewardPerBlock_;
        halvingBlocks = halvingBlocks_;
        maxEmission = maxEmission_;
        bountyBps = bountyBps_;
        uint256 first = genesisBlock_ > block.number ? genesisBlock_ : block.number;
        lastRewardBlock = first;
        _rpwAtEpochPlusOne[(first - genesisBlock_) / epochBlocks_] = 1;
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

    /// @notice Create or update a device class's staking parameters (bounds in
    ///         docs/protocol.md#governance-bounds). Nothing is retroactive: `minBond` applies to
    ///         later registrations and unjails, `maxBounty` to later reports, and `weight` may
    ///         change only while no device of the class is Active (the accumulator assumes each
    ///         Active device's weight constant).
    function setClass(uint16 classId, StakeParams calldata p) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (classId == 0) revert InvalidParameter("classId");
        if (p.minBond == 0) revert InvalidParameter("minBond");
        if (p.weight == 0 || p.weight > 1_000_000) revert InvalidParameter("weight");
        if (p.maxBounty > p.minBond) revert InvalidParameter("maxBounty");
        ClassParams storage c = classes[classId];
        if (c.active != 0 && c.weight != p.weight) revert InvalidParameter("weight");
        c.minBond = p.minBond;
        c.weight = p.weight;
        c.maxBounty = p.maxBounty;
        c.exists = true;
        emit ClassSet(classId, p.minBond, p.weight, p.maxBounty);
    }

    // ---------------------------------------------------------------- clock

    /// @inheritdoc IStaking
    function currentEpoch() public view returns (uint256) {
        return (block.number - genesisBlock) / epochBlocks;
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
        // The previous credit's epoch is over (one opening per epoch, in its epoch): final.
        _applyCredit(deviceId, d);
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
        if (s == DeviceState.Active) _leaveRewards(deviceId, d);
        if (s != DeviceState.Exiting && s != DeviceState.Jailed) {
            d.state = DeviceState.Jailed;
            d.stateEpoch = uint32(currentEpoch());
            d.maintUntil = 0;
            emit DeviceJailed(deviceId, currentEpoch());
        }
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
    function challengeInfo(uint256 deviceId, uint256 epoch)
        external
        view
        returns (address owner, address operator, uint16 classId, ChallengeMode mode)
    {
        DeviceRecord storage d = _devices[deviceId];
        owner = d.owner;
        operator = d.operator;
        classId = d.classId;
        DeviceState s = d.state;
        if (s == DeviceState.None || s == DeviceState.Withdrawn || epoch < d.since) return (owner, operator, classId, mode);
        if (s == DeviceState.Pending) {
            mode = ChallengeMode.Always;
        } else if (s == DeviceState.Active) {
            // Back from maintenance: its declared epochs [stateEpoch, maintUntil) stay exempt
            // (a keeper can not report them missed once the device is Active again). Jailing
            // clears maintUntil, so the window is empty for any other way back to Active.
            mode = epoch >= d.stateEpoch && epoch < d.maintUntil ? ChallengeMode.Exempt : ChallengeMode.Sampled;
        } else if (s == DeviceState.Maintenance) {
            // Owed until maintenance starts; after it ends the device must prove itself again.
            if (epoch < d.stateEpoch) mode = d.owedAlways ? ChallengeMode.Always : ChallengeMode.Sampled;
            else if (epoch >= d.maintUntil) mode = ChallengeMode.Always;
        } else if (epoch < d.stateEpoch) {
            // Jailed or Exiting: duties of the epochs before the state change remain (Always for
            // a device that left Pending).
            mode = d.owedAlways ? ChallengeMode.Always : ChallengeMode.Sampled;
        }
    }

    /// @inheritdoc IStaking
    function deviceSummary(uint256 deviceId)
        external
        view
        returns (address owner, uint16 classId, DeviceState state)
    {
        DeviceRecord storage d = _devices[deviceId];
        return (d.owner, d.classId, d.state);
    }

    /// @notice The full record of a device.
    function getDevice(uint256 deviceId) external view returns (Device memory) {
        DeviceRecord storage d = _devices[deviceId];
        return Device({
            owner: d.owner,
            classId: d.classId,
            state: d.state,
            since: d.since,
            stateEpoch: d.stateEpoch,
            owedAlways: d.owedAlways,
            operator: d.operator,
            maintUntil: d.maintUntil,
            unbondAt: d.unbondAt,
            bond: d.bond,
            rewards: d.rewards,
            weight: d.weight,
            creditEpochPlusOne: d.creditEpochPlusOne,
            creditOddsBps: d.creditOddsBps,
            fingerprint: d.fingerprint
        });
    }

    /// @inheritdoc IStaking
    function activeCount(uint16 classId) external view returns (uint256) {
        return classes[classId].active;
    }

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
        return _credit(d.weight, _rewardPerWeightAtEpoch(plusOne - 1), rpw, d.creditOddsBps);
    }

    /// @notice Accumulator value at the first block of `epoch`: stored, or exact from the
    ///         formula when no update happened since (what a credit reads); 0 for a future epoch.
    function rewardPerWeightAtEpoch(uint256 epoch) external view returns (uint256) {
        if (genesisBlock + epoch * epochBlocks > block.number) return 0;
        return _rewardPerWeightAtEpoch(epoch);
    }

    /// @notice Total emission scheduled from genesis up to `blockNumber`, capped at `maxEmission`.
    /// @dev Loops once per halving period elapsed, at most `MAX_HALVINGS` (64) times.
    function emittedUntil(uint256 blockNumber) external view returns (uint256) {
        return _emittedUntil(blockNumber);
    }

    // ---------------------------------------------------------------- internals

    modifier onlyVerifier() {
        if (msg.sender != address(verifier)) revert NotVerifier(msg.sender);
        _;
    }

    function _ownedDevice(uint256 deviceId) internal view returns (DeviceRecord storage d) {
        d = _devices[deviceId];
        if (d.owner == address(0)) revert UnknownDevice(deviceId);
        if (d.owner != msg.sender) revert NotDeviceOwner(deviceId, msg.sender);
    }

    function _emittedUntil(uint256 blockNumber) internal view returns (uint256 total) {
        if (blockNumber <= genesisBlock) return 0;
        uint256 elapsed = blockNumber - genesisBlock;
        uint256 rate = rewardPerBlock;
        uint256 period = halvingBlocks;
        for (uint256 i = 0; i < MAX_HALVINGS && rate > 0; ++i) {
            if (elapsed <= period) {
                total += elapsed * rate;
                break;
            }
            total += period * rate;
            elapsed -= period;
            rate >>= 1;
        }
        if (total > maxEmission) total = maxEmission;
    }

    /// @dev The accumulator at this block: `rewardPerWeight + (emitted - accounted) * WAD / totalWeight`
    ///      (the one place the formula is written). Emission while no device is Active is
    ///      forfeited (accounted, never minted), which keeps every claim O(1).
    function _rewardPerWeightAt(uint256 blockNumber) internal view returns (uint256 rpw, uint256 emitted) {
        rpw = rewardPerWeight;
        emitted = _emittedUntil(blockNumber);
        uint256 tw = totalWeight;
        if (tw > 0) rpw += (emitted - emissionAccounted) * WAD / tw;
    }

    /// @dev Bring the accumulator up to this block. The first update after an epoch boundary
    ///      also stores the accumulator's value at that boundary (and at the current epoch's
    ///      start): exact, as the weight was constant since the last update. Vesting reads them.
    function _updateRewards() internal {
        uint256 last = lastRewardBlock;
        if (block.number <= last) return;
        uint256 epoch = currentEpoch();
        uint256 lastEpoch = (last - genesisBlock) / epochBlocks;
        if (epoch > lastEpoch) {
            _storeEpochStart(lastEpoch + 1);
            if (epoch > lastEpoch + 1) _storeEpochStart(epoch);
        }
        (uint256 rpw, uint256 emitted) = _rewardPerWeightAt(block.number);
        rewardPerWeight = rpw;
        emissionAccounted = emitted;
        lastRewardBlock = block.number;
    }

    function _storeEpochStart(uint256 epoch) internal {
        (uint256 atStart,) = _rewardPerWeightAt(genesisBlock + epoch * epochBlocks);
        _rpwAtEpochPlusOne[epoch] = atStart + 1;
    }

    /// @dev The accumulator at the first block of `epoch` (its end is the next epoch's start):
    ///      stored, or else computed (no update since then: the formula is exact).
    function _rewardPerWeightAtEpoch(uint256 epoch) internal view returns (uint256 rpw) {
        uint256 v = _rpwAtEpochPlusOne[epoch];
        if (v != 0) return v - 1;
        uint256 start = genesisBlock + epoch * epochBlocks;
        if (start >= lastRewardBlock) (rpw,) = _rewardPerWeightAt(start);
        else rpw = rewardPerWeight; // not reached: every epoch with a proof has an update
    }

    /// @dev A passed opening of `epoch` opened with probability `oddsBps / BPS` earns the epoch's
    ///      emission per weight (`end - start` of the accumulator) times its weight, divided by
    ///      that probability: in expectation exactly the device's weight share of the emission.
    ///      The one place the credit formula is written.
    function _credit(uint256 weight, uint256 start, uint256 end, uint256 oddsBps) internal pure returns (uint256) {
        if (end <= start) return 0;
        return weight * (end - start) * BPS / oddsBps / WAD;
    }

    /// @dev The device's latest credit, when its epoch is over (final): its amount (0: none yet).
    function _finalCredit(DeviceRecord storage d) internal view returns (uint256 amount, uint256 epoch) {
        uint256 plusOne = d.creditEpochPlusOne;
        if (plusOne == 0 || currentEpoch() < plusOne) return (0, 0);
        epoch = plusOne - 1;
        amount = _credit(d.weight, _rewardPerWeightAtEpoch(epoch), _rewardPerWeightAtEpoch(plusOne), d.creditOddsBps);
    }

    /// @dev Add the device's latest credit to its owed rewards once final. O(1).
    function _applyCredit(uint256 deviceId, DeviceRecord storage d) internal {
        uint256 plusOne = d.creditEpochPlusOne;
        if (plusOne == 0 || currentEpoch() < plusOne) return;
        (uint256 amount, uint256 epoch) = _finalCredit(d);
        d.creditEpochPlusOne = 0;
        d.rewards = SafeCast.toUint128(uint256(d.rewards) + amount);
        emit RewardsCredited(deviceId, epoch, amount);
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
