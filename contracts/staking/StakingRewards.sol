// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IStaking} from "../interfaces/IStaking.sol";
import {EpochClock} from "../lib/EpochClock.sol";
import {RewardMath} from "../lib/RewardMath.sol";

/// @title StakingRewards
/// @notice The emission schedule (per block, halving, capped) and the reward-per-weight
///         accumulator of Active devices, with its value at the first block of each epoch
///         (docs/protocol.md#maintenance-rewards).
/// @dev One reward-per-weight accumulator (Synthetix StakingRewards / Livepeer LIP-36) gives the
///      emission per weight of each epoch; a passed opening of epoch P earns the device's weight
///      times that, divided by the probability it was opened (docs/protocol.md#vesting). Every
///      function is O(1) in the number of devices and epochs.
abstract contract StakingRewards is IStaking, EpochClock {
    /// @dev Largest `maxEmission` (exclusive): keeps the accumulator below 2^156 and every
    ///      credit's product far from overflow.
    uint256 internal constant MAX_EMISSION_LIMIT = 2 ** 96;
    /// @dev Largest `rewardPerBlock` (exclusive).
    uint256 internal constant REWARD_PER_BLOCK_LIMIT = 2 ** 128;

    /// @notice Emission per block before the first halving (base units).
    uint256 public immutable rewardPerBlock;
    /// @notice Blocks between halvings of `rewardPerBlock`.
    uint256 public immutable halvingBlocks;
    /// @notice Most tokens emissions may ever create (<= token cap - supply at deployment).
    uint256 public immutable maxEmission;

    /// @notice Reward-per-weight accumulator, scaled by `RewardMath.WAD`.
    uint256 public rewardPerWeight;
    /// @notice Emission accounted into the accumulator (or forfeited while no device was Active).
    uint256 public emissionAccounted;
    /// @notice Block up to which emission is accounted.
    uint256 public lastRewardBlock;
    /// @notice Sum of the class weights of Active devices.
    uint256 public totalWeight;
    /// @notice Tokens minted as rewards so far (<= emissionAccounted <= maxEmission).
    uint256 public totalMinted;
    /// @dev Accumulator value at the first block of each epoch, plus one (0: not stored). Stored
    ///      by the first accumulator update of the epoch (the verifier makes one when it stores
    ///      the epoch's seed): the credit of a passed opening reads it.
    mapping(uint256 epoch => uint256) internal _rpwAtEpochPlusOne;
    /// @dev Emission per weight of each epoch with an accumulator update (the accumulator's
    ///      rise from its first block to the next epoch's), plus one (0: not stored yet). Stored
    ///      by the first update of a later epoch: the credit of a passed opening reads this one
    ///      slot instead of the two snapshots it is the difference of.
    mapping(uint256 epoch => uint256) internal _epochRisePlusOne;

    /// @dev Bounds are checked by the deriving constructor (docs/protocol.md#network-parameters),
    ///      which then calls `_startRewards`.
    constructor(uint256 rewardPerBlock_, uint256 halvingBlocks_, uint256 maxEmission_) {
        rewardPerBlock = rewardPerBlock_;
        halvingBlocks = halvingBlocks_;
        maxEmission = maxEmission_;
    }

    /// @dev Start the accumulator at genesis (or now, if genesis is past).
    function _startRewards() internal {
        uint256 first = genesisBlock > block.number ? genesisBlock : block.number;
        lastRewardBlock = first;
        _rpwAtEpochPlusOne[_epochOf(first)] = 1;
    }

    /// @notice Accumulator value at the first block of `epoch`: stored, or exact from the
    ///         formula when no update happened since (what a credit reads); 0 for a future epoch.
    function rewardPerWeightAtEpoch(uint256 epoch) external view returns (uint256) {
        if (_epochStart(epoch) > block.number) return 0;
        return _rewardPerWeightAtEpoch(epoch);
    }

    /// @notice Total emission scheduled from genesis up to `blockNumber`, capped at `maxEmission`.
    /// @dev Loops once per halving period elapsed, at most `RewardMath.MAX_HALVINGS` (64) times.
    function emittedUntil(uint256 blockNumber) external view returns (uint256) {
        return _emittedUntil(blockNumber);
    }

    function _emittedUntil(uint256 blockNumber) internal view returns (uint256) {
        if (blockNumber <= genesisBlock) return 0;
        return RewardMath.emitted(blockNumber - genesisBlock, rewardPerBlock, halvingBlocks, maxEmission);
    }

    /// @dev The accumulator at this block: `rewardPerWeight + (emitted - accounted) * WAD / totalWeight`
    ///      (the one place the formula is written). Emission while no device is Active is
    ///      forfeited (accounted, never minted), which keeps every claim O(1).
    function _rewardPerWeightAt(uint256 blockNumber) internal view returns (uint256 rpw, uint256 emitted) {
        rpw = rewardPerWeight;
        emitted = _emittedUntil(blockNumber);
        uint256 tw = totalWeight;
        if (tw > 0) rpw += (emitted - emissionAccounted) * RewardMath.WAD / tw;
    }

    /// @dev Bring the accumulator up to this block. The first update after an epoch boundary
    ///      also stores the accumulator's value at that boundary (and at the current epoch's
    ///      start): exact, as the weight was constant since the last update. Vesting reads them.
    function _updateRewards() internal {
        uint256 last = lastRewardBlock;
        if (block.number <= last) return;
        uint256 epoch = currentEpoch();
        uint256 lastEpoch = _epochOf(last);
        if (epoch > lastEpoch) {
            uint256 end = _storeEpochStart(lastEpoch + 1);
            // The last epoch with an update is over: its rise is final (its start is stored,
            // by its first update). Every epoch with a proof had an update.
            _epochRisePlusOne[lastEpoch] = end - (_rpwAtEpochPlusOne[lastEpoch] - 1) + 1;
            if (epoch > lastEpoch + 1) _storeEpochStart(epoch);
        }
        (uint256 rpw, uint256 emitted) = _rewardPerWeightAt(block.number);
        rewardPerWeight = rpw;
        emissionAccounted = emitted;
        lastRewardBlock = block.number;
    }

    /// @dev Store (and return) the accumulator's value at the first block of `epoch`.
    function _storeEpochStart(uint256 epoch) internal returns (uint256 atStart) {
        (atStart,) = _rewardPerWeightAt(_epochStart(epoch));
        _rpwAtEpochPlusOne[epoch] = atStart + 1;
    }

    /// @dev The accumulator at the first block of `epoch` (its end is the next epoch's start):
    ///      stored, or else computed (no update since then: the formula is exact).
    function _rewardPerWeightAtEpoch(uint256 epoch) internal view returns (uint256 rpw) {
        uint256 v = _rpwAtEpochPlusOne[epoch];
        if (v != 0) return v - 1;
        uint256 start = _epochStart(epoch);
        if (start >= lastRewardBlock) (rpw,) = _rewardPerWeightAt(start);
        else rpw = rewardPerWeight; // not reached: every epoch with a proof has an update
    }

    /// @dev The credit of a passed opening of `epoch` by a device of `weight`, opened with
    ///      probability `oddsBps / BPS` (0 until the epoch's end is reached).
    ///      The epoch's rise is one stored slot once a later epoch had an update (always so when
    ///      the next proof's hook asks); before that, the difference of its two snapshots.
    function _creditOf(uint256 weight, uint256 epoch, uint256 oddsBps) internal view returns (uint256) {
        uint256 rise = _epochRisePlusOne[epoch];
        if (rise != 0) return RewardMath.credit(weight, 0, rise - 1, oddsBps);
        return RewardMath.credit(weight, _rewardPerWeightAtEpoch(epoch), _rewardPerWeightAtEpoch(epoch + 1), oddsBps);
    }
}
