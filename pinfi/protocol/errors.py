"""The two errors of the protocol mirror: a bad argument, and a PRBMath revert."""

from __future__ import annotations


class ProtocolError(ValueError):
    """An argument violates a protocol requirement (the contract would revert)."""


class PRBMathError(ArithmeticError):
    """A PRBMath function would revert with the given error name."""
