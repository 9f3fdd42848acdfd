// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEpochClock} from "./IEpochClock.sol";

/// @title IStaking
/// @notice What the PoCPS verifier, the dissipative pool and off-chain tools read from `Staking`
///         (the epoch clock, `genesisBlock`, `epochBlocks` and `currentEpoch`, is `IEpochClock`'s).
interface IStaking is IEpochClock {
    /// @notice Lifecycle of a device. See docs/protocol.md, "Device state machine".
    enum DeviceState {
        None,
        Pending,
        Active,
        Jailed,
        Maintenance,
        Exiting,
        Withdrawn
    }

    /// @notice How a device stands towards the PoCPS challenge of one epoch.
    /// @dev `Exempt`: not challenged (not registered yet, jailed, in declared maintenance, exited).
    ///      `Always`: challenged every epoch (Pending, or back from maintenance: must prove to activate).
    ///      `Sampled`: challenged when its provider's class is selected (Active).
    enum ChallengeMode {
        Exempt,
        Always,
        Sampled
    }

    /// @notice Everything the verifier needs about `deviceId` for epoch `epoch`, in one call.
    function challengeInfo(uint256 deviceId, uint256 epoch)
        external
        view
        returns (address owner, address operator, uint16 classId, ChallengeMode mode);

    /// @notice Owner, class and state of a device (what the pool needs to lease it).
    function deviceSummary(uint256 deviceId)
        external
        view
        returns (address owner, uint16 classId, DeviceState state);

    /// @notice Number of Active devices of `classId`: the pool's supply `R`.
    function activeCount(uint16 classId) external view returns (uint256);

    /// @notice Verifier only: `deviceId` passed its opening of `epoch` (the current epoch). A Pending
    ///         device, or one back from maintenance, becomes Active. With `oddsBps > 0` the opening
    ///         earns (docs/protocol.md#vesting): `weight * (rpwAtEpoch[epoch+1] - rpwAtEpoch[epoch])
    ///         * BPS / oddsBps / WAD`, final once `epoch` is over; `oddsBps` is the probability in
    ///         basis points that the commitment had to be opened (BPS when owed regardless of the
    ///         draw, `challengeBps` when drawn, 0 for a voluntary opening: no credit).
    function proofPassed(uint256 deviceId, uint256 epoch, uint256 oddsBps) external;

    /// @notice Verifier only: the opening of `epoch` was convicted of fraud; its credit (not yet
    ///         final) is cancelled.
    function revokeProof(uint256 deviceId, uint256 epoch) external;

    /// @notice Rewards `deviceId` can claim now: its final credits, as far as the emission
    ///         schedule allows (`emittedUntil(now) - totalMinted`).
    function earned(uint256 deviceId) external view returns (uint256);

    /// @notice Every final credit of `deviceId` not yet paid (>= `earned`: the schedule may be short).
    function owedRewards(uint256 deviceId) external view returns (uint256);

    /// @notice The credit of the device's passed opening whose epoch is not over yet (revoked by a
    ///         fraud conviction), from the emission so far; 0 when none.
    function pendingReward(uint256 deviceId) external view returns (uint256);

    /// @notice Verifier only (when it stores the current epoch's seed): bring the reward
    ///         accumulator up to date, storing its value at the epoch's first block.
    function checkpointEpoch() external;

    /// @notice Verifier only: slash `bps` of the device's bond and jail it (its final credits and
    ///         owed rewards stay its own).
    /// @param reporter Receives the bounty share; `address(0)` burns it all.
    /// @return slashed Tokens taken from the bond (bounty + burned).
    function slash(uint256 deviceId, uint256 bps, address reporter) external returns (uint256 slashed);

    // ---------------------------------------------------------------- errors

    /// @notice The class has no staking parameters.
    error UnknownClass(uint16 classId);
    /// @notice A constructor or governance bound failed (docs/protocol.md#governance-bounds).
    error InvalidParameter(string name);
    /// @notice The fingerprint is held by a registered (not deregistered) device.
    error FingerprintInUse(bytes32 fingerprint, uint256 deviceId);
    /// @notice No such device.
    error UnknownDevice(uint256 deviceId);
    /// @notice Only the device's owner may do this.
    error NotDeviceOwner(uint256 deviceId, address caller);
    /// @notice Only the PoCPS verifier may call this hook.
    error NotVerifier(address caller);
    /// @notice `setVerifier` may be called once.
    error VerifierAlreadySet();
    /// @notice `setPool` may be called once.
    error PoolAlreadySet();
    /// @notice The device's state does not allow this.
    error WrongState(uint256 deviceId, DeviceState state);
    /// @notice The bond can be withdrawn from block `unbondAt`.
    error StillUnbonding(uint256 deviceId, uint64 unbondAt);
    /// @notice A zero address was given.
    error ZeroAddress();
    /// @notice A maintenance covers 1 to `maxEpochs` epochs.
    error MaintenanceTooLong(uint256 epochs, uint256 maxEpochs);
    /// @notice Nothing to claim: no final rewards, or the emission schedule has none left to pay yet.
    error NothingToClaim(uint256 deviceId);
    /// @notice Unjailing is possible from `fromEpoch` (not in the jailing epoch).
    error UnjailTooEarly(uint256 deviceId, uint256 fromEpoch);

    // ---------------------------------------------------------------- events

    /// @notice A class's staking parameters were set.
    event ClassSet(uint16 indexed classId, uint128 minBond, uint32 weight, uint128 maxBounty);
    /// @notice The PoCPS verifier was wired.
    event VerifierSet(address verifier);
    /// @notice The dissipative pool was wired.
    event PoolSet(address pool);
    /// @notice A device was registered (Pending) with its bond.
    event DeviceRegistered(
        uint256 indexed deviceId, address indexed owner, uint16 indexed classId, bytes32 fingerprint,
        address operator, uint128 bond
    );
    /// @notice The device's operator key changed.
    event OperatorChanged(uint256 indexed deviceId, address operator);
    /// @notice A device passed a proof and became Active.
    event DeviceActivated(uint256 indexed deviceId, uint16 indexed classId);
    /// @notice Part of a bond was slashed: `bounty` to the reporter, `burned` burned.
    event DeviceSlashed(
        uint256 indexed deviceId, address indexed reporter, uint256 slashed, uint256 bounty, uint256 burned
    );
    /// @notice A device was jailed (it left Active if it was).
    event DeviceJailed(uint256 indexed deviceId, uint256 epoch);
    /// @notice A jailed device is Pending again, its bond topped up.
    event DeviceUnjailed(uint256 indexed deviceId, uint128 topUp);
    /// @notice A maintenance over `[fromEpoch, untilEpoch)` was declared.
    event MaintenanceDeclared(uint256 indexed deviceId, uint32 fromEpoch, uint32 untilEpoch);
    /// @notice A device deregistered; its bond is withdrawable from `unbondAt`.
    event DeviceExiting(uint256 indexed deviceId, uint64 unbondAt);
    /// @notice The remaining bond was withdrawn.
    event BondWithdrawn(uint256 indexed deviceId, address indexed owner, uint256 amount);
    /// @notice Rewards were minted to the owner (the rest of what is owed, if any, stays owed).
    event RewardsClaimed(uint256 indexed deviceId, address indexed owner, uint256 amount);
    /// @notice The credit of the device's passed opening of `epoch` became final (the epoch is
    ///         over) and was added to its owed rewards.
    event RewardsCredited(uint256 indexed deviceId, uint256 indexed epoch, uint256 amount);
    /// @notice The credit of the device's opening of `epoch` was cancelled: the opening was
    ///         convicted of fraud.
    event ProofRevoked(uint256 indexed deviceId, uint256 indexed epoch);
}
