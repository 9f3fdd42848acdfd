"""Bit-exact ports of PRBMath v4: ``UD60x18`` (``mul``, ``div``, ``log2``, ``exp2``, ``pow``,
``powu``) and ``Common`` (``mulDiv``, ``mulDiv18``, ``exp2``, ``msb``), on Python integers.

The pool prices leases with these functions (docs/protocol.md#price); the mirror reproduces
every truncation, so the Python quote equals the contract's to the wei. A revert of the library
is a :class:`~pinfi.protocol.errors.PRBMathError` carrying the Solidity error's name.
"""

from __future__ import annotations

from pinfi.protocol.errors import PRBMathError
from pinfi.protocol.hashing import MASK256
from pinfi.types import UNIT

_UNIT_SQUARED = 10**36
_HALF_UNIT = UNIT // 2
_EXP2_MAX_INPUT = 192 * UNIT - 1


def _u256(x: int, name: str = "value") -> int:
    if not 0 <= x <= MASK256:
        raise PRBMathError(f"{name} is not a uint256: {x}")
    return x


def msb(x: int) -> int:
    """Index of the most significant bit (``Common.msb``; 0 for x = 0)."""
    _u256(x)
    return max(0, x.bit_length() - 1)


def mul_div(x: int, y: int, denominator: int) -> int:
    """``Common.mulDiv``: floor(x*y/denominator) with 512-bit intermediate; reverts on overflow."""
    _u256(x), _u256(y), _u256(denominator)
    if denominator == 0:
        raise PRBMathError("division by zero")
    result = x * y // denominator
    if result > MASK256:
        raise PRBMathError("PRBMath_MulDiv_Overflow")
    return result


def mul_div18(x: int, y: int) -> int:
    """``Common.mulDiv18``: floor(x*y/1e18); reverts when the result exceeds uint256."""
    _u256(x), _u256(y)
    result = x * y // UNIT
    if result > MASK256:
        raise PRBMathError("PRBMath_MulDiv18_Overflow")
    return result


_EXP2_FACTORS = (
    0x16A09E667F3BCC909, 0x1306FE0A31B7152DF, 0x1172B83C7D517ADCE, 0x10B5586CF9890F62A,
    0x1059B0D31585743AE, 0x102C9A3E778060EE7, 0x10163DA9FB33356D8, 0x100B1AFA5ABCBED61,
    0x10058C86DA1C09EA2, 0x1002C605E2E8CEC50, 0x100162F3904051FA1, 0x1000B175EFFDC76BA,
    0x100058BA01FB9F96D, 0x10002C5CC37DA9492, 0x1000162E525EE0547, 0x10000B17255775C04,
    0x1000058B91B5BC9AE, 0x100002C5C89D5EC6D, 0x10000162E43F4F831, 0x100000B1721BCFC9A,
    0x10000058B90CF1E6E, 0x1000002C5C863B73F, 0x100000162E430E5A2, 0x1000000B172183551,
    0x100000058B90C0B49, 0x10000002C5C8601CC, 0x1000000162E42FFF0, 0x10000000B17217FBB,
    0x1000000058B90BFCE, 0x100000002C5C85FE3, 0x10000000162E42FF1, 0x100000000B17217F8,
    0x10000000058B90BFC, 0x1000000002C5C85FE, 0x100000000162E42FF, 0x1000000000B17217F,
    0x100000000058B90C0, 0x10000000002C5C860, 0x1000000000162E430, 0x10000000000B17218,
    0x1000000000058B90C, 0x100000000002C5C86, 0x10000000000162E43, 0x100000000000B1721,
    0x10000000000058B91, 0x1000000000002C5C8, 0x100000000000162E4, 0x1000000000000B172,
    0x100000000000058B9, 0x10000000000002C5D, 0x1000000000000162E, 0x10000000000000B17,
    0x1000000000000058C, 0x100000000000002C6, 0x10000000000000163, 0x100000000000000B1,
    0x10000000000000059, 0x1000000000000002C, 0x10000000000000016, 0x1000000000000000B,
    0x10000000000000006, 0x10000000000000003, 0x10000000000000001, 0x10000000000000001,
)  # fmt: skip
"""Magic factors of ``Common.exp2``: entry ``b`` is used when bit ``63 - b`` of x is set."""


def common_exp2(x: int) -> int:
    """``Common.exp2``: 2^x for x in 192.64 fixed point, result in UD60x18 (unchecked math)."""
    _u256(x)
    result = 0x800000000000000000000000000000000000000000000000
    for b, factor in enumerate(_EXP2_FACTORS):
        if x & (1 << (63 - b)):
            result = ((result * factor) & MASK256) >> 64
    result = (result * UNIT) & MASK256
    shift = (191 - (x >> 64)) & MASK256
    return result >> shift if shift < 256 else 0


def ud_mul(x: int, y: int) -> int:
    """UD60x18 ``mul``: floor(x*y/1e18)."""
    return mul_div18(x, y)


def ud_div(x: int, y: int) -> int:
    """UD60x18 ``div``: floor(x*1e18/y)."""
    return mul_div(x, UNIT, y)


def ud_exp2(x: int) -> int:
    """UD60x18 ``exp2``: 2^x; reverts for x > 192e18 - 1."""
    _u256(x)
    if x > _EXP2_MAX_INPUT:
        raise PRBMathError("PRBMath_UD60x18_Exp2_InputTooBig")
    return common_exp2((x << 64) // UNIT)


def ud_log2(x: int) -> int:
    """UD60x18 ``log2`` (iterative approximation, truncating); reverts for x < 1e18."""
    _u256(x)
    if x < UNIT:
        raise PRBMathError("PRBMath_UD60x18_Log_InputTooSmall")
    n = msb(x // UNIT)
    result = n * UNIT
    y = x >> n
    if y == UNIT:
        return result
    delta = _HALF_UNIT
    double_unit = 2 * UNIT
    while delta > 0:
        y = y * y // UNIT
        if y >= double_unit:
            result += delta
            y >>= 1
        delta >>= 1
    return result


def ud_pow(x: int, y: int) -> int:
    """UD60x18 ``pow``: x^y via exp2(log2(x)*y), inverted for x < 1 exactly as PRBMath v4."""
    _u256(x), _u256(y)
    if x == 0:
        return UNIT if y == 0 else 0
    if x == UNIT:
        return UNIT
    if y == 0:
        return UNIT
    if y == UNIT:
        return x
    if x > UNIT:
        return ud_exp2(ud_mul(ud_log2(x), y))
    i = _UNIT_SQUARED // x
    w = ud_exp2(ud_mul(ud_log2(i), y))
    return _UNIT_SQUARED // w


def ud_powu(x: int, y: int) -> int:
    """UD60x18 ``powu``: x^y for an integer y by squaring, each step floor(a*b/1e18)."""
    _u256(x), _u256(y)
    result = x if y & 1 else UNIT
    y >>= 1
    while y > 0:
        x = mul_div18(x, x)
        if y & 1:
            result = mul_div18(result, x)
        y >>= 1
    return result
