// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title PoCPSEntry
/// @notice The PoCPS math the verifier recomputes on-chain: the entry C[i][j] of a challenge,
///         the stratified samples of an opening and the checked strata. Normative in
///         docs/protocol.md (entry-recomputation, stratified-samples, checked-strata) and
///         mirrored bit for bit by `pinfi.protocol`.
library PoCPSEntry {
    /// @dev Low 64 bits (row/column seeds). The splitmix64 constants and the golden-ratio
    ///      counter of docs/protocol.md are literals inside `entry`'s assembly.
    uint256 internal constant MASK64 = 0xFFFFFFFFFFFFFFFF;
    /// @dev Domain tag of the checked-strata draw: `keccak256(abi.encode(sseed, CHECK_TAG, j))`.
    bytes32 internal constant CHECK_TAG = "check";

    /// @dev C[i][j] of the challenge with seed `s` and size `n`, recomputed in O(n).
    /// @dev Rebuilds row i of A and column j of B 16 entries (one splitmix64 word) at a time and
    ///      takes each 16-term dot product with one multiplication: both words are spread into
    ///      16 lanes of 16 bits, B's lanes in reverse order, so lane 15 of the 256-bit product is
    ///      sum_t a_t * b_t (every lane sum is <= 16 * 225 < 2^16, so no carry crosses a lane and
    ///      the lanes above 15, which wrap modulo 2^256, never reach it).
    ///      The two splitmix64 words of a block (A's and B's) are computed together, A's in bits
    ///      [0, 64) and B's in bits [128, 192) of one word: each product of a 64-bit lane by a
    ///      64-bit constant stays inside its 128-bit half, and masking both lanes to 64 bits
    ///      before every multiplication and after it keeps each lane exactly the generator's
    ///      arithmetic modulo 2^64 (bits shifted across from the upper lane are masked off).
    function entry(bytes32 s, uint256 n, uint256 i, uint256 j) internal pure returns (uint256 acc) {
        uint256 rowSeed = uint256(keccak256(abi.encodePacked(s, bytes1("A"), i))) & MASK64;
        uint256 colSeed = uint256(keccak256(abi.encodePacked(s, bytes1("B"), j))) & MASK64;
        assembly ("memory-safe") {
            // The 16-term dot product of block `ctr` (the block's counter in both lanes).
            function block16(seeds, ctr) -> d {
                // The lanes' 64-bit masks.
                let m := 0xffffffffffffffff0000000000000000ffffffffffffffff
                // z = splitmix64(seed + ctr) in each lane. A lane's seed + counter would carry
                // into the next lane only after 2^64 blocks (no transaction gets near); the mask
                // reduces it modulo 2^64, as the generator's arithmetic does.
                let z := and(add(seeds, ctr), m)
                z := and(mul(and(xor(z, shr(30, z)), m), 0xBF58476D1CE4E5B9), m)
                z := and(mul(and(xor(z, shr(27, z)), m), 0x94D049BB133111EB), m)
                z := xor(z, shr(31, z))
                // a: the low lane (bits shifted down from the upper lane masked off).
                let a := and(z, 0xFFFFFFFFFFFFFFFF)
                // Spread: nibble t of a -> bits [16t, 16t + 4): halves, quarters, eighths,
                // sixteenths. Each step ORs a shifted copy and masks; the copies' stray bits
                // always fall outside the masks that follow (tests check entry() against numpy).
                a := or(a, shl(96, a))
                a := and(or(a, shl(48, a)), 0xffff000000000000ffff000000000000ffff000000000000ffff)
                a := and(or(a, shl(24, a)), 0xff000000ff000000ff000000ff000000ff000000ff000000ff000000ff)
                a := and(or(a, shl(12, a)), 0xf000f000f000f000f000f000f000f000f000f000f000f000f000f000f000f)
                // b: the upper lane (nothing above it: the last mask cleared bits >= 192).
                let b := shr(128, z)
                // Reversed spread: nibble t of b -> bits [16(15 - t), 16(15 - t) + 4). Each step
                // moves the low part of every chunk up and the high part down (mirror image).
                b := or(shr(32, b), shl(128, b))
                b := and(or(shl(64, b), shr(16, b)), 0xffff000000000000ffff000000000000ffff000000000000ffff)
                b := and(or(shl(32, b), shr(8, b)), 0xff000000ff000000ff000000ff000000ff000000ff000000ff000000ff)
                b := and(or(shl(16, b), shr(4, b)), 0xf000f000f000f000f000f000f000f000f000f000f000f000f000f000f000f)
                // Lane 15 of a * b is sum_t a_t * b_t (no lane sum reaches 2^16: no carries).
                d := shr(240, mul(a, b))
            }
            // Both seeds, row in the low lane and column in the upper lane; the counter of
            // block `blk` is (blk + 1) * golden in both lanes.
            let seeds := or(rowSeed, shl(128, colSeed))
            let golden := 0x9E3779B97F4A7C1500000000000000009E3779B97F4A7C15
            let ctr := golden
            let blocks := shr(4, n)
            // An odd block first (n = 16), then two blocks per iteration.
            if and(blocks, 1) {
                acc := block16(seeds, ctr)
                ctr := add(ctr, golden)
            }
            for { let left := shr(1, blocks) } left { left := sub(left, 1) } {
                let next := add(ctr, golden)
                acc := add(acc, add(block16(seeds, ctr), block16(seeds, next)))
                ctr := add(next, golden)
            }
        }
    }

    /// @dev Sample q of an opening: stratum q (`2^logStratum` leaves), leaf and entry from
    ///      `keccak256(abi.encode(sseed, q))` (docs/protocol.md#stratified-samples).
    function sample(bytes32 sseed, uint256 q, uint256 logStratum, uint256 leaf)
        internal
        pure
        returns (uint256 leafIndex, uint256 entryIndex)
    {
        uint256 h;
        assembly ("memory-safe") {
            // keccak256(abi.encode(sseed, q)) in the scratch space.
            mstore(0x00, sseed)
            mstore(0x20, q)
            h := keccak256(0x00, 0x40)
        }
        leafIndex = (q << logStratum) | (h & ((1 << logStratum) - 1));
        entryIndex = (h >> 128) & (leaf - 1);
    }

    /// @dev `c` distinct strata among `k`, uniformly: partial Fisher-Yates over `0..k-1`, step j
    ///      swapping position j with `j + keccak256(abi.encode(sseed, CHECK_TAG, j)) % (k - j)`.
    function checkedStrata(bytes32 sseed, uint256 k, uint256 c) internal pure returns (uint256[] memory out) {
        out = new uint256[](c);
        // Position x of the shuffled array holds x until a step swaps it: `perm` materialises
        // only the positions touched (none for c = 1, the common case).
        uint256[] memory perm = new uint256[](c > 1 ? k : 0);
        for (uint256 i = 0; i < perm.length; ++i) perm[i] = i;
        for (uint256 j = 0; j < c; ++j) {
            uint256 r;
            assembly ("memory-safe") {
                // keccak256(abi.encode(sseed, CHECK_TAG, j)) in the scratch space + free memory.
                let ptr := mload(0x40)
                mstore(ptr, sseed)
                mstore(add(ptr, 0x20), CHECK_TAG)
                mstore(add(ptr, 0x40), j)
                r := keccak256(ptr, 0x60)
            }
            uint256 x = j + r % (k - j);
            if (c == 1) {
                out[0] = x;
            } else {
                (perm[j], perm[x]) = (perm[x], perm[j]);
                out[j] = perm[j];
            }
        }
    }

    /// @dev Entry `index` (uint32 big-endian) of a leaf in calldata.
    function entryAt(bytes calldata leaf, uint256 index) internal pure returns (uint256 v) {
        assembly {
            v := shr(224, calldataload(add(leaf.offset, mul(index, 4))))
        }
    }

    /// @dev floor(log2(x)) (0 for x <= 1).
    function log2(uint256 x) internal pure returns (uint256 r) {
        while (x > 1) {
            x >>= 1;
            ++r;
        }
    }
}
