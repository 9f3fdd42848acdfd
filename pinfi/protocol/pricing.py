"""Dissipative pool pricing: the contract's per-epoch price, lease cost and payment split.

``price(D, R) = pFloor + P0*R * (((D+1)/R)^(alpha+1) - (D/R)^(alpha+1)) / (alpha+1)`` per epoch
(docs/protocol.md#price), computed with the PRBMath mirror exactly as the contract does; a lease
pays its first epoch pro rata by block (:func:`prorated_cost`, docs/protocol.md#pro-rata) and
refunds are per block (:func:`unused_share`, docs/protocol.md#refunds);
:func:`lease_cost_decimal` is the exact real-number reference of the whole-epoch closed form.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from pinfi.protocol.errors import PRBMathError, ProtocolError
from pinfi.protocol.prbmath import mul_div, ud_pow, ud_powu
from pinfi.types import BPS, UNIT

MAX_ALPHA = 4 * UNIT


def _check_pricing(p_floor: int, p0: int, alpha: int, d: int, r: int) -> None:
    if not 0 < alpha <= MAX_ALPHA:
        raise ProtocolError("alpha must be in (0, 4e18]")
    if not 0 <= d < r:
        raise ProtocolError("require 0 <= D < R")
    if p_floor < 0 or p0 < 0:
        raise ProtocolError("prices must be non-negative")


def ud_power(x: int, a1: int) -> int:
    """``x^(alpha+1)``: ``powu`` when the exponent is whole, ``pow`` otherwise (as the contract)."""
    if a1 % UNIT == 0:
        return ud_powu(x, a1 // UNIT)
    return ud_pow(x, a1)


def per_epoch_price(p_floor: int, p0: int, alpha: int, d: int, r: int) -> int:
    """Contract price of one more device for one epoch at demand ``d`` of supply ``r``.

    ``pFloor + mulDiv(P0 * R, p(x1) - p(x0), alpha + 1e18)`` with ``x0 = D/R``, ``x1 = (D+1)/R``
    in UD60x18 (floored) and ``p(x) = x^(alpha+1)`` computed by PRBMath.
    """
    _check_pricing(p_floor, p0, alpha, d, r)
    x0 = d * UNIT // r
    x1 = (d + 1) * UNIT // r
    a1 = alpha + UNIT
    p_lo = ud_power(x0, a1)
    p_hi = ud_power(x1, a1)
    if p_hi < p_lo:  # checked subtraction in the contract
        raise PRBMathError("arithmetic underflow in p(x1) - p(x0)")
    return p_floor + mul_div(p0 * r, p_hi - p_lo, a1)


def prorated_cost(per_epoch: int, epochs: int, elapsed_blocks: int, epoch_blocks: int) -> int:
    """Cost of ``epochs`` epochs bought ``elapsed_blocks`` into the current epoch.

    The current epoch is charged for its remaining blocks only, the later epochs whole:
    ``floor(per_epoch * (epochs * epoch_blocks - elapsed_blocks) / epoch_blocks)``, exactly the
    contract's ``LeasePricing.prorated`` (docs/protocol.md#pro-rata), so that a client's quote
    never charges a whole epoch for a lease that starts late in it.
    """
    if epochs <= 0:
        raise ProtocolError("epochs must be positive")
    if epoch_blocks <= 0 or not 0 <= elapsed_blocks < epoch_blocks:
        raise ProtocolError("require epoch_blocks > 0 and 0 <= elapsed_blocks < epoch_blocks")
    if per_epoch < 0:
        raise ProtocolError("per_epoch must be non-negative")
    return mul_div(per_epoch, epochs * epoch_blocks - elapsed_blocks, epoch_blocks)


def lease_cost(p_floor: int, p0: int, alpha: int, d: int, r: int, epochs: int, *,
               elapsed_blocks: int = 0, epoch_blocks: int = 1) -> int:
    """Bit-exact mirror of the contract's ``quote`` (docs/protocol.md#pro-rata).

    ``prorated_cost(per_epoch_price(...), epochs, elapsed_blocks, epoch_blocks)``, where
    ``elapsed_blocks = (block - genesisBlock) % epochBlocks`` of the block that mines the lease.
    The defaults (``elapsed_blocks=0``) give the whole-epoch cost ``epochs * per_epoch_price``,
    the price at an epoch's first block.
    """
    if epochs <= 0:
        raise ProtocolError("epochs must be positive")
    per_epoch = per_epoch_price(p_floor, p0, alpha, d, r)
    return prorated_cost(per_epoch, epochs, elapsed_blocks, epoch_blocks)


def unused_share(locked: int, start_block: int, end_block: int, from_block: int) -> int:
    """Refund of a lease's escrow for its blocks ``[from_block, end_block)``.

    ``locked`` is spread evenly over ``[start_block, end_block)`` (block offsets since genesis,
    ``end_block = end * epochBlocks``): ``floor(locked * (end_block - from_block) / (end_block -
    start_block))``, the contract's ``LeasePricing.unusedShare`` (docs/protocol.md#refunds).
    """
    if not start_block <= from_block <= end_block or start_block >= end_block or locked < 0:
        raise ProtocolError("require start_block <= from_block <= end_block, start < end")
    return locked * (end_block - from_block) // (end_block - start_block)


def lease_cost_decimal(p_floor: int, p0: int, alpha: int, d: int, r: int, epochs: int) -> Decimal:
    """Exact real-number reference (Decimal, 60 digits) of the closed form.

    ``m * (pFloor + P0*R/(alpha+1) * (((D+1)/R)^(alpha+1) - (D/R)^(alpha+1)))``.
    """
    _check_pricing(p_floor, p0, alpha, d, r)
    with localcontext() as ctx:
        ctx.prec = 60
        a1 = Decimal(alpha) / Decimal(UNIT) + 1
        x0 = Decimal(d) / Decimal(r)
        x1 = Decimal(d + 1) / Decimal(r)
        p_lo = x0**a1 if d > 0 else Decimal(0)
        per = Decimal(p_floor) + Decimal(p0) * Decimal(r) / a1 * (x1**a1 - p_lo)
        return +(Decimal(epochs) * per)


def marginal_price(p_floor: int, p0: int, alpha: int, u: float) -> float:
    """Continuous marginal price ``P(u) = pFloor + P0 * u^alpha`` (alpha in UD60x18)."""
    return float(p_floor) + float(p0) * float(u) ** (alpha / UNIT)


def split_payment(cost: int, beta_bps: int) -> tuple[int, int]:
    """Split a payment into ``(burn, escrow)``: ``burn = cost * betaBps // 10000``."""
    if cost < 0 or not 0 <= beta_bps <= BPS:
        raise ProtocolError("cost must be >= 0 and beta_bps in [0, 10000]")
    burn = cost * beta_bps // BPS
    return burn, cost - burn
