// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title RewardMath
/// @notice The pure formulas of `Staking`'s emission (docs/protocol.md#maintenance-rewards): the
///         halving schedule and the credit of one passed opening (docs/protocol.md#vesting).
library RewardMath {
    /// @dev Basis-point denominator (the odds of an opening).
    uint256 internal constant BPS = 10_000;
    /// @dev Fixed-point unit of the reward-per-weight accumulator.
    uint256 internal constant WAD = 1e18;
    /// @dev Halvings after which the emission is treated as zero: bounds `emitted`'s loop.
    uint256 internal constant MAX_HALVINGS = 64;

    /// @dev Emission of the first `elapsed` blocks at `rate` per block, halving every `period`
    ///      blocks, capped at `cap`. Loops once per halving period elapsed, at most MAX_HALVINGS.
    function emitted(uint256 elapsed, uint256 rate, uint256 period, uint256 cap) internal pure returns (uint256 total) {
        for (uint256 i = 0; i < MAX_HALVINGS && rate > 0; ++i) {
            if (elapsed <= period) {
                total += elapsed * rate;
                break;
            }
            total += period * rate;
            elapsed -= period;
            rate >>= 1;
        }
        if (total > cap) total = cap;
    }

    /// @dev A passed opening of an epoch opened with probability `oddsBps / BPS` earns the
    ///      epoch's emission per weight (`end - start` of the accumulator) times its weight,
    ///      divided by that probability: in expectation exactly the device's weight share of the
    ///      emission. The one place the credit formula is written.
    function credit(uint256 weight, uint256 start, uint256 end, uint256 oddsBps) internal pure returns (uint256) {
        if (end <= start) return 0;
        return weight * (end - start) * BPS / oddsBps / WAD;
    }
}
