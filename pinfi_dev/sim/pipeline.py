"""Run every experiment, draw the figures, write ``results.json`` and ``report.md``."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pinfi.params import PARAMS_PATH, load_params, validate
from pinfi_dev.sim import attacks as atk
from pinfi_dev.sim import experiments as ex
from pinfi_dev.sim import plots
from pinfi_dev.sim.model import Behaviour, Demand
from pinfi_dev.sim.pricing import PriceBook
from pinfi_dev.sim.report import write_report
from pinfi_dev.sim.sizing import HashRates

__all__ = ["Outcome", "run_all"]


@dataclass
class Outcome:
    """Everything the report is made of."""

    setup: ex.Setup
    eq: ex.EquilibriumResult
    supply: ex.SupplyResult
    demand: ex.DemandResult
    security: ex.SecurityResult
    cheat: ex.CheatResult
    token: ex.TokenResult
    attacks: ex.AttackResult
    figures: dict[str, str]
    results: dict[str, Any]
    elapsed_s: float


def _r(x: float, nd: int = 4) -> float | None:
    if x is None or not np.isfinite(x):
        return None
    return float(round(float(x), nd))


def build_results(o: Outcome) -> dict[str, Any]:
    """The machine-readable summary (stable across runs with the same seed)."""
    eq, sup, dem, sec, ch, tok = o.eq, o.supply, o.demand, o.security, o.cheat, o.token
    res: dict[str, Any] = {
        "seed": o.setup.seed,
        "settle_epochs_after_shock": eq.headline,
        "settle_class": eq.headline_class,
        "goal_settle_epochs": 10,
        "goal_met": bool(eq.headline <= 10 and not any(s.oscillating for s in eq.settle.values())),
        "equilibrium": {
            n: {**eq.settle[n].as_dict(), "mc_price_noise_p95": _r(eq.mc_noise[n]),
                **{k: _r(v) for k, v in eq.levels[n].items()}}
            for n in ex.GPU_CLASSES
        },
        "sweep": {
            "alphas": eq.alphas,
            "betas": eq.betas,
            "settle_epochs": eq.sweep_settle.astype(int).tolist(),
            "peak_deviation": np.round(eq.sweep_peak, 4).tolist(),
            "oscillating": eq.sweep_osc.tolist(),
            "utilization": np.round(eq.sweep_util, 4).tolist(),
            "price": np.round(eq.sweep_price, 4).tolist(),
            "rationed_share": np.round(eq.sweep_rationed, 4).tolist(),
            "peak_utilization_p95": np.round(eq.sweep_upeak, 4).tolist(),
            "p0_calibrated_pin": np.round(eq.sweep_p0, 4).tolist(),
        },
        "behaviour_sensitivity": {lab: s.as_dict() for lab, s in eq.sensitivity},
        "supply_side": {
            n: {"break_even_u": {k: _r(v) for k, v in sup.break_even[n].items()},
                "at_equilibrium_usd_per_epoch": {k: _r(v) for k, v in sup.breakdown[n].items()},
                "realized_abm_usd_per_device_epoch": {
                    k: _r(v) for k, v in sup.realized[n].items()}}
            for n in ex.GPU_CLASSES
        },
        "demand_side": {
            "fail_rate": _r(dem.fail_rate, 5),
            "h100_usd_per_1000": {k: _r(v, 5) for k, v in dem.costs.items()},
            "a100_usd_per_1000": {k: _r(v, 5) for k, v in dem.a100_costs.items()},
        },
        "security": {k: {kk: _r(vv) for kk, vv in v.items()} for k, v in sec.summary.items()},
        "cheating": {
            n: {"min_penalty_over_gain_default": _r(ch.default_min_margin[n]),
                "min_penalty_over_gain_token_half": _r(ch.default_min_margin_half_token[n]),
                "gain_full_usd_per_epoch": _r(ch.gain_full_usd[n]),
                "cheating_pays_region_empty": bool(ch.default_min_margin[n] > 1.0),
                "abm": {k: _r(v) for k, v in ch.abm[n].items()},
                "sizing": ch.sizing[n].as_dict()}
            for n in ex.GPU_CLASSES
        },
        "token": {
            "emission_pin_per_epoch": _r(tok.emission_per_epoch),
            "burn_pin_per_epoch_launch": _r(tok.burn_per_epoch),
            "fees_pin_per_epoch_launch": _r(tok.fees_per_epoch),
            "beta_for_burn_equal_emission": _r(tok.beta_balance),
            "supply_change_10y_pin": _r(float(tok.supply[-1] - tok.supply[0]), 0),
        },
        "params_file": str(PARAMS_PATH.relative_to(PARAMS_PATH.parents[2])),
        **attack_results(o.attacks),
    }
    return res


def attack_results(a: ex.AttackResult) -> dict[str, Any]:
    """``ghost_expected_profit`` and ``sybil_leverage`` (issue 10), keyed by class name.

    The headline figures (``default``, ``small_network``) are those of the v2 rules with
    per-proof emission (:data:`pinfi_dev.sim.attacks.V2`); the other rule sets are there for
    the contrast (``v1`` the contracts before v2, ``v2, vesting`` the design note as written).
    """
    nets = list(a.network_weight)

    def by_net(fn: Any) -> dict[str, Any]:
        return {net: fn(net) for net in nets}

    ghost: dict[str, Any] = {}
    sybil: dict[str, Any] = {}
    for name, cap in a.capacity.items():
        g, lev = a.ghost[name], a.leverage[name]
        ghost[name] = {
            **by_net(lambda net, g=g: _r(g[net][atk.V2.name].profit)),
            "m": cap.m,
            "rules": atk.V2.name,
            "total_weight": a.network_weight,
            "accrued_pin_per_epoch": by_net(lambda net, g=g: _r(g[net][atk.V2.name].accrued)),
            "by_rules": {r.name: {**by_net(lambda net, g=g, r=r: _r(g[net][r.name].profit)),
                                  "profitable_below_total_weight":
                                      _r(a.ghost_break_even[name][r.name], 0)}
                         for r in atk.RULES},
        }
        sybil[name] = {
            **by_net(lambda net, lev=lev: lev[net][f"{atk.V2.name}@m"].best_n),
            "m": cap.m,
            "m_host": cap.m_host,
            "m_gpu": cap.m_gpu,
            "rules": atk.V2.name,
            "capacity": cap.as_dict(),
            "by_rules": {key: by_net(lambda net, lev=lev, key=key: lev[net][key].as_dict())
                         for key in lev[nets[0]]},
        }
    return {"ghost_expected_profit": ghost, "sybil_leverage": sybil}


def run_all(out: Path, seed: int = 0, quick: bool = False, workers: int | None = None,
            log: Callable[[str], None] = print) -> Outcome:
    """Run the full study into ``out`` (created); returns the outcome."""
    t_start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    network, classes = load_params()
    errors = validate(network, classes)
    if errors:
        raise ValueError("invalid parameters: " + "; ".join(errors))
    setup = ex.Setup(network=network, classes=classes, behaviour=Behaviour(), demand=Demand(),
                     seed=seed, scale=0.5 if quick else 1.0, seeds=3 if quick else 6,
                     sweep_seeds=2 if quick else 3, days=8 if quick else 10,
                     sweep_days=7 if quick else 8)
    n_workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    runner = ex.Runner(n_workers)
    try:
        log(f"sim: seed {seed}, {'quick' if quick else 'full'} run, {n_workers} worker(s)")
        t0 = time.perf_counter()
        log("[1/5] equilibrium: 2x demand shock, alpha x beta sweep, behaviour sensitivity")
        eq = ex.experiment_equilibrium(setup, runner, log)
        log(f"      done in {time.perf_counter() - t0:.1f}s")
        t0 = time.perf_counter()
        log("[4/5] security stress test: token x2 / x0.5 (runs first: it also feeds 2, 3, 5)")
        sec = ex.experiment_security(setup, runner, log)
        log(f"      done in {time.perf_counter() - t0:.1f}s")
        t0 = time.perf_counter()
        log("[6/6] ghosts and Sybils: v1 against the v2 rules")
        attacks = ex.experiment_attacks(setup, runner, HashRates(), log)
        log(f"      done in {time.perf_counter() - t0:.1f}s")
    finally:
        runner.close()
    base = sec.base_run
    pnl = {n: {"honest": base[n]["honest_pnl_usd"] / max(1, base[n]["honest_device_epochs"]),
               "cheater": base[n]["cheater_pnl_usd"] / max(1, base[n]["cheater_device_epochs"])}
           for n in ex.GPU_CLASSES}
    h = base["h100-80g"]
    fail_rate = float(np.sum(h["failed_leases"]) / max(1.0, float(np.sum(h["accepted"]))))
    log("[2/5] supply side")
    sup = ex.experiment_supply(setup, eq, pnl, log)
    log("[3/5] demand side")
    dem = ex.experiment_demand(setup, eq, fail_rate, log)
    log("[5/5] cheat economics")
    ch = ex.experiment_cheating(setup, sec, HashRates(), log)
    tok = ex.experiment_token(setup, sec, log)
    log("plots")
    figs = {
        "equilibrium": plots.plot_equilibrium(eq, out),
        "sweep": plots.plot_sweep(eq, out),
        "behaviour": plots.plot_sensitivity(eq, out),
        "supply": plots.plot_supply(sup, out),
        "demand": plots.plot_demand(dem, out),
        "security": plots.plot_security(sec, out),
        "cheating": plots.plot_cheating(
            ch, {n: (classes[n].k, classes[n].challenge_p) for n in ex.GPU_CLASSES}, out),
        "token": plots.plot_token(tok, out),
    }
    o = Outcome(setup=setup, eq=eq, supply=sup, demand=dem, security=sec, cheat=ch, token=tok,
                attacks=attacks, figures=figs, results={}, elapsed_s=0.0)
    o.results = build_results(o)
    (out / "results.json").write_text(json.dumps(o.results, indent=2, sort_keys=True) + "\n")
    o.elapsed_s = time.perf_counter() - t_start
    write_report(o, out)
    log(f"sim: wrote {out}/report.md, results.json and {len(figs)} figures in "
        f"{o.elapsed_s:.1f}s (price cache {PriceBook.cache_size()} states)")
    return o
