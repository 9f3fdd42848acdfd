// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IStaking} from "../../../contracts/interfaces/IStaking.sol";

import {InvariantBase} from "../utils/InvariantBase.sol";
import {console} from "../utils/console.sol";
import {World} from "./World.sol";
import {ProviderHandler} from "./handlers/ProviderHandler.sol";
import {ClientHandler} from "./handlers/ClientHandler.sol";
import {KeeperHandler} from "./handlers/KeeperHandler.sol";

/// @title PinFiSetup
/// @notice The world, the three handlers and what the fuzzer may call, shared by the invariant
///         suite and its set-up test.
abstract contract PinFiSetup is InvariantBase {
    World internal world;
    ProviderHandler internal providers;
    ClientHandler internal clients;
    KeeperHandler internal keepers;

    function setUp() public {
        world = new World();
        providers = new ProviderHandler(world);
        clients = new ClientHandler(world);
        keepers = new KeeperHandler(world);

        bytes4[] memory p = new bytes4[](9);
        p[0] = ProviderHandler.register.selector;
        p[1] = ProviderHandler.goOffline.selector;
        p[2] = ProviderHandler.goOnline.selector;
        p[3] = ProviderHandler.declareMaintenance.selector;
        p[4] = ProviderHandler.deregister.selector;
        p[5] = ProviderHandler.withdraw.selector;
        p[6] = ProviderHandler.unjail.selector;
        p[7] = ProviderHandler.claimRewards.selector;
        p[8] = ProviderHandler.claimPool.selector;
        _target(address(providers), p);

        bytes4[] memory c = new bytes4[](5);
        c[0] = ClientHandler.lease.selector;
        c[1] = ClientHandler.extend.selector;
        c[2] = ClientHandler.terminate.selector;
        c[3] = ClientHandler.reportDown.selector;
        c[4] = ClientHandler.resolveDown.selector;
        _target(address(clients), c);

        // The clock twice: time must pass for anything to happen.
        bytes4[] memory k = new bytes4[](5);
        k[0] = KeeperHandler.roll.selector;
        k[1] = KeeperHandler.roll.selector;
        k[2] = KeeperHandler.skipEpochs.selector;
        k[3] = KeeperHandler.reportMissed.selector;
        k[4] = KeeperHandler.govern.selector;
        _target(address(keepers), k);

        // Start every run from a small live network: three honest devices and a ghost, the
        // honest ones proven and Active after two epochs.
        providers.register(0, false);
        providers.register(1, false);
        providers.register(2, false);
        providers.register(0, true);
        keepers.roll(24); // 25 blocks
        keepers.roll(24);
    }

}

/// @title PinFiInvariants
/// @notice Handler-based invariant suite (the style of Uniswap v4's and Morpho's): the fuzzer
///         calls only the handlers, which drive the protocol with bounded inputs and keep ghost
///         variables; after every call each invariant below is checked against them.
///         See docs/protocol.md for the properties; issue 10 for why each is here.
contract PinFiInvariants is PinFiSetup {
    /// @notice Bound on one `Staking.claim` (cold storage, a mint): O(1), whatever the epochs
    ///         elapsed since the device's last checkpoint (up to thousands in this suite).
    uint256 public constant CLAIM_GAS_BOUND = 150_000;
    /// @notice Bound on one `DissipativePool.claim`.
    uint256 public constant POOL_CLAIM_GAS_BOUND = 100_000;

    /// @notice PIN is conserved: supply = genesis + minted - burned, minted only as rewards,
    ///         and every token sits with a known holder (actors and contracts).
    function invariant_conservation() public view {
        uint256 supply = world.token().totalSupply();
        _eq(supply, world.GENESIS() + world.ghostMinted() - world.ghostBurned(), "supply != genesis+minted-burned");
        _eq(world.ghostMinted(), world.staking().totalMinted(), "minted != Staking.totalMinted");
        uint256 sum;
        for (uint256 i = 0; i < world.holderCount(); ++i) {
            sum += world.token().balanceOf(world.holders(i));
        }
        _eq(sum, supply, "sum of balances != totalSupply");
        _le(supply, world.MAX_SUPPLY(), "supply > cap");
    }

    /// @notice Every contract can pay what it owes: Staking holds exactly the bonds (rewards are
    ///         minted, never held), the pool holds every owner's escrow and every pending down
    ///         bond. Rewards are credited per passed proof (docs/protocol.md#vesting) and may be
    ///         owed beyond the schedule by chance; what is minted never is, and no device can
    ///         claim more than the emission not yet distributed.
    function invariant_solvency() public view {
        uint256 emitted = world.staking().emittedUntil(block.number);
        uint256 minted = world.staking().totalMinted();
        _le(minted, emitted, "minted > emission");
        _le(emitted, world.MAX_EMISSION(), "emission > maxEmission");
        uint256 bonds;
        uint256 poolOwes;
        for (uint256 i = 0; i < world.deviceCount(); ++i) {
            uint256 id = world.dev(i).id;
            bonds += world.bondOf(id);
            uint256 claimable = world.staking().earned(id);
            _le(claimable, emitted - minted, "claimable > undistributed emission");
            _le(claimable, world.staking().owedRewards(id), "claimable > owed rewards");
            (,, uint256 owed,,, uint256 downBond) = world.pool().escrowOf(id);
            poolOwes += owed + downBond;
        }
        address staking = address(world.staking());
        _eq(world.staking().totalBonded(), bonds, "Staking.totalBonded != sum of bonds");
        _eq(world.token().balanceOf(staking), bonds, "Staking balance != bonds");
        _eq(world.token().balanceOf(address(world.pool())), poolOwes, "pool balance != escrow + down bonds");
    }

    /// @notice No slash without an on-chain fault: every slash names a device and epoch in which
    ///         its handler made it fail (offline, ghost, skipped epochs). Slashes only go
    ///         through the verifier.
    function invariant_noSlashWithoutFault() public view {
        _eq(world.wrongSlashes(), 0, "honest device slashed");
        _eq(world.wrongGraceMisses(), 0, "honest device reported missed");
        _eq(world.stakingSlashEvents(), world.slashes(), "Staking slash without a verifier fault");
    }

    /// @notice D <= R: the pool's demand never exceeds the Active supply, and D counts exactly
    ///         the live leases of Active devices. A live lease whose device left the Active set
    ///         exists only while a down report on it is pending (its money is settled by
    ///         `resolveDown`); the pool ended it then (`LeaseEndedByProvider`), so it is not
    ///         counted in D, even if the device is Active again before the report is resolved.
    function invariant_demandWithinSupply() public view {
        (uint256 demand, uint256 supply,) = world.pool().classState(world.CLASS_ID());
        _le(demand, supply, "D > R");
        uint256 live;
        for (uint256 i = 0; i < world.deviceCount(); ++i) {
            uint256 id = world.dev(i).id;
            (,,,,, bool isLive) = world.pool().leaseOf(id);
            if (!isLive) continue;
            if (world.endedByProvider(world.pool().currentLeaseId(id))) {
                (,,,, uint256 forced,) = world.pool().escrowOf(id);
                _le(1, forced, "live lease ended by its provider without a pending down report");
                continue;
            }
            _eq(uint256(world.stateOf(id)), uint256(IStaking.DeviceState.Active), "live lease on a non-Active device");
            live += 1;
        }
        _eq(demand, live, "D != live leases of Active devices");
    }

    /// @notice Claims are O(1): no claim ever cost more than a constant bound, however many
    ///         epochs passed since the device's last checkpoint.
    function invariant_claimsConstantGas() public view {
        _le(world.maxClaimGas(), CLAIM_GAS_BOUND, "Staking.claim gas");
        _le(world.maxPoolClaimGas(), POOL_CLAIM_GAS_BOUND, "pool claim gas");
    }

    /// @notice A ghost never profits: an owner whose devices commit garbage never holds more
    ///         PIN (balance + bonds + rewards owed, final or still pending in their epoch + pool
    ///         escrow) than it started with: a garbage opening is convicted, so never credited.
    function invariant_ghostNeverProfits() public view {
        for (uint256 g = 0; g < world.ghostCount(); ++g) {
            address ghost = world.ghosts(g);
            uint256 wealth = world.token().balanceOf(ghost);
            for (uint256 i = 0; i < world.deviceCount(); ++i) {
                World.Dev memory d = world.dev(i);
                if (d.owner != ghost) continue;
                (,, uint256 owed,,,) = world.pool().escrowOf(d.id);
                wealth += world.bondOf(d.id) + world.staking().owedRewards(d.id) + world.staking().pendingReward(d.id) + owed;
            }
            _le(wealth, world.GHOST_FUNDS(), "ghost profited");
        }
        _eq(world.ghostCredits(), 0, "a ghost's device was credited");
    }

    /// @notice Coverage of the run (printed with -vv).
    function afterInvariant() public view {
        console.log("devices", world.deviceCount());
        console.log("commits", world.commits());
        console.log("opens", world.opens());
        console.log("slashes", world.slashes());
        console.log("leases", world.leases());
        console.log("credits", world.credits());
        console.log("revoked credits", world.revokes());
        console.log("claims", world.claims());
        console.log("max claim gas", world.maxClaimGas());
        console.log("max claim elapsed epochs", world.maxClaimElapsed());
        console.log("epochs skipped", world.epochsSkipped());
        console.log("grace misses", world.graceMisses());
        console.log("governance changes", world.governanceChanges());
        console.log("epoch", world.epoch());
    }
}
