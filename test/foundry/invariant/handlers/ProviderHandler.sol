// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IStaking} from "../../../../contracts/interfaces/IStaking.sol";

import {VM} from "../../utils/Vm.sol";
import {World} from "../World.sol";
import {HandlerBase} from "./HandlerBase.sol";

/// @title ProviderHandler
/// @notice Device owners, honest and ghost: register, go offline, maintenance, deregister,
///         withdraw, unjail, and claim (rewards from Staking, escrow from the pool; both timed).
contract ProviderHandler is HandlerBase {
    constructor(World world_) HandlerBase(world_) {}

    function register(uint256 ownerSeed, bool ghost) external observed {
        if (world.deviceCount() >= world.MAX_DEVICES()) return;
        address owner = ghost ? world.ghosts(ownerSeed % world.GHOSTS()) : world.providers(ownerSeed % world.PROVIDERS());
        if (token.balanceOf(owner) < world.MIN_BOND()) return;
        world.register(owner, ghost ? World.Behavior.Ghost : World.Behavior.Honest);
    }

    function goOffline(uint256 devSeed) external observed {
        if (world.deviceCount() == 0) return;
        World.Dev memory d = world.pick(devSeed);
        if (d.behavior != World.Behavior.Honest) return;
        world.setOffline(d.id, true);
    }

    function goOnline(uint256 devSeed) external observed {
        if (world.deviceCount() == 0) return;
        world.setOffline(world.pick(devSeed).id, false);
    }

    function declareMaintenance(uint256 devSeed, uint256 epochs) external observed {
        if (world.deviceCount() == 0) return;
        World.Dev memory d = world.pick(devSeed);
        IStaking.DeviceState s = world.stateOf(d.id);
        if (s != IStaking.DeviceState.Active && s != IStaking.DeviceState.Pending) return;
        VM.prank(d.owner);
        staking.declareMaintenance(d.id, _bound(epochs, 1, 4));
    }

    function deregister(uint256 devSeed) external observed {
        if (world.deviceCount() == 0) return;
        World.Dev memory d = world.pick(devSeed);
        IStaking.DeviceState s = world.stateOf(d.id);
        if (s == IStaking.DeviceState.Exiting || s == IStaking.DeviceState.Withdrawn) return;
        VM.prank(d.owner);
        staking.deregister(d.id);
    }

    function withdraw(uint256 devSeed) external observed {
        if (world.deviceCount() == 0) return;
        World.Dev memory d = world.pick(devSeed);
        if (world.stateOf(d.id) != IStaking.DeviceState.Exiting) return;
        if (block.number < staking.getDevice(d.id).unbondAt) return;
        VM.prank(d.owner);
        staking.withdraw(d.id);
    }

    function unjail(uint256 devSeed) external observed {
        if (world.deviceCount() == 0) return;
        World.Dev memory d = world.pick(devSeed);
        if (world.stateOf(d.id) != IStaking.DeviceState.Jailed) return;
        if (world.epoch() <= staking.getDevice(d.id).stateEpoch) return;
        if (token.balanceOf(d.owner) < world.MIN_BOND()) return;
        VM.prank(d.owner);
        staking.unjail(d.id);
    }

    /// @notice Claim maintenance rewards, measuring the gas of `claim` (O(1): independent of the
    ///         epochs elapsed since the device's last checkpoint).
    function claimRewards(uint256 devSeed) external observed {
        if (world.deviceCount() == 0) return;
        World.Dev memory d = world.pick(devSeed);
        if (staking.earned(d.id) == 0) return;
        VM.prank(d.owner);
        uint256 g = gasleft();
        staking.claim(d.id);
        g -= gasleft();
        world.noteClaim(d.id, g, false);
    }

    function claimPool(uint256 devSeed) external observed {
        if (world.deviceCount() == 0) return;
        World.Dev memory d = world.pick(devSeed);
        if (pool.claimable(d.id) == 0) return;
        VM.prank(d.owner);
        uint256 g = gasleft();
        pool.claim(d.id);
        g -= gasleft();
        world.noteClaim(d.id, g, true);
    }
}
