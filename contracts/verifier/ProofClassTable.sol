// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IPoCPSVerifier} from "../interfaces/IPoCPSVerifier.sol";
import {EpochClock} from "../lib/EpochClock.sol";
import {PoCPSEntry} from "../lib/PoCPSEntry.sol";

/// @title ProofClassTable
/// @notice The versioned PoCPS parameters of each device class: a new class takes effect at
///         once; a change of an existing one takes effect from `currentEpoch +
///         CLASS_DELAY_EPOCHS`, so that every proof, miss and dispute of an epoch is judged by
///         the version in force for that epoch (docs/protocol.md#governance-bounds).
/// @dev The current version and the first epoch of the scheduled one share one storage slot
///      (`StoredClass`): the common case of `_paramsAt` is a single cold read.
abstract contract ProofClassTable is IPoCPSVerifier, AccessControl, EpochClock {
    /// @notice Governance input of `setClass` (the derived fields of `ProofClass` are computed).
    struct ProofParams {
        uint32 n;
        uint16 leaf;
        uint8 k;
        uint8 c;
        uint16 commitWindow;
        uint16 openWindow;
        uint16 disputeWindow;
        uint16 challengeBps;
        uint16 missSlashBps;
        uint16 fraudSlashBps;
    }

    /// @dev Storage form of a class version: the fields of `ProofClass` and, in the current
    ///      version's slot, the first epoch of the scheduled version (0: none). 27 bytes: one slot.
    struct StoredClass {
        uint32 n;
        uint16 leaf;
        uint8 k;
        uint8 c;
        uint8 logLeaves;
        uint8 logStratum;
        uint16 commitWindow;
        uint16 openWindow;
        uint16 disputeWindow;
        uint16 challengeBps;
        uint16 missSlashBps;
        uint16 fraudSlashBps;
        bool exists;
        uint32 nextSince;
    }

    /// @notice Epochs between `setClass` and the new version taking effect: every window of the
    ///         current epoch closes first, and providers see the change a whole epoch ahead.
    uint256 public constant CLASS_DELAY_EPOCHS = 2;
    /// @dev Basis-point denominator (a probability or a share of one).
    uint256 internal constant BPS = 10_000;
    /// @dev Bounds of docs/protocol.md#governance-bounds.
    uint256 internal constant MIN_N = 16;
    uint256 internal constant MAX_N = 65_536;
    uint256 internal constant MAX_LEAF = 1024;
    uint256 internal constant MAX_K = 64;
    /// @dev Disputes recompute the samples from `blockhash(commitBlock)`, which the EVM serves for
    ///      the last 256 blocks: the open and dispute windows together stay within this.
    uint256 internal constant MAX_HASH_WINDOW = 255;

    /// @dev Current version of each class (and when the scheduled one takes effect).
    mapping(uint16 classId => StoredClass) internal _classes;
    /// @dev Scheduled version of each class (valid when the current one's `nextSince != 0`).
    mapping(uint16 classId => StoredClass) internal _nextClasses;

    /// @notice Set the PoCPS parameters of a class. A new class takes effect at once; a change
    ///         of an existing class takes effect from `currentEpoch + CLASS_DELAY_EPOCHS` (never
    ///         for an epoch whose windows have opened), and replaces a change still scheduled.
    ///         Bounds are in docs/protocol.md#governance-bounds; each failure names the parameter.
    function setClass(uint16 classId, ProofParams calldata p) external onlyRole(DEFAULT_ADMIN_ROLE) {
        ProofClass memory pc = _validated(classId, p);
        StoredClass storage cur = _classes[classId];
        uint256 current = currentEpoch();
        if (!cur.exists) {
            _store(cur, pc, 0);
            emit ClassSet(classId, pc, current);
            return;
        }
        uint256 since = cur.nextSince;
        if (since != 0 && current >= since) {
            // The scheduled version is in force. The current one still judges epoch
            // `current - 1` (reports, disputes) until `since + 1`.
            if (current == since) revert ClassChangePending(classId, since + 1);
            _store(cur, _load(_nextClasses[classId]), 0);
        }
        uint256 from = current + CLASS_DELAY_EPOCHS;
        _store(_nextClasses[classId], pc, 0);
        cur.nextSince = uint32(from);
        emit ClassSet(classId, pc, from);
    }

    /// @notice PoCPS parameters of a class in force now (all zero for an unknown class).
    function classParams(uint16 classId) external view returns (ProofClass memory) {
        return paramsAt(classId, currentEpoch());
    }

    /// @notice PoCPS parameters of a class in force for `epoch` (all zero for an unknown class).
    function paramsAt(uint16 classId, uint256 epoch) public view returns (ProofClass memory pc) {
        StoredClass storage cur = _classes[classId];
        uint256 since = cur.nextSince;
        pc = _load(since != 0 && epoch >= since ? _nextClasses[classId] : cur);
    }

    /// @notice The scheduled version of a class and its first epoch (`fromEpoch == 0`: none).
    function scheduledClass(uint16 classId) external view returns (ProofClass memory next, uint256 fromEpoch) {
        fromEpoch = _classes[classId].nextSince;
        if (fromEpoch != 0) next = _load(_nextClasses[classId]);
    }

    /// @dev The version of `classId` in force for `epoch` (reverts for an unknown class).
    function _paramsAt(uint16 classId, uint256 epoch) internal view returns (ProofClass memory pc) {
        StoredClass storage cur = _classes[classId];
        uint256 since = cur.nextSince;
        if (since != 0 && epoch >= since) return _load(_nextClasses[classId]);
        pc = _load(cur);
        if (!pc.exists) revert UnknownClass(classId);
    }

    /// @dev The one validation of `setClass`: every bound of docs/protocol.md#governance-bounds.
    function _validated(uint16 classId, ProofParams calldata p) internal view returns (ProofClass memory) {
        if (classId == 0) revert InvalidParameter("classId");
        uint256 n = p.n;
        if (n < MIN_N || n > MAX_N || n & (n - 1) != 0) revert InvalidParameter("n");
        uint256 leaf = p.leaf;
        if (leaf == 0 || leaf > MAX_LEAF || leaf > n || leaf & (leaf - 1) != 0) revert InvalidParameter("leaf");
        uint256 logLeaves = PoCPSEntry.log2(n * n / leaf);
        if (p.k == 0 || p.k > MAX_K || p.k & (p.k - 1) != 0 || PoCPSEntry.log2(p.k) > logLeaves) {
            revert InvalidParameter("k");
        }
        // At least one sample is recomputed on-chain; at most every stratum.
        if (p.c == 0 || p.c > p.k) revert InvalidParameter("c");
        // The seed is readable from the block after the epoch start: a window of one block
        // would leave no block to commit in.
        if (p.commitWindow < 2) revert InvalidParameter("commitWindow");
        if (p.openWindow == 0) revert InvalidParameter("openWindow");
        if (p.disputeWindow == 0) revert InvalidParameter("disputeWindow");
        // Every record of epoch e settles before epoch e + 2 reuses its slot.
        if (uint256(p.commitWindow) + p.openWindow + p.disputeWindow > epochBlocks) revert InvalidParameter("windows");
        if (uint256(p.openWindow) + p.disputeWindow > MAX_HASH_WINDOW) revert InvalidParameter("openWindow+disputeWindow");
        // Zero would leave Active devices unchallenged forever.
        if (p.challengeBps == 0 || p.challengeBps > BPS) revert InvalidParameter("challengeBps");
        if (p.missSlashBps == 0 || p.missSlashBps > BPS) revert InvalidParameter("missSlashBps");
        if (p.fraudSlashBps > BPS || p.fraudSlashBps < p.missSlashBps) revert InvalidParameter("fraudSlashBps");
        return ProofClass({
            n: p.n,
            leaf: p.leaf,
            k: p.k,
            c: p.c,
            logLeaves: uint8(logLeaves),
            logStratum: uint8(logLeaves - PoCPSEntry.log2(p.k)),
            commitWindow: p.commitWindow,
            openWindow: p.openWindow,
            disputeWindow: p.disputeWindow,
            challengeBps: p.challengeBps,
            missSlashBps: p.missSlashBps,
            fraudSlashBps: p.fraudSlashBps,
            exists: true
        });
    }

    /// @dev A stored version as `ProofClass`: one slot read, each field unpacked at its offset
    ///      in the slot (Solidity packs `StoredClass` from the low-order bytes, in field order).
    function _load(StoredClass storage s) internal view returns (ProofClass memory cls) {
        assembly ("memory-safe") {
            let w := sload(s.slot)
            mstore(cls, and(w, 0xffffffff)) // n: uint32 at bit 0
            mstore(add(cls, 0x20), and(shr(32, w), 0xffff)) // leaf: uint16
            mstore(add(cls, 0x40), and(shr(48, w), 0xff)) // k: uint8
            mstore(add(cls, 0x60), and(shr(56, w), 0xff)) // c: uint8
            mstore(add(cls, 0x80), and(shr(64, w), 0xff)) // logLeaves: uint8
            mstore(add(cls, 0xa0), and(shr(72, w), 0xff)) // logStratum: uint8
            mstore(add(cls, 0xc0), and(shr(80, w), 0xffff)) // commitWindow: uint16
            mstore(add(cls, 0xe0), and(shr(96, w), 0xffff)) // openWindow: uint16
            mstore(add(cls, 0x100), and(shr(112, w), 0xffff)) // disputeWindow: uint16
            mstore(add(cls, 0x120), and(shr(128, w), 0xffff)) // challengeBps: uint16
            mstore(add(cls, 0x140), and(shr(144, w), 0xffff)) // missSlashBps: uint16
            mstore(add(cls, 0x160), and(shr(160, w), 0xffff)) // fraudSlashBps: uint16
            mstore(add(cls, 0x180), and(shr(176, w), 0xff)) // exists: bool
        }
    }

    /// @dev Write `pc` and `nextSince` into one slot.
    function _store(StoredClass storage s, ProofClass memory pc, uint32 nextSince) internal {
        s.n = pc.n;
        s.leaf = pc.leaf;
        s.k = pc.k;
        s.c = pc.c;
        s.logLeaves = pc.logLeaves;
        s.logStratum = pc.logStratum;
        s.commitWindow = pc.commitWindow;
        s.openWindow = pc.openWindow;
        s.disputeWindow = pc.disputeWindow;
        s.challengeBps = pc.challengeBps;
        s.missSlashBps = pc.missSlashBps;
        s.fraudSlashBps = pc.fraudSlashBps;
        s.exists = pc.exists;
        s.nextSince = nextSince;
    }
}
