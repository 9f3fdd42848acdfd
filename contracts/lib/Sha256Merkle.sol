// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Sha256Merkle
/// @notice SHA-256 Merkle folding of PoCPS (docs/protocol.md#leaves-nodes-and-the-root):
///         `leaf = sha256(0x00 || leafBytes)`, `node = sha256(0x01 || left || right)`, through
///         the SHA-256 precompile (address 2), in memory past the free pointer.
library Sha256Merkle {
    /// @dev sha256(0x00 || leaf) through the precompile at address 2; the leaf is `len` bytes of
    ///      calldata at `offset`, copied past the free memory pointer.
    function leafHash(uint256 offset, uint256 len) internal view returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore8(ptr, 0)
            calldatacopy(add(ptr, 1), offset, len)
            if iszero(staticcall(gas(), 2, ptr, add(len, 1), 0x00, 0x20)) { revert(0, 0) }
            h := mload(0x00)
        }
    }

    /// @dev Fold `depth` sibling words of calldata at `siblings` (leaf level first) onto `node`:
    ///      sha256(0x01 || left || right) in memory past the free pointer. Bit t of `index` says
    ///      whether the node at level t is a right child.
    /// @dev The hot loop of `open` (k * logStratum levels). Each hash is written straight into
    ///      the word where the next level needs it (left or right, by the next bit of `index`),
    ///      the loop takes two levels at a time, and the precompile's success is checked once
    ///      after it: a failed call (out of gas) leaves a stale word behind, but the fold then reverts before its result is used.
    function fold(bytes32 node, uint256 index, uint256 siblings, uint256 depth)
        internal
        view
        returns (bytes32 result)
    {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore8(ptr, 1)
            // Left word at ptr + 1, right word at ptr + 33. `shift` is 32 when the current node
            // is a right child: it goes to the second word and its sibling to the first.
            let left := add(ptr, 1)
            let rightWord := add(ptr, 33)
            let shift := shl(5, and(index, 1))
            mstore(add(left, shift), node)
            let ok := 1
            let end := add(siblings, shl(5, depth))
            // An odd level first, then two levels per iteration (half the loop overhead).
            if and(depth, 1) {
                mstore(sub(rightWord, shift), calldataload(siblings))
                index := shr(1, index)
                shift := shl(5, and(index, 1))
                ok := staticcall(gas(), 2, ptr, 65, add(left, shift), 0x20)
                siblings := add(siblings, 0x20)
            }
            for {} lt(siblings, end) { siblings := add(siblings, 0x40) } {
                mstore(sub(rightWord, shift), calldataload(siblings))
                index := shr(1, index)
                shift := shl(5, and(index, 1))
                ok := and(ok, staticcall(gas(), 2, ptr, 65, add(left, shift), 0x20))
                mstore(sub(rightWord, shift), calldataload(add(siblings, 0x20)))
                index := shr(1, index)
                shift := shl(5, and(index, 1))
                ok := and(ok, staticcall(gas(), 2, ptr, 65, add(left, shift), 0x20))
            }
            if iszero(ok) { revert(0, 0) }
            result := mload(add(left, shift))
        }
    }

    /// @dev Combine a power-of-two level of nodes pairwise, in place, up to its root:
    ///      level[x] = node(level[2x], level[2x + 1]).
    function foldLevel(bytes32[] memory level) internal view returns (bytes32 top) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore8(ptr, 1)
            let base := add(level, 0x20)
            for { let width := mload(level) } gt(width, 1) { width := shr(1, width) } {
                for { let x := 0 } lt(x, shr(1, width)) { x := add(x, 1) } {
                    mstore(add(ptr, 1), mload(add(base, shl(6, x))))
                    mstore(add(ptr, 33), mload(add(base, add(shl(6, x), 0x20))))
                    if iszero(staticcall(gas(), 2, ptr, 65, 0x00, 0x20)) { revert(0, 0) }
                    mstore(add(base, shl(5, x)), mload(0x00))
                }
            }
            top := mload(base)
        }
    }
}
