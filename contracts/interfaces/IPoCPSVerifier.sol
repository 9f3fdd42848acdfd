// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IPoCPSVerifier
/// @notice What the dissipative pool and off-chain tools use of the PoCPS verifier.
interface IPoCPSVerifier {
    /// @notice Status of a device's proof record for one epoch. `Slashed`: a fraud or a slashed
    ///         miss; `Missed`: a grace miss (no slash).
    enum ProofStatus {
        None,
        Committed,
        Opened,
        Slashed,
        Missed
    }

    /// @notice Pool only: challenge `deviceId` in `epoch` whatever the sampling says.
    function forceChallenge(uint256 deviceId, uint256 epoch) external;

    /// @notice Status of the proof of `deviceId` for `epoch` (`None` once the record is recycled,
    ///         two epochs later, except for a passed forced challenge, which stays `Opened`).
    function proofStatus(uint256 deviceId, uint256 epoch) external view returns (ProofStatus);

    /// @notice Epoch + 1 of the device's latest passed opening that no dispute convicted (0:
    ///         none). Kept for tools; rewards are credited per passed opening (`IStaking.proofPassed`).
    function lastPassPlusOne(uint256 deviceId) external view returns (uint256);

    /// @notice Staking only: warm the device's two proof-record slots at registration so that
    ///         every later `commit` writes non-zero to non-zero storage.
    function prepare(uint256 deviceId) external;

    // ---------------------------------------------------------------- types (shared)

    /// @notice PoCPS parameters of one device class (one storage slot; bounds in
    ///         docs/protocol.md#governance-bounds).
    struct ProofClass {
        uint32 n; // matrix size, a power of two in [16, 65536]
        uint16 leaf; // entries per leaf L, a power of two, L <= n, L <= 1024
        uint8 k; // samples per opening, a power of two in [1, 64], k <= leaves
        uint8 c; // strata recomputed on-chain at open (drawn from the sample seed), 1 <= c <= k
        uint8 logLeaves; // log2(n*n/L)
        uint8 logStratum; // log2(n*n/L/k): proof nodes per sample
        uint16 commitWindow; // blocks after the epoch start to get the commit mined
        uint16 openWindow; // blocks after the commit deadline to open
        uint16 disputeWindow; // blocks after the opening to dispute
        uint16 challengeBps; // share of Sampled commitments drawn for opening, basis points
        uint16 missSlashBps; // slash of a missed challenge
        uint16 fraudSlashBps; // slash of a wrong entry
        bool exists;
    }

    // ---------------------------------------------------------------- errors

    /// @notice A zero address was given.
    error ZeroAddress();
    /// @notice `setPool` may be called once.
    error PoolAlreadySet();
    /// @notice Only `Staking` may call this hook.
    error NotStaking(address caller);
    /// @notice Only the dissipative pool may force a challenge.
    error NotPool(address caller);
    /// @notice The class has no PoCPS parameters (for the epoch judged).
    error UnknownClass(uint16 classId);
    /// @notice A governance bound failed (docs/protocol.md#governance-bounds); `name` says which.
    error InvalidParameter(string name);
    /// @notice The epoch has not started (no seed yet).
    error EpochNotStarted(uint256 epoch);
    /// @notice The epoch's seed was never stored and its block hash is gone.
    error SeedUnavailable(uint256 epoch);
    /// @notice Commits are for the current epoch only.
    error WrongEpoch(uint256 epoch, uint256 current);
    /// @notice A zero root cannot be committed.
    error ZeroRoot();
    /// @notice Only the device's operator key may commit and open.
    error NotOperator(uint256 deviceId, address caller);
    /// @notice The device owes nothing for the epoch (Exempt), or its commitment was not drawn for opening.
    error NotSelected(uint256 deviceId, uint256 epoch);
    /// @notice The commit deadline (`epochStart + commitWindow`) has passed.
    error CommitWindowClosed(uint256 deviceId, uint256 epoch, uint256 deadline);
    /// @notice One commitment per device and epoch.
    error AlreadyCommitted(uint256 deviceId, uint256 epoch);
    /// @notice No commitment of the device for the epoch (or its record was recycled).
    error NotCommitted(uint256 deviceId, uint256 epoch);
    /// @notice The commitment was already opened (or judged).
    error AlreadyOpened(uint256 deviceId, uint256 epoch);
    /// @notice Openings start after the commit deadline.
    error OpenTooEarly(uint256 deviceId, uint256 epoch);
    /// @notice The open window (`deadline + openWindow`) has passed.
    error OpenWindowClosed(uint256 deviceId, uint256 epoch, uint256 deadline);
    /// @notice Calldata of the wrong size for the class.
    error BadLength(uint256 leavesLength, uint256 proofLength);
    /// @notice The opened leaves and paths do not fold to the committed root.
    error BadProof(uint256 deviceId, uint256 epoch);
    /// @notice Only a passed opening can be disputed.
    error NotOpened(uint256 deviceId, uint256 epoch);
    /// @notice The dispute window (`openBlock + disputeWindow`) has passed.
    error DisputeWindowClosed(uint256 deviceId, uint256 epoch, uint256 deadline);
    /// @notice No such sample or entry in an opening.
    error BadSample(uint256 q, uint256 entry);
    /// @notice The disputed entry is correct.
    error NoFraud(uint256 deviceId, uint256 epoch, uint256 q, uint256 entry);
    /// @notice The device opened the epoch: nothing missed.
    error NotMissed(uint256 deviceId, uint256 epoch);
    /// @notice The epoch's miss or fraud was already judged.
    error AlreadySlashed(uint256 deviceId, uint256 epoch);
    /// @notice A miss is reportable from `fromBlock` (deadline, or end of the open window).
    error ReportTooEarly(uint256 deviceId, uint256 epoch, uint256 fromBlock);
    /// @notice Misses are reportable until the end of epoch `epoch + 1`.
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
    /// @notice The dissipative pool was wired.
    event PoolSet(address pool);
    /// @notice The epoch's seed `S_e` was stored.
    event EpochCheckpointed(uint256 indexed epoch, bytes32 seed);
    /// @notice A device committed its product's root for the epoch.
    event Committed(uint256 indexed deviceId, uint256 indexed epoch, bytes32 root);
    /// @notice An opening passed the on-chain checks (disputable for `disputeWindow` blocks).
    event Opened(uint256 indexed deviceId, uint256 indexed epoch, bytes32 sampleSeed);
    /// @notice A wrong entry was proven (at open, or by `dispute`); `slashed` taken from the bond.
    event FraudProven(
        uint256 indexed deviceId, uint256 indexed epoch, address indexed reporter, uint256 q, uint256 entry,
        uint256 claimed, uint256 expected, uint256 slashed
    );
    /// @notice A second miss within `graceEpochs` was reported: slashed and jailed.
    event MissReported(uint256 indexed deviceId, uint256 indexed epoch, address indexed reporter, uint256 slashed);
    /// @notice The pool forced the device's opening in `epoch` (a client's `reportDown`).
    event ChallengeForced(uint256 indexed deviceId, uint256 indexed epoch);
}
