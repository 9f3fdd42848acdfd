// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PinToken} from "../../../../contracts/PinToken.sol";
import {Staking} from "../../../../contracts/Staking.sol";
import {PoCPSVerifier} from "../../../../contracts/PoCPSVerifier.sol";
import {DissipativePool} from "../../../../contracts/DissipativePool.sol";

import {VM} from "../../utils/Vm.sol";
import {World} from "../World.sol";

/// @title HandlerBase
/// @notice What every handler shares: the world, input bounding, and the `observed` wrapper
///         that feeds each call's token and slash events to the world's ghost variables.
/// @dev Handlers never revert on fuzzed input (the suite runs with `fail_on_revert = true`): an
///      action whose precondition does not hold returns early; an action that may legitimately
///      fail (a report a keeper cannot know is valid) is wrapped in try/catch. A revert in a
///      call whose preconditions were checked is a bug and fails the run.
abstract contract HandlerBase {
    World public immutable world;
    // The contracts, cached: `VM.prank` applies to the next external call, so the call it is
    // meant for must not be preceded by a getter call on the world.
    PinToken internal immutable token;
    Staking internal immutable staking;
    PoCPSVerifier internal immutable verifier;
    DissipativePool internal immutable pool;

    constructor(World world_) {
        world = world_;
        token = world_.token();
        staking = world_.staking();
        verifier = world_.verifier();
        pool = world_.pool();
    }

    modifier observed() {
        VM.recordLogs();
        _;
        world.observe();
    }

    function _bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }
}
