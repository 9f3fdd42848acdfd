"""Pool pricing for the simulation, taken from :mod:`pinfi.protocol` (never re-derived here).

The simulation asks the price of one more device for one epoch at a state ``(D, R)`` many times;
:class:`PriceBook` memoizes :func:`pinfi.protocol.lease_cost` (``epochs=1``) per ``(D, R)`` and
shares the memo between all books with the same ``(pFloor, P0, alpha)``. A lease of ``m`` epochs
costs ``m`` times that (the contract quotes ``epochs * perEpoch``; ``tests/sim/test_sim.py`` checks
the identity against ``lease_cost(..., m)`` and the deployed contract's ``quote``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from pinfi import protocol
from pinfi.params import ClassParams
from pinfi.protocol import UNIT

__all__ = ["PriceBook", "contract_quote", "split"]


def contract_quote(p: ClassParams, d: int, r: int, epochs: int) -> int:
    """The exact contract quote (wei) of leasing one device for ``epochs`` at ``(d, r)``."""
    return protocol.lease_cost(p.p_floor, p.p0, p.alpha, d, r, epochs)


def split(cost: int, beta_bps: int) -> tuple[int, int]:
    """``(burn, escrow)`` of a payment, as the pool splits it."""
    return protocol.split_payment(cost, beta_bps)


class PriceBook:
    """Memoized per-epoch contract prices of one pricing curve."""

    _memo: ClassVar[dict[tuple[int, int, int], dict[tuple[int, int], int]]] = {}

    def __init__(self, p_floor: int, p0: int, alpha: int) -> None:
        self.p_floor = p_floor
        self.p0 = p0
        self.alpha = alpha
        self._cache = self._memo.setdefault((p_floor, p0, alpha), {})
        self._grid_u = np.linspace(0.0, 1.0, 401)
        self._grid_p = np.array(
            [protocol.marginal_price(p_floor, p0, alpha, float(u)) / UNIT for u in self._grid_u]
        )

    @classmethod
    def of(cls, p: ClassParams) -> PriceBook:
        return cls(p.p_floor, p.p0, p.alpha)

    def per_epoch(self, d: int, r: int) -> int:
        """Wei for one more device for one epoch at ``D = d`` leased of ``R = r`` (``d < r``)."""
        key = (d, r)
        v = self._cache.get(key)
        if v is None:
            v = protocol.lease_cost(self.p_floor, self.p0, self.alpha, d, r, 1)
            self._cache[key] = v
        return v

    def quote(self, d: int, r: int, epochs: int) -> int:
        """Wei for ``epochs`` (the contract's ``quote``)."""
        return self.per_epoch(d, r) * epochs

    def spot(self, d: int, r: int) -> float:
        """PIN per device-epoch of the next lease; at ``d >= r`` the price of the last device."""
        if r <= 0:
            return float("nan")
        return self.per_epoch(min(d, r - 1), r) / UNIT

    def marginal(self, u: np.ndarray | float) -> np.ndarray:
        """Continuous marginal price ``pFloor + P0 u^alpha`` in PIN (``protocol.marginal_price``,
        tabulated on a 401-point grid of ``u`` for vectorized forecasts)."""
        return np.interp(np.clip(u, 0.0, 1.0), self._grid_u, self._grid_p)

    @classmethod
    def cache_size(cls) -> int:
        return sum(len(v) for v in cls._memo.values())
