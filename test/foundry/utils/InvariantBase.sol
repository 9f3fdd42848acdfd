// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {VM} from "./Vm.sol";

/// @title InvariantBase
/// @notice What forge reads from an invariant test contract (the forge-std `StdInvariant` getters
///         it calls by name) plus assertion helpers that revert with both values.
/// @dev Forge fuzzes only the `targetContracts()` (the handlers) and, where set, only the
///      `targetSelectors()` of each: the deployed protocol is reached through the handlers alone.
abstract contract InvariantBase {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    address[] private _targetContracts;
    FuzzSelector[] private _targetSelectors;

    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetSelectors;
    }

    /// @dev Fuzz `handler`'s `selectors` (and nothing else of it).
    function _target(address handler, bytes4[] memory selectors) internal {
        _targetContracts.push(handler);
        _targetSelectors.push(FuzzSelector({addr: handler, selectors: selectors}));
    }

    function _eq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, ": ", Strings.toString(a), " != ", Strings.toString(b)));
    }

    function _le(uint256 a, uint256 b, string memory what) internal pure {
        if (a > b) revert(string.concat(what, ": ", Strings.toString(a), " > ", Strings.toString(b)));
    }

    function _roll(uint256 blockNumber) internal {
        VM.roll(blockNumber);
    }
}
