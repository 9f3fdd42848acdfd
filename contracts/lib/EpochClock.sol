// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEpochClock} from "../interfaces/IEpochClock.sol";

/// @title EpochClock
/// @notice The epoch clock as immutables (docs/protocol.md#clock): one definition of an epoch
///         for `Staking`, the PoCPS verifier and the pool (both copy Staking's at deployment).
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
        return _epochOf(block.number);
    }

    /// @dev Blocks since genesis `b` and the current epoch `b / epochBlocks`, with a named
    ///      `BeforeGenesis` before the clock starts (the pool's entry points, which clients call;
    ///      `currentEpoch` reverts with an arithmetic panic there).
    function _clock() internal view returns (uint256 b, uint256 current) {
        if (block.number < genesisBlock) revert BeforeGenesis(genesisBlock);
        unchecked {
            // block.number >= genesisBlock was checked; epochBlocks > 0 is enforced by Staking
            // (the verifier and the pool copy Staking's).
            b = block.number - genesisBlock;
            current = b / epochBlocks;
        }
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
