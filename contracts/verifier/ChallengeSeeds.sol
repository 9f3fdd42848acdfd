// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPoCPSVerifier} from "../interfaces/IPoCPSVerifier.sol";
import {EpochClock} from "../lib/EpochClock.sol";

/// @title ChallengeSeeds
/// @notice The randomness of PoCPS: each epoch's seed (the hash of its first block,
///         docs/protocol.md#epoch-seed) and the hash of each commit deadline block, which draws
///         the commitments that must be opened (docs/protocol.md#selection). Both are stored
///         lazily, while the EVM still serves the block hash (256 blocks).
abstract contract ChallengeSeeds is IPoCPSVerifier, EpochClock {
    /// @notice Randomness of each epoch: the hash of its first block, stored by `checkpoint`.
    mapping(uint256 epoch => bytes32) public epochSeed;
    /// @notice Hash of a commit deadline block (`epochStart + commitWindow`), stored lazily: the
    ///         randomness that decides, after every commit of the epoch is in, which commitments
    ///         must be opened.
    mapping(uint256 blockNumber => bytes32) public openSeed;

    /// @notice Store the current epoch's seed (the hash of its first block). Anyone may call; the
    ///         agent does at the start of every epoch. An epoch whose seed nobody stores within
    ///         256 blocks has no challenges.
    function checkpoint() external returns (bytes32 seed) {
        return _seed(currentEpoch(), true);
    }

    /// @dev Called once when the current epoch's seed is stored.
    function _onCurrentSeedStored() internal virtual;

    /// @dev The stored seed of `epoch`, storing it first when its block hash is still available.
    ///      With `strict`, an unavailable seed reverts; otherwise it returns zero.
    function _seed(uint256 epoch, bool strict) internal returns (bytes32 seed) {
        seed = epochSeed[epoch];
        if (seed != bytes32(0)) return seed;
        uint256 start = _epochStart(epoch);
        if (block.number <= start) {
            if (strict) revert EpochNotStarted(epoch);
            return bytes32(0);
        }
        seed = blockhash(start);
        if (seed == bytes32(0)) {
            if (strict) revert SeedUnavailable(epoch);
            return seed;
        }
        epochSeed[epoch] = seed;
        emit EpochCheckpointed(epoch, seed);
        if (epoch == currentEpoch()) _onCurrentSeedStored();
    }

    /// @dev The stored hash of `deadline`, storing it (with `store`) while it is available;
    ///      zero when the block is not mined yet or too old.
    function _openSeed(uint256 deadline, bool store) internal returns (bytes32 h) {
        h = openSeed[deadline];
        if (h != bytes32(0) || block.number <= deadline) return h;
        h = blockhash(deadline);
        if (h != bytes32(0) && store) openSeed[deadline] = h;
    }
}
