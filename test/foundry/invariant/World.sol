// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PinToken} from "../../../contracts/PinToken.sol";
import {Staking} from "../../../contracts/Staking.sol";
import {PoCPSVerifier} from "../../../contracts/PoCPSVerifier.sol";
import {DissipativePool} from "../../../contracts/DissipativePool.sol";
import {IStaking} from "../../../contracts/interfaces/IStaking.sol";
import {IPoCPSVerifier} from "../../../contracts/interfaces/IPoCPSVerifier.sol";

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
    /// @notice Grace misses (v2: a first miss costs no bond), and those of a device and epoch
    ///         with no recorded fault (must stay zero: an honest device never misses).
    uint256 public graceMisses;
    uint256 public wrongGraceMisses;

    mapping(uint256 deviceId => mapping(uint256 epoch => bool)) public faulty;
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
        pool = new DissipativePool(token, staking, verifier, address(this));
        verifier.setPool(address(pool));
        staking.setPool(address(pool));
        staking.setClass(CLASS_ID, Staking.StakeParams({minBond: MIN_BOND, weight: WEIGHT, maxBounty: MAX_BOUNTY}));
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
        returns (PoCPSVerifier.ProofParams memory)
    {
        return PoCPSVerifier.ProofParams({
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
        bytes32 transfer = keccak256("Transfer(address,address,uint256)");
        for (uint256 i = 0; i < logs.length; ++i) {
            Vm.Log memory l = logs[i];
            bytes32 t0 = l.topics.length > 0 ? l.topics[0] : bytes32(0);
            if (l.emitter == address(token) && t0 == transfer) {
                uint256 value = abi.decode(l.data, (uint256));
                if (l.topics[1] == bytes32(0)) ghostMinted += value;
                if (l.topics[2] == bytes32(0)) ghostBurned += value;
            } else if (
                l.emitter == address(verifier)
                    && (t0 == IPoCPSVerifier.MissReported.selector || t0 == IPoCPSVerifier.FraudProven.selector)
            ) {
                slashes += 1;
                if (!isFaulty(uint256(l.topics[1]), uint256(l.topics[2]))) wrongSlashes += 1;
            } else if (l.emitter == address(verifier) && t0 == IPoCPSVerifier.GraceMiss.selector) {
                graceMisses += 1;
                if (!isFaulty(uint256(l.topics[1]), uint256(l.topics[2]))) wrongGraceMisses += 1;
            } else if (l.emitter == address(staking) && t0 == IStaking.DeviceSlashed.selector) {
                stakingSlashEvents += 1;
            }
        }
    }

    // ---------------------------------------------------------------- the agent (honest duties)

    /// @notice One block of every device's agent: commit the product in the commit window when
    ///         challenged, open it in the block after. Offline devices do nothing (and are at
    ///         fault in this epoch); ghosts commit and open garbage.
    function agentStep() external {
        uint256 e = epoch();
        uint256 start = verifier.epochStart(e);
        if (block.number <= start) return; // the epoch seed is not readable yet
        verifier.checkpoint();
        for (uint256 i = 0; i < _devs.length; ++i) {
            Dev memory d = _devs[i];
            if (d.offline) {
                faulty[d.id][e] = true;
                continue;
            }
            PoCPSVerifier.Record memory r = verifier.record(d.id, e);
            if (r.epoch != e) {
                if (block.number < start + COMMIT_WINDOW && verifier.isChallenged(d.id, e)) _commit(d, e);
            } else if (
                r.status == IPoCPSVerifier.ProofStatus.Committed && block.number > r.commitBlock
                    && block.number <= r.commitBlock + OPEN_WINDOW
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

    function _open(Dev memory d, uint256 e, PoCPSVerifier.Record memory r) internal {
        bytes memory blob = _blob[d.id];
        bytes32[] memory nodes = _tree(blob);
        bytes32 sseed = keccak256(abi.encode(blockhash(r.commitBlock), r.root));
        uint256 leafBytes = uint256(LEAF) * 4;
        bytes memory leaves = new bytes(K * leafBytes);
        bytes32[] memory proof = new bytes32[](K * LOG_STRATUM);
        for (uint256 q = 0; q < K; ++q) {
            (uint256 leafIndex,) = verifier.sampleAt(CLASS_ID, sseed, q);
            for (uint256 b = 0; b < leafBytes; ++b) leaves[q * leafBytes + b] = blob[leafIndex * leafBytes + b];
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

    /// @dev C = A x B of the device's challenge, row-major, uint32 big-endian: from the
    ///      verifier's own `entry()` (the normative generator, whatever it becomes).
    function _product(uint256 deviceId, uint256 e) internal view returns (bytes memory blob) {
        bytes32 s = keccak256(abi.encode(verifier.epochSeed(e), deviceId, e));
        blob = new bytes(uint256(N) * N * 4);
        for (uint256 i = 0; i < N; ++i) {
            for (uint256 j = 0; j < N; ++j) {
                uint256 v = verifier.entry(s, N, i, j);
                uint256 at = (i * N + j) * 4;
                blob[at] = bytes1(uint8(v >> 24));
                blob[at + 1] = bytes1(uint8(v >> 16));
                blob[at + 2] = bytes1(uint8(v >> 8));
                blob[at + 3] = bytes1(uint8(v));
            }
        }
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
    function _tree(bytes memory blob) internal pure returns (bytes32[] memory nodes) {
        nodes = new bytes32[](2 * LEAVES);
        uint256 leafBytes = uint256(LEAF) * 4;
        for (uint256 i = 0; i < LEAVES; ++i) {
            bytes memory leaf = new bytes(leafBytes);
            for (uint256 b = 0; b < leafBytes; ++b) leaf[b] = blob[i * leafBytes + b];
            nodes[LEAVES + i] = sha256(abi.encodePacked(bytes1(0x00), leaf));
        }
        for (uint256 x = LEAVES - 1; x >= 1; --x) {
            nodes[x] = sha256(abi.encodePacked(bytes1(0x01), nodes[2 * x], nodes[2 * x + 1]));
        }
    }
}
