// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PinToken} from "../PinToken.sol";
import {IStaking} from "../interfaces/IStaking.sol";
import {IPoCPSVerifier} from "../interfaces/IPoCPSVerifier.sol";
import {IPriceCurve} from "../interfaces/IPriceCurve.sol";
import {IDissipativePool} from "../interfaces/IDissipativePool.sol";
import {EpochClock} from "../lib/EpochClock.sol";

/// @title PoolStorage
/// @notice Types, constants, wiring, storage and clock of the dissipative pool.
/// @dev Base of `PoolDemandBook`, `PoolEscrow` and `DissipativePool`. The storage variables are
///      declared here only (slots 1..3 after AccessControl's `_roles` at slot 0; the tests read
///      `expiryWord` by slot).
///
///      Clock: blocks since genesis `b = block.number - genesisBlock`, epoch `b / epochBlocks`,
///      both copied from `Staking` at construction. Block offsets are stored as uint32: 2^32
///      blocks last 136 years at one block per second.
///
///      Amounts: the token's cap must fit in uint96, so every amount the pool holds or moves fits
///      in uint96 and is stored as such.
abstract contract PoolStorage is IDissipativePool, EpochClock {
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

    /// @dev A device's current (or last) lease. One slot: client | startBlock | end | nonce |
    ///      feeBps. The lease's escrow is spread evenly over its blocks
    ///      `[startBlock, end * epochBlocks)`; its first epoch is `startBlock / epochBlocks`.
    struct Lease {
        address client;
        uint32 startBlock; // block offset since genesis of the lease's transaction
        uint32 end; // first epoch not leased (set to the current epoch on termination)
        uint16 nonce; // leases of this device so far; the low 64 bits of the lease id
        uint16 terminateFeeBps; // the class's terminateFeeBps when the lease opened (kept)
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
        uint32 leftActivePlusOne; // block offset + 1 at which the device left Active while the
            // report was pending, 0 when it did not
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
    /// @dev Basis points in 1.
    uint256 internal constant BPS = 10_000;
    /// @dev 1.0 in UD60x18.
    uint256 internal constant UNIT = 1e18;
    /// @dev Largest amount the pool stores (the token's cap must not exceed it).
    uint256 internal constant MAX_AMOUNT = type(uint96).max;

    /// @notice The PIN token (payments, burns, bonds).
    PinToken public immutable token;
    /// @notice Device registry: state, class, owner and the supply R.
    IStaking public immutable staking;
    /// @notice PoCPS verifier: forced challenges and their outcome.
    IPoCPSVerifier public immutable verifier;
    /// @notice Stateless price curve (`PriceCurve`, docs/protocol.md#price).
    IPriceCurve public immutable priceCurve;

    // ---------------------------------------------------------------- storage

    mapping(uint16 classId => Class) internal _classes;
    mapping(uint256 deviceId => Device) internal _devices;
    /// @notice Expiry counts: lane `e % 16` (bits `16*(e%16)` .. `+15`) of word `e / 16` holds the
    ///         number of the class's leases whose end is epoch `e`.
    mapping(uint16 classId => mapping(uint256 word => uint256)) public expiryWord;

    /// @param token_ The PIN token; its cap must fit in uint96.
    /// @param staking_ Device registry; the pool copies its clock.
    /// @param verifier_ PoCPS verifier; it must list this pool (`setPool`) for `reportDown`.
    /// @param curve_ The price curve (`PriceCurve`).
    constructor(PinToken token_, IStaking staking_, IPoCPSVerifier verifier_, IPriceCurve curve_)
        EpochClock(_nonZero(staking_).genesisBlock(), staking_.epochBlocks())
    {
        if (
            address(token_) == address(0) || address(staking_) == address(0) || address(verifier_) == address(0)
                || address(curve_) == address(0)
        ) revert ZeroAddress();
        uint256 cap = token_.cap();
        if (cap > MAX_AMOUNT) revert TokenCapTooLarge(cap);
        token = token_;
        staking = staking_;
        verifier = verifier_;
        priceCurve = curve_;
    }

    // ---------------------------------------------------------------- internals

    /// @dev The current epoch through the shared clock, `BeforeGenesis` before it starts.
    function _currentEpoch() internal view returns (uint256 current) {
        (, current) = _clock();
    }

    /// @dev `staking_` itself, checked before the clock is copied from it (base constructor
    ///      arguments are evaluated before the constructor's own checks).
    function _nonZero(IStaking staking_) private pure returns (IStaking) {
        if (address(staking_) == address(0)) revert ZeroAddress();
        return staking_;
    }

    /// @dev `(deviceId << 64) | nonce`; device ids come from Staking's counter (far below 2^192).
    function _leaseId(uint256 deviceId, uint256 nonce) internal pure returns (uint256) {
        return (deviceId << 64) | nonce;
    }

    /// @dev Price per device-epoch of one more device at `demand` of `supply` (`PriceCurve`).
    function _price(Class memory k, uint256 demand, uint256 supply) internal view returns (uint256) {
        return priceCurve.price(k.pFloor, k.p0, k.alpha, demand, supply);
    }

    /// @dev A live lease whose client is the caller: its device, storage, lease and the clock.
    function _clientLease(uint256 leaseId)
        internal
        view
        returns (uint256 deviceId, Device storage dev, Lease memory l, uint256 b, uint256 current)
    {
        deviceId = leaseId >> 64;
        dev = _devices[deviceId];
        l = dev.lease;
        (b, current) = _clock();
        if (uint64(leaseId) != l.nonce || l.nonce == 0 || current >= l.end) revert LeaseNotLive(leaseId);
        if (msg.sender != l.client) revert NotClient(leaseId, msg.sender);
    }
}
