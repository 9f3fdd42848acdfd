// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IStaking
/// @notice What the PoCPS verifier, the dissipative pool and off-chain tools read from `Staking`.
interface IStaking {
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

    /// @notice Block at which epoch 0 starts.
    function genesisBlock() external view returns (uint256);

    /// @notice Blocks per epoch.
    function epochBlocks() external view returns (uint256);

    /// @notice Current epoch, `(block.number - genesisBlock) / epochBlocks`.
    function currentEpoch() external view returns (uint256);

    /// @notice Verifier only: a Pending device (or one back from maintenance) passed a challenge.
    function activate(uint256 deviceId) external;

    /// @notice Verifier only: forfeit the device's unvested rewards (a grace miss).
    function forfeit(uint256 deviceId) external;

    /// @notice Verifier only (when it stores the current epoch's seed): bring the reward
    ///         accumulator up to date, storing its value at the epoch's first block.
    function checkpointEpoch() external;

    /// @notice Verifier only: slash `bps` of the device's bond and jail it; its unvested rewards
    ///         are forfeited.
    /// @param reporter Receives the bounty share; `address(0)` burns it all.
    /// @return slashed Tokens taken from the bond (bounty + burned).
    function slash(uint256 deviceId, uint256 bps, address reporter) external returns (uint256 slashed);
}
