"""Closed-form economics used next to the agent-based model (analysis 8.1, 8.2, 8.4, cheating).

* Supply side: the expected return of an Active device per epoch (USD),
  ``E[Return] = emission share + (1 - beta) E[P(u) u] - opex - bond capital - slashing risk - gas``,
  its break-even utilization, and the ``P0`` that puts the break-even where we want it.
* Demand side: the cost of 1,000 inferences of a 70B-class model on PinFi versus list prices.
* Security: the value bonded, the cost of a Sybil share, and the cheat condition
  ``p (1 - f**k) S > gain(f)`` (Hyperbolic PoSP's ``slash > gain / p``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pinfi.params import ClassParams, NetworkParams
from pinfi.protocol import UNIT
from pinfi_dev.sim.assumptions import INFERENCE, ClassEconomics, InferenceAssumptions
from pinfi_dev.sim.model import Behaviour, Demand
from pinfi_dev.sim.pricing import PriceBook

__all__ = [
    "ReturnBreakdown",
    "break_even_u",
    "calibrate_p0",
    "cheat_margin",
    "daily_profile",
    "emission_per_epoch",
    "inference_costs",
    "provider_return",
    "sybil_cost_usd",
]


def daily_profile(d: Demand) -> np.ndarray:
    """The 24 hourly demand multipliers (mean 1)."""
    h = np.arange(24)
    return 1.0 + d.daily_amplitude * np.cos(2.0 * math.pi * (h - d.peak_hour) / 24.0)


def emission_per_epoch(network: NetworkParams, halvings: int = 0) -> float:
    """PIN emitted per epoch after ``halvings`` halvings."""
    return network.reward_per_block * network.epoch_blocks / UNIT / 2**halvings


@dataclass(frozen=True)
class ReturnBreakdown:
    """Per-epoch USD terms of a device's expected return."""

    emission: float
    fees: float
    opex: float
    capital: float
    slash_risk: float
    gas: float

    @property
    def net(self) -> float:
        return self.emission + self.fees - self.opex - self.capital - self.slash_risk - self.gas


def provider_return(p: ClassParams, opex_usd: float, u: float, emission_pin: float,
                    b: Behaviour, d: Demand, token_usd: float = 1.0,
                    bond_pin: float | None = None, epoch_hours: float = 1.0) -> ReturnBreakdown:
    """Expected return of one Active device at daily-average utilization ``u``.

    The fee term averages ``(1 - beta) P(u s_h) u s_h`` over the daily pattern ``s_h`` (capped at
    full utilization) with the class's curve from :mod:`pinfi.protocol`.
    """
    book = PriceBook.of(p)
    bond = p.min_bond_pin if bond_pin is None else bond_pin
    u_h = np.minimum(1.0, u * daily_profile(d))
    fees = (1.0 - p.beta) * float(np.mean(book.marginal(u_h) * u_h)) * token_usd
    return ReturnBreakdown(
        emission=emission_pin * token_usd,
        fees=fees,
        opex=opex_usd * epoch_hours,
        capital=bond * token_usd * b.capital_rate / 8760.0 * epoch_hours,
        slash_risk=p.challenge_p * b.honest_miss * bond * p.miss_slash * token_usd,
        gas=p.challenge_p * b.gas_usd_per_challenge,
    )


def break_even_u(p: ClassParams, opex_usd: float, emission_pin: float, b: Behaviour, d: Demand,
                 token_usd: float = 1.0, bond_pin: float | None = None) -> float:
    """Smallest daily-average utilization at which the return is >= 0 (``inf`` if never)."""

    def net(u: float) -> float:
        return provider_return(p, opex_usd, u, emission_pin, b, d, token_usd, bond_pin).net

    if net(0.0) >= 0:
        return 0.0
    hi = 1.0 / float(np.max(daily_profile(d))) * 1.5
    if net(hi) < 0:
        return math.inf
    lo = 0.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if net(mid) >= 0:
            hi = mid
        else:
            lo = mid
    return hi


def calibrate_p0(p: ClassParams, econ: ClassEconomics, u_target: float, emission_pin: float,
                 b: Behaviour, d: Demand) -> int:
    """``P0`` (wei) that makes a median-cost provider, with the entry hurdle, break even at
    ``u_target`` (bisection; the result is rounded by the caller)."""
    target_cost = econ.opex_usd_h * (1.0 + b.hurdle_in)
    lo, hi = 0.0, 100.0 * econ.opex_usd_h
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        q = p.with_(p0=int(mid * UNIT))
        if provider_return(q, target_cost, u_target, emission_pin, b, d).net >= 0:
            hi = mid
        else:
            lo = mid
    return int(hi * UNIT)


def cheat_margin(p: ClassParams, f: np.ndarray, k: int | np.ndarray, prob: float | np.ndarray,
                 gain_full_usd: float, token_usd: float = 1.0) -> np.ndarray:
    """Expected penalty over gain per epoch of a cheater computing a fraction ``f`` of C.

    Penalty: selected with ``prob``, caught with ``1 - f**k`` (one sample per stratum), slashed
    ``missSlashBps`` of the bond (the cheaper of miss and fraud for the cheater). Gain: the
    hardware it does not run, ``(1 - f)`` of a full device's income or cost (``gain_full_usd``).
    Cheating pays where the ratio is below 1 (``slash < gain / p``).
    """
    slash = p.miss_slash * p.min_bond_pin * token_usd
    penalty = prob * (1.0 - np.power(f, k)) * slash
    gain = (1.0 - f) * gain_full_usd
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gain > 0, penalty / gain, np.inf)


def sybil_cost_usd(p: ClassParams, honest_devices: float, share: float,
                   token_usd: float) -> float:
    """Bond an attacker must post to hold ``share`` of a class's Active devices."""
    fake = share / (1.0 - share) * honest_devices
    return fake * p.min_bond_pin * token_usd


def inference_costs(price_usd_h: np.ndarray, fail_rate: float,
                    ia: InferenceAssumptions = INFERENCE,
                    pattern: np.ndarray | None = None) -> dict[str, float]:
    """USD per 1,000 inferences (70B class) on PinFi H100 leases versus the list prices.

    ``price_usd_h``: PinFi's hourly price profile (24 values, USD per device-hour, what a client
    pays when it leases in that hour). Two loads: the analysis' startup (``calls_per_day``,
    following the daily pattern, leasing whole devices hour by hour) and a fully loaded device.
    """
    per_req_tokens = ia.prompt_tokens + ia.output_tokens
    cap_h = ia.h100_out_tok_s * ia.long_prompt_derate * 3600.0 / ia.output_tokens
    pattern = np.ones(24) if pattern is None else pattern / pattern.mean()
    calls_h = ia.calls_per_day / 24.0 * pattern
    devices_h = np.ceil(calls_h / cap_h)
    retry = 1.0 / (1.0 - fail_rate)
    pinfi_startup = float(np.sum(devices_h * price_usd_h)) * retry / ia.calls_per_day * 1000
    pinfi_full = float(np.mean(price_usd_h)) / cap_h * 1000 * retry
    aws_gpu = ia.aws_p5_gpu_h
    aws_startup = float(np.sum(devices_h)) * aws_gpu / ia.calls_per_day * 1000
    aws_full = aws_gpu / cap_h * 1000
    aws_full_cut = aws_full * (1.0 - ia.aws_cut)
    bedrock = (ia.prompt_tokens * ia.bedrock_in_per_m
               + ia.output_tokens * ia.bedrock_out_per_m) / 1e6 * 1000
    peer_retry = 1.0 / (1.0 - ia.peer_fail)
    peer_startup = float(np.sum(devices_h)) * ia.peer_gpu_h / ia.calls_per_day * 1000 * peer_retry
    peer_full = ia.peer_gpu_h / cap_h * 1000 * peer_retry
    peer_api = per_req_tokens * ia.peer_per_m / 1e6 * 1000 * peer_retry
    return {
        "requests_per_device_hour": cap_h,
        "device_hours_per_day": float(np.sum(devices_h)),
        "pinfi_startup": pinfi_startup,
        "pinfi_full_load": pinfi_full,
        "aws_p5_startup": aws_startup,
        "aws_p5_full_load": aws_full,
        "aws_p5_full_load_after_cut": aws_full_cut,
        "aws_bedrock_api": bedrock,
        "peer_gpu_startup": peer_startup,
        "peer_gpu_full_load": peer_full,
        "peer_api": peer_api,
    }
