// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IStaking} from "./interfaces/IStaking.sol";
import {IPoCPSVerifier} from "./interfaces/IPoCPSVerifier.sol";

/// @title PoCPSVerifier
/// @notice Proof-of-Computing-Power-Staking. Each epoch, selected devices compute an exact integer
///         matrix product C = A x B whose inputs derive from on-chain randomness, commit the Merkle
///         root of C within `commitWindow` blocks, then open k sampled leaves (one per stratum of
///         the leaf range) drawn from the commit block's hash. The contract checks every Merkle
///         path, recomputes `c` sampled entries from the seed in O(n), and lets anyone dispute the
///         other opened entries for `disputeWindow` blocks. A wrong entry is fraud; a selected
///         device without a valid opening is a miss. Both are slashed through `Staking`.
/// @dev Encodings are normative in docs/protocol.md and mirrored bit for bit by `pinfi.protocol`.
///      Proof records live in two slots per device (epoch parity), warmed at registration, so a
///      commit writes non-zero to non-zero storage. Every function is O(1) in devices and epochs;
///      `open` loops over the k samples and their paths (k <= 64, depth <= 32).
contract PoCPSVerifier is IPoCPSVerifier, AccessControl {
    // ---------------------------------------------------------------- types

    /// @dev PoCPS parameters of one device class, one storage slot.
    struct ProofClass {
        uint32 n; // matrix size, a power of two in [16, 65536]
        uint16 leaf; // entries per leaf L, a power of two, L <= n, L <= 1024
        uint8 k; // samples per opening, a power of two in [1, 64], k <= leaves
        uint8 c; // samples recomputed on-chain at open, c <= k
        uint8 logLeaves; // log2(n*n/L)
        uint8 logStratum; // log2(n*n/L/k): proof nodes per sample
        uint16 commitWindow; // blocks after the epoch start to get the commit mined
        uint16 openWindow; // blocks after the commit block to open
        uint16 disputeWindow; // blocks after the opening to dispute
        uint16 challengeBps; // selection probability of an Active provider-class, basis points
        uint16 missSlashBps; // slash of a missed challenge
        uint16 fraudSlashBps; // slash of a wrong entry
        bool exists;
    }

    /// @dev Storage form of a class version: `ProofClass` plus, in the current version's slot,
    ///      the first epoch of the scheduled version (0: none), so that the common case of
    ///      `paramsAt` is one storage read.
    struct StoredClass {
        ProofClass p;
        uint32 nextSince;
    }

    /// @dev Governance input of `setClass` (the derived fields of `ProofClass` are computed).
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

    /// @dev One proof record, two slots. `epoch == type(uint32).max` marks a warmed empty record.
    struct Record {
        bytes32 root;
        uint32 epoch;
        uint64 commitBlock;
        uint64 openBlock;
        ProofStatus status;
        // The device's latest passed epoch + 1 before this record's epoch (carried over from
        // both slots when this one is reused): with the two records, the device's pass history.
        uint32 prevPassPlusOne;
    }

    /// @dev One recomputed sample of an opening.
    struct Check {
        uint256 q;
        uint256 entry;
        uint256 claimed;
        uint256 expected;
    }

    // ---------------------------------------------------------------- errors

    error ZeroAddress();
    error PoolAlreadySet();
    error NotStaking(address caller);
    error NotPool(address caller);
    error UnknownClass(uint16 classId);
    error InvalidParameter(string name);
    error EpochNotStarted(uint256 epoch);
    error SeedUnavailable(uint256 epoch);
    error WrongEpoch(uint256 epoch, uint256 current);
    error ZeroRoot();
    error NotOperator(uint256 deviceId, address caller);
    error NotSelected(uint256 deviceId, uint256 epoch);
    error CommitWindowClosed(uint256 deviceId, uint256 epoch, uint256 deadline);
    error AlreadyCommitted(uint256 deviceId, uint256 epoch);
    error NotCommitted(uint256 deviceId, uint256 epoch);
    error AlreadyOpened(uint256 deviceId, uint256 epoch);
    error OpenTooEarly(uint256 deviceId, uint256 epoch);
    error OpenWindowClosed(uint256 deviceId, uint256 epoch, uint256 deadline);
    error BadLength(uint256 leavesLength, uint256 proofLength);
    error BadProof(uint256 deviceId, uint256 epoch);
    error NotOpened(uint256 deviceId, uint256 epoch);
    error DisputeWindowClosed(uint256 deviceId, uint256 epoch, uint256 deadline);
    error BadSample(uint256 q, uint256 entry);
    error NoFraud(uint256 deviceId, uint256 epoch, uint256 q, uint256 entry);
    error NotMissed(uint256 deviceId, uint256 epoch);
    error AlreadySlashed(uint256 deviceId, uint256 epoch);
    error ReportTooEarly(uint256 deviceId, uint256 epoch, uint256 fromBlock);
    error ReportTooLate(uint256 deviceId, uint256 epoch);
    /// @notice A scheduled class version took effect this epoch; the previous one still judges
    ///         the previous epoch, so the next change must wait until `fromEpoch`.
    error ClassChangePending(uint16 classId, uint256 fromEpoch);

    // ---------------------------------------------------------------- events

    /// @notice Parameters of `classId` scheduled to take effect from `fromEpoch` (a new class:
    ///         at once). Every proof, miss and dispute of an epoch is judged by the version in
    ///         force for that epoch.
    event ClassSet(uint16 indexed classId, ProofClass params, uint256 fromEpoch);
    /// @notice A first miss within `graceEpochs`: no slash, no jail; the device must prove
    ///         `mustProveEpoch`.
    event GraceMiss(uint256 indexed deviceId, uint256 indexed epoch, address indexed reporter, uint256 mustProveEpoch);
    event PoolSet(address pool);
    event EpochCheckpointed(uint256 indexed epoch, bytes32 seed);
    event Committed(uint256 indexed deviceId, uint256 indexed epoch, bytes32 root);
    event Opened(uint256 indexed deviceId, uint256 indexed epoch, bytes32 sampleSeed);
    event FraudProven(
        uint256 indexed deviceId, uint256 indexed epoch, address indexed reporter, uint256 q, uint256 entry,
        uint256 claimed, uint256 expected, uint256 slashed
    );
    event MissReported(uint256 indexed deviceId, uint256 indexed epoch, address indexed reporter, uint256 slashed);
    event ChallengeForced(uint256 indexed deviceId, uint256 indexed epoch);

    // ---------------------------------------------------------------- constants / immutables

    /// @dev Low 64 bits (row/column seeds). The splitmix64 constants and the golden-ratio
    ///      counter of docs/protocol.md are literals inside `entry`'s assembly.
    uint256 internal constant MASK64 = 0xFFFFFFFFFFFFFFFF;
    uint32 internal constant EMPTY_EPOCH = type(uint32).max;
    /// @dev Basis-point denominator.
    uint256 internal constant BPS = 10_000;
    /// @notice Epochs between `setClass` and the new version taking effect: every window of the
    ///         current epoch closes first, and providers see the change a whole epoch ahead.
    uint256 public constant CLASS_DELAY_EPOCHS = 2;
    /// @notice Largest `graceEpochs` (one month of 1 h epochs).
    uint256 public constant MAX_GRACE_EPOCHS = 720;
    /// @dev Domain tag of the checked-strata draw: `keccak256(abi.encode(sseed, CHECK_TAG, j))`.
    bytes32 internal constant CHECK_TAG = "check";

    IStaking public immutable staking;
    /// @notice A miss with no other miss of the device in the `graceEpochs` epochs before it is
    ///         a grace miss: no slash, no jail, no bounty (0: every miss is slashed).
    uint256 public immutable graceEpochs;
    uint256 public immutable genesisBlock;
    uint256 public immutable epochBlocks;

    // ---------------------------------------------------------------- storage

    address public pool;
    /// @dev Current version of each class (and when the scheduled one takes effect).
    mapping(uint16 classId => StoredClass) internal _classes;
    /// @dev Scheduled version of each class (valid when the current one's `nextSince != 0`).
    mapping(uint16 classId => ProofClass) internal _nextClasses;
    /// @notice Randomness of each epoch: the hash of its first block, stored by `checkpoint`.
    mapping(uint256 epoch => bytes32) public epochSeed;
    /// @notice Hash of a commit deadline block (`epochStart + commitWindow`), stored lazily: the
    ///         randomness that decides, after every commit of the epoch is in, which commitments
    ///         must be opened.
    mapping(uint256 blockNumber => bytes32) public openSeed;
    mapping(uint256 deviceId => Record[2]) internal _records;
    /// @dev Per-device duties and outcomes, one slot (each field: epoch + 1, 0 for none).
    struct Duty {
        uint32 forcedPlusOne; // epoch in which a client's `reportDown` forces the challenge
        uint32 forcedPassedPlusOne; // last forced challenge passed (and not convicted since)
        uint32 owedPlusOne; // epoch the device must prove after a grace miss
        uint32 lastMissPlusOne; // latest reported miss (grace or slashed)
        bool warm; // set at registration, so that every later write is non-zero to non-zero
    }

    mapping(uint256 deviceId => Duty) internal _duties;

    // ---------------------------------------------------------------- construction / governance

    constructor(IStaking staking_, uint256 graceEpochs_, address admin) {
        if (address(staking_) == address(0) || admin == address(0)) revert ZeroAddress();
        if (graceEpochs_ > MAX_GRACE_EPOCHS) revert InvalidParameter("graceEpochs");
        staking = staking_;
        graceEpochs = graceEpochs_;
        genesisBlock = staking_.genesisBlock();
        epochBlocks = staking_.epochBlocks();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Wire the dissipative pool (once): it alone may force challenges.
    function setPool(address pool_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (pool != address(0)) revert PoolAlreadySet();
        if (pool_ == address(0)) revert ZeroAddress();
        pool = pool_;
        emit PoolSet(pool_);
    }

    /// @notice Set the PoCPS parameters of a class. A new class takes effect at once; a change
    ///         of an existing class takes effect from `currentEpoch + CLASS_DELAY_EPOCHS` (never
    ///         for an epoch whose windows have opened), and replaces a change still scheduled.
    ///         Bounds are in docs/protocol.md#governance-bounds; each failure names the parameter.
    function setClass(uint16 classId, ProofParams calldata p) external onlyRole(DEFAULT_ADMIN_ROLE) {
        ProofClass memory pc = _validated(classId, p);
        StoredClass storage cur = _classes[classId];
        uint256 current = currentEpoch();
        if (!cur.p.exists) {
            cur.p = pc;
            emit ClassSet(classId, pc, current);
            return;
        }
        uint256 since = cur.nextSince;
        if (since != 0 && current >= since) {
            // The scheduled version is in force. The current one still judges epoch
            // `current - 1` (reports, disputes) until `since + 1`.
            if (current == since) revert ClassChangePending(classId, since + 1);
            cur.p = _nextClasses[classId];
        }
        uint256 from = current + CLASS_DELAY_EPOCHS;
        _nextClasses[classId] = pc;
        cur.nextSince = uint32(from);
        emit ClassSet(classId, pc, from);
    }

    /// @dev The one validation of `setClass`: every bound of docs/protocol.md#governance-bounds.
    function _validated(uint16 classId, ProofParams calldata p) internal view returns (ProofClass memory) {
        if (classId == 0) revert InvalidParameter("classId");
        uint256 n = p.n;
        if (n < 16 || n > 65_536 || n & (n - 1) != 0) revert InvalidParameter("n");
        uint256 leaf = p.leaf;
        if (leaf == 0 || leaf > 1024 || leaf > n || leaf & (leaf - 1) != 0) revert InvalidParameter("leaf");
        uint256 logLeaves = _log2(n * n / leaf);
        if (p.k == 0 || p.k > 64 || p.k & (p.k - 1) != 0 || _log2(p.k) > logLeaves) revert InvalidParameter("k");
        // At least one sample is recomputed on-chain; at most every stratum.
        if (p.c == 0 || p.c > p.k) revert InvalidParameter("c");
        // The seed is readable from the block after the epoch start: a window of one block
        // would leave no block to commit in.
        if (p.commitWindow < 2) revert InvalidParameter("commitWindow");
        if (p.openWindow == 0) revert InvalidParameter("openWindow");
        if (p.disputeWindow == 0) revert InvalidParameter("disputeWindow");
        // Every record of epoch e settles before epoch e + 2 reuses its slot.
        if (uint256(p.commitWindow) + p.openWindow + p.disputeWindow > epochBlocks) revert InvalidParameter("windows");
        // Disputes recompute the samples from blockhash(commitBlock): it must still be available.
        if (uint256(p.openWindow) + p.disputeWindow > 255) revert InvalidParameter("openWindow+disputeWindow");
        // Zero would leave Active devices unchallenged forever.
        if (p.challengeBps == 0 || p.challengeBps > BPS) revert InvalidParameter("challengeBps");
        if (p.missSlashBps > BPS || p.missSlashBps == 0) revert InvalidParameter("missSlashBps");
        if (p.fraudSlashBps > BPS || p.fraudSlashBps < p.missSlashBps) revert InvalidParameter("fraudSlashBps");
        return ProofClass({
            n: p.n,
            leaf: p.leaf,
            k: p.k,
            c: p.c,
            logLeaves: uint8(logLeaves),
            logStratum: uint8(logLeaves - _log2(p.k)),
            commitWindow: p.commitWindow,
            openWindow: p.openWindow,
            disputeWindow: p.disputeWindow,
            challengeBps: p.challengeBps,
            missSlashBps: p.missSlashBps,
            fraudSlashBps: p.fraudSlashBps,
            exists: true
        });
    }

    // ---------------------------------------------------------------- hooks

    /// @inheritdoc IPoCPSVerifier
    function prepare(uint256 deviceId) external {
        if (msg.sender != address(staking)) revert NotStaking(msg.sender);
        for (uint256 p = 0; p < 2; ++p) {
            Record storage r = _records[deviceId][p];
            r.root = bytes32(uint256(1));
            r.epoch = EMPTY_EPOCH;
        }
        _duties[deviceId].warm = true;
    }

    /// @inheritdoc IPoCPSVerifier
    function forceChallenge(uint256 deviceId, uint256 epoch) external {
        if (msg.sender != pool) revert NotPool(msg.sender);
        _duties[deviceId].forcedPlusOne = uint32(epoch + 1);
        emit ChallengeForced(deviceId, epoch);
    }

    // ---------------------------------------------------------------- keeper

    /// @notice Store the current epoch's seed (the hash of its first block). Anyone may call; the
    ///         agent does at the start of every epoch. An epoch whose seed nobody stores within
    ///         256 blocks has no challenges.
    function checkpoint() external returns (bytes32 seed) {
        return _seed(currentEpoch(), true);
    }

    /// @notice Store the opening seed of class `classId` for `epoch` (the hash of its commit
    ///         deadline block) while it is available, so that misses stay reportable after 256
    ///         blocks. Anyone may call; returns zero when it is not (or no longer) available.
    function checkpointOpen(uint16 classId, uint256 epoch) external returns (bytes32) {
        return _openSeed(_epochStart(epoch) + _paramsAt(classId, epoch).commitWindow, true);
    }

    // ---------------------------------------------------------------- prover

    /// @notice Operator: commit the Merkle root of this epoch's product. Every device that owes
    ///         the epoch (not `Exempt`) commits, every epoch; which commitments must be opened is
    ///         drawn after the commit deadline (`mustOpen`).
    function commit(uint256 deviceId, uint256 epoch, bytes32 root) external {
        if (root == bytes32(0)) revert ZeroRoot();
        uint256 current = currentEpoch();
        if (epoch != current) revert WrongEpoch(epoch, current);
        (, address operator, uint16 classId, IStaking.ChallengeMode mode) = staking.challengeInfo(deviceId, epoch);
        if (msg.sender != operator) revert NotOperator(deviceId, msg.sender);
        ProofClass memory pc = _paramsAt(classId, epoch);
        uint256 deadline = _epochStart(epoch) + pc.commitWindow;
        if (block.number >= deadline) revert CommitWindowClosed(deviceId, epoch, deadline);
        _seed(epoch, true);
        if (mode == IStaking.ChallengeMode.Exempt) revert NotSelected(deviceId, epoch);
        Record storage r = _records[deviceId][epoch & 1];
        if (r.epoch == epoch) revert AlreadyCommitted(deviceId, epoch);
        _reuse(r, deviceId, epoch);
        r.root = root;
        r.commitBlock = uint64(block.number);
        r.openBlock = 0;
        r.status = ProofStatus.Committed;
        emit Committed(deviceId, epoch, root);
    }

    /// @notice Operator: open the k sampled leaves with their Merkle multiproof.
    /// @param leaves The k leaves in sample order, each `4 * L` bytes (uint32 big-endian entries).
    /// @param proof `k * logStratum` nodes: sample q's siblings inside its stratum, leaf level first.
    /// @dev A wrong recomputed entry is fraud: the device is slashed and jailed (no revert).
    function open(uint256 deviceId, uint256 epoch, bytes calldata leaves, bytes32[] calldata proof) external {
        Record storage r = _records[deviceId][epoch & 1];
        (ProofClass memory pc, IStaking.ChallengeMode mode) = _openable(r, deviceId, epoch);
        if (leaves.length != uint256(pc.k) * pc.leaf * 4 || proof.length != uint256(pc.k) * pc.logStratum) {
            revert BadLength(leaves.length, proof.length);
        }
        bytes32 root = r.root;
        bytes32 sseed = keccak256(abi.encode(blockhash(r.commitBlock), root));
        if (_openingRoot(pc, sseed, leaves, proof) != root) revert BadProof(deviceId, epoch);

        bytes32 s = keccak256(abi.encode(epochSeed[epoch], deviceId, epoch));
        (bool bad, Check memory wrong) = _firstWrongEntry(pc, sseed, s, leaves);
        if (bad) {
            // The prover's own opening convicts it: no bounty, the whole slash is burned.
            _slashFraud(r, deviceId, epoch, pc.fraudSlashBps, address(0), wrong);
            return;
        }
        r.openBlock = uint64(block.number);
        r.status = ProofStatus.Opened;
        Duty memory duty = _duties[deviceId];
        // The record's `Opened` status is the pass Staking vests (`lastPassPlusOne`); a later
        // conviction turns it into `Slashed`.
        if (duty.forcedPlusOne == epoch + 1) _duties[deviceId].forcedPassedPlusOne = uint32(epoch + 1);
        emit Opened(deviceId, epoch, sseed);
        if (mode == IStaking.ChallengeMode.Always) staking.activate(deviceId);
    }

    /// @dev Checks of `open` before the proof: committed, not opened, in the window, operator.
    function _openable(Record storage r, uint256 deviceId, uint256 epoch)
        internal
        view
        returns (ProofClass memory pc, IStaking.ChallengeMode mode)
    {
        if (r.epoch != epoch) revert NotCommitted(deviceId, epoch);
        if (r.status != ProofStatus.Committed) revert AlreadyOpened(deviceId, epoch);
        address operator;
        uint16 classId;
        (, operator, classId, mode) = staking.challengeInfo(deviceId, epoch);
        if (msg.sender != operator) revert NotOperator(deviceId, msg.sender);
        pc = _paramsAt(classId, epoch);
        // Openings start after the commit deadline (every root is in before any is opened) and
        // last `openWindow` blocks. Any committed device may open: a passed opening vests.
        uint256 deadline = _epochStart(epoch) + pc.commitWindow;
        if (block.number <= deadline) revert OpenTooEarly(deviceId, epoch);
        if (block.number > deadline + pc.openWindow) {
            revert OpenWindowClosed(deviceId, epoch, deadline + pc.openWindow);
        }
    }

    /// @dev Recompute the samples of the `c` checked strata (drawn from `sseed`, unknown at
    ///         commit); returns the first wrong one.
    function _firstWrongEntry(ProofClass memory pc, bytes32 sseed, bytes32 s, bytes calldata leaves)
        internal
        pure
        returns (bool bad, Check memory w)
    {
        uint256 leafBytes = uint256(pc.leaf) * 4;
        uint256[] memory strata = _checkedStrata(sseed, pc.k, pc.c);
        for (uint256 j = 0; j < strata.length; ++j) {
            w.q = strata[j];
            uint256 leafIndex;
            (leafIndex, w.entry) = _sample(sseed, w.q, pc);
            w.claimed = _entryAt(leaves[w.q * leafBytes:(w.q + 1) * leafBytes], w.entry);
            uint256 flat = leafIndex * pc.leaf + w.entry;
            w.expected = entry(s, pc.n, flat / pc.n, flat % pc.n);
            if (w.claimed != w.expected) return (true, w);
        }
    }

    /// @dev `c` distinct strata among `k`, uniformly: partial Fisher-Yates over `0..k-1`, step j
    ///      swapping position j with `j + keccak256(abi.encode(sseed, CHECK_TAG, j)) % (k - j)`.
    function _checkedStrata(bytes32 sseed, uint256 k, uint256 c) internal pure returns (uint256[] memory out) {
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

    // ---------------------------------------------------------------- verifiers

    /// @notice Anyone: prove that entry `entryIndex` of opened sample `q` is wrong. The disputer
    ///         resends that leaf with its full Merkle path; the contract recomputes the entry.
    ///         A mismatch slashes the device at `fraudSlashBps` and pays the disputer the bounty;
    ///         a correct entry reverts with `NoFraud`.
    function dispute(
        uint256 deviceId,
        uint256 epoch,
        uint256 q,
        uint256 entryIndex,
        bytes calldata leaf,
        bytes32[] calldata path
    ) external {
        Record storage r = _records[deviceId][epoch & 1];
        ProofClass memory pc = _disputable(r, deviceId, epoch);
        if (q >= pc.k || entryIndex >= pc.leaf) revert BadSample(q, entryIndex);
        if (leaf.length != uint256(pc.leaf) * 4 || path.length != pc.logLeaves) {
            revert BadLength(leaf.length, path.length);
        }
        bytes32 root = r.root;
        (uint256 leafIndex,) = _sample(keccak256(abi.encode(blockhash(r.commitBlock), root)), q, pc);
        if (_pathRoot(leafIndex, leaf, path) != root) revert BadProof(deviceId, epoch);
        Check memory w;
        w.q = q;
        w.entry = entryIndex;
        w.claimed = _entryAt(leaf, entryIndex);
        uint256 flat = leafIndex * pc.leaf + entryIndex;
        w.expected = entry(keccak256(abi.encode(epochSeed[epoch], deviceId, epoch)), pc.n, flat / pc.n, flat % pc.n);
        if (w.claimed == w.expected) revert NoFraud(deviceId, epoch, q, entryIndex);
        _slashFraud(r, deviceId, epoch, pc.fraudSlashBps, msg.sender, w);
    }

    /// @dev A wrong entry is proven: mark the record, slash and jail, pay `reporter` (if any).
    function _slashFraud(
        Record storage r,
        uint256 deviceId,
        uint256 epoch,
        uint256 bps,
        address reporter,
        Check memory w
    ) internal {
        r.status = ProofStatus.Slashed;
        // A convicted opening neither passes a forced challenge nor vests anything, even after
        // its record slot is recycled.
        Duty storage duty = _duties[deviceId];
        if (duty.forcedPassedPlusOne == epoch + 1) duty.forcedPassedPlusOne = 0;
        uint256 slashed = staking.slash(deviceId, bps, reporter);
        emit FraudProven(deviceId, epoch, reporter, w.q, w.entry, w.claimed, w.expected, slashed);
    }

    /// @dev Root implied by one leaf and its full Merkle path.
    function _pathRoot(uint256 leafIndex, bytes calldata leaf, bytes32[] calldata path)
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
        return _fold(_leafHash(leafAt, leaf.length), leafIndex, pathAt, path.length);
    }

    /// @dev Checks of `dispute` on the record: opened for `epoch`, dispute window open.
    function _disputable(Record storage r, uint256 deviceId, uint256 epoch)
        internal
        view
        returns (ProofClass memory pc)
    {
        if (r.epoch != epoch || r.status != ProofStatus.Opened) revert NotOpened(deviceId, epoch);
        (,, uint16 classId,) = staking.challengeInfo(deviceId, epoch);
        pc = _paramsAt(classId, epoch);
        uint256 deadline = uint256(r.openBlock) + pc.disputeWindow;
        if (block.number > deadline) revert DisputeWindowClosed(deviceId, epoch, deadline);
    }

    /// @notice Anyone: report a miss of `epoch`: a device that owed the epoch and committed
    ///         nothing by the commit deadline, or whose commitment had to be opened (`mustOpen`)
    ///         and has no valid opening when the open window ends. Accepted until the end of
    ///         epoch `epoch + 1`.
    function reportMissed(uint256 deviceId, uint256 epoch) external {
        uint256 current = currentEpoch();
        if (epoch > current) revert EpochNotStarted(epoch);
        if (current > epoch + 1) revert ReportTooLate(deviceId, epoch);
        (,, uint16 classId, IStaking.ChallengeMode mode) = staking.challengeInfo(deviceId, epoch);
        ProofClass memory pc = _paramsAt(classId, epoch);
        if (mode == IStaking.ChallengeMode.Exempt || _seed(epoch, false) == bytes32(0)) {
            revert NotSelected(deviceId, epoch);
        }
        uint256 deadline = _epochStart(epoch) + pc.commitWindow;
        Record storage r = _records[deviceId][epoch & 1];
        if (r.epoch == epoch) {
            ProofStatus status = r.status;
            if (status == ProofStatus.Opened) revert NotMissed(deviceId, epoch);
            if (status == ProofStatus.Slashed || status == ProofStatus.Missed) revert AlreadySlashed(deviceId, epoch);
            uint256 from = deadline + pc.openWindow + 1;
            if (block.number < from) revert ReportTooEarly(deviceId, epoch, from);
            // Committed and not drawn for opening: present for the epoch.
            if (!_mustOpen(deviceId, epoch, mode, pc.challengeBps, _openSeed(deadline, true))) {
                revert NotSelected(deviceId, epoch);
            }
        } else {
            if (block.number < deadline) revert ReportTooEarly(deviceId, epoch, deadline);
            _reuse(r, deviceId, epoch);
        }
        Duty storage duty = _duties[deviceId];
        uint256 last = duty.lastMissPlusOne;
        // A miss with no other miss in the graceEpochs before it is a grace miss.
        uint256 g = graceEpochs;
        bool grace = g != 0 && (last == 0 || epoch + 1 >= last + g);
        if (epoch + 1 > last) duty.lastMissPlusOne = uint32(epoch + 1);
        if (grace) {
            // No bond is taken and nothing is paid (stuffing a window never pays); the device
            // must prove the next epoch, and a miss there is a second miss.
            r.status = ProofStatus.Missed;
            uint256 owed = current + 1;
            duty.owedPlusOne = uint32(owed + 1);
            emit GraceMiss(deviceId, epoch, msg.sender, owed);
            // The rewards accrued since the device's last passed proof are forfeited.
            staking.forfeit(deviceId);
            return;
        }
        r.status = ProofStatus.Slashed;
        uint256 slashed = staking.slash(deviceId, pc.missSlashBps, msg.sender);
        emit MissReported(deviceId, epoch, msg.sender, slashed);
    }

    // ---------------------------------------------------------------- views

    /// @notice Current epoch (same clock as `Staking`).
    function currentEpoch() public view returns (uint256) {
        return (block.number - genesisBlock) / epochBlocks;
    }

    /// @notice First block of `epoch`.
    function epochStart(uint256 epoch) external view returns (uint256) {
        return _epochStart(epoch);
    }

    /// @notice Epoch + 1 in which a client's `reportDown` forces the device's challenge (0: none).
    function forcedEpochPlusOne(uint256 deviceId) external view returns (uint256) {
        return _duties[deviceId].forcedPlusOne;
    }

    /// @notice Epoch + 1 of the device's last forced challenge passed and not convicted (0: none).
    ///         Kept apart from the recycled proof records so the pool can resolve a report any time.
    function forcedPassedPlusOne(uint256 deviceId) external view returns (uint256) {
        return _duties[deviceId].forcedPassedPlusOne;
    }

    /// @notice Epoch + 1 the device must prove after a grace miss (0: none).
    function owedEpochPlusOne(uint256 deviceId) external view returns (uint256) {
        return _duties[deviceId].owedPlusOne;
    }

    /// @notice Epoch + 1 of the device's latest reported miss, grace or slashed (0: none).
    function lastMissPlusOne(uint256 deviceId) external view returns (uint256) {
        return _duties[deviceId].lastMissPlusOne;
    }

    /// @inheritdoc IPoCPSVerifier
    function lastPassPlusOne(uint256 deviceId) external view returns (uint256) {
        uint256 a = _passOf(_records[deviceId][0]);
        uint256 b = _passOf(_records[deviceId][1]);
        return a > b ? a : b;
    }

    /// @notice PoCPS parameters of a class in force now (all zero for an unknown class).
    function classParams(uint16 classId) external view returns (ProofClass memory) {
        return paramsAt(classId, currentEpoch());
    }

    /// @notice PoCPS parameters of a class in force for `epoch` (all zero for an unknown class).
    function paramsAt(uint16 classId, uint256 epoch) public view returns (ProofClass memory pc) {
        StoredClass storage cur = _classes[classId];
        uint256 since = cur.nextSince;
        return since != 0 && epoch >= since ? _nextClasses[classId] : cur.p;
    }

    /// @notice The scheduled version of a class and its first epoch (`fromEpoch == 0`: none).
    function scheduledClass(uint16 classId) external view returns (ProofClass memory next, uint256 fromEpoch) {
        fromEpoch = _classes[classId].nextSince;
        if (fromEpoch != 0) next = _nextClasses[classId];
    }

    /// @notice The proof record of `deviceId` in the slot of `epoch`'s parity.
    function record(uint256 deviceId, uint256 epoch) external view returns (Record memory) {
        return _records[deviceId][epoch & 1];
    }

    /// @inheritdoc IPoCPSVerifier
    /// @dev A passed forced challenge reads `Opened` even after its record was recycled.
    function proofStatus(uint256 deviceId, uint256 epoch) external view returns (ProofStatus) {
        Record storage r = _records[deviceId][epoch & 1];
        if (r.epoch == epoch) return r.status;
        return _duties[deviceId].forcedPassedPlusOne == epoch + 1 ? ProofStatus.Opened : ProofStatus.None;
    }

    /// @notice Whether `deviceId` owes a commitment in `epoch` (not `Exempt`, known class, seed
    ///         stored).
    function mustCommit(uint256 deviceId, uint256 epoch) public view returns (bool) {
        (,, uint16 classId, IStaking.ChallengeMode mode) = staking.challengeInfo(deviceId, epoch);
        return mode != IStaking.ChallengeMode.Exempt && paramsAt(classId, epoch).exists
            && epochSeed[epoch] != bytes32(0);
    }

    /// @notice Whether `deviceId`'s commitment of `epoch` must be opened: always for `Always`
    ///         devices and forced or owed challenges; for `Sampled` devices drawn per device from
    ///         the hash of the commit deadline block, `keccak256(abi.encode(openSeed, deviceId))
    ///         % 10000 < challengeBps` (false until that block exists).
    function mustOpen(uint256 deviceId, uint256 epoch) public view returns (bool) {
        (,, uint16 classId, IStaking.ChallengeMode mode) = staking.challengeInfo(deviceId, epoch);
        ProofClass memory pc = paramsAt(classId, epoch);
        if (!pc.exists || epochSeed[epoch] == bytes32(0)) return false;
        uint256 deadline = _epochStart(epoch) + pc.commitWindow;
        bytes32 os = openSeed[deadline];
        if (os == bytes32(0) && block.number > deadline) os = blockhash(deadline);
        return _mustOpen(deviceId, epoch, mode, pc.challengeBps, os);
    }

    /// @notice Compatibility name of `mustOpen`.
    function isChallenged(uint256 deviceId, uint256 epoch) external view returns (bool) {
        return mustOpen(deviceId, epoch);
    }

    /// @notice The sampled (leaf, entry) pair q of an opening: stratified, one sample per 1/k of
    ///         the leaves, from `sampleSeed = keccak256(abi.encode(blockhash(commitBlock), root))`.
    function sampleAt(uint16 classId, bytes32 sampleSeed, uint256 q) external view returns (uint256, uint256) {
        return _sample(sampleSeed, q, _paramsAt(classId, currentEpoch()));
    }

    /// @notice The `c` distinct strata an opening with `sampleSeed` recomputes on-chain, in
    ///         check order, for class `classId` as in force in `epoch`: a partial Fisher-Yates
    ///         shuffle of `0..k-1` driven by `keccak256(abi.encode(sampleSeed, "check", j))`.
    function checkedStrata(uint16 classId, uint256 epoch, bytes32 sampleSeed) external view returns (uint256[] memory) {
        ProofClass memory pc = _paramsAt(classId, epoch);
        return _checkedStrata(sampleSeed, pc.k, pc.c);
    }

    /// @notice C[i][j] of the challenge with seed `s` and size `n`, recomputed in O(n).
    /// @dev Rebuilds row i of A and column j of B 16 entries (one splitmix64 word) at a time and
    ///      takes each 16-term dot product with one multiplication: both words are spread into
    ///      16 lanes of 16 bits, B's lanes in reverse order, so lane 15 of the 256-bit product is
    ///      sum_t a_t * b_t (every lane sum is <= 16 * 225 < 2^16, so no carry crosses a lane and
    ///      the lanes above 15, which wrap modulo 2^256, never reach it).
    function entry(bytes32 s, uint256 n, uint256 i, uint256 j) public pure returns (uint256 acc) {
        uint256 rowSeed = uint256(keccak256(abi.encodePacked(s, bytes1("A"), i))) & MASK64;
        uint256 colSeed = uint256(keccak256(abi.encodePacked(s, bytes1("B"), j))) & MASK64;
        assembly ("memory-safe") {
            let ctr := 0
            for { let left := shr(4, n) } left { left := sub(left, 1) } {
                // Counter (blk + 1) * golden; it stays below 2^80, and the seed sums below are
                // reduced modulo 2^64, as the generator's arithmetic is.
                ctr := add(ctr, 0x9E3779B97F4A7C15)
                // a = splitmix64(rowSeed + ctr)
                let a := and(add(rowSeed, ctr), 0xFFFFFFFFFFFFFFFF)
                a := and(mul(xor(a, shr(30, a)), 0xBF58476D1CE4E5B9), 0xFFFFFFFFFFFFFFFF)
                a := and(mul(xor(a, shr(27, a)), 0x94D049BB133111EB), 0xFFFFFFFFFFFFFFFF)
                a := xor(a, shr(31, a))
                // Spread: nibble t of a -> bits [16t, 16t + 4): halves, quarters, eighths,
                // sixteenths. Each step ORs a shifted copy and masks; the copies' stray bits
                // always fall outside the masks that follow (tests check entry() against numpy).
                a := or(a, shl(96, a))
                a := and(or(a, shl(48, a)), 0xffff000000000000ffff000000000000ffff000000000000ffff)
                a := and(or(a, shl(24, a)), 0xff000000ff000000ff000000ff000000ff000000ff000000ff000000ff)
                a := and(or(a, shl(12, a)), 0xf000f000f000f000f000f000f000f000f000f000f000f000f000f000f000f)
                // b = splitmix64(colSeed + ctr)
                let b := and(add(colSeed, ctr), 0xFFFFFFFFFFFFFFFF)
                b := and(mul(xor(b, shr(30, b)), 0xBF58476D1CE4E5B9), 0xFFFFFFFFFFFFFFFF)
                b := and(mul(xor(b, shr(27, b)), 0x94D049BB133111EB), 0xFFFFFFFFFFFFFFFF)
                b := xor(b, shr(31, b))
                // Reversed spread: nibble t of b -> bits [16(15 - t), 16(15 - t) + 4). Each step
                // moves the low part of every chunk up and the high part down (mirror image).
                b := or(shr(32, b), shl(128, b))
                b := and(or(shl(64, b), shr(16, b)), 0xffff000000000000ffff000000000000ffff000000000000ffff)
                b := and(or(shl(32, b), shr(8, b)), 0xff000000ff000000ff000000ff000000ff000000ff000000ff000000ff)
                b := and(or(shl(16, b), shr(4, b)), 0xf000f000f000f000f000f000f000f000f000f000f000f000f000f000f000f)
                // Lane 15 of a * b is sum_t a_t * b_t (no lane sum reaches 2^16: no carries).
                acc := add(acc, shr(240, mul(a, b)))
            }
        }
    }

    // ---------------------------------------------------------------- internals

    /// @dev Latest passed epoch + 1 a record knows of: its own if opened (and not convicted),
    ///      else the one it carried over.
    function _passOf(Record storage r) internal view returns (uint256) {
        uint32 e = r.epoch;
        return r.status == ProofStatus.Opened && e != EMPTY_EPOCH ? uint256(e) + 1 : r.prevPassPlusOne;
    }

    /// @dev Take over the record slot `r` for `epoch`, carrying the device's pass history over.
    function _reuse(Record storage r, uint256 deviceId, uint256 epoch) internal {
        uint256 mine = _passOf(r);
        uint256 other = _passOf(_records[deviceId][(epoch + 1) & 1]);
        r.prevPassPlusOne = uint32(mine > other ? mine : other);
        r.epoch = uint32(epoch);
    }

    /// @dev The version of `classId` in force for `epoch` (reverts for an unknown class).
    function _paramsAt(uint16 classId, uint256 epoch) internal view returns (ProofClass memory pc) {
        StoredClass storage cur = _classes[classId];
        uint256 since = cur.nextSince;
        if (since != 0 && epoch >= since) return _nextClasses[classId];
        pc = cur.p;
        if (!pc.exists) revert UnknownClass(classId);
    }

    function _epochStart(uint256 epoch) internal view returns (uint256) {
        return genesisBlock + epoch * epochBlocks;
    }

    /// @dev The stored seed of `epoch`, storing it first when its block hash is still available.
    ///      With `strict`, an unavailable seed reverts; otherwise it returns zero.
    function _seed(uint256 epoch, bool strict) internal returns (bytes32 seed) {
        seed = epochSeed[epoch];
        if (seed != bytes32(0)) return seed;
        uint256 start = _epochStart(epoch);
        if (block.number <= start) {
            if (strict) revert EpochNotStarted(epoch);
            return bytes32(0);
        }
        seed = blockhash(start);
        if (seed == bytes32(0)) {
            if (strict) revert SeedUnavailable(epoch);
            return seed;
        }
        epochSeed[epoch] = seed;
        emit EpochCheckpointed(epoch, seed);
        // Every epoch with a seed (every epoch with a proof) has Staking's accumulator snapshot
        // at its first block, which vesting reads.
        if (epoch == currentEpoch()) staking.checkpointEpoch();
    }

    /// @dev Whether a commitment must be opened (docs/protocol.md#selection). `os` is the hash
    ///      of the commit deadline block (zero when unknown: no Sampled device is drawn).
    function _mustOpen(uint256 deviceId, uint256 epoch, IStaking.ChallengeMode mode, uint256 challengeBps, bytes32 os)
        internal
        view
        returns (bool)
    {
        if (mode == IStaking.ChallengeMode.Exempt) return false;
        if (mode == IStaking.ChallengeMode.Always) return true;
        Duty memory duty = _duties[deviceId];
        if (duty.forcedPlusOne == epoch + 1 || duty.owedPlusOne == epoch + 1) return true;
        if (os == bytes32(0)) return false;
        return uint256(keccak256(abi.encode(os, deviceId))) % BPS < challengeBps;
    }

    /// @dev The stored hash of `deadline`, storing it (with `store`) while it is available;
    ///      zero when the block is not mined yet or too old.
    function _openSeed(uint256 deadline, bool store) internal returns (bytes32 h) {
        h = openSeed[deadline];
        if (h != bytes32(0) || block.number <= deadline) return h;
        h = blockhash(deadline);
        if (h != bytes32(0) && store) openSeed[deadline] = h;
    }

    function _sample(bytes32 sseed, uint256 q, ProofClass memory pc)
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
        uint256 logS = pc.logStratum;
        leafIndex = (q << logS) | (h & ((1 << logS) - 1));
        entryIndex = (h >> 128) & (uint256(pc.leaf) - 1);
    }

    /// @dev Entry `index` (uint32 big-endian) of a leaf in calldata.
    function _entryAt(bytes calldata leaf, uint256 index) internal pure returns (uint256 v) {
        assembly {
            v := shr(224, calldataload(add(leaf.offset, mul(index, 4))))
        }
    }

    /// @dev sha256(0x00 || leaf) through the precompile at address 2; the leaf is `len` bytes of
    ///      calldata at `offset`, copied past the free memory pointer.
    function _leafHash(uint256 offset, uint256 len) internal view returns (bytes32 h) {
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
    function _fold(bytes32 node, uint256 index, uint256 siblings, uint256 depth)
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

    /// @dev Rebuild each stratum root from its sample's leaf and in-stratum path, then the k
    ///      stratum roots pairwise up to the root (nothing sent that could be derived).
    function _openingRoot(ProofClass memory pc, bytes32 sseed, bytes calldata leaves, bytes32[] calldata proof)
        internal
        view
        returns (bytes32)
    {
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
            (uint256 leafIndex,) = _sample(sseed, q, pc);
            bytes32 h = _leafHash(leavesAt + q * leafBytes, leafBytes);
            level[q] = _fold(h, leafIndex, proofAt + q * pathBytes, pc.logStratum);
        }
        // Combine the k stratum roots in place: level[x] = node(level[2x], level[2x + 1]).
        bytes32 top;
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
        return top;
    }

    function _log2(uint256 x) internal pure returns (uint256 r) {
        while (x > 1) {
            x >>= 1;
            ++r;
        }
    }
}
