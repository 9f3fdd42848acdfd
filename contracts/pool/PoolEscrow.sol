// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IStaking} from "../interfaces/IStaking.sol";
import {IPoCPSVerifier} from "../interfaces/IPoCPSVerifier.sol";
import {IDissipativePoolHooks} from "../interfaces/IDissipativePoolHooks.sol";
import {LeasePricing} from "../lib/LeasePricing.sol";
import {PoolDemandBook} from "./PoolDemandBook.sol";

/// @title PoolEscrow
/// @notice The pool's money: lease escrow, refunds when a device leaves the Active set, down
///         reports and their bonds, and the owners' claims (docs/protocol.md#refunds).
/// @dev Escrow accounting per device uses two wrapping uint96 counters: `credited` (escrow paid
///      in plus won bonds minus refunds) and `claimed`. `credited - claimed` is what the pool owes
///      the owner; of it, the current lease's `locked` escrow is held back until its dispute epoch
///      has passed (`currentEpoch > lockedUntil`) and no down report is pending. A new lease
///      therefore never touches the owner's payout slot: the previous lease's escrow simply stops
///      being `locked` (a new lease can only start when no down report is pending on the device,
///      and only a pending report can claw escrow back, so nothing can reclaim it any more).
///
///      Pro rata: a lease's `locked` escrow is spread evenly over its blocks
///      `[startBlock, end * epochBlocks)`; every refund is the share of the blocks it gives back
///      (`LeasePricing.unusedShare`, floor).
///
///      Solvency: `token.balanceOf(pool) >= sum(credited - claimed + downBond)` over devices (with
///      equality: every token taken in is burned at once, escrowed, refunded, or claimed).
/// @custom:security `nonReentrant` is OpenZeppelin's ReentrancyGuard kept in transient storage
///      (EIP-1153). External calls go to the token, Staking and the verifier, all fixed at
///      construction; state is written before any token moves. `deviceInactive` runs inside
///      Staking's call (Staking -> pool -> token); none of the pool's own external calls reaches
///      a Staking function that leaves Active.
abstract contract PoolEscrow is PoolDemandBook, IDissipativePoolHooks, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    // ---------------------------------------------------------------- down reports

    /// @notice Client: report the leased device down. Posts the class's `downBond` and forces the
    ///         device's PoCPS challenge in the next epoch (`forcedEpoch = currentEpoch + 1`).
    ///         Until `resolveDown`, the lease cannot be extended or terminated, the device cannot
    ///         be leased again and its current escrow is not released.
    /// @return forcedEpoch The epoch whose challenge decides the report.
    function reportDown(uint256 leaseId) external nonReentrant returns (uint256 forcedEpoch) {
        (uint256 deviceId, Device storage dev,,, uint256 current) = _clientLease(leaseId);
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
    ///         escrow of the lease's blocks from `forcedEpoch` on, and the lease ends now.
    /// @dev The verifier recycles a proof record two epochs later: resolve during epoch
    ///      `forcedEpoch + 1` (the provider's agent does so when it passed); a later resolve reads
    ///      whatever the record then says.
    ///      Normative refunds (blocks since genesis; `endBlk = end * epochBlocks`):
    ///      failed: `unusedShare(locked, startBlock, endBlk, from)` when `endBlk > from`, with
    ///      `from = forcedEpoch * epochBlocks`, or the block the device left Active if that is
    ///      earlier (a failed report never refunds less than a passed one); passed, for a device
    ///      that left Active while the report was pending: the same share from the block it left.
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
        // `left`: block offset + 1 at which the device left Active while the report was pending;
        // D already fell then.
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
        uint256 endBlk = uint256(l.end) * epochBlocks;
        if (passed) {
            unchecked {
                // Wrapping counter (see the contract's NatSpec): the bond becomes claimable.
                e.credited += bond;
            }
            uint256 back;
            if (left != 0) {
                // The device proved itself but left Active at block `left - 1`: as in
                // `deviceInactive`, the client gets the blocks from that one back.
                // startBlock <= left - 1 < endBlk: it left while the lease was live.
                back = LeasePricing.unusedShare(e.locked, l.startBlock, endBlk, left - 1);
                // back <= locked: the cast is exact and the subtraction cannot underflow.
                e.locked -= uint96(back);
                unchecked {
                    e.credited -= uint96(back);
                }
                e.lockedUntil = uint32((left - 1) / epochBlocks + 1);
            }
            dev.escrow = e;
            emit DownResolved(leaseId, deviceId, true, bond, back);
            if (back != 0) IERC20(address(token)).safeTransfer(l.client, back);
            return true;
        }
        uint256 refund;
        uint256 from = forced * epochBlocks;
        if (left != 0 && left - 1 < from) from = left - 1;
        if (endBlk > from) {
            // startBlock < from: the report (or the departure) came while the lease was live.
            refund = LeasePricing.unusedShare(e.locked, l.startBlock, endBlk, from);
            // refund <= locked: the cast is exact and the subtraction cannot underflow.
            e.locked -= uint96(refund);
            unchecked {
                // Wrapping counter.
                e.credited -= uint96(refund);
            }
        }
        // The blocks before the failed challenge are the provider's: released at once.
        if (e.lockedUntil > forced) e.lockedUntil = uint32(forced);
        dev.escrow = e;
        if (endsNow) {
            _dropLease(classId, l.end, current);
            dev.lease.end = uint32(current);
        }
        emit DownResolved(leaseId, deviceId, false, bond, refund);

        IERC20(address(token)).safeTransfer(l.client, uint256(bond) + refund);
    }

    // ---------------------------------------------------------------- staking hook

    /// @notice Staking only: `deviceId` has just left the Active set (slashed and jailed,
    ///         `declareMaintenance`, `deregister`). Its live lease, if any, ends now: D falls at
    ///         once (R fell in the same call) and the client is refunded the lease's unused blocks
    ///         (from the current block on, the rest of the current epoch included) from the
    ///         escrow, with no fee — the client is not at fault. The blocks before are the
    ///         owner's, released after the current epoch's dispute epoch.
    /// @dev Normative: `refund = unusedShare(locked, startBlock, end * epochBlocks, b)` (floor,
    ///      `b` the current block offset), taken from `locked` and `credited`; `end = current`
    ///      (the lease is no longer live, so it cannot be terminated, extended or reported
    ///      again), `lockedUntil = current + 1`. No-op when the device has no live lease. With a
    ///      down report pending, D falls now (D <= R at all times), the block is recorded and the
    ///      money is left to `resolveDown`, which ends the lease. O(1): one view call, one sync.
    function deviceInactive(uint256 deviceId) external nonReentrant {
        if (msg.sender != address(staking)) revert NotStaking(msg.sender);
        Device storage dev = _devices[deviceId];
        Lease memory l = dev.lease;
        (uint256 b, uint256 current) = _clock();
        if (current >= l.end) return; // never leased, expired, terminated or resolved
        Escrow memory e = dev.escrow;
        if (e.forcedEpoch != 0) {
            // The money is left to `resolveDown`, but D falls now with R (D <= R): the lease no
            // longer holds an Active device. Only once: a device that proved itself Active again
            // and leaves again while the same report pends was counted out already (a second
            // decrement would corrupt D, or underflow and make Staking's exit revert).
            if (dev.payout.leftActivePlusOne != 0) return;
            (, uint16 classId,) = staking.deviceSummary(deviceId);
            _dropLease(classId, l.end, current);
            // Block offsets fit in uint32 (see `PoolStorage`).
            dev.payout.leftActivePlusOne = uint32(b + 1);
            emit LeaseEndedByProvider(_leaseId(deviceId, l.nonce), deviceId, l.client, current, 0);
            return;
        }
        (uint256 refund,) = _endNow(deviceId, dev, l, e, current, b);
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
            // Wrapping counter; amount < 2^96 (it is owed out of the pool's balance).
            p.claimed += uint96(amount);
        }
        dev.payout = p;
        emit Claimed(deviceId, owner, amount);

        IERC20(address(token)).safeTransfer(owner, amount);
    }

    // ---------------------------------------------------------------- views

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
            // Difference of wrapping counters.
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

    /// @dev End the live lease `l` of `deviceId` now (`terminate`, `deviceInactive`): D falls,
    ///      the expiry moves out of its old end epoch, `end = current`, and the escrow of the
    ///      blocks from `fromBlock` on, `refund = unusedShare(locked, startBlock, end *
    ///      epochBlocks, fromBlock)` (floor), leaves `locked` and `credited`; the rest is released
    ///      after the current epoch's dispute epoch. Returns the refund and the lease's own
    ///      `terminateFeeBps` (the class's when it opened; only `terminate` charges it).
    function _endNow(
        uint256 deviceId,
        Device storage dev,
        Lease memory l,
        Escrow memory e,
        uint256 current,
        uint256 fromBlock
    ) internal returns (uint256 refund, uint256 feeBps) {
        (, uint16 classId,) = staking.deviceSummary(deviceId);
        // startBlock <= fromBlock <= end * epochBlocks (live lease), so the share is <= locked.
        refund = LeasePricing.unusedShare(e.locked, l.startBlock, uint256(l.end) * epochBlocks, fromBlock);
        _dropLease(classId, l.end, current);
        dev.lease.end = uint32(current);
        // refund <= locked, so the cast is exact and the checked subtraction cannot underflow.
        e.locked -= uint96(refund);
        unchecked {
            // Wrapping counter.
            e.credited -= uint96(refund);
        }
        e.lockedUntil = uint32(current + 1);
        dev.escrow = e;
        feeBps = l.terminateFeeBps;
    }

    /// @dev Released amount of a device: `credited - claimed`, less the current lease's `locked`
    ///      escrow while it is in its lease or dispute epoch or a down report is pending.
    function _claimable(Escrow memory e, uint96 claimed, uint256 current) internal pure returns (uint256) {
        uint96 owed;
        unchecked {
            // Difference of wrapping counters: exact, as the true value is < 2^96.
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
