// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPoCPSVerifier} from "../interfaces/IPoCPSVerifier.sol";
import {PoCPSEntry} from "./PoCPSEntry.sol";
import {Sha256Merkle} from "./Sha256Merkle.sol";

/// @title PoCPSOpening
/// @notice The checks of an opening and of a dispute, from calldata: the stratified multiproof
///         folded to the root (docs/protocol.md#open-calldata), one leaf's full path
///         (docs/protocol.md#dispute-calldata), and the entries recomputed on-chain
///         (docs/protocol.md#checked-strata).
library PoCPSOpening {
    /// @dev One recomputed sample of an opening.
    struct Check {
        uint256 q;
        uint256 entry;
        uint256 claimed;
        uint256 expected;
    }

    /// @dev Sample q of an opening (docs/protocol.md#stratified-samples).
    function sample(bytes32 sseed, uint256 q, IPoCPSVerifier.ProofClass memory pc)
        internal
        pure
        returns (uint256 leafIndex, uint256 entryIndex)
    {
        return PoCPSEntry.sample(sseed, q, pc.logStratum, pc.leaf);
    }

    /// @dev Rebuild each stratum root from its sample's leaf and in-stratum path, then the k
    ///      stratum roots pairwise up to the root (nothing sent that could be derived).
    function openingRoot(
        IPoCPSVerifier.ProofClass memory pc,
        bytes32 sseed,
        bytes calldata leaves,
        bytes32[] calldata proof
    ) internal view returns (bytes32) {
        uint256 leavesAt;
        uint256 proofAt;
        assembly {
            leavesAt := leaves.offset
            proofAt := proof.offset
        }
        uint256 leafBytes = uint256(pc.leaf) * 4;
        uint256 pathBytes = uint256(pc.logStratum) * 32;
        bytes32[] memory level = new bytes32[](pc.k);
        for (uint256 q = 0; q < pc.k; ++q) {
            (uint256 leafIndex,) = sample(sseed, q, pc);
            bytes32 h = Sha256Merkle.leafHash(leavesAt + q * leafBytes, leafBytes);
            level[q] = Sha256Merkle.fold(h, leafIndex, proofAt + q * pathBytes, pc.logStratum);
        }
        return Sha256Merkle.foldLevel(level);
    }

    /// @dev Root implied by one leaf and its full Merkle path.
    function pathRoot(uint256 leafIndex, bytes calldata leaf, bytes32[] calldata path)
        internal
        view
        returns (bytes32)
    {
        uint256 leafAt;
        uint256 pathAt;
        assembly {
            leafAt := leaf.offset
            pathAt := path.offset
        }
        return Sha256Merkle.fold(Sha256Merkle.leafHash(leafAt, leaf.length), leafIndex, pathAt, path.length);
    }

    /// @dev Recompute the samples of the `c` checked strata (drawn from `sseed`, unknown at
    ///      commit) against the challenge seed `s`; returns the first wrong one.
    function firstWrongEntry(IPoCPSVerifier.ProofClass memory pc, bytes32 sseed, bytes32 s, bytes calldata leaves)
        internal
        pure
        returns (bool bad, Check memory w)
    {
        uint256 leafBytes = uint256(pc.leaf) * 4;
        uint256[] memory strata = PoCPSEntry.checkedStrata(sseed, pc.k, pc.c);
        for (uint256 j = 0; j < strata.length; ++j) {
            w.q = strata[j];
            uint256 leafIndex;
            (leafIndex, w.entry) = sample(sseed, w.q, pc);
            w.claimed = PoCPSEntry.entryAt(leaves[w.q * leafBytes:(w.q + 1) * leafBytes], w.entry);
            w.expected = expected(pc, s, leafIndex, w.entry);
            if (w.claimed != w.expected) return (true, w);
        }
    }

    /// @dev The correct value of entry `entryIndex` of leaf `leafIndex` (row-major C).
    function expected(IPoCPSVerifier.ProofClass memory pc, bytes32 s, uint256 leafIndex, uint256 entryIndex)
        internal
        pure
        returns (uint256)
    {
        uint256 flat = leafIndex * pc.leaf + entryIndex;
        return PoCPSEntry.entry(s, pc.n, flat / pc.n, flat % pc.n);
    }
}
