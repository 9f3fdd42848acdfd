// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IStaking} from "../../../contracts/interfaces/IStaking.sol";

import {PinFiInvariants} from "./PinFi.invariants.t.sol";

/// @title SetupTest
/// @notice The invariant runs start from a live network: if the agent stopped proving (an API
///         change the world missed), every invariant would hold vacuously. This fails instead.
contract SetupTest is PinFiInvariants {
    function test_setupProvesHonestAndConvictsGhost() public view {
        for (uint256 i = 0; i < 3; ++i) {
            _eq(uint256(world.stateOf(world.dev(i).id)), uint256(IStaking.DeviceState.Active), "honest device Active");
        }
        _le(1, world.slashes(), "the ghost was slashed");
        _eq(world.wrongSlashes(), 0, "no honest device slashed");
        _le(6, world.opens(), "honest devices opened");
    }
}
