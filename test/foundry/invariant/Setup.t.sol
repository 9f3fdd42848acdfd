// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IStaking} from "../../../contracts/interfaces/IStaking.sol";

import {PinFiSetup} from "./PinFi.invariants.t.sol";

/// @title SetupTest
/// @notice The invariant runs start from a live network: if the agent stopped proving (an API
///         change the world missed), every invariant would hold vacuously. This fails instead.
contract SetupTest is PinFiSetup {
    function test_setupProvesHonestAndConvictsGhost() public view {
        for (uint256 i = 0; i < 3; ++i) {
            _eq(uint256(world.stateOf(world.dev(i).id)), uint256(IStaking.DeviceState.Active), "honest device Active");
        }
        _le(1, world.slashes(), "the ghost was slashed");
        _eq(world.wrongSlashes(), 0, "no honest device slashed");
        _le(6, world.opens(), "honest devices opened");
        // The world mirrors PoCPSVerifier.entry to compute products cheaply: update
        // World._mirrorProduct when the generator changes (the suite stays right, only slower).
        _eq(world.generatorMismatches(), 0, "World._mirrorProduct differs from PoCPSVerifier.entry");
    }
}
