// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ud, pow, powu} from "@prb/math/src/UD60x18.sol";

import {PinToken} from "./PinToken.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {IPoCPSVerifier} from "./interfaces/IPoCPSVerifier.sol";
import {IDissipativePoolHooks} from "./interfaces/IDissipativePoolHooks.sol";
import {IDissipativePool} from "./interfaces/IDissipativePool.sol";

/// @title DissipativePool
/// @notice Sells perishable device time per device class. The price of one more device-epoch
///         follows the class's utilization `u = D / R` (D: devices under lease, R: Active devices):
///         `P(u) = pFloor + P0 * u^alpha`; one more device for `m` epochs costs the exact
///         integral `m * (pFloor + P0 * R / (alpha + 1) * (((D+1)/R)^(alpha+1) - (D/R)^(alpha+1)))`.
///         Of each payment `betaBps` is burned at once (dissipation); the rest is escrowed for the
///         device's owner until the lease's dispute epoch has passed.
/// @dev Normative integer form (mirrored by `pinfi.protocol.lease_cost`):
///      `x0 = D*1e18/R`, `x1 = (D+1)*1e18/R`, `a1 = alpha + 1e18`,
///      `p(x) = a1 % 1e18 == 0 ? powu(x, a1/1e18) : pow(x, a1)` (PRBMath v4 UD60x18),
///      `perEpoch = pFloor + mulDiv(P0 * R, p(x1) - p(x0), a1)`, `cost = m * perEpoch`.
///
///      Complexity: every function is O(1) in devices, leases and epochs. Leases end lazily: each
///      lease adds 1 to the expiry count of its end epoch (16 uint16 counts per storage word,
///      `expiryWord[classId][epoch / 16]`) and D is decremented by the counts of the epochs passed
///      since the class was last synced (Curve's slope-change pattern). The sync reads at most
///      `floor((M - 2) / 16) + 2 <= M / 16 + 2` words, M the class's largest `maxLeaseEpochs`
///      (5 words for M = 64, 549 for the hard cap 8760), and none at all once the class's horizon
///      (the latest end epoch of any lease) has passed.
///
///      Clock: `epoch = (block.number - genesisBlock) / epochBlocks`, read from `Staking` once at
///      construction. A lease opened in epoch `s` for `m` epochs covers `[s, s + m)`; its `end`
///      is `s + m`, which is also its dispute epoch (a `reportDown` in the last leased epoch forces
///      the challenge of epoch `end`). Its escrow is released once `currentEpoch > lockedUntil`.
///
///      Amounts: the token's cap must fit in uint96, so every amount this contract holds or moves
///      fits in uint96 and is stored as such.
///
///      Escrow accounting per device uses two wrapping uint96 counters: `credited` (escrow paid in
///      plus won bonds minus refunds) and `claimed`. `credited - claimed` is what the pool owes the
///      owner; of it, the current lease's `locked` escrow is held back until its dispute epoch has
///      passed (`currentEpoch > lockedUntil`) and no down report is pending. A new lease therefore
///      never touches the owner's payout slot: the previous lease's escrow simply stops being
///      `locked` (a new lease can only start when no down report is pending on the device, and
///      only a pending report can claw escrow back, so nothing can reclaim it any more).
///
///      Solvency: `token.balanceOf(pool) >= sum(credited - claimed + downBond)` over devices (with
///      equality: every token taken in is burned at once, escrowed, refunded, or claimed).
///
///      Devices leaving the Active set: `Staking` (wired with `Staking.setPool`) calls
///      `deviceInactive` whenever an Active device is jailed, declares maintenance or
///      deregisters; the device's live lease ends there and then, so D falls with R.
/// @custom:security `nonReentrant` is OpenZeppelin's ReentrancyGuard kept in transient storage
///      (`ReentrancyGuardTransient`, EIP-1153; the project targets Cancun). External calls go to
///      the token, Staking and the verifier, all fixed at construction; state is written before
///      any token moves. `deviceInactive` runs inside Staking's call (Staking -> pool -> token);
///      none of the pool's own external calls reaches a Staking function that leaves Active.
contract DissipativePool is IDissipativePool, IDissipativePoolHooks, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    // ---------------------------------------------------------------- types

    /// @dev Pricing and state of one class, two storage slots.
    ///      Slot 0: pFloor | p0 | alpha. Slot 1: betaBps | terminateFeeBps | maxLeaseEpochs |
    ///      downBond | demand | syncedEpoch | horizon. `maxLeaseEpochs == 0` marks an unknown class.
    struct Class {
        uint96 pFloor; // price floor per device-epoch (base units), > 0
        uint96 p0; // P0: price scale per device-epoch at u = 1 (base units)
        uint64 alpha; // UD60x18 exponent, in (0, 4e18]
        uint16 betaBps; // share of each payment burned at once
        uint16 terminateFeeBps; // share of a termination refund burned
        uint32 maxLeaseEpochs; // longest lease (and longest remaining lease after extend), [1, 8760]
        uint96 downBond; // bond posted by `reportDown`
        uint32 demand; // D as of `syncedEpoch` (expiries up to and including it applied)
        uint32 syncedEpoch; // epoch up to which expiry counts are applied
        uint32 horizon; // latest end epoch of any lease of the class: from it on, D = 0
    }

    /// @dev A device's current (or last) lease. One slot: client | start | end | nonce | feeBps.
    struct Lease {
        address client;
        uint32 start; // first leased epoch
        uint32 end; // first epoch not leased (set to the current epoch on termination)
        uint16 nonce; // leases of this device so far; the low 64 bits of the lease id
        uint16 terminateFeeBps; // the class's terminateFeeBps when the lease opened (kept)
    }

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

    /// @dev Owner's money and the current lease's escrow. One slot:
    ///      credited | locked | lockedUntil | forcedEpoch. Written by every lease.
    struct Escrow {
        uint96 credited; // wrapping counter: escrow paid in + won bonds - refunds
        uint96 locked; // escrow of the current (or last) lease still held back
        uint32 lockedUntil; // `locked` is released once currentEpoch > lockedUntil
        uint32 forcedEpoch; // epoch of a pending `reportDown` challenge, 0 when none
    }

    /// @dev Payouts, the pending down bond and when the reported device left Active. One slot:
    ///      claimed | downBond | leftActivePlusOne. Never written by `lease`.
    struct Payout {
        uint96 claimed; // wrapping counter: tokens paid to the owner by `claim`
        uint96 downBond; // bond of the pending `reportDown`
        uint32 leftActivePlusOne; // epoch + 1 the device left Active while the report was pending
    }

    /// @dev All per-device storage: three consecutive slots.
    struct Device {
        Lease lease;
        Escrow escrow;
        Payout payout;
    }

    // ---------------------------------------------------------------- constants / immutables

    /// @notice Hard cap of `maxLeaseEpochs` (one year of 1 h epochs).
    uint256 public constant MAX_LEASE_EPOCHS = 8760;
    /// @notice Hard cap of `alpha` (UD60x18).
    uint256 public constant MAX_ALPHA = 4e18;
    uint256 internal constant BPS = 10_000;
    uint256 internal constant UNIT = 1e18;
    uint256 internal constant MAX_AMOUNT = type(uint96).max;
    /// @dev 0x0000FFFF in each of the eight 32-bit lanes.
    uint256 internal constant LANE_PAIRS = 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff;
    /// @dev 1 in each of the eight 32-bit lanes.
    uint256 internal constant LANE_ONES = 0x0000000100000001000000010000000100000001000000010000000100000001;

    /// @notice The PIN token (payments, burns, bonds).
    PinToken public immutable token;
    /// @notice Device registry: state, class, owner and the supply R.
    IStaking public immutable staking;
    /// @notice PoCPS verifier: forced challenges and their outcome.
    IPoCPSVerifier public immutable verifier;
    /// @notice Block at which epoch 0 starts (copied from `Staking`).
    uint256 public immutable genesisBlock;
    /// @notice Blocks per epoch (copied from `Staking`).
    uint256 public immutable epochBlocks;

    // ---------------------------------------------------------------- storage

    mapping(uint16 classId => Class) internal _classes;
    mapping(uint256 deviceId => Device) internal _devices;
    /// @notice Expiry counts: lane `e % 16` (bits `16*(e%16)` .. `+15`) of word `e / 16` holds the
    ///         number of the class's leases whose end is epoch `e`.
    mapping(uint16 classId => mapping(uint256 word => uint256)) public expiryWord;

    // ---------------------------------------------------------------- construction / governance

    /// @param token_ The PIN token; its cap must fit in uint96.
    /// @param staking_ Device registry; the pool copies its clock.
    /// @param verifier_ PoCPS verifier; it must list this pool (`setPool`) for `reportDown`.
    /// @param admin Receives `DEFAULT_ADMIN_ROLE` (sets classes).
    constructor(PinToken token_, IStaking staking_, IPoCPSVerifier verifier_, address admin) {
        if (
            address(token_) == address(0) || address(staking_) == address(0) || address(verifier_) == address(0)
                || admin == address(0)
        ) revert ZeroAddress();
        uint256 cap = token_.cap();
        if (cap > MAX_AMOUNT) revert TokenCapTooLarge(cap);
        token = token_;
        staking = staking_;
        verifier = verifier_;
        genesisBlock = staking_.genesisBlock();
        epochBlocks = staking_.epochBlocks();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

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
    ///         (client) pays `cost` (approve the pool first); `burned` of it is burned at once and
    ///         the rest escrowed for the device's owner.
    /// @dev Gas: one `deviceSummary` and one `activeCount` call; the class (2 slots, one written),
    ///      the device's lease and escrow slots, one expiry word (plus, for the first lease of the
    ///      class in an epoch, the words of the epochs passed since the last sync). A device leased
    ///      before has its two slots rewritten non-zero to non-zero; the payout slot is not touched.
    /// @param deviceId Device to lease (an Active device of a class with pricing, not leased now).
    /// @param epochs Epochs to lease, in [1, maxLeaseEpochs]; the lease covers
    ///        `[currentEpoch, currentEpoch + epochs)`.
    /// @param maxCost Most the caller pays (slippage bound); the exact cost is `quote(class, epochs)`.
    /// @param deadline Latest `block.timestamp` at which the lease may be mined.
    /// @param jobSpec Opaque job description (e.g. a hash of the job manifest), only logged.
    /// @return leaseId `(deviceId << 64) | nonce`, the device's lease counter after this lease.
    function lease(uint256 deviceId, uint256 epochs, uint256 maxCost, uint256 deadline, bytes32 jobSpec)
        external
        nonReentrant
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
        uint256 current = _currentEpoch();
        if (current < l.end) revert DeviceBusy(deviceId, _leaseId(deviceId, l.nonce), l.end);
        Escrow memory e = dev.escrow;
        if (e.forcedEpoch != 0) revert DownReportPending(deviceId, e.forcedEpoch);

        uint256 demand = _demandAt(classId, k, current);
        uint256 supply = staking.activeCount(classId);
        if (demand >= supply) revert NoFreeDevice(classId, demand, supply);
        uint256 cost = epochs * _price(k, demand, supply);
        if (cost > maxCost) revert SlippageExceeded(cost, maxCost);
        if (cost > MAX_AMOUNT) revert AmountTooLarge(cost);
        uint256 burned = cost * k.betaBps / BPS;
        uint256 end = current + epochs;

        // Effects. demand < supply <= type(uint32).max (Staking counts in uint32), so demand + 1
        // fits; epochs fit in uint32 for 2^32 epochs after genesis (as in Staking).
        _storeDemand(classId, k, demand + 1, current, end);
        _addExpiry(classId, end);
        uint16 nonce = l.nonce + 1;
        dev.lease = Lease({
            client: msg.sender,
            start: uint32(current),
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

    /// @notice Client: extend a live lease by `epochs`, priced at the current marginal integral
    ///         `[D-1, D]` (the device is already counted in D; D is clipped to R, which it can
    ///         exceed only while a device that left the Active set has a down report pending).
    ///         Same burn/escrow split as `lease`.
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
        (uint256 deviceId, Device storage dev, Lease memory l, uint256 current) = _clientLease(leaseId);
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
        uint256 burned;
        {
            uint256 supply = staking.activeCount(classId);
            // demand >= 1 (this live lease is counted) and supply >= 1 (this device is Active).
            cost = epochs * _price(k, (demand < supply ? demand : supply) - 1, supply);
        }
        if (cost > maxCost) revert SlippageExceeded(cost, maxCost);
        burned = cost * k.betaBps / BPS;
        uint256 locked = e.locked + cost - burned;
        if (locked > MAX_AMOUNT) revert AmountTooLarge(locked);

        _storeDemand(classId, k, demand, current, newEnd);
        _subExpiryOf(classId, l.end);
        _addExpiry(classId, newEnd);
        dev.lease.end = uint32(newEnd);
        unchecked {
            // Wrapping counter (see `lease`); cost - burned <= locked <= MAX_AMOUNT.
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
    ///         one) are refunded from the lease's escrow at its locked per-epoch rate, less
    ///         `terminateFeeBps`, which is burned. D falls at once and the device is free.
    /// @dev Normative: `refund = locked * (end - current - 1) / (end - start)` (floor): the escrowed
    ///      `(1 - beta)` share of the unused epochs (the `beta` share was burned at payment);
    ///      `fee = refund * terminateFeeBps / 10000`; the client receives `refund - fee`. The
    ///      remaining escrow (the current epoch and earlier) is released after the current epoch's
    ///      dispute epoch (`lockedUntil = current + 1`).
    /// @return refunded Tokens sent to the client.
    function terminate(uint256 leaseId) external nonReentrant returns (uint256 refunded) {
        (uint256 deviceId, Device storage dev, Lease memory l, uint256 current) = _clientLease(leaseId);
        Escrow memory e = dev.escrow;
        if (e.forcedEpoch != 0) revert DownReportPending(deviceId, e.forcedEpoch);
        (uint256 refund, uint256 feeBps) = _endNow(deviceId, dev, l, e, current);
        uint256 fee = refund * feeBps / BPS;
        refunded = refund - fee;
        emit LeaseTerminated(leaseId, deviceId, msg.sender, current, refunded, fee);

        if (refunded != 0) IERC20(address(token)).safeTransfer(msg.sender, refunded);
        if (fee != 0) token.burn(fee);
    }

    /// @notice Client: report the leased device down. Posts the class's `downBond` and forces the
    ///         device's PoCPS challenge in the next epoch (`forcedEpoch = currentEpoch + 1`).
    ///         Until `resolveDown`, the lease cannot be extended or terminated, the device cannot
    ///         be leased again and its current escrow is not released.
    /// @return forcedEpoch The epoch whose challenge decides the report.
    function reportDown(uint256 leaseId) external nonReentrant returns (uint256 forcedEpoch) {
        (uint256 deviceId, Device storage dev,, uint256 current) = _clientLease(leaseId);
        Escrow storage e = dev.escrow;
        if (e.forcedEpoch != 0) revert DownReportPending(deviceId, e.forcedEpoch);
        (, uint16 classId,) = staking.deviceSummary(deviceId);
        uint96 bond = _classes[classId].downBond;
        forcedEpoch = current + 1;
        e.forcedEpoch = uint32(forcedEpoch);
        dev.payout.downBond = bond;
        emit DownReported(leaseId, deviceId, msg.sender, forcedEpoch, bond);

        IERC20(address(token)).safeTransferFrom(msg.sender, address(this), bond);
        verifier.forceChallenge(deviceId, forcedEpoch);
    }

    /// @notice Anyone: settle a down report once `currentEpoch > forcedEpoch` (every window of the
    ///         forced challenge fits in its epoch, so its outcome is final then). If the device
    ///         opened a valid proof for `forcedEpoch` the bond becomes claimable by the device's
    ///         owner and the lease goes on. Otherwise (no commit, no opening, slashed, or not
    ///         challengeable because it left the Active set) the client gets the bond back plus the
    ///         escrow of the lease's epochs from `forcedEpoch` on, and the lease ends now.
    /// @dev The verifier recycles a proof record two epochs later: resolve during epoch
    ///      `forcedEpoch + 1` (the provider's agent does so when it passed); a later resolve reads
    ///      whatever the record then says.
    ///      Normative refund: `locked * (end - forcedEpoch) / (end - start)` when `end > forcedEpoch`.
    /// @return passed Whether the device proved itself.
    function resolveDown(uint256 leaseId) external nonReentrant returns (bool passed) {
        uint256 deviceId = leaseId >> 64;
        Device storage dev = _devices[deviceId];
        Lease memory l = dev.lease;
        Escrow memory e = dev.escrow;
        // While a report is pending the device cannot be leased again: the reported lease is the
        // device's current one.
        if (e.forcedEpoch == 0 || uint64(leaseId) != l.nonce) revert NoDownReport(leaseId);
        uint256 current = _currentEpoch();
        uint256 forced = e.forcedEpoch;
        if (current <= forced) revert ResolveTooEarly(leaseId, forced, current);
        // View calls first (checks-effects-interactions).
        passed = verifier.proofStatus(deviceId, forced) == IPoCPSVerifier.ProofStatus.Opened;
        Payout memory p = dev.payout;
        // `left`: the device left Active while the report was pending; D already fell then.
        uint256 left = p.leftActivePlusOne;
        bool endsNow = !passed && l.end > current && left == 0; // still counted in D
        uint16 classId;
        if (endsNow) (, classId,) = staking.deviceSummary(deviceId);

        uint96 bond = p.downBond;
        p.downBond = 0;
        p.leftActivePlusOne = 0;
        dev.payout = p;
        e.forcedEpoch = 0;
        if (left != 0 && l.end > current) dev.lease.end = uint32(current);
        if (passed) {
            unchecked {
                // Wrapping counter (see `lease`): the bond becomes claimable by the owner.
                e.credited += bond;
            }
            uint256 back;
            if (left != 0 && l.end > left) {
                // The device proved itself but left Active in epoch `left - 1`: as in
                // `deviceInactive`, the client gets the epochs after that one back.
                unchecked {
                    // l.end > left > l.start (the device left during the lease).
                    back = uint256(e.locked) * (l.end - left) / (l.end - l.start);
                }
                e.locked -= uint96(back);
                unchecked {
                    e.credited -= uint96(back);
                }
                e.lockedUntil = uint32(left);
            }
            dev.escrow = e;
            emit DownResolved(leaseId, deviceId, true, bond, back);
            if (back != 0) IERC20(address(token)).safeTransfer(l.client, back);
            return true;
        }
        uint256 refund;
        if (l.end > forced) {
            unchecked {
                // l.end > forced > l.start: the report was made while the lease was live.
                refund = uint256(e.locked) * (l.end - forced) / (l.end - l.start);
            }
            // refund <= locked: the cast is exact and the subtraction cannot underflow.
            e.locked -= uint96(refund);
            unchecked {
                // Wrapping counter (see `lease`).
                e.credited -= uint96(refund);
            }
        }
        // The epochs before the failed challenge are the provider's: released at once.
        if (e.lockedUntil > forced) e.lockedUntil = uint32(forced);
        dev.escrow = e;
        if (endsNow) {
            Class memory k = _classes[classId];
            _storeDemand(classId, k, _demandAt(classId, k, current) - 1, current, 0);
            _subExpiryOf(classId, l.end);
            dev.lease.end = uint32(current);
        }
        emit DownResolved(leaseId, deviceId, false, bond, refund);

        IERC20(address(token)).safeTransfer(l.client, uint256(bond) + refund);
    }

    // ---------------------------------------------------------------- staking hook

    /// @notice Staking only: `deviceId` has just left the Active set (slashed and jailed,
    ///         `declareMaintenance`, `deregister`). Its live lease, if any, ends now: D falls at
    ///         once (R fell in the same call) and the client is refunded the lease's unused whole
    ///         epochs (those after the current one) from the escrow, with no fee — the client is
    ///         not at fault. The current epoch stays paid: its escrow and the earlier epochs' are
    ///         released to the owner after the current epoch's dispute epoch.
    /// @dev Normative: `refund = locked * (end - current - 1) / (end - start)` (floor), taken from
    ///      `locked` and `credited`; `end = current` (as `terminate`: the lease is no longer live,
    ///      so it cannot be terminated, extended or reported again), `lockedUntil = current + 1`.
    ///      No-op when the device has no live lease. With a down report pending, D falls now
    ///      (D <= R at all times) and the money is left to `resolveDown`, which ends the lease:
    ///      failed, it refunds from `forcedEpoch` on; passed, the epochs after the one in which
    ///      the device left. O(1): one view call, one class sync.
    function deviceInactive(uint256 deviceId) external nonReentrant {
        if (msg.sender != address(staking)) revert NotStaking(msg.sender);
        Device storage dev = _devices[deviceId];
        Lease memory l = dev.lease;
        uint256 current = _currentEpoch();
        if (current >= l.end) return; // never leased, expired, terminated or resolved
        Escrow memory e = dev.escrow;
        if (e.forcedEpoch != 0) {
            // The money is left to `resolveDown`, but D falls now with R (D <= R): the lease no
            // longer holds an Active device.
            (, uint16 classId,) = staking.deviceSummary(deviceId);
            Class memory k = _classes[classId];
            _storeDemand(classId, k, _demandAt(classId, k, current) - 1, current, 0);
            _subExpiryOf(classId, l.end);
            dev.payout.leftActivePlusOne = uint32(current + 1);
            emit LeaseEndedByProvider(_leaseId(deviceId, l.nonce), deviceId, l.client, current, 0);
            return;
        }
        (uint256 refund,) = _endNow(deviceId, dev, l, e, current);
        emit LeaseEndedByProvider(_leaseId(deviceId, l.nonce), deviceId, l.client, current, refund);

        if (refund != 0) IERC20(address(token)).safeTransfer(l.client, refund);
    }

    // ---------------------------------------------------------------- provider actions

    /// @notice Device owner: withdraw what the device earned and is released: escrow of leases
    ///         whose dispute epoch has passed (or whose device was leased again) and that have no
    ///         pending down report, plus won down bonds.
    /// @return amount Tokens sent to the owner.
    function claim(uint256 deviceId) external nonReentrant returns (uint256 amount) {
        (address owner,,) = staking.deviceSummary(deviceId);
        if (msg.sender != owner) revert NotDeviceOwner(deviceId, msg.sender);
        Device storage dev = _devices[deviceId];
        Payout memory p = dev.payout;
        amount = _claimable(dev.escrow, p.claimed, _currentEpoch());
        if (amount == 0) revert NothingToClaim(deviceId);
        unchecked {
            // Wrapping counter (see `lease`); amount < 2^96 (it is owed out of the pool's balance).
            p.claimed += uint96(amount);
        }
        dev.payout = p;
        emit Claimed(deviceId, owner, amount);

        IERC20(address(token)).safeTransfer(owner, amount);
    }

    // ---------------------------------------------------------------- views

    /// @notice Current epoch, `(block.number - genesisBlock) / epochBlocks`.
    function currentEpoch() external view returns (uint256) {
        return _currentEpoch();
    }

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

    /// @notice Demand D (after lazy expiries), supply R and the epoch of the last stored sync.
    function classState(uint16 classId) external view returns (uint256 demand, uint256 supply, uint256 syncedEpoch) {
        Class memory k = _classes[classId];
        demand = _demandAt(classId, k, _currentEpoch());
        supply = staking.activeCount(classId);
        syncedEpoch = k.syncedEpoch;
    }

    /// @notice Latest end epoch of any lease of the class: from it on, D = 0 without a sync loop.
    function classHorizon(uint16 classId) external view returns (uint256) {
        return _classes[classId].horizon;
    }

    /// @notice Utilization `D / R` as UD60x18 (R taken as 1 when it is 0).
    function utilization(uint16 classId) external view returns (uint256) {
        Class memory k = _classes[classId];
        uint256 demand = _demandAt(classId, k, _currentEpoch());
        uint256 supply = staking.activeCount(classId);
        return demand * UNIT / (supply == 0 ? 1 : supply);
    }

    /// @notice Number of the class's leases whose end is `epoch`.
    function expiryCount(uint16 classId, uint256 epoch) external view returns (uint256) {
        return (expiryWord[classId][epoch >> 4] >> ((epoch & 15) << 4)) & 0xFFFF;
    }

    /// @notice Exact cost of leasing one more device of `classId` for `epochs` epochs now.
    function quote(uint16 classId, uint256 epochs) external view returns (uint256 cost) {
        if (epochs == 0) revert ZeroEpochs();
        Class memory k = _classes[classId];
        if (k.maxLeaseEpochs == 0) revert UnknownClass(classId);
        if (epochs > k.maxLeaseEpochs) revert TooManyEpochs(epochs, k.maxLeaseEpochs);
        uint256 demand = _demandAt(classId, k, _currentEpoch());
        uint256 supply = staking.activeCount(classId);
        if (demand >= supply) revert NoFreeDevice(classId, demand, supply);
        return epochs * _price(k, demand, supply);
    }

    /// @notice Exact cost of extending live lease `leaseId` by `epochs` now (no bound checks on
    ///         `epochs` besides zero).
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
    /// @return start First leased epoch.
    /// @return end First epoch not leased (the termination epoch for a terminated lease).
    /// @return perEpoch While live: the lease's escrow per leased epoch, `locked / (end - start)`
    ///         (what the owner earns per epoch, and what `terminate` refunds per unused epoch
    ///         before the fee; the gross price is in `LeaseOpened`/`LeaseExtended`). 0 otherwise.
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
        if (live) perEpoch = uint256(dev.escrow.locked) / (l.end - l.start);
        return (l.client, l.start, l.end, perEpoch, l.nonce, live);
    }

    /// @notice Id of the device's current (or last) lease; 0 if it was never leased.
    function currentLeaseId(uint256 deviceId) external view returns (uint256) {
        uint16 nonce = _devices[deviceId].lease.nonce;
        return nonce == 0 ? 0 : _leaseId(deviceId, nonce);
    }

    /// @notice The device's money held by the pool (solvency accounting).
    /// @return locked Escrow of the current (or last) lease held back.
    /// @return lockedUntil `locked` is released once `currentEpoch > lockedUntil` (and no report pends).
    /// @return owed What the pool owes the owner, locked or not: `credited - claimed`.
    /// @return claimableNow What `claim` would pay now.
    /// @return forcedEpoch Epoch of the pending down report's challenge (0: none).
    /// @return downBond Bond of the pending down report (owed to the client or the owner).
    function escrowOf(uint256 deviceId)
        external
        view
        returns (
            uint256 locked,
            uint256 lockedUntil,
            uint256 owed,
            uint256 claimableNow,
            uint256 forcedEpoch,
            uint256 downBond
        )
    {
        Device storage dev = _devices[deviceId];
        Escrow memory e = dev.escrow;
        Payout memory p = dev.payout;
        unchecked {
            // Difference of wrapping counters (see `lease`).
            owed = uint96(e.credited - p.claimed);
        }
        return (e.locked, e.lockedUntil, owed, _claimable(e, p.claimed, _currentEpoch()), e.forcedEpoch, p.downBond);
    }

    /// @notice What `claim(deviceId)` would pay now.
    function claimable(uint256 deviceId) external view returns (uint256) {
        Device storage dev = _devices[deviceId];
        return _claimable(dev.escrow, dev.payout.claimed, _currentEpoch());
    }

    // ---------------------------------------------------------------- internals

    /// @dev The shared clock, from the immutables copied from Staking (no cross-call).
    /// @dev End the live lease `l` of `deviceId` now (`terminate`, `deviceInactive`): D falls,
    ///      the expiry moves out of its old end epoch, `end = current`, and the unused whole
    ///      epochs' escrow `refund = locked * (end - current - 1) / (end - start)` (floor) leaves
    ///      `locked` and `credited`; the rest is released after the current epoch's dispute epoch.
    ///      Returns the refund and the lease's own `terminateFeeBps` (the class's when it opened;
    ///      only `terminate` charges it).
    function _endNow(uint256 deviceId, Device storage dev, Lease memory l, Escrow memory e, uint256 current)
        internal
        returns (uint256 refund, uint256 feeBps)
    {
        (, uint16 classId,) = staking.deviceSummary(deviceId);
        Class memory k = _classes[classId];
        unchecked {
            // l.end > current >= l.start (live lease), so neither difference underflows.
            refund = uint256(e.locked) * (l.end - current - 1) / (l.end - l.start);
        }
        _storeDemand(classId, k, _demandAt(classId, k, current) - 1, current, 0);
        _subExpiryOf(classId, l.end);
        dev.lease.end = uint32(current);
        // refund <= locked, so the cast is exact and the checked subtraction cannot underflow.
        e.locked -= uint96(refund);
        unchecked {
            // Wrapping counter (see `lease`).
            e.credited -= uint96(refund);
        }
        e.lockedUntil = uint32(current + 1);
        dev.escrow = e;
        feeBps = l.terminateFeeBps;
    }

    function _currentEpoch() internal view returns (uint256) {
        if (block.number < genesisBlock) revert BeforeGenesis(genesisBlock);
        unchecked {
            // block.number >= genesisBlock was checked; epochBlocks > 0 is enforced by Staking.
            return (block.number - genesisBlock) / epochBlocks;
        }
    }

    /// @dev `(deviceId << 64) | nonce`; device ids come from Staking's counter (far below 2^192).
    function _leaseId(uint256 deviceId, uint256 nonce) internal pure returns (uint256) {
        return (deviceId << 64) | nonce;
    }

    /// @dev A live lease whose client is the caller: returns its device, storage and the epoch.
    function _clientLease(uint256 leaseId)
        internal
        view
        returns (uint256 deviceId, Device storage dev, Lease memory l, uint256 current)
    {
        deviceId = leaseId >> 64;
        dev = _devices[deviceId];
        l = dev.lease;
        current = _currentEpoch();
        if (uint64(leaseId) != l.nonce || l.nonce == 0 || current >= l.end) revert LeaseNotLive(leaseId);
        if (msg.sender != l.client) revert NotClient(leaseId, msg.sender);
    }

    /// @dev Price per device-epoch of one more device at demand `demand` of supply `supply` (the
    ///      normative integer form in the contract's NatSpec).
    function _price(Class memory k, uint256 demand, uint256 supply) internal pure returns (uint256) {
        uint256 x0 = demand * UNIT / supply;
        uint256 x1 = (demand + 1) * UNIT / supply;
        uint256 a1 = uint256(k.alpha) + UNIT;
        uint256 hi;
        uint256 lo;
        if (a1 % UNIT == 0) {
            uint256 n = a1 / UNIT;
            hi = powu(ud(x1), n).unwrap();
            lo = powu(ud(x0), n).unwrap();
        } else {
            hi = pow(ud(x1), ud(a1)).unwrap();
            lo = pow(ud(x0), ud(a1)).unwrap();
        }
        return uint256(k.pFloor) + Math.mulDiv(uint256(k.p0) * supply, hi - lo, a1);
    }

    /// @dev Demand of the class at epoch `current`: the stored demand minus the expiry counts of
    ///      epochs `(syncedEpoch, current]`. Bounded: when `current >= horizon` every lease has
    ///      ended (D = 0, no read); otherwise `current - syncedEpoch < horizon - syncedEpoch <= M`
    ///      (every end is at most M = the class's largest `maxLeaseEpochs` after the sync that
    ///      preceded its lease or extension), so the loop reads at most `floor((M - 2) / 16) + 2`
    ///      words (5 for M = 64; 549 at the hard cap 8760).
    function _demandAt(uint16 classId, Class memory k, uint256 current) internal view returns (uint256) {
        uint256 demand = k.demand;
        uint256 synced = k.syncedEpoch;
        if (current <= synced || demand == 0) return demand;
        if (current >= k.horizon) return 0;
        mapping(uint256 => uint256) storage words = expiryWord[classId];
        uint256 expired;
        unchecked {
            // Epoch arithmetic stays far below 2^256; lane sums are < 2^20 per word (16 lanes of
            // < 2^16) and at most 549 words are summed.
            uint256 from = synced + 1;
            uint256 last = current >> 4;
            uint256 lo = from & 15;
            for (uint256 w = from >> 4; w <= last; ++w) {
                uint256 x = words[w];
                if (x != 0) {
                    uint256 hi = w == last ? current & 15 : 15;
                    // Keep lanes lo..hi: bits [16*lo, 16*hi + 16). A shift by 256 yields 0 and
                    // 0 - 1 wraps to all ones, which is the intended mask for hi = 15.
                    x &= ((uint256(1) << ((hi + 1) << 4)) - 1) & ~((uint256(1) << (lo << 4)) - 1);
                    // Sum the 16 lanes: pair them into eight 32-bit lanes (each < 2^17), then
                    // multiply by 1 in every 32-bit lane: the top lane of the product is the sum
                    // of all eight (< 2^20, and every lower partial sum is < 2^32, so no carry
                    // crosses a lane; the parts beyond 256 bits are discarded).
                    x = (x & LANE_PAIRS) + ((x >> 16) & LANE_PAIRS);
                    expired += (x * LANE_ONES) >> 224;
                }
                lo = 0;
            }
        }
        // Checked: the counts of the range are leases counted in `demand` (an invariant).
        return demand - expired;
    }

    /// @dev Store the class's demand as synced at `current`; raise the horizon to `end` if later.
    function _storeDemand(uint16 classId, Class memory k, uint256 demand, uint256 current, uint256 end) internal {
        Class storage s = _classes[classId];
        // demand <= supply <= type(uint32).max; epochs fit in uint32 (see `lease`).
        s.demand = uint32(demand);
        s.syncedEpoch = uint32(current);
        if (end > k.horizon) s.horizon = uint32(end);
    }

    /// @dev One more lease of the class ends at `epoch`.
    function _addExpiry(uint16 classId, uint256 epoch) internal {
        mapping(uint256 => uint256) storage words = expiryWord[classId];
        uint256 shift = (epoch & 15) << 4;
        uint256 x = words[epoch >> 4];
        if ((x >> shift) & 0xFFFF == 0xFFFF) revert ExpiryCountOverflow(classId, epoch);
        unchecked {
            // The lane is below 0xFFFF (checked), so adding 1 does not carry into the next lane.
            words[epoch >> 4] = x + (uint256(1) << shift);
        }
    }

    /// @dev One lease of the class ending at `epoch` is removed (terminated, resolved, extended).
    function _subExpiryOf(uint16 classId, uint256 epoch) internal {
        mapping(uint256 => uint256) storage words = expiryWord[classId];
        unchecked {
            // The removed lease is live, so it is counted in this lane (>= 1): no borrow.
            words[epoch >> 4] -= uint256(1) << ((epoch & 15) << 4);
        }
    }

    /// @dev Released amount of a device: `credited - claimed`, less the current lease's `locked`
    ///      escrow while it is in its lease or dispute epoch or a down report is pending.
    function _claimable(Escrow memory e, uint96 claimed, uint256 current) internal pure returns (uint256) {
        uint96 owed;
        unchecked {
            // Difference of wrapping counters (see `lease`): exact, as the true value is < 2^96.
            owed = e.credited - claimed;
        }
        if (e.forcedEpoch != 0 || current <= e.lockedUntil) {
            // owed >= locked: the current lease's escrow is credited and cannot have been claimed
            // (it was never released).
            return owed - e.locked;
        }
        return owed;
    }
}
