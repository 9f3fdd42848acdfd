// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PoolStorage} from "./PoolStorage.sol";

/// @title PoolDemandBook
/// @notice Demand D of each class, ended lazily through per-epoch expiry counts
///         (docs/protocol.md#lazy-expiries).
/// @dev Every function is O(1) in devices, leases and epochs. Each lease adds 1 to the expiry
///      count of its end epoch (16 uint16 counts per storage word, `expiryWord[classId][epoch / 16]`)
///      and D is decremented by the counts of the epochs passed since the class was last synced
///      (Curve's slope-change pattern). The sync reads at most `floor((M - 2) / 16) + 2 <= M / 16 + 2`
///      words, M the class's largest `maxLeaseEpochs` (5 words for M = 64, 549 for the hard cap
///      8760), and none at all once the class's horizon (the latest end epoch of any lease) has
///      passed.
abstract contract PoolDemandBook is PoolStorage {
    /// @dev Expiry counts per storage word (uint16 lanes).
    uint256 internal constant LANES = 16;
    /// @dev Largest expiry count of one epoch (a uint16 lane).
    uint256 internal constant LANE_MAX = 0xFFFF;
    /// @dev 0x0000FFFF in each of the eight 32-bit lanes.
    uint256 internal constant LANE_PAIRS = 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff;
    /// @dev 1 in each of the eight 32-bit lanes.
    uint256 internal constant LANE_ONES = 0x0000000100000001000000010000000100000001000000010000000100000001;

    // ---------------------------------------------------------------- views

    /// @notice Demand D (after lazy expiries), supply R and the epoch of the last stored sync.
    function classState(uint16 classId) external view returns (uint256 demand, uint256 supply, uint256 syncedEpoch) {
        Class memory k = _classes[classId];
        demand = _demandAt(classId, k, _currentEpoch());
        supply = staking.activeCount(classId);
        syncedEpoch = k.syncedEpoch;
    }

    /// @notice Latest end epoch of any lease of the class: from it on, D = 0 without a sync loop.
    function classHorizon(uint16 classId) external view returns (uint256) {
        return _classes[classId].horizon;
    }

    /// @notice Utilization `D / R` as UD60x18 (R taken as 1 when it is 0).
    function utilization(uint16 classId) external view returns (uint256) {
        Class memory k = _classes[classId];
        uint256 demand = _demandAt(classId, k, _currentEpoch());
        uint256 supply = staking.activeCount(classId);
        return demand * UNIT / (supply == 0 ? 1 : supply);
    }

    /// @notice Number of the class's leases whose end is `epoch`.
    function expiryCount(uint16 classId, uint256 epoch) external view returns (uint256) {
        return (expiryWord[classId][epoch / LANES] >> ((epoch % LANES) * 16)) & LANE_MAX;
    }

    // ---------------------------------------------------------------- internals

    /// @dev Demand of the class at epoch `current`: the stored demand minus the expiry counts of
    ///      epochs `(syncedEpoch, current]`. Bounded: when `current >= horizon` every lease has
    ///      ended (D = 0, no read); otherwise `current - syncedEpoch < horizon - syncedEpoch <= M`
    ///      (every end is at most M = the class's largest `maxLeaseEpochs` after the sync that
    ///      preceded its lease or extension), so the loop reads at most `floor((M - 2) / 16) + 2`
    ///      words (5 for M = 64; 549 at the hard cap 8760).
    function _demandAt(uint16 classId, Class memory k, uint256 current) internal view returns (uint256) {
        uint256 demand = k.demand;
        uint256 synced = k.syncedEpoch;
        if (current <= synced || demand == 0) return demand;
        if (current >= k.horizon) return 0;
        mapping(uint256 => uint256) storage words = expiryWord[classId];
        uint256 expired;
        unchecked {
            // Epoch arithmetic stays far below 2^256; lane sums are < 2^20 per word (16 lanes of
            // < 2^16) and at most 549 words are summed.
            uint256 from = synced + 1;
            uint256 last = current >> 4;
            uint256 lo = from & 15;
            for (uint256 w = from >> 4; w <= last; ++w) {
                uint256 x = words[w];
                if (x != 0) {
                    uint256 hi = w == last ? current & 15 : 15;
                    // Keep lanes lo..hi: bits [16*lo, 16*hi + 16). A shift by 256 yields 0 and
                    // 0 - 1 wraps to all ones, which is the intended mask for hi = 15.
                    x &= ((uint256(1) << ((hi + 1) << 4)) - 1) & ~((uint256(1) << (lo << 4)) - 1);
                    // Sum the 16 lanes: pair them into eight 32-bit lanes (each < 2^17), then
                    // multiply by 1 in every 32-bit lane: the top lane of the product is the sum
                    // of all eight (< 2^20, and every lower partial sum is < 2^32, so no carry
                    // crosses a lane; the parts beyond 256 bits are discarded).
                    x = (x & LANE_PAIRS) + ((x >> 16) & LANE_PAIRS);
                    expired += (x * LANE_ONES) >> 224;
                }
                lo = 0;
            }
        }
        // Checked: the counts of the range are leases counted in `demand` (an invariant).
        return demand - expired;
    }

    /// @dev Store the class's demand as synced at `current`; raise the horizon to `end` if later.
    function _storeDemand(uint16 classId, Class memory k, uint256 demand, uint256 current, uint256 end) internal {
        Class storage s = _classes[classId];
        // demand <= supply <= type(uint32).max; epochs fit in uint32 (see `PoolStorage`).
        s.demand = uint32(demand);
        s.syncedEpoch = uint32(current);
        if (end > k.horizon) s.horizon = uint32(end);
    }

    /// @dev A live lease of the class ending at `end` stops now: D falls by one (synced at
    ///      `current`) and its expiry count leaves epoch `end`.
    function _dropLease(uint16 classId, uint256 end, uint256 current) internal {
        Class memory k = _classes[classId];
        _storeDemand(classId, k, _demandAt(classId, k, current) - 1, current, 0);
        _subExpiryOf(classId, end);
    }

    /// @dev One more lease of the class ends at `epoch`.
    function _addExpiry(uint16 classId, uint256 epoch) internal {
        mapping(uint256 => uint256) storage words = expiryWord[classId];
        uint256 shift = (epoch & 15) << 4;
        uint256 x = words[epoch >> 4];
        if ((x >> shift) & LANE_MAX == LANE_MAX) revert ExpiryCountOverflow(classId, epoch);
        unchecked {
            // The lane is below 0xFFFF (checked), so adding 1 does not carry into the next lane.
            words[epoch >> 4] = x + (uint256(1) << shift);
        }
    }

    /// @dev One lease of the class ending at `epoch` is removed (terminated, resolved, extended).
    function _subExpiryOf(uint16 classId, uint256 epoch) internal {
        mapping(uint256 => uint256) storage words = expiryWord[classId];
        unchecked {
            // The removed lease is live, so it is counted in this lane (>= 1): no borrow.
            words[epoch >> 4] -= uint256(1) << ((epoch & 15) << 4);
        }
    }
}
