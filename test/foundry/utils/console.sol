// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title console
/// @notice `console.log(string, uint256)` through forge's console address (forge-std's
///         `console.sol`, reduced to the one overload the suite prints coverage with).
library console {
    address internal constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    function log(string memory label, uint256 value) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string,uint256)", label, value));
        ok;
    }
}
