// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IEpochClock
/// @notice The one epoch clock `Staking`, the PoCPS verifier and the pool share: epoch `e` covers blocks
///         `[genesisBlock + e * epochBlocks, genesisBlock + (e + 1) * epochBlocks)`
///         (docs/protocol.md#clock).
interface IEpochClock {
    /// @notice The clock has not started (`block.number < genesisBlock`).
    error BeforeGenesis(uint256 genesisBlock);

    /// @notice Block at which epoch 0 starts.
    function genesisBlock() external view returns (uint256);

    /// @notice Blocks per epoch.
    function epochBlocks() external view returns (uint256);

    /// @notice Current epoch, `(block.number - genesisBlock) / epochBlocks`.
    function currentEpoch() external view returns (uint256);
}
