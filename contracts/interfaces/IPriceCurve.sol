// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IPriceCurve
/// @notice The dissipative pool's price curve (docs/protocol.md#price), a stateless contract.
interface IPriceCurve {
    /// @notice Price per device-epoch of one more device at demand `demand` of supply `supply`
    ///         (`demand < supply`, `alpha` in (0, 4e18] as UD60x18); see `LeasePricing.price`.
    function price(uint256 pFloor, uint256 p0, uint256 alpha, uint256 demand, uint256 supply)
        external
        pure
        returns (uint256);
}
