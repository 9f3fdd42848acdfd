"""Figures of the report (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap

from pinfi_dev.sim.experiments import (
    GPU_CLASSES,
    CheatResult,
    DemandResult,
    EquilibriumResult,
    SecurityResult,
    SupplyResult,
    TokenResult,
)

COLORS = {"rtx4090": "#1b9e77", "a100-80g": "#d95f02", "h100-80g": "#7570b3"}
SCEN_COLORS = ["#333333", "#1f77b4", "#d62728", "#17becf", "#ff9896"]
DPI = 110

plt.rcParams.update({
    "figure.dpi": DPI, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
    "axes.spines.right": False, "font.size": 9, "axes.titlesize": 10, "legend.fontsize": 8,
})  # fmt: skip


def _save(fig: plt.Figure, path: Path) -> str:
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path.name


def plot_equilibrium(eq: EquilibriumResult, out: Path) -> str:
    t = (np.arange(eq.epochs) - eq.shock) / 24.0
    fig, axes = plt.subplots(3, 3, figsize=(12, 8), sharex=True)
    rows = [("quote", "price (PIN / device-epoch)"), ("util", "utilization D/R"),
            ("supply", "Active devices R")]
    for j, n in enumerate(GPU_CLASSES):
        for i, (key, label) in enumerate(rows):
            ax = axes[i, j]
            ax.plot(t, eq.mc[n][key], color=COLORS[n], alpha=0.35, lw=0.8,
                    label="one Monte Carlo run")
            ax.plot(t, eq.mean[n][key], color=COLORS[n], lw=1.6,
                    label=f"expected path (mean of {eq.n_seeds} seeds)")
            if key == "supply":
                ax.plot(t, eq.mean[n]["supply"] + eq.mean[n]["pending"], color="k", lw=0.8,
                        ls=":", label="R + Pending")
            ax.axvline(0, color="red", lw=0.8, ls="--")
            if i == 0:
                s = eq.settle[n]
                ax.set_title(f"{n}: settles in {s.settle_epochs} epochs "
                             f"(peak +{s.peak_deviation:.0%})")
            if j == 0:
                ax.set_ylabel(label)
            if i == 2:
                ax.set_xlabel("days after the 2x demand shock")
    axes[0, 0].legend(loc="upper left")
    axes[2, 0].legend(loc="upper left")
    fig.suptitle("Experiment 1: 2x demand shock (red line). Thick: expected path; thin: one "
                 "noisy run. Daily cycle = client demand pattern.", fontsize=10)
    return _save(fig, out / "fig1_equilibrium.png")


def plot_sweep(eq: EquilibriumResult, out: Path) -> str:
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    a, b = eq.alphas, eq.betas
    grid = eq.sweep_settle
    cmap = ListedColormap(["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027"])
    norm = BoundaryNorm([0, 5.5, 10.5, 24.5, 48.5, 1e9], cmap.N)
    ax = axes[0]
    ax.imshow(grid, cmap=cmap, norm=norm, aspect="auto", origin="lower")
    for i in range(len(a)):
        for j in range(len(b)):
            txt = f"{int(grid[i, j])}"
            if eq.sweep_osc[i, j]:
                txt += "\nosc"
            ax.text(j, i, txt, ha="center", va="center", fontsize=8,
                    color="k" if grid[i, j] <= 48 else "w")
            if grid[i, j] <= 10 and not eq.sweep_osc[i, j]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="k", lw=1.5))
    ax.set_xticks(range(len(b)), [f"{x:.2f}" for x in b])
    ax.set_yticks(range(len(a)), [f"{x:g}" for x in a])
    ax.set_xlabel("beta (burned share of each payment)")
    ax.set_ylabel("alpha (curve exponent)")
    ax.set_title("epochs to settle within 5% (boxed: goal met, no oscillation)")
    ax.grid(False)
    for k, (data, title, fmt) in enumerate([
        (eq.sweep_upeak, "peak utilization after the shock (p95)", "{:.2f}"),
        (eq.sweep_price, "mean price after the shock (PIN / device-epoch)", "{:.2f}"),
    ]):
        ax = axes[k + 1]
        im = ax.imshow(data, aspect="auto", origin="lower", cmap="viridis")
        for i in range(len(a)):
            for j in range(len(b)):
                ax.text(j, i, fmt.format(data[i, j]), ha="center", va="center", fontsize=8,
                        color="w")
        ax.set_xticks(range(len(b)), [f"{x:.2f}" for x in b])
        ax.set_yticks(range(len(a)), [f"{x:g}" for x in a])
        ax.set_xlabel("beta")
        ax.set_title(title)
        ax.grid(False)
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle("Experiment 1: alpha x beta sweep of the H100 pool (P0 re-calibrated per cell: "
                 "median provider breaks even at u=0.65)", fontsize=10)
    return _save(fig, out / "fig2_sweep.png")


def plot_sensitivity(eq: EquilibriumResult, out: Path) -> str:
    fig, ax = plt.subplots(figsize=(8, 3.2))
    labels = [lab for lab, _ in eq.sensitivity]
    vals = [s.settle_epochs for _, s in eq.sensitivity]
    cols = ["#d73027" if s.oscillating else ("#1a9850" if s.settle_epochs <= 10 else "#fc8d59")
            for _, s in eq.sensitivity]
    ax.barh(labels, vals, color=cols)
    for i, (_, s) in enumerate(eq.sensitivity):
        ax.text(s.settle_epochs + 0.5, i, f"{s.settle_epochs}  (peak +{s.peak_deviation:.0%}, "
                f"under -{s.undershoot:.0%}{', oscillates' if s.oscillating else ''})",
                va="center", fontsize=8)
    ax.axvline(10, color="k", ls="--", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("epochs to settle within 5% after a 2x shock (H100 pool)")
    ax.set_title("Provider behaviour sensitivity (green: goal met; red: oscillates)")
    ax.set_xlim(0, max(vals) * 1.9 + 5)
    return _save(fig, out / "fig3_behaviour.png")


def plot_supply(sup: SupplyResult, out: Path) -> str:
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    styles = {"default": ("k", "-"), "opex x0.75": ("#1a9850", "--"),
              "opex x1.25": ("#d73027", "--"), "bond x0.5": ("#4575b4", ":"),
              "bond x3": ("#762a83", ":"), "no emission": ("#999999", "-.")}
    for ax, n in zip(axes, GPU_CLASSES, strict=True):
        for label, y in sup.curves[n].items():
            c, ls = styles[label]
            ax.plot(sup.u, y, color=c, ls=ls, label=label, lw=1.3 if label == "default" else 1)
        ax.axhline(0, color="k", lw=0.6)
        be = sup.break_even[n]["default"]
        ax.axvline(be, color="k", lw=0.6, ls="--")
        ax.text(be, ax.get_ylim()[1] * 0.85, f" break-even\n u={be:.2f}", fontsize=8)
        ax.set_title(f"{n}")
        ax.set_xlabel("daily-average utilization u")
    axes[0].set_ylabel("expected return, USD per device-hour")
    axes[0].legend(loc="upper left")
    fig.suptitle("Experiment 2: E[return] = emission + (1-beta) E[P(u)u] - opex - bond capital "
                 "- slashing risk - gas", fontsize=10)
    return _save(fig, out / "fig4_supply.png")


def plot_demand(dem: DemandResult, out: Path) -> str:
    c = dem.costs
    labels = ["PinFi H100 lease", "AWS p5 (list)", "AWS p5 (-45%)", "AWS Bedrock API",
              "Hyperbolic H100", "Hyperbolic API"]
    startup = [c["pinfi_startup"], c["aws_p5_startup"], c["aws_p5_startup"] * 0.55,
               c["aws_bedrock_api"], c["peer_gpu_startup"], c["peer_api"]]
    full = [c["pinfi_full_load"], c["aws_p5_full_load"], c["aws_p5_full_load_after_cut"],
            c["aws_bedrock_api"], c["peer_gpu_full_load"], c["peer_api"]]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    x = np.arange(len(labels))
    ax.bar(x - 0.2, startup, 0.4, label="startup: 100,000 calls/day", color="#7570b3")
    ax.bar(x + 0.2, full, 0.4, label="fully loaded GPU", color="#1b9e77")
    for xi, (s, f) in enumerate(zip(startup, full, strict=True)):
        ax.text(xi - 0.2, s * 1.08, f"${s:.3g}", ha="center", fontsize=7)
        ax.text(xi + 0.2, f * 1.08, f"${f:.3g}", ha="center", fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(x, labels, rotation=15)
    ax.set_ylabel("USD per 1,000 inferences (log)")
    ax.set_title("Experiment 3: 70B-class model, 500 prompt + 250 output tokens per call")
    ax.legend()
    return _save(fig, out / "fig5_demand.png")


def plot_security(sec: SecurityResult, out: Path) -> str:
    t = (np.arange(sec.epochs) - sec.step) / 24.0
    fig, axes = plt.subplots(2, 2, figsize=(12, 7), sharex=True)
    for k, (label, per) in enumerate(sec.scenarios.items()):
        col = SCEN_COLORS[k % len(SCEN_COLORS)]
        ls = "--" if "re-peg" in label else "-"
        tvb = sum(per[n]["tvb_usd"] for n in GPU_CLASSES)
        axes[0, 0].plot(t, tvb / 1e6, color=col, ls=ls, label=label)
        axes[0, 1].plot(t, per["h100-80g"]["sybil_usd"] / 1e3, color=col, ls=ls, label=label)
        devices = sum(per[n]["supply"] for n in GPU_CLASSES)
        axes[1, 0].plot(t, devices, color=col, ls=ls, label=label, lw=0.9)
        q = per["h100-80g"]["quote_usd"]
        kernel = np.ones(24) / 24
        axes[1, 1].plot(t[23:], np.convolve(q, kernel, "valid"), color=col, ls=ls, label=label)
    axes[0, 0].set_ylabel("total value bonded, M USD")
    axes[0, 1].set_ylabel("bond to hold 1/3 of H100 devices, k USD")
    axes[1, 0].set_ylabel("Active devices (all GPU classes)")
    axes[1, 1].set_ylabel("H100 price, USD / hour (24h mean)")
    for ax in axes.flat:
        ax.axvline(0, color="red", lw=0.8, ls="--")
    for ax in axes[1]:
        ax.set_xlabel("days after the token price step")
    axes[0, 0].legend()
    fig.suptitle("Experiment 4: token price doubles or halves (red line); dashed: governance "
                 "re-pegs pFloor and P0 after 3 days", fontsize=10)
    return _save(fig, out / "fig6_security.png")


def plot_cheating(ch: CheatResult, defaults: dict[str, tuple[int, float]], out: Path) -> str:
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4))
    for ax, n in zip(axes, GPU_CLASSES, strict=True):
        k_def, p_def = defaults[n]
        m = ch.margin[n][k_def]
        im = ax.pcolormesh(ch.f, ch.probs, np.log10(np.clip(m, 1e-3, 1e3)), cmap="RdYlGn",
                           vmin=-2, vmax=2, shading="auto")
        for k, ls in zip(ch.ks, [":", "-.", "-", "--"], strict=True):
            ax.contour(ch.f, ch.probs, ch.margin[n][k], levels=[1.0], colors="k",
                       linestyles=ls, linewidths=1.0)
            ax.plot([], [], color="k", ls=ls, label=f"k={k}: penalty = gain")
        ax.axhline(p_def, color="b", lw=1.2)
        ax.text(0.02, p_def * 1.15, f"default p={p_def:g}, k={k_def}", color="b", fontsize=8)
        ax.set_yscale("log")
        ax.set_xlabel("fraction f of C computed")
        ax.set_title(f"{n}: min penalty/gain {ch.default_min_margin[n]:.1f}")
        ax.grid(False)
        if n == GPU_CLASSES[0]:
            ax.set_ylabel("challenge probability p per epoch")
            ax.legend(loc="lower right", fontsize=7)
    cb = fig.colorbar(im, ax=axes, shrink=0.85)
    cb.set_label("log10(expected slash / gain) at the default k")
    fig.suptitle("Experiment 5: cheating pays below the contour of its k, where "
                 "p (1-f^k) S < (1-f) G (red); blue: default parameters", fontsize=10, y=1.02)
    return _save(fig, out / "fig7_cheating.png")


def plot_token(tok: TokenResult, out: Path) -> str:
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.plot(tok.years, tok.emitted / 1e6, label="emitted (halving schedule)", color="#1b9e77")
    ax.plot(tok.years, tok.burned / 1e6, label="burned (launch-scale burn rate, flat demand)",
            color="#d95f02")
    ax.plot(tok.years, (tok.supply - tok.supply[0]) / 1e6, label="net change of supply",
            color="k")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("years after genesis")
    ax.set_ylabel("million PIN")
    ax.set_title("Token supply: emission vs burn")
    ax.legend()
    return _save(fig, out / "fig8_token.png")
