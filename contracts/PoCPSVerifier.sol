// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IStaking} from "./interfaces/IStaking.sol";
import {IPoCPSVerifier} from "./interfaces/IPoCPSVerifier.sol";
import {EpochClock} from "./lib/EpochClock.sol";
import {PoCPSEntry} from "./lib/PoCPSEntry.sol";
import {PoCPSOpening} from "./lib/PoCPSOpening.sol";
import {ProofClassTable} from "./verifier/ProofClassTable.sol";
import {ChallengeSeeds} from "./verifier/ChallengeSeeds.sol";
import {ProofRecords} from "./verifier/ProofRecords.sol";

/// @title PoCPSVerifier
/// @notice Proof-of-Computing-Power-Staking. Each epoch, selected devices compute an exact integer
///         matrix product C = A x B whose inputs derive from on-chain randomness, commit the Merkle
///         root of C within `commitWindow` blocks, then open k sampled leaves (one per stratum of
///         the leaf range) drawn from the commit block's hash. The contract checks every Merkle
///         path, recomputes `c` sampled entries from the seed in O(n), and lets anyone dispute the
///         other opened entries for `disputeWindow` blocks. A wrong entry is fraud; a selected
///         device without a valid opening is a miss. Both are slashed through `Staking`.
/// @dev Encodings are normative in docs/protocol.md and mirrored bit for bit by `pinfi.protocol`.
///      This contract is the transactions (commit, open, dispute, reportMissed) and the duty
///      rules; the class versions (`ProofClassTable`), the randomness (`ChallengeSeeds`), the
///      per-device records (`ProofRecords`) and the opening math (`PoCPSOpening`) are modules.
///      Every function is O(1) in devices and epochs; `open` loops over the k samples and their
///      paths (k <= 64, depth <= 32).
contract PoCPSVerifier is ProofClassTable, ChallengeSeeds, ProofRecords {
    /// @notice Largest `graceEpochs` (one month of 1 h epochs).
    uint256 public constant MAX_GRACE_EPOCHS = 720;

    IStaking public immutable staking;
    /// @notice A miss with no other miss of the device in the `graceEpochs` epochs before it is
    ///         a grace miss: no slash, no jail, no bounty (0: every miss is slashed).
    uint256 public immutable graceEpochs;

    address public pool;

    // ---------------------------------------------------------------- construction / governance

    /// @dev The clock is Staking's (read once here; a zero `staking_` reverts before any call).
    constructor(IStaking staking_, uint256 graceEpochs_, address admin)
        EpochClock(_nonZero(staking_).genesisBlock(), _nonZero(staking_).epochBlocks())
    {
        if (admin == address(0)) revert ZeroAddress();
        if (graceEpochs_ > MAX_GRACE_EPOCHS) revert InvalidParameter("graceEpochs");
        staking = staking_;
        graceEpochs = graceEpochs_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Wire the dissipative pool (once): it alone may force challenges.
    function setPool(address pool_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (pool != address(0)) revert PoolAlreadySet();
        if (pool_ == address(0)) revert ZeroAddress();
        pool = pool_;
        emit PoolSet(pool_);
    }

    // ---------------------------------------------------------------- hooks

    /// @inheritdoc IPoCPSVerifier
    function prepare(uint256 deviceId) external {
        if (msg.sender != address(staking)) revert NotStaking(msg.sender);
        _warm(deviceId);
    }

    /// @inheritdoc IPoCPSVerifier
    function forceChallenge(uint256 deviceId, uint256 epoch) external {
        if (msg.sender != pool) revert NotPool(msg.sender);
        _duties[deviceId].forcedPlusOne = uint32(epoch + 1);
        emit ChallengeForced(deviceId, epoch);
    }

    // ---------------------------------------------------------------- keeper

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
        Record storage r = _recordOf(deviceId, epoch);
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
        (ProofClass memory pc, uint256 odds) = _openable(_recordOf(deviceId, epoch), deviceId, epoch);
        bytes32 sseed = _checkedRoot(pc, deviceId, epoch, leaves, proof);
        (bool bad, PoCPSOpening.Check memory wrong) =
            PoCPSOpening.firstWrongEntry(pc, sseed, _challengeSeed(deviceId, epoch), leaves);
        Record storage r = _recordOf(deviceId, epoch);
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
        Record storage r = _recordOf(deviceId, epoch);
        ProofClass memory pc = _disputable(r, deviceId, epoch);
        if (q >= pc.k || entryIndex >= pc.leaf) revert BadSample(q, entryIndex);
        if (leaf.length != uint256(pc.leaf) * 4 || path.length != pc.logLeaves) {
            revert BadLength(leaf.length, path.length);
        }
        bytes32 root = r.root;
        (uint256 leafIndex,) = PoCPSOpening.sample(keccak256(abi.encode(blockhash(r.commitBlock), root)), q, pc);
        if (PoCPSOpening.pathRoot(leafIndex, leaf, path) != root) revert BadProof(deviceId, epoch);
        PoCPSOpening.Check memory w;
        w.q = q;
        w.entry = entryIndex;
        w.claimed = PoCPSEntry.entryAt(leaf, entryIndex);
        w.expected = PoCPSOpening.expected(pc, _challengeSeed(deviceId, epoch), leafIndex, entryIndex);
        if (w.claimed == w.expected) revert NoFraud(deviceId, epoch, q, entryIndex);
        _slashFraud(r, deviceId, epoch, pc.fraudSlashBps, msg.sender, w);
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
        Record storage r = _recordOf(deviceId, epoch);
        bool committed = r.epoch == epoch;
        if (committed) {
            ProofStatus status = r.status;
            if (status == ProofStatus.Opened) revert NotMissed(deviceId, epoch);
            if (status == ProofStatus.Slashed || status == ProofStatus.Missed) revert AlreadySlashed(deviceId, epoch);
            uint256 from = deadline + pc.openWindow + 1;
            if (block.number < from) revert ReportTooEarly(deviceId, epoch, from);
            // Committed and not drawn for opening: present for the epoch.
            if (_odds(_duties[deviceId], epoch, mode, pc.challengeBps, _openSeed(deadline, true), deviceId) == 0) {
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

    /// @notice First block of `epoch`.
    function epochStart(uint256 epoch) external view returns (uint256) {
        return _epochStart(epoch);
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
        return PoCPSOpening.sample(sampleSeed, q, _paramsAt(classId, currentEpoch()));
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

    /// @dev Every epoch with a seed (every epoch with a proof) has Staking's accumulator snapshot
    ///      at its first block, which the credit of a passed opening reads.
    function _onCurrentSeedStored() internal override {
        staking.checkpointEpoch();
    }

    /// @dev The challenge seed of the device's product (docs/protocol.md#challenge-seed).
    function _challengeSeed(uint256 deviceId, uint256 epoch) internal view returns (bytes32) {
        return keccak256(abi.encode(epochSeed[epoch], deviceId, epoch));
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
        // disputeWindow <= MAX_HASH_WINDOW): the value `openSeed` stores.
        odds = _odds(_duties[deviceId], epoch, mode, pc.challengeBps, blockhash(deadline), deviceId);
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
        Record storage r = _recordOf(deviceId, epoch);
        bytes32 root = r.root;
        sseed = keccak256(abi.encode(blockhash(r.commitBlock), root));
        if (PoCPSOpening.openingRoot(pc, sseed, leaves, proof) != root) revert BadProof(deviceId, epoch);
    }

    /// @dev A passed opening: record a passed forced challenge and tell Staking, which activates
    ///      the device if due and credits an owed or drawn opening. A later conviction turns the
    ///      record's `Opened` status into `Slashed` and revokes the credit.
    function _passed(uint256 deviceId, uint256 epoch, uint256 odds) internal {
        Duty storage duty = _duties[deviceId];
        if (duty.forcedPlusOne == epoch + 1) duty.forcedPassedPlusOne = uint32(epoch + 1);
        if (odds != 0) staking.proofPassed(deviceId, epoch, odds);
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

    /// @dev A wrong entry is proven: mark the record, slash and jail, pay `reporter` (if any).
    function _slashFraud(
        Record storage r,
        uint256 deviceId,
        uint256 epoch,
        uint256 bps,
        address reporter,
        PoCPSOpening.Check memory w
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

    /// @dev `openOdds` from the device's duties and the deadline's hash `os` (zero when unknown:
    ///      no Sampled device is drawn). docs/protocol.md#selection.
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

    /// @dev `staking_`, or a revert for the zero address (before the constructor reads it).
    function _nonZero(IStaking staking_) private pure returns (IStaking) {
        if (address(staking_) == address(0)) revert ZeroAddress();
        return staking_;
    }
}
