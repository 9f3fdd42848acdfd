// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Vm
/// @notice The few Foundry cheatcodes this suite uses (forge-std is not vendored: nothing can be
///         fetched from GitHub on these machines, and the suite needs only these).
/// @dev Signatures as in forge-std's `Vm.sol`; the address is forge's cheatcode address.
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function roll(uint256 newHeight) external;
    function warp(uint256 newTimestamp) external;
    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory logs);
    function label(address account, string calldata newLabel) external;
    function pauseGasMetering() external;
    function resumeGasMetering() external;
}

Vm constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
