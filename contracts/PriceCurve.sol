// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPriceCurve} from "./interfaces/IPriceCurve.sol";
import {LeasePricing} from "./lib/LeasePricing.sol";

/// @title PriceCurve
/// @notice Stateless, ownerless deployment of `LeasePricing.price` (docs/protocol.md#price).
/// @dev Split out of `DissipativePool` to keep the pool under the EIP-170 code size limit:
///      PRBMath's `pow` is most of the pricing bytecode. The pool holds its address as an
///      immutable; the curve cannot change after deployment.
contract PriceCurve is IPriceCurve {
    /// @inheritdoc IPriceCurve
    function price(uint256 pFloor, uint256 p0, uint256 alpha, uint256 demand, uint256 supply)
        external
        pure
        returns (uint256)
    {
        return LeasePricing.price(pFloor, p0, alpha, demand, supply);
    }
}
