// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IStaking} from "./interfaces/IStaking.sol";
import {IPoCPSVerifier} from "./interfaces/IPoCPSVerifier.sol";
import {PoCPSEntry} from "./lib/PoCPSEntry.sol";
import {Sha256Merkle} from "./lib/Sha256Merkle.sol";

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

    // ---------------------------------------------------------------- constants / immutables

    uint32 internal constant EMPTY_EPOCH = type(uint32).max;
    /// @dev Basis-point denominator.
    uint256 internal constant BPS = 10_000;
    /// @notice Epochs between `setClass` and the new version taking effect: every window of the
    ///         current epoch closes first, and providers see the change a whole epoch ahead.
    uint256 public constant CLASS_DELAY_EPOCHS = 2;
    /// @notice Largest `graceEpochs` (one month of 1 h epochs).
    uint256 public constant MAX_GRACE_EPOCHS = 720;

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
        uint256 logLeaves = PoCPSEntry.log2(n * n / leaf);
        if (p.k == 0 || p.k > 64 || p.k & (p.k - 1) != 0 || PoCPSEntry.log2(p.k) > logLeaves) revert InvalidParameter("k");
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
        (ProofClass memory pc, uint256 odds) = _openable(_records[deviceId][epoch & 1], deviceId, epoch);
        bytes32 sseed = _checkedRoot(pc, deviceId, epoch, leaves, proof);
        bytes32 s = keccak256(abi.encode(epochSeed[epoch], deviceId, epoch));
        (bool bad, Check memory wrong) = _firstWrongEntry(pc, sseed, s, leaves);
        Record storage r = _records[deviceId][epoch & 1];
        if (bad) {
            // The prover's own opening convicts it: no bounty, the whole slash is burned.
            _slashFraud(r, deviceId, epoch, pc.fraudSlashBps, address(0), wrong);
            return;
        }
        r.openBlock = uint64(block.number);
        r.status = ProofStatus.Opened;
        emit Opened(deviceId, epoch, sseed);
        _passed(deviceId, epoch, odds);
    }

    /// @dev Check the opening's lengths and that its leaves and paths fold to the committed
    ///      root; returns the sample seed `keccak256(abi.encode(blockhash(commitBlock), root))`.
    function _checkedRoot(
        ProofClass memory pc,
        uint256 deviceId,
        uint256 epoch,
        bytes calldata leaves,
        bytes32[] calldata proof
    ) internal view returns (bytes32 sseed) {
        if (leaves.length != uint256(pc.k) * pc.leaf * 4 || proof.length != uint256(pc.k) * pc.logStratum) {
            revert BadLength(leaves.length, proof.length);
        }
        Record storage r = _records[deviceId][epoch & 1];
        bytes32 root = r.root;
        sseed = keccak256(abi.encode(blockhash(r.commitBlock), root));
        if (_openingRoot(pc, sseed, leaves, proof) != root) revert BadProof(deviceId, epoch);
    }

    /// @dev A passed opening: record a passed forced challenge and tell Staking, which activates
    ///      the device if due and credits an owed or drawn opening. A later conviction turns the
    ///      record's `Opened` status into `Slashed` and revokes the credit.
    function _passed(uint256 deviceId, uint256 epoch, uint256 odds) internal {
        Duty storage duty = _duties[deviceId];
        if (duty.forcedPlusOne == epoch + 1) duty.forcedPassedPlusOne = uint32(epoch + 1);
        if (odds != 0) staking.proofPassed(deviceId, epoch, odds);
    }

    /// @dev Checks of `open` before the proof: committed, not opened, in the window, operator.
    ///      Returns the class in force and the opening's `openOdds`.
    function _openable(Record storage r, uint256 deviceId, uint256 epoch)
        internal
        view
        returns (ProofClass memory pc, uint256 odds)
    {
        if (r.epoch != epoch) revert NotCommitted(deviceId, epoch);
        if (r.status != ProofStatus.Committed) revert AlreadyOpened(deviceId, epoch);
        (, address operator, uint16 classId, IStaking.ChallengeMode mode) = staking.challengeInfo(deviceId, epoch);
        if (msg.sender != operator) revert NotOperator(deviceId, msg.sender);
        pc = _paramsAt(classId, epoch);
        // Openings start after the commit deadline (every root is in before any is opened) and
        // last `openWindow` blocks. Any committed device may open; only an owed or drawn
        // opening earns (`openOdds`).
        uint256 deadline = _epochStart(epoch) + pc.commitWindow;
        if (block.number <= deadline) revert OpenTooEarly(deviceId, epoch);
        if (block.number > deadline + pc.openWindow) {
            revert OpenWindowClosed(deviceId, epoch, deadline + pc.openWindow);
        }
        // Within the open window the deadline's hash is still available (openWindow +
        // disputeWindow <= 255): the value `openSeed` stores.
        odds = _odds(_duties[deviceId], epoch, mode, pc.challengeBps, blockhash(deadline), deviceId);
    }

    /// @dev Recompute the samples of the `c` checked strata (drawn from `sseed`, unknown at
    ///         commit); returns the first wrong one.
    function _firstWrongEntry(ProofClass memory pc, bytes32 sseed, bytes32 s, bytes calldata leaves)
        internal
        pure
        returns (bool bad, Check memory w)
    {
        uint256 leafBytes = uint256(pc.leaf) * 4;
        uint256[] memory strata = PoCPSEntry.checkedStrata(sseed, pc.k, pc.c);
        for (uint256 j = 0; j < strata.length; ++j) {
            w.q = strata[j];
            uint256 leafIndex;
            (leafIndex, w.entry) = _sample(sseed, w.q, pc);
            w.claimed = PoCPSEntry.entryAt(leaves[w.q * leafBytes:(w.q + 1) * leafBytes], w.entry);
            uint256 flat = leafIndex * pc.leaf + w.entry;
            w.expected = entry(s, pc.n, flat / pc.n, flat % pc.n);
            if (w.claimed != w.expected) return (true, w);
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
        w.claimed = PoCPSEntry.entryAt(leaf, entryIndex);
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
        // A convicted opening neither passes a forced challenge nor earns anything, even after
        // its record slot is recycled.
        Duty storage duty = _duties[deviceId];
        if (duty.forcedPassedPlusOne == epoch + 1) duty.forcedPassedPlusOne = 0;
        staking.revokeProof(deviceId, epoch);
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
        return Sha256Merkle.fold(Sha256Merkle.leafHash(leafAt, leaf.length), leafIndex, pathAt, path.length);
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
        bool committed = r.epoch == epoch;
        if (committed) {
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
        // A missed commit (the short window a stuffer can fill) with no other miss in the
        // graceEpochs before it is a grace miss. A drawn commitment not opened within the (long)
        // open window is a normal miss.
        uint256 g = graceEpochs;
        bool grace = !committed && g != 0 && (last == 0 || epoch + 1 >= last + g);
        if (epoch + 1 > last) duty.lastMissPlusOne = uint32(epoch + 1);
        if (grace) {
            // No bond is taken and nothing is paid (stuffing a window never pays); the device
            // must prove the next epoch, and a miss there is a second miss.
            r.status = ProofStatus.Missed;
            uint256 owed = current + 1;
            duty.owedPlusOne = uint32(owed + 1);
            emit GraceMiss(deviceId, epoch, msg.sender, owed);
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
        return openOdds(deviceId, epoch) != 0;
    }

    /// @notice The probability, in basis points, that `deviceId`'s commitment of `epoch` had to
    ///         be opened: `BPS` when owed regardless of the draw (`Always`, forced, owed after a
    ///         grace miss), `challengeBps` when drawn, 0 when not drawn (or not known yet). A
    ///         passed opening earns `1 / odds` times the device's share of the epoch's emission
    ///         (docs/protocol.md#vesting): a voluntary opening (odds 0) earns nothing.
    function openOdds(uint256 deviceId, uint256 epoch) public view returns (uint256) {
        (,, uint16 classId, IStaking.ChallengeMode mode) = staking.challengeInfo(deviceId, epoch);
        ProofClass memory pc = paramsAt(classId, epoch);
        if (!pc.exists || epochSeed[epoch] == bytes32(0)) return 0;
        uint256 deadline = _epochStart(epoch) + pc.commitWindow;
        bytes32 os = openSeed[deadline];
        if (os == bytes32(0) && block.number > deadline) os = blockhash(deadline);
        return _odds(_duties[deviceId], epoch, mode, pc.challengeBps, os, deviceId);
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
        return PoCPSEntry.checkedStrata(sampleSeed, pc.k, pc.c);
    }

    /// @notice C[i][j] of the challenge with seed `s` and size `n`, recomputed in O(n)
    ///         (`PoCPSEntry.entry`, docs/protocol.md#entry-recomputation).
    function entry(bytes32 s, uint256 n, uint256 i, uint256 j) public pure returns (uint256) {
        return PoCPSEntry.entry(s, n, i, j);
    }

    // ---------------------------------------------------------------- internals

    function _sample(bytes32 sseed, uint256 q, ProofClass memory pc)
        internal
        pure
        returns (uint256 leafIndex, uint256 entryIndex)
    {
        return PoCPSEntry.sample(sseed, q, pc.logStratum, pc.leaf);
    }

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
        // at its first block, which the credit of a passed opening reads.
        if (epoch == currentEpoch()) staking.checkpointEpoch();
    }

    /// @dev Whether a commitment must be opened (docs/protocol.md#selection). `os` is the hash
    ///      of the commit deadline block (zero when unknown: no Sampled device is drawn).
    function _mustOpen(uint256 deviceId, uint256 epoch, IStaking.ChallengeMode mode, uint256 challengeBps, bytes32 os)
        internal
        view
        returns (bool)
    {
        return _odds(_duties[deviceId], epoch, mode, challengeBps, os, deviceId) != 0;
    }

    /// @dev `openOdds` from the device's duties and the deadline's hash `os` (zero when unknown:
    ///      no Sampled device is drawn).
    function _odds(
        Duty memory duty,
        uint256 epoch,
        IStaking.ChallengeMode mode,
        uint256 challengeBps,
        bytes32 os,
        uint256 deviceId
    ) internal pure returns (uint256) {
        if (mode == IStaking.ChallengeMode.Exempt) return 0;
        if (mode == IStaking.ChallengeMode.Always) return BPS;
        if (duty.forcedPlusOne == epoch + 1 || duty.owedPlusOne == epoch + 1) return BPS;
        if (os == bytes32(0)) return 0;
        return uint256(keccak256(abi.encode(os, deviceId))) % BPS < challengeBps ? challengeBps : 0;
    }

    /// @dev The stored hash of `deadline`, storing it (with `store`) while it is available;
    ///      zero when the block is not mined yet or too old.
    function _openSeed(uint256 deadline, bool store) internal returns (bytes32 h) {
        h = openSeed[deadline];
        if (h != bytes32(0) || block.number <= deadline) return h;
        h = blockhash(deadline);
        if (h != bytes32(0) && store) openSeed[deadline] = h;
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
            bytes32 h = Sha256Merkle.leafHash(leavesAt + q * leafBytes, leafBytes);
            level[q] = Sha256Merkle.fold(h, leafIndex, proofAt + q * pathBytes, pc.logStratum);
        }
        return Sha256Merkle.foldLevel(level);
    }


}
