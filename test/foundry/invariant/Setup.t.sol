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

    /// @notice Regression of /work/notes/forge-findings.md #1 (found by invariant_noSlashWithoutFault):
    ///         a device back from one epoch of maintenance must not be reportable for that epoch.
    function test_maintenanceEpochNotReportable() public {
        uint256 id = world.dev(0).id;
        providers.declareMaintenance(0, 0); // one epoch: the next one
        uint256 maintenance = world.epoch() + 1;
        keepers.roll(24);
        keepers.roll(14); // the epoch after: the device proves (Always) and is Active again
        _eq(world.epoch(), maintenance + 1, "in the epoch after the maintenance");
        _eq(uint256(world.stateOf(id)), uint256(IStaking.DeviceState.Active), "back Active");
        keepers.reportMissed(0, 0, true); // device 0, previous epoch (the maintenance)
        _eq(world.wrongGraceMisses() + world.wrongSlashes(), 0, "maintenance epoch reported missed");
    }
}
