// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEpochClock} from "../interfaces/IEpochClock.sol";

/// @title EpochClock
/// @notice The epoch clock as immutables (docs/protocol.md#clock): one definition of an epoch
///         for `Staking` and the PoCPS verifier, which copies Staking's at deployment.
abstract contract EpochClock is IEpochClock {
    /// @inheritdoc IEpochClock
    uint256 public immutable genesisBlock;
    /// @inheritdoc IEpochClock
    uint256 public immutable epochBlocks;

    /// @dev `epochBlocks_` is checked by the caller (Staking bounds it; the verifier copies it).
    constructor(uint256 genesisBlock_, uint256 epochBlocks_) {
        genesisBlock = genesisBlock_;
        epochBlocks = epochBlocks_;
    }

    /// @inheritdoc IEpochClock
    function currentEpoch() public view returns (uint256) {
        return (block.number - genesisBlock) / epochBlocks;
    }

    /// @dev First block of `epoch`.
    function _epochStart(uint256 epoch) internal view returns (uint256) {
        return genesisBlock + epoch * epochBlocks;
    }

    /// @dev The epoch of `blockNumber` (>= genesisBlock).
    function _epochOf(uint256 blockNumber) internal view returns (uint256) {
        return (blockNumber - genesisBlock) / epochBlocks;
    }
}
