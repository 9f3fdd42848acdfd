// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {Staking} from "../../../contracts/Staking.sol";
import {PoCPSVerifier} from "../../../contracts/PoCPSVerifier.sol";
import {StakingDevices} from "../../../contracts/staking/StakingDevices.sol";
import {ProofRecords} from "../../../contracts/verifier/ProofRecords.sol";
import {IStaking} from "../../../contracts/interfaces/IStaking.sol";
import {IPoCPSVerifier} from "../../../contracts/interfaces/IPoCPSVerifier.sol";

import {VM} from "../utils/Vm.sol";
import {console} from "../utils/console.sol";
import {World} from "../invariant/World.sol";

/// @dev The one cheatcode this test needs beyond test/foundry/utils/Vm.sol (forge >= 1.0).
interface VmBlockhash {
    function setBlockhash(uint256 blockNumber, bytes32 blockHash) external;
}

/// @title RewardWorld
/// @notice The invariant suite's World (deployment, honest prover) with three more classes of
///         the same tiny proof shape but larger stake weights, so devices of different weights
///         are proved by the same agent (`World.agentStep`: commit every epoch, open when drawn).
contract RewardWorld is World {
    /// @notice Stake weight of classes CLASS_ID (World.WEIGHT), CLASS_ID+1, ... (shares 1:2:3:4).
    uint32[4] public weights = [WEIGHT, 2 * WEIGHT, 3 * WEIGHT, 4 * WEIGHT];
    address[] public owners;

    constructor() {
        for (uint16 i = 1; i < 4; ++i) {
            staking.setClass(
                CLASS_ID + i, StakingDevices.StakeParams({minBond: MIN_BOND, weight: weights[i], maxBounty: MAX_BOUNTY})
            );
            // Same n, L, k, c as CLASS_ID: World._open's sampleAt(CLASS_ID, ..) holds for them too.
            verifier.setClass(CLASS_ID + i, proofParams(CHALLENGE_BPS, MISS_SLASH_BPS));
        }
        _actors(owners, 0x7000, 4, 8 * MIN_BOND, address(staking));
    }

    /// @notice Owner `i` registers an honest device of class `CLASS_ID + i` (weight `weights[i]`).
    function registerOwnerDevice(uint256 i) external returns (uint256 id) {
        address operator = address(uint160(0x8000 + _devs.length + 1));
        VM.prank(owners[i]);
        id = staking.registerDevice(CLASS_ID + uint16(i), keccak256(abi.encode("reward-share", _devs.length)), operator);
        _devs.push(Dev({id: id, owner: owners[i], operator: operator, behavior: Behavior.Honest, offline: false}));
        deviceIndexPlusOne[id] = _devs.length;
    }
}

/// @title RewardShareTest
/// @notice Issue 10: the per-proof reward design pays honest devices their weight share.
///
///         Rules (docs/protocol.md#rewards-per-proof): every Sampled device commits every epoch;
///         after the deadline each one is drawn independently with probability p = challengeBps /
///         10000; a passed drawn opening of epoch P credits `w * (rpw[P+1] - rpw[P]) / p`
///         (odds = challengeBps), an owed opening (Always, forced) `w * (rpw[P+1] - rpw[P])`, a
///         voluntary one 0, and an undrawn device (present, no opening) 0. So an honest Sampled
///         device's credit in an epoch is `X * w * c / p` with X ~ Bernoulli(p) and c the epoch's
///         emission per weight: its expectation is `w * c`, the device's weight share of the
///         epoch's emission, whatever p. Over T epochs an owner of devices of weight w_i earns
///         in expectation T * c * sum(w_i): rewards proportional to weight. This test runs that
///         with real commits and openings (World.agentStep) at p = 50% and checks (1) every
///         credit is exactly the rule, (2) each owner's measured share of the credits is within
///         4 sigma of its weight share, (3) the credits total the emission within 4 sigma,
///         (4) emission follows the schedule and nothing is ever minted beyond it.
///
///         Tolerance (derived, not tuned): owner i has K devices of weight w_i; its credit is
///         R_i = (w_i c / p) N_i with N_i ~ Binomial(K T, p) (devices drawn independently).
///         With d_i = N_i / (K T p) - 1, Var(d_i) = v = (1 - p) / (K T p). The share
///         s_i = w_i N_i / sum_j w_j N_j; to first order (delta method) around sigma_i = w_i / W:
///         s_i - sigma_i = sigma_i * (d_i - sum_j sigma_j d_j), so
///         sd(s_i) = sigma_i * sqrt(v * ((1 - sigma_i)^2 + sum_{j != i} sigma_j^2)).
///         Here shares 0.1/0.2/0.3/0.4, p = 0.5, K = 2, T = 400 (v = 1/800):
///         sd = 0.0037/0.0067/0.0089/0.0100 and the test allows 4 sd (0.015/0.027/0.035/0.040;
///         a false failure has probability < 1e-4 per owner, and the block hashes are fixed, so
///         the run is deterministic). The total credited over the emission has relative
///         sd sqrt(v * sum_j sigma_j^2) = 0.0194 (4 sd: 7.7%).
contract RewardShareTest {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;
    uint256 internal constant OWNERS = 4;
    uint256 internal constant PER_OWNER = 2;
    /// @notice Measured epochs (after the activation epoch): 400 x 8 device-epochs, a few seconds.
    uint256 internal constant T = 400;
    /// @notice Owners claim every this many epochs (the funding cap is checked at each claim).
    uint256 internal constant CLAIM_EVERY = 50;

    RewardWorld internal world;
    Staking internal staking;
    PoCPSVerifier internal verifier;
    /// @notice ids[i][k]: owner i's k-th device (class CLASS_ID + i).
    uint256[PER_OWNER][OWNERS] internal ids;
    /// @notice Measured epochs in which a device was drawn (and opened).
    mapping(uint256 deviceId => uint256[]) internal drawnEpochs;
    mapping(uint256 deviceId => uint256) internal claimed;

    function setUp() public {
        world = new RewardWorld();
        staking = world.staking();
        verifier = world.verifier();
        for (uint256 i = 0; i < OWNERS; ++i) {
            for (uint256 k = 0; k < PER_OWNER; ++k) {
                ids[i][k] = world.registerOwnerDevice(i);
            }
        }
    }

    function test_honestRewardIsWeightShare() public {
        uint256 genesis = staking.genesisBlock();
        uint256 first = staking.currentEpoch() + 1; // the devices' activation epoch (mode Always)
        uint256 last = first + T; // measured epochs: (first, last]
        // The schedule has no halving inside the run, so emission is rewardPerBlock per block.
        _le(verifier.epochStart(last + 2) - genesis, world.HALVING_BLOCKS(), "run crosses a halving");

        _runEpoch(first, false);
        for (uint256 i = 0; i < OWNERS; ++i) {
            for (uint256 k = 0; k < PER_OWNER; ++k) {
                _eq(uint256(staking.getDevice(ids[i][k]).state), uint256(IStaking.DeviceState.Active), "Active");
            }
        }
        // Baseline: at the first measured epoch's start the activation credits are final.
        _rollTo(verifier.epochStart(first + 1));
        uint256[OWNERS] memory base;
        for (uint256 i = 0; i < OWNERS; ++i) {
            base[i] = _credited(i);
        }
        uint256 emittedBase = staking.emittedUntil(block.number);

        for (uint256 e = first + 1; e <= last; ++e) {
            _runEpoch(e, true);
            _checkSchedule(genesis);
            if ((e - first) % CLAIM_EVERY == 0) _claimAll(genesis);
        }
        // Every measured credit is final once the epoch after the last one has started.
        _rollTo(verifier.epochStart(last + 1));
        uint256 emission = staking.emittedUntil(block.number) - emittedBase;
        _eq(emission, T * world.EPOCH_BLOCKS() * world.REWARD_PER_BLOCK(), "emission of the measured epochs");

        uint256 w;
        uint256 total;
        uint256[OWNERS] memory got;
        for (uint256 i = 0; i < OWNERS; ++i) {
            w += world.weights(i);
            got[i] = _credited(i) - base[i];
            total += got[i];
            _eq(got[i], _exactCredits(i), "credits != sum over drawn epochs of w * dRpw * BPS / challengeBps");
        }
        uint256 p = world.CHALLENGE_BPS();
        uint256 v = (BPS - p) * WAD * WAD / (p * PER_OWNER * T); // Var(d_i), WAD^2-scaled
        uint256 sumSq; // sum_j sigma_j^2, WAD-scaled
        for (uint256 i = 0; i < OWNERS; ++i) {
            uint256 sigma = world.weights(i) * WAD / w;
            sumSq += sigma * sigma / WAD;
        }
        for (uint256 i = 0; i < OWNERS; ++i) {
            uint256 sigma = world.weights(i) * WAD / w;
            uint256 q = (WAD - sigma) * (WAD - sigma) / WAD + sumSq - sigma * sigma / WAD;
            uint256 tol = 4 * sigma * Math.sqrt(v * q / WAD) / WAD;
            uint256 share = got[i] * WAD / total;
            console.log(string.concat("owner ", Strings.toString(i), ": device weight"), world.weights(i));
            console.log("  drawn device-epochs", _drawn(i));
            console.log("  weight share (1e18)", sigma);
            console.log("  reward share (1e18)", share);
            console.log("  4-sigma tolerance (1e18)", tol);
            _near(share, sigma, tol, "reward share vs weight share");
        }
        // Credits total the emission in expectation (relative sd sqrt(v * sum sigma^2)).
        uint256 totalTol = 4 * emission * Math.sqrt(v * sumSq / WAD) / WAD;
        console.log("emission of the measured epochs", emission);
        console.log("credited over them", total);
        _near(total, emission, totalTol, "credits vs emission");

        // Everything left is claimable up to the schedule, never beyond it.
        _claimAll(genesis);
        _le(staking.totalMinted(), staking.emittedUntil(block.number), "minted > emitted");
        _le(total, staking.totalMinted(), "the measured credits were not all paid");
    }

    // ---------------------------------------------------------------- driving

    /// @dev One epoch of the honest agents with controlled block hashes: the epoch seed and the
    ///      deadline block hash (the opening draw) are fixed pseudo-random values, so the run is
    ///      deterministic. Each device commits in the window and opens after the deadline when
    ///      it must (World.agentStep); a measured epoch records the devices drawn.
    function _runEpoch(uint256 e, bool measured) internal {
        uint256 start = verifier.epochStart(e);
        uint256 deadline = start + world.COMMIT_WINDOW();
        _rollTo(start + 1);
        VmBlockhash(address(VM)).setBlockhash(start, keccak256(abi.encode("pinfi-reward-share seed", e)));
        world.agentStep(); // checkpoint + every device commits
        _rollTo(deadline + 1);
        VmBlockhash(address(VM)).setBlockhash(deadline, keccak256(abi.encode("pinfi-reward-share draw", e)));
        world.agentStep(); // devices that must open do
        for (uint256 i = 0; i < OWNERS; ++i) {
            for (uint256 k = 0; k < PER_OWNER; ++k) {
                uint256 id = ids[i][k];
                ProofRecords.Record memory r = verifier.record(id, e);
                _eq(r.epoch, e, "device committed");
                if (!verifier.mustOpen(id, e)) continue;
                _eq(uint256(r.status), uint256(IPoCPSVerifier.ProofStatus.Opened), "drawn device opened");
                // The activation epoch was owed (Always) and credited at odds 10000; the views
                // now read the device as Sampled for it (mode at call time): not measured.
                if (!measured) continue;
                _eq(verifier.openOdds(id, e), world.CHALLENGE_BPS(), "a Sampled device is drawn at challengeBps");
                drawnEpochs[id].push(e);
            }
        }
    }

    function _rollTo(uint256 height) internal {
        VM.roll(height);
        VM.warp(block.timestamp + 12);
    }

    function _claimAll(uint256 genesis) internal {
        for (uint256 i = 0; i < OWNERS; ++i) {
            for (uint256 k = 0; k < PER_OWNER; ++k) {
                uint256 id = ids[i][k];
                if (staking.earned(id) == 0) continue;
                VM.prank(world.owners(i));
                claimed[id] += staking.claim(id);
                _checkSchedule(genesis);
            }
        }
    }

    /// @dev Total emission follows the schedule (no halving here) and minting never exceeds it.
    function _checkSchedule(uint256 genesis) internal view {
        uint256 emitted = staking.emittedUntil(block.number);
        _eq(emitted, (block.number - genesis) * world.REWARD_PER_BLOCK(), "emission != schedule");
        _le(emitted, world.MAX_EMISSION(), "emission > maxEmission");
        _le(staking.totalMinted(), emitted, "minted > emitted");
    }

    /// @dev Everything credited to owner i's devices so far: claimed plus owed (final credits).
    function _credited(uint256 i) internal view returns (uint256 sum) {
        for (uint256 k = 0; k < PER_OWNER; ++k) {
            sum += claimed[ids[i][k]] + staking.owedRewards(ids[i][k]);
        }
    }

    function _drawn(uint256 i) internal view returns (uint256 n) {
        for (uint256 k = 0; k < PER_OWNER; ++k) {
            n += drawnEpochs[ids[i][k]].length;
        }
    }

    /// @dev The per-proof rule for owner i: over its devices' drawn epochs P,
    ///      sum of w * (rpw[P+1] - rpw[P]) * BPS / challengeBps / WAD (Staking._credit).
    function _exactCredits(uint256 i) internal view returns (uint256 sum) {
        uint256 bps = world.CHALLENGE_BPS();
        for (uint256 k = 0; k < PER_OWNER; ++k) {
            uint256[] storage epochs = drawnEpochs[ids[i][k]];
            for (uint256 j = 0; j < epochs.length; ++j) {
                uint256 d = staking.rewardPerWeightAtEpoch(epochs[j] + 1) - staking.rewardPerWeightAtEpoch(epochs[j]);
                sum += world.weights(i) * d * BPS / bps / WAD;
            }
        }
    }

    // ---------------------------------------------------------------- assertions

    function _eq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, ": ", Strings.toString(a), " != ", Strings.toString(b)));
    }

    function _le(uint256 a, uint256 b, string memory what) internal pure {
        if (a > b) revert(string.concat(what, ": ", Strings.toString(a), " > ", Strings.toString(b)));
    }

    function _near(uint256 a, uint256 b, uint256 tol, string memory what) internal pure {
        uint256 diff = a > b ? a - b : b - a;
        if (diff > tol) {
            revert(
                string.concat(
                    what,
                    ": ",
                    Strings.toString(a),
                    " vs ",
                    Strings.toString(b),
                    " (tolerance ",
                    Strings.toString(tol),
                    ")"
                )
            );
        }
    }
}
