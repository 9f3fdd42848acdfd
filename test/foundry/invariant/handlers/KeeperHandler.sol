// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VM} from "../../utils/Vm.sol";
import {World} from "../World.sol";
import {HandlerBase} from "./HandlerBase.sol";

/// @title KeeperHandler
/// @notice The clock and the watchers: roll blocks (running every device's agent each block),
///         skip many epochs at once (nobody proves: a blackout), report misses for bounties.
contract KeeperHandler is HandlerBase {
    constructor(World world_) HandlerBase(world_) {}

    /// @notice Advance 1..25 blocks, one at a time; every device's agent acts in each block.
    function roll(uint256 blocks) external observed {
        blocks = _bound(blocks, 1, 25);
        // Counted locally: under via-IR the optimizer may treat `block.number` as constant
        // within one call, so it is not re-read after each roll.
        uint256 height = block.number;
        uint256 time = block.timestamp;
        for (uint256 b = 0; b < blocks; ++b) {
            height += 1;
            time += 12;
            VM.roll(height);
            VM.warp(time);
            world.agentStep();
        }
    }

    /// @notice Jump 2..200 epochs with nobody proving (every device at fault in them): claims
    ///         then span many epochs, which must not change their gas.
    function skipEpochs(uint256 epochs) external observed {
        epochs = _bound(epochs, 2, 200);
        uint256 from = world.epoch();
        VM.roll(block.number + epochs * world.EPOCH_BLOCKS());
        VM.warp(block.timestamp + 12 * epochs * world.EPOCH_BLOCKS());
        world.blackout(from, world.epoch());
    }

    /// @notice Governance changes the class's selection rate (1..100%) and miss slash (1..50%).
    function govern(uint256 challengeBps, uint256 missSlashBps) external observed {
        world.setProofClass(uint16(_bound(challengeBps, 1, 10_000)), uint16(_bound(missSlashBps, 1, 5_000)));
    }

    /// @notice Report device `devSeed` missed in the current or the previous epoch.
    function reportMissed(uint256 keeperSeed, uint256 devSeed, bool previous) external observed {
        if (world.deviceCount() == 0) return;
        World.Dev memory d = world.pick(devSeed);
        uint256 e = world.epoch();
        if (previous) {
            if (e == 0) return;
            e -= 1;
        }
        address keeper = world.keepers(keeperSeed % world.KEEPERS());
        VM.prank(keeper);
        try verifier.reportMissed(d.id, e) {} catch {}
    }
}
