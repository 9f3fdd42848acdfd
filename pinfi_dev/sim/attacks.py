"""Ghost and Sybil economics of PoCPS: today's rules (v1) against the v2 rules.

A **ghost** is a device with no hardware behind it: it bonds, commits garbage (v2: every epoch)
and never computes a product. A **Sybil** is one real card behind ``N`` identities under ``N``
owners; inside one commit window the card computes at most ``m`` products
(:func:`pinfi_dev.sim.sizing.capacity`), so at most ``m`` of the ``N`` commitments of an epoch
are honest. The question for both is the same: does the emission pay for identities that no
hardware stands behind?

Three rule sets (:class:`Rules`):

* ``v1`` (the contracts before PoCPS v2): only the devices selected at the epoch start (drawn
  per owner) commit and open; rewards are claimable as they accrue; a miss slashes
  ``missSlashBps`` of the bond and jails.
* ``vesting only``: v1 with rewards that vest only with a passed opening, forfeited on a miss.
* ``v2`` (``/work/notes/v2-design.md`` items 3 and 4): vesting with forfeiture; every
  non-exempt device commits every epoch and each commitment is opened with probability
  ``challengeBps / 10000`` from randomness drawn after the commit deadline; the first miss of a
  device within ``GRACE_EPOCHS`` costs no bond but the device must prove the next epoch, a
  second miss slashes and jails.

The ghost is closed form (:func:`ghost`). The Sybil's best response is found numerically
(:func:`sybil_leverage`): for ``N <= m`` every identity is honest and the profit is closed form;
for ``N > m`` a seeded Monte Carlo plays a greedy attacker that spends its ``m`` honest
products on the identities owed a proof first and then on those with the most unvested
rewards (the commitments it leaves garbage are the freshly vested ones). All figures are PIN
per epoch for the whole attacker; the card's own running cost does not depend on ``N`` and is
left out (it moves no argmax).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "COMMIT_GAS",
    "GAS_USD_PER_MGAS",
    "GRACE_EPOCHS",
    "OPEN_GAS_BASE",
    "OPEN_GAS_PER_N",
    "RULES",
    "V1",
    "V2",
    "V2_VESTING",
    "VESTING_ONLY",
    "AttackEnv",
    "GhostResult",
    "Leverage",
    "Rules",
    "ghost",
    "ghost_break_even_weight",
    "honest_profit",
    "open_gas",
    "sybil_leverage",
    "sybil_profit",
]

GRACE_EPOCHS = 30
"""``PoCPSVerifier.GRACE_EPOCHS`` of the v2 contracts (v2-design item 3)."""
COMMIT_GAS = 52_177
"""Gas of one ``commit`` (``make bench``)."""
OPEN_GAS_BASE = 137_000
OPEN_GAS_PER_N = 54
"""Gas of one ``open``: ``OPEN_GAS_BASE + c x OPEN_GAS_PER_N x n``, the line through
``make bench``'s open (192,632 at n = 1024) and the 3.69 M measured at n = 65536 (issue 10)."""
GAS_USD_PER_MGAS = 0.03
"""USD per million gas: an L2 at 0.01 gwei with ETH at $3,000 (assumption)."""


Payout = Literal["accrue", "vest", "per_proof"]


@dataclass(frozen=True)
class Rules:
    """Which of the v2 mechanisms are in force."""

    name: str
    payout: Payout
    """``accrue``: the emission share is claimable as it accrues (v1). ``vest``: it accrues
    but vests only with a passed opening; a miss or fraud forfeits what is unvested.
    ``per_proof``: only a passed opening earns, the share of that epoch divided by the
    probability that the commitment was opened (1 for a device owed a proof)."""
    all_commit: bool
    """Every device commits every epoch; openings are drawn after the commit deadline."""
    grace: bool
    """A first miss within ``GRACE_EPOCHS`` costs no bond; the device must prove next epoch."""

    @property
    def pays_unproven(self) -> bool:
        return self.payout == "accrue"


V1 = Rules("v1", payout="accrue", all_commit=False, grace=False)
VESTING_ONLY = Rules("vesting only", payout="vest", all_commit=False, grace=False)
V2_VESTING = Rules("v2, vesting", payout="vest", all_commit=True, grace=True)
"""v2-design items 3 and 4 as written: vesting since the last passed proof."""
V2 = Rules("v2, per-proof", payout="per_proof", all_commit=True, grace=True)
"""v2 with the emission paid per passed opening (share / p): what caps leverage at ``m``."""
RULES = (V1, VESTING_ONLY, V2_VESTING, V2)


@dataclass(frozen=True)
class AttackEnv:
    """One class in one network; amounts in PIN."""

    name: str
    emission: float
    """PIN emitted per epoch (shared by Active weight)."""
    weight: float
    network_weight: float
    """Total Active weight with the attacker's first identity in it; every further identity
    adds ``weight``."""
    p: float
    """Per-device probability that a commitment is opened (v2) or a device selected (v1)."""
    bond: float
    miss_slash: float
    """Share of the bond a (non-grace) miss slashes."""
    grace_epochs: int
    jail_epochs: int
    commit_cost: float
    open_cost: float
    capital_cost: float
    """Opportunity cost of one identity's bond per epoch."""

    def reward(self, identities: int | np.ndarray) -> float | np.ndarray:
        """Emission per Active identity per epoch with ``identities`` of them Active."""
        return self.emission * self.weight / (
            self.network_weight - self.weight + identities * self.weight)

    @property
    def slash(self) -> float:
        return self.miss_slash * self.bond

    def identity_cost(self, rules: Rules) -> float:
        """Gas and capital of one honest identity per epoch."""
        gas = (self.commit_cost + self.p * self.open_cost if rules.all_commit
               else self.p * (self.commit_cost + self.open_cost))
        return gas + self.capital_cost


def open_gas(n: int, c: int) -> int:
    """Estimated gas of one ``open`` of a class with matrix size ``n`` and ``c`` checks."""
    return OPEN_GAS_BASE + c * OPEN_GAS_PER_N * n


# ---------------------------------------------------------------------------------------------
# Ghost
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GhostResult:
    """A ghost's expected PIN per Active epoch over its lifetime (until its slashing miss)."""

    rules: str
    accrued: float
    """Emission credited to it per epoch."""
    paid: float
    """What it can claim per epoch (v1: all of it; with vesting: nothing, it never passes)."""
    bond_loss: float
    costs: float
    lifetime_epochs: float

    @property
    def profit(self) -> float:
        return self.paid - self.bond_loss - self.costs

    def as_dict(self) -> dict[str, float | str]:
        return {"rules": self.rules, "accrued": self.accrued, "paid": self.paid,
                "bond_loss": self.bond_loss, "costs": self.costs,
                "lifetime_epochs": self.lifetime_epochs, "profit": self.profit}


def ghost(env: AttackEnv, rules: Rules) -> GhostResult:
    """Expected PIN per epoch of a ghost that stays until its miss is slashed.

    Its first opening (or selection) comes after ``1/p`` epochs on average; it misses it (a
    garbage opening would be fraud, the costlier fault). With grace that miss is free but the
    next epoch's proof is owed, and missing it is the slashed second miss. A ghost cannot leave
    before: duties owed before a state change remain (v2-design item 5). With vesting it never
    claims anything, so its profit is negative at every network size; without vesting it
    profits while ``reward > p x slash``.
    """
    accrued = float(env.reward(1))
    life = 1.0 / env.p + (1.0 if rules.grace else 0.0)
    paid = accrued if rules.pays_unproven else 0.0
    gas = env.commit_cost if rules.all_commit else 0.0  # a v1 ghost never commits
    return GhostResult(rules=rules.name, accrued=accrued, paid=paid,
                       bond_loss=env.slash / life, costs=gas + env.capital_cost,
                       lifetime_epochs=life)


def ghost_break_even_weight(env: AttackEnv, rules: Rules) -> float:
    """Total Active weight below which a ghost profits (0 when it never does)."""
    g = ghost(env, rules)
    if not rules.pays_unproven:
        return 0.0
    loss = g.bond_loss + g.costs
    return env.emission * env.weight / loss if loss > 0 else math.inf


# ---------------------------------------------------------------------------------------------
# Sybil
# ---------------------------------------------------------------------------------------------


def honest_profit(env: AttackEnv, rules: Rules, n: int) -> float:
    """PIN per epoch of ``n <= m`` identities that are all honest (no miss ever)."""
    return float(n * env.reward(n) - n * env.identity_cost(rules))


def sybil_profit(env: AttackEnv, rules: Rules, m: int, n: int, *, replicas: int = 40,
                 epochs: int = 800, burn: int = 100, seed: int = 0) -> tuple[float, float]:
    """Mean PIN per epoch of ``n`` identities behind a card that computes ``m`` products per
    window, and its standard error over ``replicas`` (seeded Monte Carlo, greedy attacker).

    Per epoch: jailed identities count down and come back owing a proof; every Active identity
    accrues its emission share; the openings (v2) or selections (v1) are drawn; the card's ``m``
    honest products go to the identities owed a proof, then to those with the most unvested
    rewards. A passed opening vests (v1: rewards are paid as they accrue); a miss forfeits the
    unvested rewards and is a grace miss (owes next epoch's proof) or is slashed and jailed.
    """
    rng = np.random.default_rng(seed)
    shape = (replicas, n)
    unvested = np.zeros(shape)
    last_miss = np.full(shape, -(10**9), np.int64)
    owed = np.zeros(shape, bool)
    jail = np.zeros(shape, np.int64)
    income = np.zeros(replicas)
    outgo = np.zeros(replicas)
    tie = rng.random(shape) * 1e-9  # fixed tie-break among equal balances
    for t in range(epochs):
        counting = t >= burn
        leaving = jail == 1
        jail[jail > 0] -= 1
        owed |= leaving
        active = jail == 0
        n_active = active.sum(axis=1)
        share = np.asarray(env.reward(n_active))[:, None] * active
        if rules.payout == "vest":
            unvested += share
        elif rules.payout == "accrue" and counting:
            income += share.sum(axis=1)
        forced = owed & active
        opened = active & (forced | (rng.random(shape) < env.p))
        eligible = active if rules.all_commit else opened
        if m <= 0:
            honest = np.zeros(shape, bool)
        elif n > m:
            priority = np.where(eligible, unvested + owed * 1e12 + tie, -1.0)
            top = np.argpartition(-priority, m - 1, axis=1)[:, :m]
            honest = np.zeros(shape, bool)
            np.put_along_axis(honest, top, True, axis=1)
            honest &= eligible
        else:
            honest = eligible
        passed = opened & honest
        missed = opened & ~honest
        if counting:
            if rules.payout == "vest":
                income += (unvested * passed).sum(axis=1)
            elif rules.payout == "per_proof":
                income += (share * passed * np.where(forced, 1.0, 1.0 / env.p)).sum(axis=1)
            commits = active.sum(axis=1) if rules.all_commit else passed.sum(axis=1)
            outgo += (commits * env.commit_cost + passed.sum(axis=1) * env.open_cost
                      + n * env.capital_cost)
        unvested[passed | missed] = 0.0
        owed[passed] = False
        grace = missed & (t - last_miss > env.grace_epochs) if rules.grace else missed & False
        slashed = missed & ~grace
        owed[grace] = True
        owed[slashed] = False
        last_miss[missed] = t
        jail[slashed] = env.jail_epochs + 1
        if counting:
            outgo += slashed.sum(axis=1) * env.slash
    per_epoch = (income - outgo) / (epochs - burn)
    return float(per_epoch.mean()), float(per_epoch.std(ddof=1) / math.sqrt(replicas))


@dataclass(frozen=True)
class Leverage:
    """The profit-maximising number of identities per card."""

    rules: str
    m: int
    best_n: int
    profit: dict[int, float]
    """PIN per epoch of each ``N`` looked at (``N <= m``: closed form; above: Monte Carlo)."""
    stderr: dict[int, float]

    def as_dict(self) -> dict[str, object]:
        return {"rules": self.rules, "m": self.m, "best_n": self.best_n,
                "profit_at_m": round(self.profit[self.m], 4),
                "profit_at_best": round(self.profit[self.best_n], 4),
                "scanned": {str(k): round(v, 4) for k, v in sorted(self.profit.items())},
                "stderr": {str(k): round(v, 4) for k, v in sorted(self.stderr.items())}}


def _grid_above(m: int, limit: int) -> list[int]:
    """``N > m`` to simulate: every small excess, then geometric steps up to ``limit``."""
    out = {m + d for d in (1, 2, 3, 5, 8, 13)}
    x = float(m + 13)
    while x * 1.5 <= limit:
        x *= 1.5
        out.add(int(x))
    out.add(limit)
    return sorted(k for k in out if m < k <= limit)


def sybil_leverage(env: AttackEnv, rules: Rules, m: int, *, seed: int = 0,
                   replicas: int = 40, epochs: int = 800, max_factor: float = 1.5,
                   max_identities: int = 2_000) -> Leverage:
    """Profit-maximising ``N`` for a card that computes ``m`` products per window.

    Up to ``m`` all identities are honest and the profit ``N r(N) - N cost`` is concave, so its
    maximiser up to ``m`` is found exactly. No ``N`` can earn more than all of its identities'
    emission, so ``N`` beyond the point where even that bound falls below the best profit found
    are never better; the rest, up to ``max_factor x m`` (and ``max_identities``), is simulated.
    """
    profit: dict[int, float] = {}
    stderr: dict[int, float] = {}
    # Exact part: N <= m (concave, unimodal): the maximiser and its neighbours.
    lo, hi = 1, m
    while hi - lo > 2:
        mid1, mid2 = lo + (hi - lo) // 3, hi - (hi - lo) // 3
        if honest_profit(env, rules, mid1) < honest_profit(env, rules, mid2):
            lo = mid1 + 1
        else:
            hi = mid2 - 1
    for k in {1, m, *range(lo, hi + 1)}:
        profit[k] = honest_profit(env, rules, k)
        stderr[k] = 0.0
    best = max(profit.values())

    def upper(k: int) -> float:
        return float(k * env.reward(k) - k * env.capital_cost)

    limit = min(max_identities, max(m + 13, math.ceil(max_factor * m)))
    for k in _grid_above(m, limit):
        if upper(k) <= best:
            continue
        mean, se = sybil_profit(env, rules, m, k, replicas=replicas, epochs=epochs,
                                seed=seed + k)
        profit[k], stderr[k] = mean, se
        best = max(best, mean)
    best_n = max(profit, key=lambda k: (profit[k], -k))
    return Leverage(rules=rules.name, m=m, best_n=best_n, profit=profit, stderr=stderr)
