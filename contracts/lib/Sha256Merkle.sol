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
    function fold(bytes32 node, uint256 index, uint256 siblings, uint256 depth)
        internal
        view
        returns (bytes32 result)
    {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore8(ptr, 1)
            for { let t := 0 } lt(t, depth) { t := add(t, 1) } {
                // Branch-free: a right child (bit 1) goes to the second word, its sibling first.
                let right := shl(5, and(shr(t, index), 1))
                mstore(add(ptr, add(1, right)), node)
                mstore(add(ptr, sub(33, right)), calldataload(add(siblings, shl(5, t))))
                if iszero(staticcall(gas(), 2, ptr, 65, 0x00, 0x20)) { revert(0, 0) }
                node := mload(0x00)
            }
            result := node
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
