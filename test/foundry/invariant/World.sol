// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PinToken} from "../../../contracts/PinToken.sol";
import {Staking} from "../../../contracts/Staking.sol";
import {StakingDevices} from "../../../contracts/staking/StakingDevices.sol";
import {PoCPSVerifier} from "../../../contracts/PoCPSVerifier.sol";
import {ProofClassTable} from "../../../contracts/verifier/ProofClassTable.sol";
import {ProofRecords} from "../../../contracts/verifier/ProofRecords.sol";
import {DissipativePool} from "../../../contracts/DissipativePool.sol";
import {PriceCurve} from "../../../contracts/PriceCurve.sol";
import {IStaking} from "../../../contracts/interfaces/IStaking.sol";
import {IPoCPSVerifier} from "../../../contracts/interfaces/IPoCPSVerifier.sol";
import {IDissipativePool} from "../../../contracts/interfaces/IDissipativePool.sol";

import {VM, Vm} from "../utils/Vm.sol";

/// @title World
/// @notice The deployed protocol, its actors, the ghost variables the invariants compare the
///         contracts against, and a cheap PoCPS prover, shared by every handler.
/// @dev The class is tiny on purpose (n = 16, one leaf per row: 16 leaves): an honest product
///      is 256 calls of the verifier's own `entry()` and a 16-leaf SHA-256 tree, so a fuzzer can
///      prove thousands of device-epochs per run. Every protocol-specific call of the suite is in
///      this contract (deployment, proving, reading devices): retargeting the suite to a new
///      contract API means editing here, while the handlers stay thin.
///
///      Actors: honest providers (their devices are proved by the `agentStep` below every block,
///      like the agent daemon), ghost owners (their devices commit garbage and open it), clients
///      (lease through the pool) and keepers (report misses, collect bounties). A device's fault
///      in an epoch (offline while it owed a proof, a ghost, an epoch skipped wholesale) is
///      recorded here; a slash naming a device and epoch with no recorded fault is counted in
///      `wrongSlashes`, which an invariant keeps at zero.
contract World {
    // ---------------------------------------------------------------- network (tests/support/constants.py)

    uint256 public constant GENESIS = 10_000_000e18;
    uint256 public constant MAX_SUPPLY = 100_000_000e18;
    uint256 public constant EPOCH_BLOCKS = 20;
    uint256 public constant UNBONDING_BLOCKS = 40;
    uint256 public constant REWARD_PER_BLOCK = 1e18;
    uint256 public constant HALVING_BLOCKS = 10_000;
    uint256 public constant MAX_EMISSION = 1_000_000e18;
    uint16 public constant BOUNTY_BPS = 1_000;
    uint256 public constant GRACE_EPOCHS = 30;

    // ---------------------------------------------------------------- the tiny class

    uint16 public constant CLASS_ID = 1;
    uint128 public constant MIN_BOND = 1_000e18;
    uint32 public constant WEIGHT = 10;
    uint128 public constant MAX_BOUNTY = 50e18;
    uint32 public constant N = 16;
    uint16 public constant LEAF = 16;
    uint8 public constant K = 4;
    uint8 public constant C = 1;
    uint16 public constant COMMIT_WINDOW = 4;
    uint16 public constant OPEN_WINDOW = 4;
    uint16 public constant DISPUTE_WINDOW = 4;
    uint16 public constant CHALLENGE_BPS = 5_000;
    uint16 public constant MISS_SLASH_BPS = 1_000;
    uint16 public constant FRAUD_SLASH_BPS = 5_000;
    uint256 internal constant LEAVES = uint256(N) * N / LEAF; // 16
    uint256 internal constant LOG_LEAVES = 4;
    uint256 internal constant LOG_STRATUM = 2; // log2(LEAVES / K)

    uint128 public constant P_FLOOR = 10e18;
    uint128 public constant P0 = 100e18;
    uint64 public constant ALPHA = 2e18;
    uint16 public constant BETA_BPS = 2_000;
    uint32 public constant MAX_LEASE_EPOCHS = 16;
    uint16 public constant TERMINATE_FEE_BPS = 500;
    uint128 public constant DOWN_BOND = 50e18;

    // ---------------------------------------------------------------- event topics

    // From the interfaces (where the events are declared): a changed signature fails to compile
    // instead of silently uncounting slashes.
    bytes32 internal constant TRANSFER = keccak256("Transfer(address,address,uint256)");
    bytes32 internal immutable MISS_REPORTED = IPoCPSVerifier.MissReported.selector;
    bytes32 internal immutable FRAUD_PROVEN = IPoCPSVerifier.FraudProven.selector;
    bytes32 internal immutable GRACE_MISS = IPoCPSVerifier.GraceMiss.selector;
    bytes32 internal immutable DEVICE_SLASHED = IStaking.DeviceSlashed.selector;
    bytes32 internal immutable REWARDS_CREDITED = IStaking.RewardsCredited.selector;
    bytes32 internal immutable PROOF_REVOKED = IStaking.ProofRevoked.selector;
    bytes32 internal immutable LEASE_ENDED_BY_PROVIDER = IDissipativePool.LeaseEndedByProvider.selector;

    // ---------------------------------------------------------------- actors

    uint256 public constant PROVIDERS = 3;
    uint256 public constant GHOSTS = 2;
    uint256 public constant CLIENTS = 3;
    uint256 public constant KEEPERS = 2;
    uint256 public constant MAX_DEVICES = 10;
    uint256 public constant PROVIDER_FUNDS = 20_000e18;
    uint256 public constant GHOST_FUNDS = 5_000e18;
    uint256 public constant CLIENT_FUNDS = 200_000e18;

    enum Behavior {
        Honest,
        Ghost
    }

    struct Dev {
        uint256 id;
        address owner;
        address operator;
        Behavior behavior;
        bool offline;
    }

    PinToken public immutable token;
    Staking public immutable staking;
    PoCPSVerifier public immutable verifier;
    DissipativePool public immutable pool;

    address[] public providers;
    address[] public ghosts;
    address[] public clients;
    address[] public keepers;
    /// @notice Every address that can hold PIN (conservation sums over these).
    address[] public holders;

    Dev[] internal _devs;

    // ---------------------------------------------------------------- ghost variables

    /// @notice PIN minted / burned as seen in the token's Transfer events of every handler call.
    uint256 public ghostMinted;
    uint256 public ghostBurned;
    /// @notice Slashes (MissReported / FraudProven) of a device and epoch with no recorded fault.
    uint256 public wrongSlashes;
    uint256 public slashes;
    /// @notice Staking `DeviceSlashed` events: each must come with one verifier slash event.
    uint256 public stakingSlashEvents;
    /// @notice Per-proof rewards: credits made final (`RewardsCredited`), those of a ghost's
    ///         device (must stay zero: a garbage opening is convicted, never credited), and
    ///         credits revoked by a fraud conviction (`ProofRevoked`).
    uint256 public credits;
    uint256 public ghostCredits;
    uint256 public revokes;
    /// @notice Largest gas of one `Staking.claim` / `DissipativePool.claim`, and the most epochs
    ///         between a device's accrual checkpoints seen at a claim.
    uint256 public maxClaimGas;
    uint256 public maxPoolClaimGas;
    uint256 public maxClaimElapsed;
    /// @notice Coverage counters (reported by the invariant test's `afterInvariant`).
    uint256 public commits;
    uint256 public opens;
    uint256 public leases;
    uint256 public claims;
    uint256 public epochsSkipped;
    uint256 public governanceChanges;
    /// @notice Products where the mirrored generator disagreed with `PoCPSVerifier.entry`.
    uint256 public generatorMismatches;
    /// @notice Grace misses (v2: a first miss costs no bond), and those of a device and epoch
    ///         with no recorded fault (must stay zero: an honest device never misses).
    uint256 public graceMisses;
    uint256 public wrongGraceMisses;

    mapping(uint256 deviceId => mapping(uint256 epoch => bool)) public faulty;
    /// @notice Leases the pool ended because their device left Active (`LeaseEndedByProvider`).
    ///         One with a pending down report stays live (its money is left to `resolveDown`)
    ///         but no longer counts in D, even once the device is Active again.
    mapping(uint256 leaseId => bool) public endedByProvider;
    mapping(uint256 deviceId => uint256) public deviceIndexPlusOne;
    mapping(uint256 deviceId => bytes) internal _blob; // the committed product (or garbage)
    mapping(uint256 deviceId => uint256) public lastClaimEpoch;
    uint256[2][] internal _blackouts; // epoch ranges nobody proved (skipped wholesale)

    constructor() {
        token = new PinToken(MAX_SUPPLY, GENESIS, address(this), address(this));
        staking = new Staking(
            token, block.number, EPOCH_BLOCKS, UNBONDING_BLOCKS, REWARD_PER_BLOCK, HALVING_BLOCKS, MAX_EMISSION,
            BOUNTY_BPS, address(this)
        );
        verifier = new PoCPSVerifier(staking, GRACE_EPOCHS, address(this));
        staking.setVerifier(address(verifier));
        token.grantRole(token.MINTER_ROLE(), address(staking));
        pool = new DissipativePool(token, staking, verifier, new PriceCurve(), address(this));
        verifier.setPool(address(pool));
        staking.setPool(address(pool));
        staking.setClass(CLASS_ID, StakingDevices.StakeParams({minBond: MIN_BOND, weight: WEIGHT, maxBounty: MAX_BOUNTY}));
        verifier.setClass(CLASS_ID, proofParams(CHALLENGE_BPS, MISS_SLASH_BPS));
        pool.setClass(
            CLASS_ID,
            DissipativePool.PoolParams({
                pFloor: P_FLOOR,
                p0: P0,
                alpha: ALPHA,
                betaBps: BETA_BPS,
                maxLeaseEpochs: MAX_LEASE_EPOCHS,
                terminateFeeBps: TERMINATE_FEE_BPS,
                downBond: DOWN_BOND
            })
        );

        holders.push(address(this));
        holders.push(address(staking));
        holders.push(address(verifier));
        holders.push(address(pool));
        _actors(providers, 0x1000, PROVIDERS, PROVIDER_FUNDS, address(staking));
        _actors(ghosts, 0x2000, GHOSTS, GHOST_FUNDS, address(staking));
        _actors(clients, 0x3000, CLIENTS, CLIENT_FUNDS, address(pool));
        _actors(keepers, 0x4000, KEEPERS, 0, address(0));
    }

    /// @notice The tiny class's PoCPS parameters with the given selection rate and miss slash
    ///         (what governance may change mid-run; the shape n, L, k, c and windows stay).
    function proofParams(uint16 challengeBps, uint16 missSlashBps)
        public
        pure
        returns (ProofClassTable.ProofParams memory)
    {
        return ProofClassTable.ProofParams({
            n: N,
            leaf: LEAF,
            k: K,
            c: C,
            commitWindow: COMMIT_WINDOW,
            openWindow: OPEN_WINDOW,
            disputeWindow: DISPUTE_WINDOW,
            challengeBps: challengeBps,
            missSlashBps: missSlashBps,
            fraudSlashBps: FRAUD_SLASH_BPS
        });
    }

    /// @notice Governance: change the class's selection rate and miss slash. Takes effect from a
    ///         future epoch (v2): devices proving honestly must never be slashed because of it.
    ///         Returns false when the verifier refuses the change now (a change took effect in
    ///         this very epoch).
    function setProofClass(uint16 challengeBps, uint16 missSlashBps) external returns (bool) {
        try verifier.setClass(CLASS_ID, proofParams(challengeBps, missSlashBps)) {
            governanceChanges += 1;
            return true;
        } catch {
            return false;
        }
    }

    function _actors(address[] storage list, uint160 base, uint256 count, uint256 funds, address spender)
        internal
    {
        for (uint160 i = 1; i <= count; ++i) {
            address a = address(base + i);
            list.push(a);
            holders.push(a);
            if (funds > 0) token.transfer(a, funds);
            if (spender != address(0)) {
                VM.prank(a);
                token.approve(spender, type(uint256).max);
            }
        }
    }

    // ---------------------------------------------------------------- reads

    function deviceCount() external view returns (uint256) {
        return _devs.length;
    }

    function dev(uint256 index) external view returns (Dev memory) {
        return _devs[index];
    }

    /// @dev A device picked by a fuzzed seed (the caller checks there is one).
    function pick(uint256 seed) public view returns (Dev memory) {
        return _devs[seed % _devs.length];
    }

    function holderCount() external view returns (uint256) {
        return holders.length;
    }

    function ghostCount() external view returns (uint256) {
        return ghosts.length;
    }

    function bondOf(uint256 deviceId) public view returns (uint256) {
        return staking.getDevice(deviceId).bond;
    }

    function stateOf(uint256 deviceId) public view returns (IStaking.DeviceState) {
        return staking.getDevice(deviceId).state;
    }

    function epoch() public view returns (uint256) {
        return staking.currentEpoch();
    }

    /// @notice Whether `deviceId` had a recorded fault in `e` (so a slash for `e` is deserved).
    function isFaulty(uint256 deviceId, uint256 e) public view returns (bool) {
        uint256 i = deviceIndexPlusOne[deviceId];
        if (i == 0) return false;
        if (_devs[i - 1].behavior == Behavior.Ghost || faulty[deviceId][e]) return true;
        for (uint256 b = 0; b < _blackouts.length; ++b) {
            if (e >= _blackouts[b][0] && e <= _blackouts[b][1]) return true;
        }
        return false;
    }

    // ---------------------------------------------------------------- actions shared by handlers

    /// @notice Register a device for `owner` (honest or ghost by who owns it).
    function register(address owner, Behavior behavior) external returns (uint256 id) {
        address operator = address(uint160(0x5000 + _devs.length + 1));
        VM.prank(owner);
        id = staking.registerDevice(CLASS_ID, keccak256(abi.encode("fingerprint", _devs.length)), operator);
        _devs.push(Dev({id: id, owner: owner, operator: operator, behavior: behavior, offline: false}));
        deviceIndexPlusOne[id] = _devs.length;
        lastClaimEpoch[id] = epoch();
    }

    /// @notice An honest device's agent stops (or resumes) proving. Offline marks the epoch faulty.
    function setOffline(uint256 deviceId, bool offline) external {
        _devs[deviceIndexPlusOne[deviceId] - 1].offline = offline;
        if (offline) faulty[deviceId][epoch()] = true;
    }

    function noteClaim(uint256 deviceId, uint256 gasUsed, bool fromPool) external {
        claims += 1;
        if (fromPool) {
            if (gasUsed > maxPoolClaimGas) maxPoolClaimGas = gasUsed;
            return;
        }
        if (gasUsed > maxClaimGas) maxClaimGas = gasUsed;
        uint256 elapsed = epoch() - lastClaimEpoch[deviceId];
        if (elapsed > maxClaimElapsed) maxClaimElapsed = elapsed;
        lastClaimEpoch[deviceId] = epoch();
    }

    function noteLease() external {
        leases += 1;
    }

    /// @notice Epochs `[from, to]` pass with nobody proving: every device is at fault in them.
    function blackout(uint256 from, uint256 to) external {
        _blackouts.push([from, to]);
        epochsSkipped += to - from + 1;
    }

    /// @notice Account the token and slash events of one handler call (`VM.recordLogs` before it).
    function observe() external {
        Vm.Log[] memory logs = VM.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            Vm.Log memory l = logs[i];
            bytes32 t0 = l.topics.length > 0 ? l.topics[0] : bytes32(0);
            if (l.emitter == address(token) && t0 == TRANSFER) {
                uint256 value = abi.decode(l.data, (uint256));
                if (l.topics[1] == bytes32(0)) ghostMinted += value;
                if (l.topics[2] == bytes32(0)) ghostBurned += value;
            } else if (
                l.emitter == address(verifier)
                    && (t0 == MISS_REPORTED || t0 == FRAUD_PROVEN)
            ) {
                slashes += 1;
                if (!isFaulty(uint256(l.topics[1]), uint256(l.topics[2]))) wrongSlashes += 1;
            } else if (l.emitter == address(verifier) && t0 == GRACE_MISS) {
                graceMisses += 1;
                if (!isFaulty(uint256(l.topics[1]), uint256(l.topics[2]))) wrongGraceMisses += 1;
            } else if (l.emitter == address(staking) && t0 == DEVICE_SLASHED) {
                stakingSlashEvents += 1;
            } else if (l.emitter == address(staking) && t0 == REWARDS_CREDITED) {
                credits += 1;
                uint256 k = deviceIndexPlusOne[uint256(l.topics[1])];
                if (k != 0 && _devs[k - 1].behavior == Behavior.Ghost) ghostCredits += 1;
            } else if (l.emitter == address(staking) && t0 == PROOF_REVOKED) {
                revokes += 1;
            } else if (l.emitter == address(pool) && t0 == LEASE_ENDED_BY_PROVIDER) {
                endedByProvider[uint256(l.topics[1])] = true;
            }
        }
    }

    // ---------------------------------------------------------------- the agent (honest duties)

    /// @notice One block of every device's agent (PoCPS v2): every device that owes a commitment
    ///         commits its product in the commit window; after the deadline it opens when drawn
    ///         (`mustOpen`). Offline devices do nothing (and are at fault in this epoch); ghosts
    ///         commit garbage and open it when drawn.
    function agentStep() external {
        uint256 e = epoch();
        uint256 start = verifier.epochStart(e);
        uint256 deadline = start + COMMIT_WINDOW;
        // Nothing to do before the epoch seed is readable, or once the open window has closed:
        // only offline devices are marked at fault then (cheap: rolls are most of the calls).
        bool active = block.number > start && block.number <= deadline + OPEN_WINDOW;
        if (active) verifier.checkpoint();
        for (uint256 i = 0; i < _devs.length; ++i) {
            Dev memory d = _devs[i];
            if (d.offline) {
                faulty[d.id][e] = true;
                continue;
            }
            if (!active) continue;
            ProofRecords.Record memory r = verifier.record(d.id, e);
            if (r.epoch != e) {
                if (block.number < deadline && verifier.mustCommit(d.id, e)) _commit(d, e);
            } else if (
                r.status == IPoCPSVerifier.ProofStatus.Committed && block.number > deadline
                    && verifier.mustOpen(d.id, e)
            ) {
                _open(d, e, r);
            }
        }
    }

    function _commit(Dev memory d, uint256 e) internal {
        bytes memory blob = d.behavior == Behavior.Honest ? _product(d.id, e) : _garbage(d.id, e);
        _blob[d.id] = blob;
        bytes32[] memory nodes = _tree(blob);
        VM.prank(d.operator);
        verifier.commit(d.id, e, nodes[1]);
        commits += 1;
    }

    function _open(Dev memory d, uint256 e, ProofRecords.Record memory r) internal {
        bytes memory blob = _blob[d.id];
        bytes32[] memory nodes = _tree(blob);
        bytes32 sseed = keccak256(abi.encode(blockhash(r.commitBlock), r.root));
        uint256 leafBytes = uint256(LEAF) * 4;
        bytes memory leaves = new bytes(K * leafBytes);
        bytes32[] memory proof = new bytes32[](K * LOG_STRATUM);
        for (uint256 q = 0; q < K; ++q) {
            (uint256 leafIndex,) = verifier.sampleAt(CLASS_ID, sseed, q);
            assembly ("memory-safe") {
                mcopy(add(add(leaves, 0x20), mul(q, leafBytes)), add(add(blob, 0x20), mul(leafIndex, leafBytes)), leafBytes)
            }
            uint256 node = LEAVES + leafIndex;
            for (uint256 t = 0; t < LOG_STRATUM; ++t) {
                proof[q * LOG_STRATUM + t] = nodes[node ^ 1];
                node >>= 1;
            }
        }
        VM.prank(d.operator);
        verifier.open(d.id, e, leaves, proof);
        opens += 1;
    }

    /// @dev C = A x B of the device's challenge, row-major, uint32 big-endian. Computed here
    ///      with a mirror of the verifier's generator (n = 16: one splitmix64 word per row of A
    ///      and column of B; 32 words instead of 256 `entry()` calls, which made the suite
    ///      several times slower), and checked against the verifier's own `entry()` at one
    ///      entry drawn per product. On a mismatch (the generator changed) the product is
    ///      recomputed from `entry()` alone, so the suite stays right, and `generatorMismatches`
    ///      counts it: the set-up test fails on it, to get the mirror updated.
    function _product(uint256 deviceId, uint256 e) internal returns (bytes memory blob) {
        bytes32 s = keccak256(abi.encode(verifier.epochSeed(e), deviceId, e));
        blob = _mirrorProduct(s);
        uint256 flat = uint256(keccak256(abi.encode("check", deviceId, e))) % (uint256(N) * N);
        uint256 got = verifier.entry(s, N, flat / N, flat % N);
        uint256 mine;
        assembly ("memory-safe") {
            mine := shr(224, mload(add(add(blob, 0x20), shl(2, flat))))
        }
        if (got != mine) {
            generatorMismatches += 1;
            blob = _entryProduct(s);
        }
    }

    /// @dev The product from the verifier's `entry()` (256 calls).
    function _entryProduct(bytes32 s) internal view returns (bytes memory blob) {
        uint256 len = uint256(N) * N * 4;
        // 32 bytes of slack past the end: each entry is written as a whole word, in order.
        blob = new bytes(len + 32);
        assembly ("memory-safe") {
            mstore(blob, len)
        }
        uint256 at;
        for (uint256 i = 0; i < N; ++i) {
            for (uint256 j = 0; j < N; ++j) {
                uint256 v = verifier.entry(s, N, i, j);
                assembly ("memory-safe") {
                    mstore(add(add(blob, 0x20), at), shl(224, v))
                }
                at += 4;
            }
        }
    }

    /// @dev The product from a mirror of `PoCPSVerifier.entry` for n = 16 (docs/protocol.md:
    ///      row i of A is nibbles of splitmix64(keccak(s, "A", i) + golden), column j of B of
    ///      splitmix64(keccak(s, "B", j) + golden); C[i][j] = sum of the 16 nibble products).
    function _mirrorProduct(bytes32 s) internal pure returns (bytes memory blob) {
        uint256[16] memory rows;
        uint256[16] memory cols;
        for (uint256 i = 0; i < 16; ++i) {
            rows[i] = _spread(_splitmix(uint256(keccak256(abi.encodePacked(s, bytes1("A"), i)))));
            cols[i] = _reverseSpread(_splitmix(uint256(keccak256(abi.encodePacked(s, bytes1("B"), i)))));
        }
        uint256 len = uint256(N) * N * 4;
        blob = new bytes(len + 32);
        assembly ("memory-safe") {
            mstore(blob, len)
            let at := add(blob, 0x20)
            for { let i := 0 } lt(i, 16) { i := add(i, 1) } {
                let a := mload(add(rows, shl(5, i)))
                for { let j := 0 } lt(j, 16) { j := add(j, 1) } {
                    // Lane 15 of a * b is the dot product (as in the verifier).
                    mstore(at, shl(224, shr(240, mul(a, mload(add(cols, shl(5, j)))))))
                    at := add(at, 4)
                }
            }
        }
    }

    /// @dev splitmix64(seed + golden) of the low 64 bits of `seed` (the first word of a row).
    function _splitmix(uint256 seed) internal pure returns (uint256 z) {
        assembly ("memory-safe") {
            z := and(add(and(seed, 0xFFFFFFFFFFFFFFFF), 0x9E3779B97F4A7C15), 0xFFFFFFFFFFFFFFFF)
            z := and(mul(xor(z, shr(30, z)), 0xBF58476D1CE4E5B9), 0xFFFFFFFFFFFFFFFF)
            z := and(mul(xor(z, shr(27, z)), 0x94D049BB133111EB), 0xFFFFFFFFFFFFFFFF)
            z := xor(z, shr(31, z))
        }
    }

    /// @dev Nibble t -> bits [16t, 16t + 4).
    function _spread(uint256 a) internal pure returns (uint256) {
        assembly ("memory-safe") {
            a := or(a, shl(96, a))
            a := and(or(a, shl(48, a)), 0xffff000000000000ffff000000000000ffff000000000000ffff)
            a := and(or(a, shl(24, a)), 0xff000000ff000000ff000000ff000000ff000000ff000000ff000000ff)
            a := and(or(a, shl(12, a)), 0xf000f000f000f000f000f000f000f000f000f000f000f000f000f000f000f)
        }
        return a;
    }

    /// @dev Nibble t -> bits [16(15 - t), 16(15 - t) + 4).
    function _reverseSpread(uint256 b) internal pure returns (uint256) {
        assembly ("memory-safe") {
            b := or(shr(32, b), shl(128, b))
            b := and(or(shl(64, b), shr(16, b)), 0xffff000000000000ffff000000000000ffff000000000000ffff)
            b := and(or(shl(32, b), shr(8, b)), 0xff000000ff000000ff000000ff000000ff000000ff000000ff000000ff)
            b := and(or(shl(16, b), shr(4, b)), 0xf000f000f000f000f000f000f000f000f000f000f000f000f000f000f000f)
        }
        return b;
    }

    /// @dev What a device without the hardware commits: bytes unrelated to the challenge.
    function _garbage(uint256 deviceId, uint256 e) internal pure returns (bytes memory blob) {
        blob = new bytes(uint256(N) * N * 4);
        for (uint256 w = 0; w < blob.length / 32; ++w) {
            bytes32 x = keccak256(abi.encode("garbage", deviceId, e, w));
            assembly ("memory-safe") {
                mstore(add(add(blob, 0x20), shl(5, w)), x)
            }
        }
    }

    /// @dev SHA-256 tree of docs/protocol.md (leaf: sha256(0x00 || leaf), node:
    ///      sha256(0x01 || left || right)) in heap order: nodes[1] is the root, the leaves'
    ///      hashes are nodes[LEAVES ..).
    function _tree(bytes memory blob) internal view returns (bytes32[] memory nodes) {
        nodes = new bytes32[](2 * LEAVES);
        uint256 leafBytes = uint256(LEAF) * 4;
        bytes memory buf = new bytes(1 + leafBytes);
        uint256 count = LEAVES;
        assembly ("memory-safe") {
            let b := add(buf, 0x20)
            let out := add(nodes, 0x20)
            mstore8(b, 0)
            for { let i := 0 } lt(i, count) { i := add(i, 1) } {
                mcopy(add(b, 1), add(add(blob, 0x20), mul(i, leafBytes)), leafBytes)
                if iszero(staticcall(gas(), 2, b, add(1, leafBytes), add(out, shl(5, add(count, i))), 0x20)) {
                    revert(0, 0)
                }
            }
            mstore8(b, 1)
            for { let x := sub(count, 1) } gt(x, 0) { x := sub(x, 1) } {
                mstore(add(b, 1), mload(add(out, shl(6, x))))
                mstore(add(b, 33), mload(add(out, add(shl(6, x), 0x20))))
                if iszero(staticcall(gas(), 2, b, 65, add(out, shl(5, x)), 0x20)) { revert(0, 0) }
            }
        }
    }
}
