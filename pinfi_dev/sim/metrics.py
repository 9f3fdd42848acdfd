"""Measures on simulated paths: settling after a shock, oscillation, daily profiles.

Prices follow the daily demand pattern, so "the price stays within 5% of its new level" is
measured against the new *periodic* level: the mean price at each hour of the day over the
last days of the run. Noise is removed by averaging independent seeds (the ensemble mean), not
by smoothing in time, which would add a lag of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SettleResult", "hourly_profile", "settle"]


def hourly_profile(x: np.ndarray, start: int, end: int) -> np.ndarray:
    """Mean of ``x[start:end]`` at each hour of the day (epoch ``t`` is hour ``t % 24``)."""
    t = np.arange(start, end)
    out = np.zeros(24)
    for h in range(24):
        out[h] = float(np.nanmean(x[t[t % 24 == h]]))
    return out


@dataclass(frozen=True)
class SettleResult:
    """How a path settled after a shock."""

    settle_epochs: int
    """Epochs after the shock until the deviation stays within the band to the end."""
    peak_deviation: float
    """Largest relative deviation above the new level after the shock."""
    undershoot: float
    """Largest relative deviation below the new level after the first peak (0 if none)."""
    crossings: int
    """Times the deviation leaves the band on the opposite side of its last excursion (one
    overshoot followed by one undershoot is one crossing: a damped swing)."""
    pre_noise: float
    """95th percentile of |deviation| before the shock (against the old level): noise floor."""
    oscillating: bool
    """At least two crossings: the price swings back out of the band a second time."""

    def as_dict(self) -> dict[str, float | int | bool]:
        return {
            "settle_epochs": self.settle_epochs,
            "peak_deviation": round(self.peak_deviation, 4),
            "undershoot": round(self.undershoot, 4),
            "crossings": self.crossings,
            "pre_noise": round(self.pre_noise, 4) if np.isfinite(self.pre_noise) else None,
            "oscillating": self.oscillating,
        }


def deviation(x: np.ndarray, ref_start: int, ref_end: int) -> np.ndarray:
    """Relative deviation of ``x`` from its hour-of-day profile over ``[ref_start, ref_end)``."""
    prof = hourly_profile(x, ref_start, ref_end)
    level = prof[np.arange(x.size) % 24]
    return x / level - 1.0


def settle(x: np.ndarray, shock: int, band: float = 0.05, ref_days: int = 3,
           warmup: int | None = None) -> SettleResult:
    """Settling of ``x`` (an ensemble-mean path) after a shock at epoch ``shock``.

    The new level is the hour-of-day profile of the last ``ref_days`` days; the old level the
    profile of the days before the shock (after ``warmup``).
    """
    n = x.size
    if warmup is None:
        warmup = max(0, shock - 48)
    ref_start = max(shock, n - 24 * ref_days)
    dev = deviation(x, ref_start, n)
    post = dev[shock:]
    outside = np.flatnonzero(np.abs(post) > band)
    settle_epochs = 0 if outside.size == 0 else int(outside[-1] + 1)
    peak_at = int(np.argmax(post))
    peak = float(post[peak_at])
    after_peak = post[peak_at:]
    undershoot = max(0.0, -float(np.min(after_peak)))
    # Band crossings: a new excursion beyond +band after one beyond -band, or vice versa.
    side = np.sign(np.where(np.abs(post) > band, post, 0.0))
    nz = side[side != 0]
    crossings = int(np.count_nonzero(np.diff(nz) != 0)) if nz.size > 1 else 0
    pre_noise = float("nan")
    if shock >= warmup + 24:
        dev_pre = deviation(x, warmup, shock)[warmup:shock]
        pre_noise = float(np.percentile(np.abs(dev_pre), 95))
    oscillating = crossings >= 2
    return SettleResult(settle_epochs, peak, undershoot, crossings, pre_noise, oscillating)
