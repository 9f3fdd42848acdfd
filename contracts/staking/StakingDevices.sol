// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IStaking} from "../interfaces/IStaking.sol";
import {EpochClock} from "../lib/EpochClock.sol";

/// @title StakingDevices
/// @notice The device table of `Staking` and the staking parameters of each class: records,
///         fingerprints, and how a device stands towards each epoch's challenge
///         (docs/protocol.md#challenge-modes).
abstract contract StakingDevices is IStaking, AccessControl, EpochClock {
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
    /// @param weight Reward weight in [1, MAX_WEIGHT]; may change only while no device of the class is Active.
    /// @param maxBounty Flat cap of a report's bounty, <= minBond.
    struct StakeParams {
        uint128 minBond;
        uint32 weight;
        uint128 maxBounty;
    }

    /// @dev Largest class weight (docs/protocol.md#governance-bounds).
    uint32 internal constant MAX_WEIGHT = 1_000_000;

    uint256 public deviceCount;
    mapping(uint256 deviceId => DeviceRecord) internal _devices;
    mapping(uint16 classId => ClassParams) public classes;
    /// @notice Device holding a fingerprint (0 when free). Freed at `deregister`.
    mapping(bytes32 fingerprint => uint256 deviceId) public deviceOfFingerprint;

    /// @notice Create or update a device class's staking parameters (bounds in
    ///         docs/protocol.md#governance-bounds). Nothing is retroactive: `minBond` applies to
    ///         later registrations and unjails, `maxBounty` to later reports, and `weight` may
    ///         change only while no device of the class is Active (the accumulator assumes each
    ///         Active device's weight constant).
    function setClass(uint16 classId, StakeParams calldata p) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (classId == 0) revert InvalidParameter("classId");
        if (p.minBond == 0) revert InvalidParameter("minBond");
        if (p.weight == 0 || p.weight > MAX_WEIGHT) revert InvalidParameter("weight");
        if (p.maxBounty > p.minBond) revert InvalidParameter("maxBounty");
        ClassParams storage c = classes[classId];
        if (c.active != 0 && c.weight != p.weight) revert InvalidParameter("weight");
        c.minBond = p.minBond;
        c.weight = p.weight;
        c.maxBounty = p.maxBounty;
        c.exists = true;
        emit ClassSet(classId, p.minBond, p.weight, p.maxBounty);
    }

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

    /// @dev The caller's device `deviceId` (reverts for an unknown device or another owner).
    function _ownedDevice(uint256 deviceId) internal view returns (DeviceRecord storage d) {
        d = _devices[deviceId];
        if (d.owner == address(0)) revert UnknownDevice(deviceId);
        if (d.owner != msg.sender) revert NotDeviceOwner(deviceId, msg.sender);
    }
}
