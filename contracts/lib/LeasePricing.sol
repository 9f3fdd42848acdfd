// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ud, pow, powu} from "@prb/math/src/UD60x18.sol";

/// @title LeasePricing
/// @notice The dissipative pool's pricing and pro-rata math (docs/protocol.md#price,
///         docs/protocol.md#pro-rata), mirrored bit for bit by `pinfi.protocol.pricing`.
/// @dev Pure functions only. `price` is reached through the stateless `PriceCurve` contract (it
///      holds PRBMath's `pow`, too large to live in the pool); the pro-rata helpers are inlined.
library LeasePricing {
    /// @dev 1.0 in UD60x18.
    uint256 internal constant UNIT = 1e18;

    /// @notice Price per device-epoch of one more device at demand `demand` of supply `supply`
    ///         (`demand < supply`): `pFloor + mulDiv(P0 * R, p(x1) - p(x0), a1)` with
    ///         `x0 = D*1e18/R`, `x1 = (D+1)*1e18/R`, `a1 = alpha + 1e18` and
    ///         `p(x) = a1 % 1e18 == 0 ? powu(x, a1/1e18) : pow(x, a1)` (PRBMath v4 UD60x18).
    function price(uint256 pFloor, uint256 p0, uint256 alpha, uint256 demand, uint256 supply)
        internal
        pure
        returns (uint256)
    {
        uint256 x0 = demand * UNIT / supply;
        uint256 x1 = (demand + 1) * UNIT / supply;
        uint256 a1 = alpha + UNIT;
        uint256 hi;
        uint256 lo;
        if (a1 % UNIT == 0) {
            uint256 n = a1 / UNIT;
            hi = powu(ud(x1), n).unwrap();
            lo = powu(ud(x0), n).unwrap();
        } else {
            hi = pow(ud(x1), ud(a1)).unwrap();
            lo = pow(ud(x0), ud(a1)).unwrap();
        }
        return pFloor + Math.mulDiv(p0 * supply, hi - lo, a1);
    }

    /// @notice Cost of a lease of `epochs` epochs bought `elapsed` blocks into the current epoch
    ///         of `epochBlocks` blocks: the current epoch's remaining blocks plus the later whole
    ///         epochs, `floor(perEpoch * (epochs * epochBlocks - elapsed) / epochBlocks)`.
    /// @dev `elapsed < epochBlocks` and `epochs >= 1`, so the leased span is at least one block.
    function prorated(uint256 perEpoch, uint256 epochs, uint256 elapsed, uint256 epochBlocks)
        internal
        pure
        returns (uint256)
    {
        return Math.mulDiv(perEpoch, epochs * epochBlocks - elapsed, epochBlocks);
    }

    /// @notice Share of a lease's escrow `locked`, spread evenly over its blocks
    ///         `[startBlock, endBlock)`, that falls on the blocks `[fromBlock, endBlock)`:
    ///         `floor(locked * (endBlock - fromBlock) / (endBlock - startBlock))`.
    /// @dev Requires `startBlock <= fromBlock <= endBlock` and `startBlock < endBlock`; the
    ///      result is then at most `locked`.
    function unusedShare(uint256 locked, uint256 startBlock, uint256 endBlock, uint256 fromBlock)
        internal
        pure
        returns (uint256)
    {
        return locked * (endBlock - fromBlock) / (endBlock - startBlock);
    }
}
