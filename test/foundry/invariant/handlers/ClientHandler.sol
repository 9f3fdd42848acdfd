// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IStaking} from "../../../../contracts/interfaces/IStaking.sol";

import {VM} from "../../utils/Vm.sol";
import {World} from "../World.sol";
import {HandlerBase} from "./HandlerBase.sol";

/// @title ClientHandler
/// @notice Clients of the dissipative pool: lease, extend, terminate, report a device down and
///         resolve the report.
contract ClientHandler is HandlerBase {
    constructor(World world_) HandlerBase(world_) {}

    /// @notice Lease the first Active, free device from `devSeed` on, for 1..maxLeaseEpochs.
    function lease(uint256 clientSeed, uint256 devSeed, uint256 epochs) external observed {
        uint256 count = world.deviceCount();
        for (uint256 t = 0; t < count; ++t) {
            World.Dev memory d = world.pick(devSeed % count + t);
            if (world.stateOf(d.id) != IStaking.DeviceState.Active) continue;
            (,,,,, bool live) = pool.leaseOf(d.id);
            (,,,, uint256 forced,) = pool.escrowOf(d.id);
            if (live || forced != 0) continue;
            epochs = _bound(epochs, 1, world.MAX_LEASE_EPOCHS());
            uint256 cost;
            try pool.quote(world.CLASS_ID(), epochs) returns (uint256 c) {
                cost = c;
            } catch {
                return; // D == R: nothing free
            }
            address client = world.clients(clientSeed % world.CLIENTS());
            if (token.balanceOf(client) < cost) return;
            VM.prank(client);
            pool.lease(d.id, epochs, cost, type(uint256).max, bytes32(0));
            world.noteLease();
            return;
        }
    }

    function extend(uint256 devSeed, uint256 epochs) external observed {
        (World.Dev memory d, address client, uint256 start, uint256 end) = _liveLease(devSeed);
        if (client == address(0) || world.stateOf(d.id) != IStaking.DeviceState.Active) return;
        start;
        uint256 remaining = end - world.epoch();
        uint256 max = world.MAX_LEASE_EPOCHS();
        if (remaining >= max) return;
        epochs = _bound(epochs, 1, max - remaining);
        uint256 leaseId = pool.currentLeaseId(d.id);
        uint256 cost = pool.quoteExtend(leaseId, epochs);
        if (token.balanceOf(client) < cost) return;
        VM.prank(client);
        pool.extend(leaseId, epochs, cost, type(uint256).max);
    }

    function terminate(uint256 devSeed) external observed {
        (World.Dev memory d, address client,,) = _liveLease(devSeed);
        if (client == address(0)) return;
        uint256 leaseId = pool.currentLeaseId(d.id);
        VM.prank(client);
        pool.terminate(leaseId);
    }

    function reportDown(uint256 devSeed) external observed {
        (World.Dev memory d, address client,,) = _liveLease(devSeed);
        if (client == address(0) || token.balanceOf(client) < world.DOWN_BOND()) return;
        uint256 leaseId = pool.currentLeaseId(d.id);
        VM.prank(client);
        pool.reportDown(leaseId);
    }

    function resolveDown(uint256 devSeed) external observed {
        if (world.deviceCount() == 0) return;
        World.Dev memory d = world.pick(devSeed);
        (,,,, uint256 forced,) = pool.escrowOf(d.id);
        if (forced == 0 || world.epoch() <= forced) return;
        pool.resolveDown(pool.currentLeaseId(d.id));
    }

    /// @dev A live lease with no pending down report (client 0 when the picked device has none).
    function _liveLease(uint256 devSeed)
        internal
        view
        returns (World.Dev memory d, address client, uint256 start, uint256 end)
    {
        if (world.deviceCount() == 0) return (d, address(0), 0, 0);
        d = world.pick(devSeed);
        bool live;
        (client, start, end,,, live) = pool.leaseOf(d.id);
        (,,,, uint256 forced,) = pool.escrowOf(d.id);
        if (!live || forced != 0) client = address(0);
    }
}
