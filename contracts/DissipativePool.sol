// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {PinToken} from "./PinToken.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {IPoCPSVerifier} from "./interfaces/IPoCPSVerifier.sol";
import {IPriceCurve} from "./interfaces/IPriceCurve.sol";
import {IDissipativePool} from "./interfaces/IDissipativePool.sol";
import {LeasePricing} from "./lib/LeasePricing.sol";
import {PoolStorage} from "./pool/PoolStorage.sol";
import {PoolEscrow} from "./pool/PoolEscrow.sol";

/// @title DissipativePool
/// @notice Sells perishable device time per device class. The price of one more device-epoch
///         follows the class's utilization `u = D / R` (D: devices under lease, R: Active devices):
///         `P(u) = pFloor + P0 * u^alpha`; one more device costs, per epoch, the exact integral
///         `pFloor + P0 * R / (alpha + 1) * (((D+1)/R)^(alpha+1) - (D/R)^(alpha+1))`
///         (docs/protocol.md#price), computed by the stateless `PriceCurve`.
///         A lease bought `elapsed` blocks into the current epoch pays that epoch pro rata by
///         block and the later epochs whole (docs/protocol.md#pro-rata). Of each payment
///         `betaBps` is burned at once (dissipation); the rest is escrowed for the device's owner
///         until the lease's dispute epoch has passed.
/// @dev This contract is the lease state machine (open, extend, terminate) and governance; the
///      demand book is `PoolDemandBook`, the money (escrow, refunds, down reports, claims)
///      `PoolEscrow`, the math `LeasePricing`.
///
///      Normative integer form (mirrored by `pinfi.protocol.lease_cost`):
///      `perEpoch = PriceCurve.price(pFloor, p0, alpha, D, R)`,
///      `cost = mulDiv(perEpoch, epochs * epochBlocks - elapsed, epochBlocks)` with
///      `elapsed = (block.number - genesisBlock) % epochBlocks`.
///
///      Clock: `epoch = (block.number - genesisBlock) / epochBlocks`, read from `Staking` once at
///      construction. A lease opened in epoch `s` for `m` epochs covers `[s, s + m)`; its `end`
///      is `s + m`, which is also its dispute epoch (a `reportDown` in the last leased epoch forces
///      the challenge of epoch `end`). Its escrow is released once `currentEpoch > lockedUntil`.
///
///      Devices leaving the Active set: `Staking` (wired with `Staking.setPool`) calls
///      `deviceInactive` whenever an Active device is jailed, declares maintenance or
///      deregisters; the device's live lease ends there and then, so D falls with R.
contract DissipativePool is AccessControl, PoolEscrow {
    using SafeERC20 for IERC20;

    /// @notice Governance input of `setClass` (bounds in docs/protocol.md#governance-bounds).
    struct PoolParams {
        uint128 pFloor; // price floor per device-epoch, in [1, 2^96 - 1] base units
        uint128 p0; // price scale P0, in [0, 2^96 - 1] base units
        uint64 alpha; // exponent (UD60x18), in (0, 4e18]
        uint16 betaBps; // share of each payment burned, <= 10000
        uint32 maxLeaseEpochs; // longest lease, in [1, 8760]
        uint16 terminateFeeBps; // share of a termination refund burned, <= 10000 (new leases only)
        uint128 downBond; // bond of `reportDown`, in [1, 2^96 - 1]
    }

    /// @param token_ The PIN token; its cap must fit in uint96.
    /// @param staking_ Device registry; the pool copies its clock.
    /// @param verifier_ PoCPS verifier; it must list this pool (`setPool`) for `reportDown`.
    /// @param curve_ The price curve (`PriceCurve`), immutable.
    /// @param admin Receives `DEFAULT_ADMIN_ROLE` (sets classes).
    constructor(PinToken token_, IStaking staking_, IPoCPSVerifier verifier_, IPriceCurve curve_, address admin)
        PoolStorage(token_, staking_, verifier_, curve_)
    {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ---------------------------------------------------------------- governance

    /// @notice Create or update the pricing of `classId`. Applies to leases, extensions and
    ///         reports from now on; a live lease keeps what it paid and the `terminateFeeBps` in
    ///         force when it opened. Demand bookkeeping is kept.
    function setClass(uint16 classId, PoolParams calldata p) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (classId == 0) revert ClassIdZero();
        if (p.pFloor == 0 || p.pFloor > MAX_AMOUNT) revert PriceOutOfRange(p.pFloor);
        if (p.p0 > MAX_AMOUNT) revert PriceOutOfRange(p.p0);
        if (p.alpha == 0 || p.alpha > MAX_ALPHA) revert AlphaOutOfRange(p.alpha);
        if (p.betaBps > BPS) revert BpsOutOfRange(p.betaBps);
        if (p.terminateFeeBps > BPS) revert BpsOutOfRange(p.terminateFeeBps);
        if (p.maxLeaseEpochs == 0 || p.maxLeaseEpochs > MAX_LEASE_EPOCHS) {
            revert MaxLeaseEpochsOutOfRange(p.maxLeaseEpochs);
        }
        if (p.downBond == 0 || p.downBond > MAX_AMOUNT) revert DownBondOutOfRange(p.downBond);
        Class storage k = _classes[classId];
        // The casts are safe: each value was checked against MAX_AMOUNT (2^96 - 1) above.
        k.pFloor = uint96(p.pFloor);
        k.p0 = uint96(p.p0);
        k.alpha = p.alpha;
        k.betaBps = p.betaBps;
        k.terminateFeeBps = p.terminateFeeBps;
        k.maxLeaseEpochs = p.maxLeaseEpochs;
        k.downBond = uint96(p.downBond);
        emit ClassSet(classId, p.pFloor, p.p0, p.alpha, p.betaBps, p.maxLeaseEpochs, p.terminateFeeBps, p.downBond);
    }

    // ---------------------------------------------------------------- client actions

    /// @notice Lease Active, free `deviceId` for `epochs` epochs from the current one. The caller
    ///         (client) pays `cost` (approve the pool first, or use `leaseWithPermit`); `burned` of
    ///         it is burned at once and the rest escrowed for the device's owner.
    /// @dev Gas: one `deviceSummary`, one `activeCount` and one `PriceCurve.price` call; the class
    ///      (2 slots, one written), the device's lease and escrow slots, one expiry word (plus, for
    ///      the first lease of the class in an epoch, the words of the epochs passed since the last
    ///      sync). A device leased before has its two slots rewritten non-zero to non-zero; the
    ///      payout slot is not touched.
    /// @param deviceId Device to lease (an Active device of a class with pricing, not leased now).
    /// @param epochs Epochs to lease, in [1, maxLeaseEpochs]; the lease covers
    ///        `[currentEpoch, currentEpoch + epochs)`, the current epoch from this block on.
    /// @param maxCost Most the caller pays (slippage bound); the exact cost is `quote(class, epochs)`
    ///        read at the block that mines the transaction.
    /// @param deadline Latest `block.timestamp` at which the lease may be mined.
    /// @param jobSpec Opaque job description (e.g. a hash of the job manifest), only logged.
    /// @return leaseId `(deviceId << 64) | nonce`, the device's lease counter after this lease.
    function lease(uint256 deviceId, uint256 epochs, uint256 maxCost, uint256 deadline, bytes32 jobSpec)
        external
        nonReentrant
        returns (uint256 leaseId)
    {
        return _lease(deviceId, epochs, maxCost, deadline, jobSpec);
    }

    /// @inheritdoc IDissipativePool
    function leaseWithPermit(
        uint256 deviceId,
        uint256 epochs,
        uint256 maxCost,
        uint256 deadline,
        bytes32 jobSpec,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant returns (uint256 leaseId) {
        // A permit front-run by anyone (it is public in the mempool) has already set the
        // allowance: ignore its failure here and let `transferFrom` decide.
        try token.permit(msg.sender, address(this), maxCost, deadline, v, r, s) {} catch {}
        return _lease(deviceId, epochs, maxCost, deadline, jobSpec);
    }

    /// @notice Client: extend a live lease by `epochs` whole epochs, priced at the current
    ///         marginal integral `[D-1, D]` (the device is already counted in D; D is clipped to
    ///         R, which it can exceed only while a device that left the Active set has a down
    ///         report pending). Same burn/escrow split as `lease`.
    /// @dev The remaining lease after the extension (`newEnd - currentEpoch`) must not exceed
    ///      `maxLeaseEpochs`. The device must still be Active.
    /// @return newEnd The lease's new end epoch.
    function extend(uint256 leaseId, uint256 epochs, uint256 maxCost, uint256 deadline)
        external
        nonReentrant
        returns (uint256 newEnd)
    {
        if (block.timestamp > deadline) revert DeadlineExpired(deadline, block.timestamp);
        if (epochs == 0) revert ZeroEpochs();
        (uint256 deviceId, Device storage dev, Lease memory l,, uint256 current) = _clientLease(leaseId);
        Escrow memory e = dev.escrow;
        if (e.forcedEpoch != 0) revert DownReportPending(deviceId, e.forcedEpoch);
        (, uint16 classId, IStaking.DeviceState state) = staking.deviceSummary(deviceId);
        if (state != IStaking.DeviceState.Active) revert DeviceNotActive(deviceId, state);
        Class memory k = _classes[classId];
        {
            // l.end > current: the lease is live.
            uint256 remaining = l.end - current;
            uint256 room = k.maxLeaseEpochs > remaining ? k.maxLeaseEpochs - remaining : 0;
            if (epochs > room) revert TooManyEpochs(epochs, room);
        }
        newEnd = l.end + epochs;
        uint256 demand = _demandAt(classId, k, current);
        uint256 cost;
        {
            uint256 supply = staking.activeCount(classId);
            // demand >= 1 (this live lease is counted) and supply >= 1 (this device is Active).
            cost = epochs * _price(k, (demand < supply ? demand : supply) - 1, supply);
        }
        if (cost > maxCost) revert SlippageExceeded(cost, maxCost);
        uint256 burned = cost * k.betaBps / BPS;
        uint256 locked = e.locked + cost - burned;
        if (locked > MAX_AMOUNT) revert AmountTooLarge(locked);

        _storeDemand(classId, k, demand, current, newEnd);
        _subExpiryOf(classId, l.end);
        _addExpiry(classId, newEnd);
        dev.lease.end = uint32(newEnd);
        unchecked {
            // Wrapping counter (see `PoolEscrow`); cost - burned <= locked <= MAX_AMOUNT.
            e.credited += uint96(cost - burned);
        }
        e.locked = uint96(locked); // checked against MAX_AMOUNT above
        e.lockedUntil = uint32(newEnd);
        dev.escrow = e;
        emit LeaseExtended(leaseId, deviceId, msg.sender, epochs, newEnd, cost, burned);

        IERC20(address(token)).safeTransferFrom(msg.sender, address(this), cost);
        if (burned != 0) token.burn(burned);
    }

    /// @notice Client: end a live lease now. The unused whole epochs (those after the current
    ///         one) are refunded from the lease's escrow, less `terminateFeeBps`, which is burned.
    ///         D falls at once and the device is free.
    /// @dev Normative (docs/protocol.md#refunds): `refund = unusedShare(locked, startBlock,
    ///      end * epochBlocks, (current + 1) * epochBlocks)` (floor), i.e. `locked * (end -
    ///      current - 1) * epochBlocks / (end * epochBlocks - startBlock)`: the escrowed
    ///      `(1 - beta)` share of the unused epochs; `fee = refund * terminateFeeBps / 10000`; the
    ///      client receives `refund - fee`. The remaining escrow (the current epoch and earlier)
    ///      is released after the current epoch's dispute epoch (`lockedUntil = current + 1`).
    /// @return refunded Tokens sent to the client.
    function terminate(uint256 leaseId) external nonReentrant returns (uint256 refunded) {
        (uint256 deviceId, Device storage dev, Lease memory l,, uint256 current) = _clientLease(leaseId);
        Escrow memory e = dev.escrow;
        if (e.forcedEpoch != 0) revert DownReportPending(deviceId, e.forcedEpoch);
        (uint256 refund, uint256 feeBps) = _endNow(deviceId, dev, l, e, current, (current + 1) * epochBlocks);
        uint256 fee = refund * feeBps / BPS;
        refunded = refund - fee;
        emit LeaseTerminated(leaseId, deviceId, msg.sender, current, refunded, fee);

        if (refunded != 0) IERC20(address(token)).safeTransfer(msg.sender, refunded);
        if (fee != 0) token.burn(fee);
    }

    // ---------------------------------------------------------------- views

    /// @notice Pricing parameters of `classId` (all zero for an unknown class).
    function classParams(uint16 classId)
        external
        view
        returns (
            uint128 pFloor,
            uint128 p0,
            uint64 alpha,
            uint16 betaBps,
            uint32 maxLeaseEpochs,
            uint16 terminateFeeBps,
            uint128 downBond
        )
    {
        Class storage k = _classes[classId];
        return (k.pFloor, k.p0, k.alpha, k.betaBps, k.maxLeaseEpochs, k.terminateFeeBps, k.downBond);
    }

    /// @notice Exact cost of leasing one more device of `classId` for `epochs` epochs in this
    ///         block: the current epoch's remaining blocks pro rata plus `epochs - 1` whole epochs
    ///         (docs/protocol.md#pro-rata). It falls block by block within an epoch and jumps up
    ///         at the epoch boundary (a whole epoch more), so a client passes the quote it read
    ///         as `maxCost`: a lease mined later in the same epoch costs less, one mined in the
    ///         next epoch fails with `SlippageExceeded` instead of overpaying.
    function quote(uint16 classId, uint256 epochs) external view returns (uint256 cost) {
        if (epochs == 0) revert ZeroEpochs();
        uint256 perEpoch = pricePerEpoch(classId);
        uint256 maxEpochs = _classes[classId].maxLeaseEpochs;
        if (epochs > maxEpochs) revert TooManyEpochs(epochs, maxEpochs);
        (uint256 b,) = _clock();
        return LeasePricing.prorated(perEpoch, epochs, b % epochBlocks, epochBlocks);
    }

    /// @notice Price of one whole device-epoch of one more device of `classId` in this block,
    ///         `P(D, R)` (docs/protocol.md#price): what a lease pays for each epoch after the
    ///         current one; `quote(classId, m)` is this price pro rata over the lease's blocks.
    function pricePerEpoch(uint16 classId) public view returns (uint256) {
        Class memory k = _classes[classId];
        if (k.maxLeaseEpochs == 0) revert UnknownClass(classId);
        uint256 demand = _demandAt(classId, k, _currentEpoch());
        uint256 supply = staking.activeCount(classId);
        if (demand >= supply) revert NoFreeDevice(classId, demand, supply);
        return _price(k, demand, supply);
    }

    /// @notice Exact cost of extending live lease `leaseId` by `epochs` whole epochs now (no
    ///         bound checks on `epochs` besides zero).
    function quoteExtend(uint256 leaseId, uint256 epochs) external view returns (uint256 cost) {
        if (epochs == 0) revert ZeroEpochs();
        uint256 deviceId = leaseId >> 64;
        Lease memory l = _devices[deviceId].lease;
        uint256 current = _currentEpoch();
        if (uint64(leaseId) != l.nonce || l.nonce == 0 || current >= l.end) revert LeaseNotLive(leaseId);
        (, uint16 classId,) = staking.deviceSummary(deviceId);
        Class memory k = _classes[classId];
        uint256 demand = _demandAt(classId, k, current);
        uint256 supply = staking.activeCount(classId);
        return epochs * _price(k, (demand < supply ? demand : supply) - 1, supply);
    }

    /// @notice The device's current (or last) lease.
    /// @return client Who leased it.
    /// @return start First leased epoch (the epoch of the lease's transaction).
    /// @return end First epoch not leased (the termination epoch for a terminated lease).
    /// @return perEpoch While live: the lease's escrow per whole epoch,
    ///         `locked * epochBlocks / (end * epochBlocks - startBlock)` (what the owner earns per
    ///         epoch, and what `terminate` refunds per unused epoch before the fee; the gross
    ///         price is in `LeaseOpened`/`LeaseExtended`). 0 otherwise.
    /// @return nonce Lease counter of the device; `leaseId = (deviceId << 64) | nonce`.
    /// @return live Whether the lease holds the device now.
    function leaseOf(uint256 deviceId)
        external
        view
        returns (address client, uint256 start, uint256 end, uint256 perEpoch, uint256 nonce, bool live)
    {
        Device storage dev = _devices[deviceId];
        Lease memory l = dev.lease;
        live = _currentEpoch() < l.end;
        if (live) perEpoch = uint256(dev.escrow.locked) * epochBlocks / (uint256(l.end) * epochBlocks - l.startBlock);
        return (l.client, l.startBlock / epochBlocks, l.end, perEpoch, l.nonce, live);
    }

    /// @notice Id of the device's current (or last) lease; 0 if it was never leased.
    function currentLeaseId(uint256 deviceId) external view returns (uint256) {
        uint16 nonce = _devices[deviceId].lease.nonce;
        return nonce == 0 ? 0 : _leaseId(deviceId, nonce);
    }

    // ---------------------------------------------------------------- internals

    /// @dev `lease` and `leaseWithPermit`: checks, effects, then the payment (see `lease`).
    function _lease(uint256 deviceId, uint256 epochs, uint256 maxCost, uint256 deadline, bytes32 jobSpec)
        internal
        returns (uint256 leaseId)
    {
        if (block.timestamp > deadline) revert DeadlineExpired(deadline, block.timestamp);
        if (epochs == 0) revert ZeroEpochs();
        (, uint16 classId, IStaking.DeviceState state) = staking.deviceSummary(deviceId);
        if (state != IStaking.DeviceState.Active) revert DeviceNotActive(deviceId, state);
        Class memory k = _classes[classId];
        if (k.maxLeaseEpochs == 0) revert UnknownClass(classId);
        if (epochs > k.maxLeaseEpochs) revert TooManyEpochs(epochs, k.maxLeaseEpochs);

        Device storage dev = _devices[deviceId];
        Lease memory l = dev.lease;
        (uint256 b, uint256 current) = _clock();
        if (current < l.end) revert DeviceBusy(deviceId, _leaseId(deviceId, l.nonce), l.end);
        Escrow memory e = dev.escrow;
        if (e.forcedEpoch != 0) revert DownReportPending(deviceId, e.forcedEpoch);

        uint256 demand = _demandAt(classId, k, current);
        uint256 cost;
        {
            uint256 supply = staking.activeCount(classId);
            if (demand >= supply) revert NoFreeDevice(classId, demand, supply);
            cost = LeasePricing.prorated(_price(k, demand, supply), epochs, b % epochBlocks, epochBlocks);
        }
        if (cost > maxCost) revert SlippageExceeded(cost, maxCost);
        if (cost > MAX_AMOUNT) revert AmountTooLarge(cost);
        uint256 burned = cost * k.betaBps / BPS;
        uint256 end = current + epochs;

        // Effects. demand < supply <= type(uint32).max (Staking counts in uint32), so demand + 1
        // fits; block offsets and epochs fit in uint32 (see `PoolStorage`).
        _storeDemand(classId, k, demand + 1, current, end);
        _addExpiry(classId, end);
        uint16 nonce = l.nonce + 1;
        dev.lease = Lease({
            client: msg.sender,
            startBlock: uint32(b),
            end: uint32(end),
            nonce: nonce,
            terminateFeeBps: k.terminateFeeBps
        });
        // cost - burned <= cost <= MAX_AMOUNT (checked), so the cast is exact. The previous lease's
        // `locked` escrow stays in `credited` and is released by being overwritten.
        uint96 escrowed = uint96(cost - burned);
        uint96 credited;
        unchecked {
            // `credited` is a wrapping counter: only `credited - claimed` (< 2^96, bounded by
            // the token supply) is ever used, and that difference is exact modulo 2^96.
            credited = e.credited + escrowed;
        }
        dev.escrow = Escrow({credited: credited, locked: escrowed, lockedUntil: uint32(end), forcedEpoch: 0});
        leaseId = _leaseId(deviceId, nonce);
        emit LeaseOpened(leaseId, deviceId, msg.sender, classId, current, end, cost, burned, jobSpec);

        // Interactions.
        IERC20(address(token)).safeTransferFrom(msg.sender, address(this), cost);
        if (burned != 0) token.burn(burned);
    }
}
