// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PoCPSVerifier} from "../../../contracts/PoCPSVerifier.sol";
import {ProofRecords} from "../../../contracts/verifier/ProofRecords.sol";
import {IStaking} from "../../../contracts/interfaces/IStaking.sol";
import {IPoCPSVerifier} from "../../../contracts/interfaces/IPoCPSVerifier.sol";

import {VM} from "../utils/Vm.sol";
import {World} from "../invariant/World.sol";

/// @title ProofWorld
/// @notice The invariant suite's world with its prover's steps exposed one call at a time, so
///         that a test can make each protocol call itself (and a trace can show its gas).
contract ProofWorld is World {
    function commitRoot(uint256 deviceId, uint256 e) external returns (bytes32) {
        bytes memory blob = _product(deviceId, e);
        _blob[deviceId] = blob;
        return _tree(blob)[1];
    }

    function opening(uint256 deviceId, uint256 e)
        external
        view
        returns (bytes memory leaves, bytes32[] memory proof)
    {
        ProofRecords.Record memory r = verifier.record(deviceId, e);
        bytes memory blob = _blob[deviceId];
        bytes32[] memory nodes = _tree(blob);
        bytes32 sseed = keccak256(abi.encode(blockhash(r.commitBlock), r.root));
        uint256 leafBytes = uint256(LEAF) * 4;
        leaves = new bytes(K * leafBytes);
        proof = new bytes32[](K * LOG_STRATUM);
        for (uint256 q = 0; q < K; ++q) {
            (uint256 leafIndex,) = verifier.sampleAt(CLASS_ID, sseed, q);
            for (uint256 b = 0; b < leafBytes; ++b) leaves[q * leafBytes + b] = blob[leafIndex * leafBytes + b];
            uint256 node = LEAVES + leafIndex;
            for (uint256 t = 0; t < LOG_STRATUM; ++t) {
                proof[q * LOG_STRATUM + t] = nodes[node ^ 1];
                node >>= 1;
            }
        }
    }
}

/// @title ProofGasTest
/// @notice The steady-state proof of an Active device (checkpoint, commit, open), made as
///         separate top-level calls: `forge test --isolate -vvvv --mt test_steadyStateProof`
///         traces each as its own transaction (cold storage as on chain), with the gas of every
///         call into Staking. The benchmark of record is `ape run bench` (bench/results/gas.json).
contract ProofGasTest {
    ProofWorld internal world;
    PoCPSVerifier internal verifier;
    uint256 internal id;
    address internal operator;

    function setUp() public {
        world = new ProofWorld();
        verifier = world.verifier();
        // Every commitment drawn, from epoch 2 on (a class change takes effect two epochs later).
        world.setProofClass(10_000, world.MISS_SLASH_BPS());
        id = world.register(world.providers(0), World.Behavior.Honest);
        operator = world.dev(0).operator;
    }

    function _prove(uint256 e) internal {
        VM.roll(verifier.epochStart(e) + 1);
        verifier.checkpoint();
        bytes32 root = world.commitRoot(id, e);
        VM.prank(operator);
        verifier.commit(id, e, root);
        VM.roll(verifier.epochStart(e) + world.COMMIT_WINDOW() + 1);
        (bytes memory leaves, bytes32[] memory proof) = world.opening(id, e);
        VM.prank(operator);
        verifier.open(id, e, leaves, proof);
    }

    function test_steadyStateProof() public {
        _prove(1); // Pending -> Active
        _prove(2);
        _prove(3); // steady state: finalises epoch 2's credit
        require(world.stateOf(id) == IStaking.DeviceState.Active, "Active");
        require(verifier.proofStatus(id, 3) == IPoCPSVerifier.ProofStatus.Opened, "opened");
    }
}
