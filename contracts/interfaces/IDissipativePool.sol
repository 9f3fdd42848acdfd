// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {UD60x18} from "@prb/math/src/UD60x18.sol";

import {IStaking} from "./IStaking.sol";
import {IEpochClock} from "./IEpochClock.sol";

/// @title IDissipativePool
/// @notice Errors, events and the permit entry point of the dissipative pool
///         (docs/protocol.md#pool-api).
interface IDissipativePool is IEpochClock {
    // ---------------------------------------------------------------- functions

    /// @notice `lease` in one transaction for a client that never approved the pool: first
    ///         `token.permit(msg.sender, pool, maxCost, deadline, v, r, s)` (EIP-2612, signed by
    ///         the caller), then the lease exactly as `lease(deviceId, epochs, maxCost, deadline,
    ///         jobSpec)`; the cost is pro rata (`quote`), at most `maxCost`.
    /// @dev A failing permit is ignored: if someone front-ran it (the signature is public once
    ///      in the mempool) the allowance is already there and the lease goes through; otherwise
    ///      the payment fails with the token's `ERC20InsufficientAllowance`. The permit grants
    ///      `maxCost`; what the lease does not spend stays allowed to the pool.
    /// @param deviceId Device to lease (Active, of a class with pricing, not leased now).
    /// @param epochs Epochs to lease, in [1, maxLeaseEpochs], from the current one.
    /// @param maxCost Most the caller pays, and the permit's value.
    /// @param deadline Latest `block.timestamp` for the lease, and the permit's deadline.
    /// @param jobSpec Opaque job description, only logged.
    /// @param v Permit signature (EIP-2612) of the caller over (caller, pool, maxCost, nonce,
    ///        deadline).
    /// @param r Permit signature.
    /// @param s Permit signature.
    /// @return leaseId `(deviceId << 64) | nonce`.
    function leaseWithPermit(
        uint256 deviceId,
        uint256 epochs,
        uint256 maxCost,
        uint256 deadline,
        bytes32 jobSpec,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256 leaseId);

    // ---------------------------------------------------------------- errors

    /// @notice A zero address was given to the constructor.
    error ZeroAddress();
    /// @notice The token's cap does not fit in uint96 (amounts are stored as uint96).
    error TokenCapTooLarge(uint256 cap);
    /// @notice Class id 0 is reserved.
    error ClassIdZero();
    /// @notice The class has no pricing parameters.
    error UnknownClass(uint16 classId);
    /// @notice `pFloor` must be in [1, 2^96 - 1] and `p0` in [0, 2^96 - 1].
    error PriceOutOfRange(uint128 value);
    /// @notice `alpha` must be in (0, 4e18].
    error AlphaOutOfRange(uint64 alpha);
    /// @notice A basis-point parameter must be <= 10000.
    error BpsOutOfRange(uint16 bps);
    /// @notice `maxLeaseEpochs` must be in [1, 8760].
    error MaxLeaseEpochsOutOfRange(uint32 maxLeaseEpochs);
    /// @notice `downBond` must be in [1, 2^96 - 1].
    error DownBondOutOfRange(uint128 downBond);
    /// @notice `block.timestamp > deadline`.
    error DeadlineExpired(uint256 deadline, uint256 timestamp);
    /// @notice A lease or extension of zero epochs.
    error ZeroEpochs();
    /// @notice More epochs than the class allows (`max` is what may still be asked now).
    error TooManyEpochs(uint256 epochs, uint256 max);
    /// @notice The device is not Active in `Staking`.
    error DeviceNotActive(uint256 deviceId, IStaking.DeviceState state);
    /// @notice The device is under a live lease until `end`.
    error DeviceBusy(uint256 deviceId, uint256 leaseId, uint256 end);
    /// @notice Every Active device of the class is leased (`demand >= supply`).
    error NoFreeDevice(uint16 classId, uint256 demand, uint256 supply);
    /// @notice The price moved above the caller's limit.
    error SlippageExceeded(uint256 cost, uint256 maxCost);
    /// @notice An amount does not fit in uint96 (above any possible token supply).
    error AmountTooLarge(uint256 amount);
    /// @notice Too many leases of the class end in the same epoch (65535).
    error ExpiryCountOverflow(uint16 classId, uint256 epoch);
    /// @notice Only the lease's client may do this.
    error NotClient(uint256 leaseId, address caller);
    /// @notice The lease is stale, ended, terminated or unknown.
    error LeaseNotLive(uint256 leaseId);
    /// @notice A `reportDown` on the device awaits `resolveDown`.
    error DownReportPending(uint256 deviceId, uint256 forcedEpoch);
    /// @notice The lease has no pending `reportDown`.
    error NoDownReport(uint256 leaseId);
    /// @notice `resolveDown` must wait until `currentEpoch > forcedEpoch`.
    error ResolveTooEarly(uint256 leaseId, uint256 forcedEpoch, uint256 currentEpoch);
    /// @notice Only the device's owner (in `Staking`) may claim.
    error NotDeviceOwner(uint256 deviceId, address caller);
    /// @notice Nothing is released for the device yet.
    error NothingToClaim(uint256 deviceId);
    /// @notice Only `Staking` may report a device leaving the Active set.
    error NotStaking(address caller);

    // PRBMath's guards, raised inside `PriceCurve.price` and bubbled up through the pool's calls
    // (declared here so that the pool's ABI decodes them; same selectors as PRBMath's).

    /// @notice PRBMath: `x * y / 1e18` overflows.
    error PRBMath_MulDiv18_Overflow(uint256 x, uint256 y);
    /// @notice PRBMath: `exp2` input too big.
    error PRBMath_UD60x18_Exp2_InputTooBig(UD60x18 x);
    /// @notice PRBMath: `log2` input below 1.
    error PRBMath_UD60x18_Log_InputTooSmall(UD60x18 x);

    // ---------------------------------------------------------------- events

    /// @notice Pricing parameters of `classId` set (created or updated).
    event ClassSet(
        uint16 indexed classId,
        uint128 pFloor,
        uint128 p0,
        uint64 alpha,
        uint16 betaBps,
        uint32 maxLeaseEpochs,
        uint16 terminateFeeBps,
        uint128 downBond
    );
    /// @notice A lease opened: `cost` paid, `burned` of it burned, the rest escrowed.
    /// @param leaseId `(deviceId << 64) | nonce`.
    /// @param startEpoch First leased epoch (the epoch of the transaction).
    /// @param endEpoch First epoch not leased; also the lease's dispute epoch.
    /// @param cost Tokens paid: the current epoch's remaining blocks pro rata plus the later
    ///        whole epochs, `mulDiv(perEpoch, epochs * epochBlocks - elapsed, epochBlocks)`.
    /// @param burned `cost * betaBps / 10000`, burned at once; `cost - burned` is escrowed.
    /// @param jobSpec The client's opaque job description.
    event LeaseOpened(
        uint256 indexed leaseId,
        uint256 indexed deviceId,
        address indexed client,
        uint16 classId,
        uint256 startEpoch,
        uint256 endEpoch,
        uint256 cost,
        uint256 burned,
        bytes32 jobSpec
    );
    /// @notice A live lease extended by `epochs` to `endEpoch` for `cost`, of which `burned` burned.
    event LeaseExtended(
        uint256 indexed leaseId,
        uint256 indexed deviceId,
        address indexed client,
        uint256 epochs,
        uint256 endEpoch,
        uint256 cost,
        uint256 burned
    );
    /// @notice A lease terminated by its client in `epoch`: `refunded` paid back, `fee` burned.
    event LeaseTerminated(
        uint256 indexed leaseId, uint256 indexed deviceId, address indexed client, uint256 epoch, uint256 refunded, uint256 fee
    );
    /// @notice The leased device left the Active set (jailed, maintenance, deregistered) in
    ///         `epoch`: the lease ended then, the client got `refunded` (the unused blocks from
    ///         this one on, no fee; 0 while a down report is pending, which settles it).
    event LeaseEndedByProvider(
        uint256 indexed leaseId, uint256 indexed deviceId, address indexed client, uint256 epoch, uint256 refunded
    );
    /// @notice A client reported the device down: it is challenged in `forcedEpoch`.
    event DownReported(
        uint256 indexed leaseId, uint256 indexed deviceId, address indexed client, uint256 forcedEpoch, uint256 bond
    );
    /// @notice A down report resolved. `passed`: the bond was credited to the device's owner;
    ///         otherwise the client got the bond back plus `refund` (escrow) and the lease ended.
    event DownResolved(
        uint256 indexed leaseId, uint256 indexed deviceId, bool passed, uint256 bond, uint256 refund
    );
    /// @notice The device's owner withdrew `amount` of released escrow and won bonds.
    event Claimed(uint256 indexed deviceId, address indexed owner, uint256 amount);
}
