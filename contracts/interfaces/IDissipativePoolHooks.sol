// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IDissipativePoolHooks
/// @notice What `Staking` calls on the dissipative pool.
interface IDissipativePoolHooks {
    /// @notice Staking only: `deviceId` has just left the Active set (jailed by a slash, declared
    ///         maintenance, deregistered). The pool ends the device's live lease now so that its
    ///         demand D falls with the supply R, and refunds the client's unused blocks.
    function deviceInactive(uint256 deviceId) external;
}
