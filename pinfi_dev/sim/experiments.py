"""The experiments of the report (LooPIN analysis section 8, then ghosts and Sybils under the
PoCPS v2 rules) and their shared setup.

Every run is a :class:`Job` executed by :func:`run_job` (in worker processes when available);
seeds are fixed per job, so results do not depend on scheduling. The expected-path experiments
use stratified demand draws and average several seeds (see :mod:`pinfi_dev.sim.metrics`); the plain
Monte Carlo runs are shown next to them for realism.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pinfi.params import ClassParams, NetworkParams, emitted_until
from pinfi_dev.sim import attacks as atk
from pinfi_dev.sim import economics as eco
from pinfi_dev.sim.assumptions import CLASS_ECON, INFERENCE, TOKEN_USD
from pinfi_dev.sim.metrics import SettleResult, hourly_profile, settle
from pinfi_dev.sim.model import Behaviour, ClassMarket, Demand, Scenario, run_market
from pinfi_dev.sim.pricing import PriceBook
from pinfi_dev.sim.sizing import Capacity, HashRates, SizingRow, capacity, sizing_row

GPU_CLASSES = ("rtx4090", "a100-80g", "h100-80g")
LAUNCH_DEVICES = {"rtx4090": 800, "a100-80g": 400, "h100-80g": 500}
"""Target network at launch (devices per class): sets the emission share per device."""
SIM_DEVICES = {"rtx4090": 400, "a100-80g": 200, "h100-80g": 250}
"""Devices simulated per class at scale 1 (the rest of the launch network is a constant
background weight in the emission split)."""
POOL_FACTOR = 2.5
"""Potential devices per initially Active device (the supply reserve)."""
U0 = 0.65
"""Daily-average utilization the runs start at."""

Log = Callable[[str], None]


@dataclass(frozen=True)
class Setup:
    """Everything an experiment needs besides seeds."""

    network: NetworkParams
    classes: dict[str, ClassParams]
    behaviour: Behaviour
    demand: Demand
    scale: float = 1.0
    seeds: int = 6
    sweep_seeds: int = 3
    days: int = 12
    sweep_days: int = 8
    seed: int = 0

    def class_params(self, name: str) -> ClassParams:
        return self.classes[name]


# ---------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One simulation run and what to keep of it."""

    markets: tuple[ClassMarket, ...]
    network: NetworkParams
    scenario: Scenario
    behaviour: Behaviour
    demand: Demand
    seed: int
    keep: tuple[str, ...] = ("quote", "util", "supply", "leased", "pending")


def run_job(job: Job) -> dict[str, Any]:
    """Run a job; returns ``{class: {series: array}}`` plus token series and P&L scalars."""
    tr = run_market(list(job.markets), job.network, job.scenario, job.behaviour, job.demand,
                    seed=job.seed)
    out: dict[str, Any] = {}
    for name, c in tr.classes.items():
        d = {k: getattr(c, k) for k in job.keep}
        d["honest_pnl_usd"] = c.honest_pnl_usd
        d["cheater_pnl_usd"] = c.cheater_pnl_usd
        d["honest_device_epochs"] = c.honest_device_epochs
        d["cheater_device_epochs"] = c.cheater_device_epochs
        d["cheater_attempts"] = c.cheater_attempts
        out[name] = d
    out["_token"] = {"token_usd": tr.token_usd, "supply": tr.supply, "burned": tr.burned,
                     "minted": tr.minted}
    return out


class Runner:
    """Runs jobs on ``workers`` processes (fork) or in-process."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: Any = None
        if workers > 1 and "fork" in mp.get_all_start_methods():
            self._pool = mp.get_context("fork").Pool(workers)

    def map(self, jobs: Sequence[Job]) -> list[dict[str, Any]]:
        if self._pool is None:
            return [run_job(j) for j in jobs]
        return list(self._pool.map(run_job, jobs, chunksize=1))

    def apply(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Any]:
        """``[fn(t) for t in tasks]`` on the workers (``fn`` a module-level function)."""
        if self._pool is None:
            return [fn(t) for t in tasks]
        return list(self._pool.map(fn, tasks, chunksize=1))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None


# ---------------------------------------------------------------------------------------------
# Market setup
# ---------------------------------------------------------------------------------------------


def launch_weight(classes: dict[str, ClassParams]) -> float:
    return float(sum(classes[n].weight * LAUNCH_DEVICES[n] for n in GPU_CLASSES))


def launch_emission_per_device(setup: Setup, name: str) -> float:
    """PIN per epoch an Active device of ``name`` earns in the launch network."""
    p = setup.classes[name]
    return eco.emission_per_epoch(setup.network) * p.weight / launch_weight(setup.classes)


def acceptance(p: ClassParams, name: str, u: float, d: Demand,
               token_usd: float = TOKEN_USD) -> float:
    """Share of clients whose willingness to pay covers the price at utilization ``u``."""
    econ = CLASS_ECON[name]
    book = PriceBook.of(p)
    u_h = np.minimum(0.999, u * eco.daily_profile(d))
    price = book.marginal(u_h) * token_usd
    z = np.log(econ.market_usd_h / price) / econ.wtp_sigma
    return float(np.mean([0.5 * (1.0 + math.erf(x / math.sqrt(2.0))) for x in z]))


def recommended_p0(setup: Setup, name: str, p: ClassParams | None = None,
                   u_target: float = U0) -> int:
    """P0 (wei) that makes a median-cost provider break even at ``u_target`` with the launch
    emission share, for the class's (or ``p``'s) pFloor, alpha and beta."""
    p = p or setup.classes[name]
    return eco.calibrate_p0(p, CLASS_ECON[name], u_target, launch_emission_per_device(setup, name),
                            setup.behaviour, setup.demand)


def make_market(setup: Setup, name: str, params: ClassParams | None = None, scale: float = 1.0,
                cheat_share: float = 0.0, cheat_f: float = 0.5) -> ClassMarket:
    """A class market started at ``U0`` with demand that keeps it there at its prices."""
    p = params or setup.classes[name]
    r0 = max(20, round(SIM_DEVICES[name] * scale))
    acc = max(0.05, acceptance(p, name, U0, setup.demand))
    lam = U0 * r0 / (setup.demand.mean_lease_epochs * acc)
    return ClassMarket(params=p, econ=CLASS_ECON[name], base_arrivals=lam,
                       pool_size=int(POOL_FACTOR * r0), initial_active=r0,
                       cheat_share=cheat_share, cheat_f=cheat_f)


def background(setup: Setup, markets: Sequence[ClassMarket]) -> float:
    """Emission weight of the launch network not simulated."""
    sim = sum(m.params.weight * m.initial_active for m in markets)
    return max(0.0, launch_weight(setup.classes) - sim)


# ---------------------------------------------------------------------------------------------
# Experiment 1: equilibrium, 2x demand shock, alpha/beta sweep, behaviour sensitivity
# ---------------------------------------------------------------------------------------------


@dataclass
class EquilibriumResult:
    epochs: int
    shock: int
    mean: dict[str, dict[str, np.ndarray]]
    mc: dict[str, dict[str, np.ndarray]]
    settle: dict[str, SettleResult]
    mc_noise: dict[str, float]
    levels: dict[str, dict[str, float]]
    alphas: list[float]
    betas: list[float]
    sweep_settle: np.ndarray
    sweep_peak: np.ndarray
    sweep_osc: np.ndarray
    sweep_util: np.ndarray
    sweep_price: np.ndarray
    sweep_rationed: np.ndarray
    sweep_upeak: np.ndarray
    sweep_p0: np.ndarray
    sensitivity: list[tuple[str, SettleResult]]
    n_seeds: int = 0
    headline: int = 0
    headline_class: str = ""


def _mean_paths(results: list[dict[str, Any]], name: str,
                keys: Sequence[str]) -> dict[str, np.ndarray]:
    return {k: np.mean([r[name][k] for r in results], axis=0) for k in keys}


def experiment_equilibrium(setup: Setup, runner: Runner, log: Log) -> EquilibriumResult:
    T = 24 * setup.days
    shock = 24 * 3
    strat = replace(setup.demand, stratified=True, noise_sigma=0.0)
    markets = tuple(make_market(setup, n, scale=setup.scale) for n in GPU_CLASSES)
    bg = background(setup, markets)
    scen = Scenario(epochs=T, shock_epoch=shock, shock_factor=2.0, background_weight=bg)
    keep = ("quote", "util", "supply", "leased", "pending", "paid", "full", "arrivals")
    jobs = [Job(markets, setup.network, scen, setup.behaviour, strat, setup.seed + 101 + s, keep)
            for s in range(setup.seeds)]
    jobs.append(Job(markets, setup.network, scen, setup.behaviour, setup.demand,
                    setup.seed + 7, keep))
    res = runner.map(jobs)
    ens, mc_run = res[:-1], res[-1]
    mean = {n: _mean_paths(ens, n, keep) for n in GPU_CLASSES}
    mc = {n: {k: mc_run[n][k] for k in keep} for n in GPU_CLASSES}
    st = {n: settle(mean[n]["quote"], shock) for n in GPU_CLASSES}
    noise: dict[str, float] = {}
    levels: dict[str, dict[str, float]] = {}
    for n in GPU_CLASSES:
        # Noise of one Monte Carlo run around the expected path's settled daily profile.
        q = mc[n]["quote"]
        prof = hourly_profile(mean[n]["quote"], T - 72, T)
        rel = q[T - 72:] / prof[np.arange(T - 72, T) % 24] - 1
        noise[n] = float(np.percentile(np.abs(rel), 95))
        m = mean[n]
        pre = slice(shock - 48, shock)
        post = slice(T - 72, T)
        levels[n] = {
            "price_before": float(np.mean(m["quote"][pre])),
            "price_after": float(np.mean(m["quote"][post])),
            "util_before": float(np.mean(m["util"][pre])),
            "util_after": float(np.mean(m["util"][post])),
            "supply_before": float(np.mean(m["supply"][pre])),
            "supply_after": float(np.mean(m["supply"][post])),
            "leased_before": float(np.mean(m["leased"][pre])),
            "leased_after": float(np.mean(m["leased"][post])),
            "paid_before": float(np.nanmean(m["paid"][pre])),
            "paid_after": float(np.nanmean(m["paid"][post])),
            "full_share_after": float(np.sum(m["full"][shock:])
                                      / max(1.0, float(np.sum(m["arrivals"][shock:])))),
        }
    headline_class = max(GPU_CLASSES, key=lambda n: st[n].settle_epochs)
    log("  equilibrium: settle " + ", ".join(f"{n} {st[n].settle_epochs}" for n in GPU_CLASSES)
        + " epochs")

    # Sweep alpha x beta on the H100 pool (the 70B-inference class), other classes as background.
    # Each cell re-calibrates P0 so that a median-cost provider breaks even at U0: cells differ
    # in dynamics and in what clients pay, not in where the market sits.
    alphas = [0.5, 1.0, 2.0, 3.0, 4.0]
    betas = [0.0, 0.15, 0.3, 0.5]
    Ts = 24 * setup.sweep_days
    shock_s = 24 * 3
    base = setup.classes["h100-80g"]
    sweep_jobs: list[Job] = []
    g_p0 = np.zeros((len(alphas), len(betas)))
    for ai, a in enumerate(alphas):
        for bi, be in enumerate(betas):
            p = base.with_(alpha=round(a * 1e18), beta_bps=round(be * 10_000))
            p = p.with_(p0=recommended_p0(setup, "h100-80g", p))
            g_p0[ai, bi] = p.p0 / 1e18
            mk = make_market(setup, "h100-80g", params=p, scale=0.8 * setup.scale)
            sc = Scenario(epochs=Ts, shock_epoch=shock_s, background_weight=background(setup, [mk]))
            for s in range(setup.sweep_seeds):
                sweep_jobs.append(Job((mk,), setup.network, sc, setup.behaviour, strat,
                                      setup.seed + 1000 + s, ("quote", "util", "full", "arrivals")))
    t0 = time.perf_counter()
    sres = runner.map(sweep_jobs)
    log(f"  alpha x beta sweep: {len(sweep_jobs)} runs in {time.perf_counter() - t0:.1f}s")
    shape = (len(alphas), len(betas))
    g_settle, g_peak, g_osc = np.zeros(shape), np.zeros(shape), np.zeros(shape, bool)
    g_util, g_price, g_rat = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    g_upeak = np.zeros(shape)
    i = 0
    for ai in range(len(alphas)):
        for bi in range(len(betas)):
            chunk = sres[i:i + setup.sweep_seeds]
            i += setup.sweep_seeds
            q = np.mean([r["h100-80g"]["quote"] for r in chunk], axis=0)
            u = np.mean([r["h100-80g"]["util"] for r in chunk], axis=0)
            full = sum(float(np.sum(r["h100-80g"]["full"][shock_s:])) for r in chunk)
            arr = sum(float(np.sum(r["h100-80g"]["arrivals"][shock_s:])) for r in chunk)
            sr = settle(q, shock_s)
            g_settle[ai, bi] = sr.settle_epochs
            g_peak[ai, bi] = sr.peak_deviation
            g_osc[ai, bi] = sr.oscillating
            g_util[ai, bi] = float(np.mean(u[Ts - 48:]))
            g_price[ai, bi] = float(np.mean(q[Ts - 48:]))
            g_rat[ai, bi] = full / max(arr, 1.0)
            g_upeak[ai, bi] = float(np.percentile(u[shock_s:], 95))

    # Behaviour sensitivity: how fast providers react, and naive (lagging) forecasts.
    variants: list[tuple[str, Behaviour]] = [
        (f"kappa_in={k}", replace(setup.behaviour, kappa_in=k)) for k in (0.1, 0.3, 0.9)
    ] + [
        ("entry lag 3 epochs", replace(setup.behaviour, entry_lag=3)),
        ("naive: trailing 24h income", replace(setup.behaviour, pipeline_aware=False)),
        ("unbonding 7 days", setup.behaviour),
    ]
    sens_jobs: list[Job] = []
    mk = make_market(setup, "h100-80g", scale=0.8 * setup.scale)
    sc = Scenario(epochs=Ts, shock_epoch=shock_s, background_weight=background(setup, [mk]))
    long_unbond = replace(setup.network, unbonding_blocks=7 * 24 * setup.network.epoch_blocks)
    for label, beh in variants:
        netw = long_unbond if label.startswith("unbonding") else setup.network
        for s in range(setup.sweep_seeds):
            sens_jobs.append(Job((mk,), netw, sc, beh, strat, setup.seed + 2000 + s, ("quote",)))
    senres = runner.map(sens_jobs)
    sens: list[tuple[str, SettleResult]] = []
    for vi, (label, _) in enumerate(variants):
        chunk = senres[vi * setup.sweep_seeds:(vi + 1) * setup.sweep_seeds]
        q = np.mean([r["h100-80g"]["quote"] for r in chunk], axis=0)
        sens.append((label, settle(q, shock_s)))
    log("  behaviour sensitivity: " + ", ".join(f"{lab} {s.settle_epochs}" for lab, s in sens))
    return EquilibriumResult(
        epochs=T, shock=shock, mean=mean, mc=mc, settle=st, mc_noise=noise, levels=levels,
        alphas=alphas, betas=betas, sweep_settle=g_settle, sweep_peak=g_peak, sweep_osc=g_osc,
        sweep_util=g_util, sweep_price=g_price, sweep_rationed=g_rat, sweep_upeak=g_upeak,
        sweep_p0=g_p0, sensitivity=sens, n_seeds=setup.seeds,
        headline=st[headline_class].settle_epochs, headline_class=headline_class,
    )


# ---------------------------------------------------------------------------------------------
# Experiment 2: supply side (analysis 8.1)
# ---------------------------------------------------------------------------------------------


@dataclass
class SupplyResult:
    u: np.ndarray
    curves: dict[str, dict[str, np.ndarray]]
    break_even: dict[str, dict[str, float]]
    breakdown: dict[str, dict[str, float]]
    realized: dict[str, dict[str, float]]


def experiment_supply(setup: Setup, eq: EquilibriumResult, pnl: dict[str, dict[str, float]],
                      log: Log) -> SupplyResult:
    u = np.linspace(0.0, 1.0, 101)
    curves: dict[str, dict[str, np.ndarray]] = {}
    be: dict[str, dict[str, float]] = {}
    breakdown: dict[str, dict[str, float]] = {}
    b, d = setup.behaviour, setup.demand
    for n in GPU_CLASSES:
        p = setup.classes[n]
        econ = CLASS_ECON[n]
        em = launch_emission_per_device(setup, n)
        cv: dict[str, np.ndarray] = {}
        variants = {
            "default": (1.0, 1.0), "opex x0.75": (0.75, 1.0), "opex x1.25": (1.25, 1.0),
            "bond x0.5": (1.0, 0.5), "bond x3": (1.0, 3.0),
        }
        for label, (om, bm) in variants.items():
            cv[label] = np.array([eco.provider_return(p, econ.opex_usd_h * om, float(x), em, b, d,
                                                      bond_pin=p.min_bond_pin * bm).net
                                  for x in u])
        cv["no emission"] = np.array([eco.provider_return(p, econ.opex_usd_h, float(x), 0.0, b,
                                                          d).net for x in u])
        curves[n] = cv
        be[n] = {
            "default": eco.break_even_u(p, econ.opex_usd_h, em, b, d),
            "opex x0.75": eco.break_even_u(p, econ.opex_usd_h * 0.75, em, b, d),
            "opex x1.25": eco.break_even_u(p, econ.opex_usd_h * 1.25, em, b, d),
            "bond x3": eco.break_even_u(p, econ.opex_usd_h, em, b, d, bond_pin=3 * p.min_bond_pin),
            "no emission": eco.break_even_u(p, econ.opex_usd_h, 0.0, b, d),
            "token x0.5": eco.break_even_u(p, econ.opex_usd_h, em, b, d, token_usd=0.5),
        }
        u_eq = eq.levels[n]["util_before"]
        r = eco.provider_return(p, econ.opex_usd_h, u_eq, em, b, d)
        breakdown[n] = {"u": u_eq, "emission": r.emission, "fees": r.fees, "opex": r.opex,
                        "capital": r.capital, "slash_risk": r.slash_risk, "gas": r.gas,
                        "net": r.net}
    log("  supply side: break-even u "
        + ", ".join(f"{n} {be[n]['default']:.2f}" for n in GPU_CLASSES))
    return SupplyResult(u=u, curves=curves, break_even=be, breakdown=breakdown, realized=pnl)


# ---------------------------------------------------------------------------------------------
# Experiment 3: demand side (analysis 8.2)
# ---------------------------------------------------------------------------------------------


@dataclass
class DemandResult:
    price_profile_usd: np.ndarray
    fail_rate: float
    costs: dict[str, float]
    a100_costs: dict[str, float]


def experiment_demand(setup: Setup, eq: EquilibriumResult, fail_rate: float,
                      log: Log) -> DemandResult:
    """Cost per 1,000 70B inferences at the pre-shock equilibrium prices of the H100 pool."""
    n = "h100-80g"
    paid = eq.mean[n]["paid"]
    # What a client leasing in hour h pays: the mean price of the leases running at that hour
    # is close to it; use the spot quote averaged per hour (what the contract quotes).
    prof = hourly_profile(eq.mean[n]["quote"], eq.shock - 72, eq.shock) * TOKEN_USD
    pattern = eco.daily_profile(setup.demand)
    costs = eco.inference_costs(prof, fail_rate, INFERENCE, pattern)
    costs["pinfi_mean_paid_usd_h"] = float(np.nanmean(paid[eq.shock - 72:eq.shock])) * TOKEN_USD
    costs["pinfi_mean_quote_usd_h"] = float(np.mean(prof))
    # A100 alternative: two A100s per replica at a100_ratio of the H100 throughput each.
    prof_a = hourly_profile(eq.mean["a100-80g"]["quote"], eq.shock - 72, eq.shock) * TOKEN_USD
    ia = INFERENCE
    a100_ia = replace(ia, h100_out_tok_s=ia.h100_out_tok_s * ia.a100_ratio * ia.a100_gpus)
    a100 = eco.inference_costs(prof_a * ia.a100_gpus, fail_rate, a100_ia, pattern)
    log(f"  demand side: PinFi ${costs['pinfi_startup']:.3f} / 1k (startup), "
        f"${costs['pinfi_full_load']:.4f} (full load)")
    return DemandResult(price_profile_usd=prof, fail_rate=fail_rate, costs=costs, a100_costs=a100)


# ---------------------------------------------------------------------------------------------
# Experiment 4: security stress test (analysis 8.4)
# ---------------------------------------------------------------------------------------------


@dataclass
class SecurityResult:
    epochs: int
    step: int
    scenarios: dict[str, dict[str, dict[str, np.ndarray]]]
    token: dict[str, np.ndarray]
    summary: dict[str, dict[str, float]]
    base_run: dict[str, Any] = field(default_factory=dict)


SECURITY_SCENARIOS: dict[str, tuple[float, int | None]] = {
    "baseline": (1.0, None),
    "token x2": (2.0, None),
    "token x0.5": (0.5, None),
    "token x2, re-peg after 3 days": (2.0, 72),
    "token x0.5, re-peg after 3 days": (0.5, 72),
}


def experiment_security(setup: Setup, runner: Runner, log: Log) -> SecurityResult:
    T = 24 * (setup.days + 2)
    step = 24 * 3
    markets = tuple(make_market(setup, n, scale=setup.scale, cheat_share=0.04, cheat_f=0.5)
                    for n in GPU_CLASSES)
    bg = background(setup, markets)
    keep = ("quote", "util", "supply", "leased", "bonded", "slashed", "burn", "minted",
            "cheaters_active", "failed_leases", "accepted")
    jobs = []
    for factor, repeg in SECURITY_SCENARIOS.values():
        steps = ((step, factor),) if factor != 1.0 else ()
        sc = Scenario(epochs=T, token_steps=steps, repeg_after=repeg, background_weight=bg)
        jobs.append(Job(markets, setup.network, sc, setup.behaviour, setup.demand,
                        setup.seed + 3000, keep))
    res = runner.map(jobs)
    scen: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    token: dict[str, np.ndarray] = {}
    summary: dict[str, dict[str, float]] = {}
    for (label, (factor, _)), r in zip(SECURITY_SCENARIOS.items(), res, strict=True):
        tok = r["_token"]["token_usd"]
        token[label] = tok
        per: dict[str, dict[str, np.ndarray]] = {}
        tvb_total = np.zeros(T)
        for n in GPU_CLASSES:
            c = r[n]
            p = setup.classes[n]
            tvb = c["bonded"] * tok
            sybil = np.array([eco.sybil_cost_usd(p, float(R), 1 / 3, float(x))
                              for R, x in zip(c["supply"], tok, strict=True)])
            per[n] = {"supply": c["supply"], "util": c["util"], "quote_usd": c["quote"] * tok,
                      "tvb_usd": tvb, "sybil_usd": sybil}
            tvb_total += tvb
        scen[label] = per
        before = slice(step - 24, step)
        end = slice(T - 24, T)
        summary[label] = {
            "token_factor": factor,
            "tvb_usd_before": float(np.mean(tvb_total[before])),
            "tvb_usd_end": float(np.mean(tvb_total[end])),
            "tvb_ratio": float(np.mean(tvb_total[end]) / np.mean(tvb_total[before])),
            "devices_ratio": float(sum(np.mean(r[n]["supply"][end]) for n in GPU_CLASSES)
                                   / sum(np.mean(r[n]["supply"][before]) for n in GPU_CLASSES)),
            "h100_price_usd_end": float(np.mean(r["h100-80g"]["quote"][end] * tok[end])),
            "h100_util_end": float(np.mean(r["h100-80g"]["util"][end])),
            "sybil_h100_usd_end": float(np.mean(scen[label]["h100-80g"]["sybil_usd"][end])),
        }
    log("  security: value bonded x"
        + ", ".join(f"{v['tvb_ratio']:.2f} ({k})" for k, v in summary.items()))
    return SecurityResult(epochs=T, step=step, scenarios=scen, token=token, summary=summary,
                          base_run=res[0])


# ---------------------------------------------------------------------------------------------
# Experiment 5: cheat economics
# ---------------------------------------------------------------------------------------------


@dataclass
class CheatResult:
    f: np.ndarray
    probs: np.ndarray
    ks: list[int]
    margin: dict[str, dict[int, np.ndarray]]
    default_min_margin: dict[str, float]
    default_min_margin_half_token: dict[str, float]
    gain_full_usd: dict[str, float]
    abm: dict[str, dict[str, float]]
    sizing: dict[str, SizingRow]


def experiment_cheating(setup: Setup, security: SecurityResult, rates: HashRates,
                        log: Log) -> CheatResult:
    f = np.linspace(0.0, 0.995, 200)
    probs = np.geomspace(0.002, 1.0, 120)
    ks = [4, 8, 16, 32]
    margin: dict[str, dict[int, np.ndarray]] = {}
    dmin: dict[str, float] = {}
    dmin_half: dict[str, float] = {}
    gain: dict[str, float] = {}
    abm: dict[str, dict[str, float]] = {}
    sizing: dict[str, SizingRow] = {}
    base = security.base_run
    for n in GPU_CLASSES:
        p = setup.classes[n]
        econ = CLASS_ECON[n]
        em = launch_emission_per_device(setup, n)
        # Gain of a device that is not there: the larger of the hardware it saves and the full
        # income of an Active device at the launch equilibrium (emission + fees at U0).
        income = eco.provider_return(p, 0.0, U0, em, setup.behaviour, setup.demand)
        g = max(econ.opex_usd_h, income.emission + income.fees)
        gain[n] = g
        ff, pp = np.meshgrid(f, probs)
        margin[n] = {k: eco.cheat_margin(p, ff, k, pp, g) for k in ks}
        dmin[n] = float(np.min(eco.cheat_margin(p, f, p.k, p.challenge_p, g)))
        dmin_half[n] = float(np.min(eco.cheat_margin(p, f, p.k, p.challenge_p, g, token_usd=0.5)))
        c = base[n]
        abm[n] = {
            "cheater_pnl_usd_per_attempt": c["cheater_pnl_usd"] / max(1, c["cheater_attempts"]),
            "cheater_attempts": float(c["cheater_attempts"]),
            "honest_pnl_usd_per_device_epoch":
                c["honest_pnl_usd"] / max(1, c["honest_device_epochs"]),
            "cheater_device_epochs": float(c["cheater_device_epochs"]),
            "cheaters_active_end": float(c["cheaters_active"][-1]),
            "cheaters_active_start": float(c["cheaters_active"][0]),
        }
        sizing[n] = sizing_row(p, econ, rates)
    log("  cheating: min penalty/gain " + ", ".join(f"{n} {dmin[n]:.1f}" for n in GPU_CLASSES))
    return CheatResult(f=f, probs=probs, ks=ks, margin=margin, default_min_margin=dmin,
                       default_min_margin_half_token=dmin_half, gain_full_usd=gain, abm=abm,
                       sizing=sizing)


# ---------------------------------------------------------------------------------------------
# Token supply: emission schedule vs burn
# ---------------------------------------------------------------------------------------------


@dataclass
class TokenResult:
    years: np.ndarray
    emitted: np.ndarray
    burned: np.ndarray
    supply: np.ndarray
    burn_per_epoch: float
    emission_per_epoch: float
    fees_per_epoch: float
    beta_balance: float
    sim_minted: np.ndarray
    sim_burned: np.ndarray


def experiment_token(setup: Setup, security: SecurityResult, log: Log) -> TokenResult:
    base = security.base_run
    T = security.epochs
    last = slice(T - 72, T)
    scale = sum(LAUNCH_DEVICES[n] for n in GPU_CLASSES) / sum(
        float(np.mean(base[n]["supply"][last])) for n in GPU_CLASSES)
    fee_burn = sum(float(np.mean(base[n]["burn"][last])) for n in GPU_CLASSES)
    beta = np.mean([setup.classes[n].beta for n in GPU_CLASSES])
    fees = fee_burn / beta if beta > 0 else 0.0
    burn_launch = fee_burn * scale
    fees_launch = fees * scale
    em = eco.emission_per_epoch(setup.network)
    years = np.linspace(0, 10, 121)
    blocks_per_year = 365 * 24 * 3600 / 12
    emitted = np.array([emitted_until(setup.network, int(y * blocks_per_year))
                        for y in years]) / 1e18
    epochs_per_year = blocks_per_year / setup.network.epoch_blocks
    burned = burn_launch * epochs_per_year * years
    supply = setup.network.genesis_supply / 1e18 + emitted - burned
    log(f"  token: emission {em:.0f} PIN/epoch, burn {burn_launch:.0f} PIN/epoch at launch scale")
    return TokenResult(years=years, emitted=emitted, burned=burned, supply=supply,
                       burn_per_epoch=burn_launch, emission_per_epoch=em,
                       fees_per_epoch=fees_launch,
                       beta_balance=em / fees_launch if fees_launch > 0 else math.nan,
                       sim_minted=base["_token"]["minted"], sim_burned=base["_token"]["burned"])


# ---------------------------------------------------------------------------------------------
# Ghosts and Sybils: v1 against the v2 rules (issue 10, "no ghost profit, bounded leverage")
# ---------------------------------------------------------------------------------------------

SMALL_NETWORK_WEIGHT = 1_000.0
"""Total Active weight of the "small network" case (a network's first days)."""


@dataclass
class AttackResult:
    network_weight: dict[str, float]
    """``default`` (the launch network) and ``small_network``: total Active weight."""
    capacity: dict[str, Capacity]
    ghost: dict[str, dict[str, dict[str, atk.GhostResult]]]
    """class -> network -> rules name -> result."""
    ghost_break_even: dict[str, dict[str, float]]
    """class -> rules name -> total weight below which a ghost profits."""
    leverage: dict[str, dict[str, dict[str, atk.Leverage]]]
    """class -> network -> ``"<rules>@m"`` / ``"<rules>@m_host"`` -> result."""


def attack_env(setup: Setup, name: str, network_weight: float) -> atk.AttackEnv:
    """The ghost/Sybil setting of class ``name`` in a network of ``network_weight``."""
    p = setup.classes[name]
    usd_per_gas = atk.GAS_USD_PER_MGAS / 1e6 / TOKEN_USD
    return atk.AttackEnv(
        name=name, emission=eco.emission_per_epoch(setup.network), weight=float(p.weight),
        network_weight=network_weight, p=p.challenge_p, bond=p.min_bond_pin,
        miss_slash=p.miss_slash, grace_epochs=atk.GRACE_EPOCHS,
        jail_epochs=setup.behaviour.jail_epochs, commit_cost=atk.COMMIT_GAS * usd_per_gas,
        open_cost=atk.open_gas(p.n, p.c) * usd_per_gas,
        capital_cost=p.min_bond_pin * setup.behaviour.capital_rate / 8760.0
        * setup.network.epoch_hours)


def _leverage_task(task: tuple[atk.AttackEnv, atk.Rules, int, int, int, int, float]
                   ) -> atk.Leverage:
    env, rules, m, seed, replicas, epochs, factor = task
    return atk.sybil_leverage(env, rules, m, seed=seed, replicas=replicas, epochs=epochs,
                              max_factor=factor)


def experiment_attacks(setup: Setup, runner: Runner, rates: HashRates, log: Log,
                       replicas: int = 24, epochs: int = 600) -> AttackResult:
    """Ghost profit and Sybil leverage of every class, at the launch network and at a small
    one, under each rule set of :mod:`pinfi_dev.sim.attacks`. Leverage of the v2 rules is
    found for the class's ``m`` and for ``m_host`` (a card running the reference agent); the
    v1 contrast uses ``m_host``, as the analysis of issue 10 did."""
    weights = {"default": launch_weight(setup.classes), "small_network": SMALL_NETWORK_WEIGHT}
    caps = {name: capacity(p, CLASS_ECON[name], rates) for name, p in setup.classes.items()}
    ghosts: dict[str, dict[str, dict[str, atk.GhostResult]]] = {}
    even: dict[str, dict[str, float]] = {}
    keys: list[tuple[str, str, str]] = []
    tasks: list[tuple[atk.AttackEnv, atk.Rules, int, int, int, int, float]] = []
    for name in setup.classes:
        cap = caps[name]
        even[name] = {r.name: atk.ghost_break_even_weight(attack_env(setup, name, 1.0), r)
                      for r in atk.RULES}
        ghosts[name] = {}
        for net, w in weights.items():
            env = attack_env(setup, name, w)
            ghosts[name][net] = {r.name: atk.ghost(env, r) for r in atk.RULES}
            for r in atk.RULES:
                for label, m in (("m", cap.m), ("m_host", cap.m_host)):
                    if m < 1 or (not r.all_commit and label == "m"):
                        continue
                    keys.append((name, net, f"{r.name}@{label}"))
                    tasks.append((env, r, m, setup.seed + 4000, replicas, epochs,
                                  1.5 if r.all_commit else 20.0))
    lev: dict[str, dict[str, dict[str, atk.Leverage]]] = {
        name: {net: {} for net in weights} for name in setup.classes}
    for (name, net, key), res in zip(keys, runner.apply(_leverage_task, tasks), strict=True):
        lev[name][net][key] = res
    for name, cap in caps.items():
        log(f"  attacks: {name} m = {cap.m} (host hashing {cap.m_host}); v2 leverage "
            + ", ".join(f"{net} {lev[name][net][f'{atk.V2.name}@m'].best_n}" for net in weights)
            + f"; a v1 ghost profits below total weight {even[name]['v1']:,.0f}")
    return AttackResult(network_weight=weights, capacity=caps, ghost=ghosts,
                        ghost_break_even=even, leverage=lev)
