"""Agent-based model of PinFi markets: providers, clients, leases, burn, emission, challenges.

One epoch is one step (``epochBlocks`` blocks, one hour on the mainnet-like clock). Each device
class has its own pool; classes interact through the shared emission (rewards per block split by
class weight). Per class and epoch, in order:

1. **Clock.** Pending devices take their first challenge and turn Active (or are slashed and
   jailed); jailed devices come back as Pending after ``jail_epochs``; exiting devices finish
   unbonding; leases whose last epoch passed end (``D`` falls lazily, as in the contract).
2. **Challenges.** Each Active device is selected with ``challengeBps`` (all of a provider's
   devices are challenged together; the model draws per device, which has the same marginal
   rate). An honest device misses with ``honest_miss``; a cheater that computes a fraction
   ``f`` of the product survives with ``f**k``. A miss is slashed at ``missSlashBps`` (a
   rational cheater prefers a miss to a fraud slash), the device is jailed, and its lease, if it
   had one, fails. Clients report leased fake devices, which forces a challenge.
3. **Clients.** ``Poisson(lambda_t)`` lease requests arrive (daily pattern x AR(1) shocks x the
   scenario's demand shock), each with a willingness to pay (log-normal, USD per device-hour)
   and a duration. In random order each asks the pool's quote at the current ``(D, R)`` (from
   :mod:`pinfi.protocol`, via :class:`~pinfi_dev.sim.pricing.PriceBook`), and leases if a device is
   free and the price in USD is within its willingness to pay. The payment is split into burn
   and escrow by ``split_payment``.
4. **Rewards.** Emission of the epoch (``rewardPerBlock`` with halvings) is shared by all Active
   devices by class weight; providers earn ``(1 - beta)`` of the lease payments.
5. **Providers.** Every device of a class's potential pool has a reservation cost (USD/h). They
   forecast the return of an Active device from on-chain data: the de-seasonalized flow of
   lease-epochs sold (an EMA), the supply including Pending devices, the class's price curve and
   the emission share. A profitable outside device registers with probability ``kappa_in`` per
   epoch (partial adjustment) and becomes Active after its first challenge; an unprofitable free
   device deregisters with probability ``kappa_out`` and its bond unbonds.

Everything random draws from one seeded ``numpy.random.Generator``: the same seed gives the same
trace, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pinfi.params import ClassParams, NetworkParams, emitted_until
from pinfi.protocol import UNIT
from pinfi.types import BPS
from pinfi_dev.sim.assumptions import ClassEconomics
from pinfi_dev.sim.pricing import PriceBook, split

__all__ = [
    "Behaviour",
    "ClassMarket",
    "ClassTrace",
    "Demand",
    "Scenario",
    "Trace",
    "run_market",
]

OUTSIDE, PENDING, ACTIVE, JAILED, EXITING = 0, 1, 2, 3, 4

# Standard normal quantile table (inverse CDF by bisection of math.erf) for stratified draws.
_Q_GRID = np.linspace(0.0005, 0.9995, 2000)


def _norm_ppf(q: float) -> float:
    lo, hi = -8.0, 8.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if 0.5 * (1.0 + math.erf(mid / math.sqrt(2.0))) < q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


_Z_GRID = np.array([_norm_ppf(float(q)) for q in _Q_GRID])


@dataclass(frozen=True)
class Behaviour:
    """How providers decide (assumptions; see docs/economics.md)."""

    kappa_in: float = 0.5
    """Per-epoch probability that a profitable idle device joins (attention, automation)."""
    kappa_out: float = 0.08
    """Per-epoch probability that an unprofitable free device deregisters."""
    hurdle_in: float = 0.05
    """Required margin over the reservation cost to join."""
    hurdle_out: float = 0.10
    """Tolerated shortfall below the reservation cost before leaving (switching costs)."""
    entry_lag: int = 1
    """Epochs from ``registerDevice`` to the first challenge (Pending devices are always
    selected; passing it makes the device Active)."""
    forecast_halflife: float = 2.0
    """Half-life (epochs) of the EMA of de-seasonalized demand."""
    flow_weight: float = 0.5
    """Weight of the inflow (vs. the stock of leases) in the demand forecast."""
    entry_halflife: float = 3.0
    """Half-life (epochs) of the smoothed return that entry decisions use."""
    exit_halflife: float = 12.0
    """Half-life (epochs) of the smoothed return that exit decisions use (leave slowly)."""
    pipeline_aware: bool = True
    """Forecasts count Pending devices as supply (they are public on-chain)."""
    naive_window: int = 24
    """Naive providers (``pipeline_aware=False``) use the trailing mean income of this window."""
    honest_miss: float = 0.01
    """Probability that an honest device misses a challenge (outage, network)."""
    jail_epochs: int = 2
    """Epochs before a jailed honest device is back as Pending."""
    capital_rate: float = 0.10
    """Annual opportunity cost of bonded capital."""
    report_prob: float = 0.5
    """Per-epoch probability that a client reports a leased fake device."""
    gas_usd_per_challenge: float = 0.05
    """Commit + open gas of one challenge in USD (L2-like gas prices; assumption)."""


@dataclass(frozen=True)
class Demand:
    """Client demand (assumptions)."""

    daily_amplitude: float = 0.3
    peak_hour: int = 15
    noise_sigma: float = 0.04
    noise_rho: float = 0.9
    mean_lease_epochs: float = 6.0
    stratified: bool = False
    """Draw arrivals, willingness to pay and durations at stratified quantiles (variance
    reduction for measuring expected paths); ``False`` is plain Monte Carlo."""


@dataclass(frozen=True)
class ClassMarket:
    """One class's pool in a run: parameters, economics and population sizes."""

    params: ClassParams
    econ: ClassEconomics
    base_arrivals: float
    """Mean lease requests per epoch before the daily pattern and shocks."""
    pool_size: int
    """Potential devices (outside + in the network)."""
    initial_active: int
    cheat_share: float = 0.0
    cheat_f: float = 0.5


@dataclass(frozen=True)
class Scenario:
    """Exogenous paths of a run."""

    epochs: int
    shock_epoch: int | None = None
    shock_factor: float = 2.0
    token_steps: tuple[tuple[int, float], ...] = ()
    """``(epoch, factor)``: the PIN price is multiplied by ``factor`` from ``epoch`` on."""
    repeg_after: int | None = None
    """Governance rescales pFloor and P0 to the new token price this many epochs after a step."""
    start_block: int = 0
    initial_util: float = 0.65
    """Utilization of the prefilled leases at epoch 0."""
    background_weight: float = 0.0
    """Emission weight of classes not simulated (single-class runs)."""


@dataclass
class ClassTrace:
    """Per-epoch series of one class (arrays of length ``epochs``)."""

    name: str
    quote: np.ndarray
    paid: np.ndarray
    util: np.ndarray
    supply: np.ndarray
    leased: np.ndarray
    pending: np.ndarray
    arrivals: np.ndarray
    accepted: np.ndarray
    priced_out: np.ndarray
    full: np.ndarray
    fee_income: np.ndarray
    emission_per_device: np.ndarray
    forecast_return: np.ndarray
    burn: np.ndarray
    slashed: np.ndarray
    minted: np.ndarray
    bonded: np.ndarray
    cheaters_active: np.ndarray
    failed_leases: np.ndarray
    entries: np.ndarray
    exits: np.ndarray
    honest_pnl_usd: float = 0.0
    cheater_pnl_usd: float = 0.0
    cheater_device_epochs: int = 0
    honest_device_epochs: int = 0
    cheater_attempts: int = 0

    @classmethod
    def empty(cls, name: str, n: int) -> ClassTrace:
        f = {k: np.zeros(n) for k in cls.__dataclass_fields__ if k not in (
            "name", "honest_pnl_usd", "cheater_pnl_usd", "cheater_device_epochs",
            "honest_device_epochs", "cheater_attempts")}
        return cls(name=name, **f)


@dataclass
class Trace:
    """Result of :func:`run_market`."""

    classes: dict[str, ClassTrace]
    token_usd: np.ndarray
    supply: np.ndarray
    burned: np.ndarray
    minted: np.ndarray
    seed: int
    meta: dict[str, float] = field(default_factory=dict)


class _ClassState:
    """Mutable state of one class during a run."""

    def __init__(self, m: ClassMarket, network: NetworkParams, b: Behaviour, d: Demand,
                 rng: np.random.Generator) -> None:
        self.m = m
        p = m.params
        self.p = p
        self.book = PriceBook.of(p)
        self.rng = rng
        n = m.pool_size
        z = rng.standard_normal(n)
        self.cost = m.econ.opex_usd_h * np.exp(m.econ.cost_sigma * z)
        self.cheat = rng.random(n) < m.cheat_share
        # A cheater runs a fraction f of the claimed hardware: its cost is f times the honest one.
        self.cost[self.cheat] *= m.cheat_f
        self.state = np.zeros(n, np.int8)
        self.banned = np.zeros(n, bool)
        """Caught cheaters: they do not come back."""
        self.timer = np.zeros(n, np.int32)
        # Start with the cheapest honest devices Active (a network that has been running).
        honest_idx = np.flatnonzero(~self.cheat)
        first = honest_idx[np.argsort(self.cost[honest_idx])[: m.initial_active]]
        self.state[first] = ACTIVE
        cheat_idx = np.flatnonzero(self.cheat)
        self.state[cheat_idx[: max(0, round(m.cheat_share * m.initial_active))]] = ACTIVE
        self.lease_end = np.zeros(0, np.int64)
        self.lease_price = np.zeros(0, np.float64)
        self.ema_demand = 0.0
        self.net_slow = 0.0
        self.net_mid = 0.0
        self.income_hist: list[float] = []
        self.carry = 0.0
        self.carry_in = 0.0
        self.carry_out = 0.0
        self.slash_wei = 0
        self.slash_wei_prev = 0
        self.burn_wei = 0
        self.survive = m.cheat_f ** p.k
        self.unbond = network.unbonding_epochs
        self.honest_pnl = 0.0
        self.cheat_joins = int(np.count_nonzero(self.cheat & (self.state == ACTIVE)))
        self.cheat_pnl = 0.0
        self.honest_dev_epochs = 0
        self.cheat_dev_epochs = 0

    @property
    def active_count(self) -> int:
        return int(np.count_nonzero(self.state == ACTIVE))

    def prefill_leases(self, t: int, d: Demand, u0: float, profile: np.ndarray) -> None:
        """Leases already running at the start (utilization ``u0``) and the providers' learned
        daily pattern (the demand profile) so that a run starts near its steady state."""
        r = self.active_count
        target = min(r - 1, round(u0 * r))
        self.ema_demand = float(target)
        ends = t + 1 + self.rng.geometric(1.0 / d.mean_lease_epochs, size=max(target, 0))
        prices = np.array([self.book.per_epoch(i, r) / UNIT for i in range(max(target, 0))])
        self.lease_end = ends.astype(np.int64)
        self.lease_price = prices.astype(np.float64)


def _daily(hours: np.ndarray, d: Demand) -> np.ndarray:
    return 1.0 + d.daily_amplitude * np.cos(2.0 * math.pi * (hours - d.peak_hour) / 24.0)


def run_market(markets: list[ClassMarket], network: NetworkParams, scenario: Scenario,
               behaviour: Behaviour | None = None, demand: Demand | None = None,
               seed: int = 0) -> Trace:
    """Run the agent-based model; returns the per-epoch trace of every class."""
    b = behaviour or Behaviour()
    dm = demand or Demand()
    rng = np.random.default_rng(seed)
    T = scenario.epochs
    states = [_ClassState(m, network, b, dm, rng) for m in markets]
    traces = {m.params.name: ClassTrace.empty(m.params.name, T) for m in markets}
    hours = np.arange(T) % 24
    season = _daily(hours, dm)
    profile = _daily(np.arange(24), dm)
    shape_flow = profile / profile.mean()
    # Daily shape of the stock of leases: arrivals convolved with the survival of durations.
    surv = (1.0 - 1.0 / dm.mean_lease_epochs) ** np.arange(24 * 4)
    shape_d = np.array([sum(profile[(hh - j) % 24] * surv[j] for j in range(surv.size))
                        for hh in range(24)])
    shape_d /= shape_d.mean()
    for st in states:
        st.prefill_leases(0, dm, scenario.initial_util, profile)
        st.net_slow = st.net_mid = st.m.econ.opex_usd_h
    # Demand shocks: AR(1) in logs, one path per class.
    noise = np.zeros((len(markets), T))
    eps = rng.standard_normal((len(markets), T)) * dm.noise_sigma * math.sqrt(1 - dm.noise_rho**2)
    for t in range(1, T):
        noise[:, t] = dm.noise_rho * noise[:, t - 1] + eps[:, t]
    shock = np.ones(T)
    if scenario.shock_epoch is not None:
        shock[scenario.shock_epoch:] = scenario.shock_factor
    token = np.ones(T)
    for at, factor in scenario.token_steps:
        token[at:] *= factor
    repeg_at: dict[int, float] = {}
    if scenario.repeg_after is not None:
        for at, factor in scenario.token_steps:
            repeg_at[at + scenario.repeg_after] = factor

    alpha_ema = 1.0 - 0.5 ** (1.0 / b.forecast_halflife)
    alpha_slow = 1.0 - 0.5 ** (1.0 / b.exit_halflife)
    alpha_mid = 1.0 - 0.5 ** (1.0 / b.entry_halflife)
    hourly_capital = b.capital_rate / 8760.0 * network.epoch_hours
    bounty = network.bounty_bps / BPS
    minted_total = np.zeros(T)
    burned_total = np.zeros(T)
    supply = np.zeros(T)
    supply_now = network.genesis_supply / UNIT

    for t in range(T):
        if t in repeg_at:
            for st in states:
                f = repeg_at[t]
                p = st.p
                st.p = p.with_(p_floor=int(p.p_floor / f), p0=int(p.p0 / f))
                st.book = PriceBook.of(st.p)
        usd = float(token[t])
        block = scenario.start_block + t * network.epoch_blocks
        emission = (emitted_until(network, block + network.epoch_blocks)
                    - emitted_until(network, block)) / UNIT
        total_weight = scenario.background_weight + sum(
            st.p.weight * st.active_count for st in states)
        minted_epoch = 0.0
        burned_epoch = 0.0
        for ci, st in enumerate(states):
            tr = traces[st.p.name]
            p = st.p
            book = st.book
            rng_ = st.rng
            # 1. Clock ------------------------------------------------------------------------
            st.timer[st.state != OUTSIDE] -= 1
            due = st.timer <= 0
            pend = np.flatnonzero((st.state == PENDING) & due)
            if pend.size:
                ok = np.where(st.cheat[pend], rng_.random(pend.size) < st.survive,
                              rng_.random(pend.size) >= b.honest_miss)
                st.state[pend[ok]] = ACTIVE
                bad = pend[~ok]
                if bad.size:
                    st.state[bad] = JAILED
                    st.timer[bad] = b.jail_epochs
                    st.slash_wei += bad.size * p.min_bond * p.miss_slash_bps // BPS
                    _charge_slash(st, bad, p.min_bond_pin * p.miss_slash * usd)
            jailed_due = np.flatnonzero((st.state == JAILED) & due)
            if jailed_due.size:
                # Honest devices unjail (they re-pass a challenge as Pending); a caught cheater
                # cannot count on passing and deregisters (its bond unbonds).
                back = jailed_due[~st.cheat[jailed_due]]
                st.state[back] = PENDING
                st.timer[back] = b.entry_lag
                gone = jailed_due[st.cheat[jailed_due]]
                st.state[gone] = EXITING
                st.timer[gone] = st.unbond
                st.banned[gone] = True
            exiting_due = np.flatnonzero((st.state == EXITING) & due)
            st.state[exiting_due] = OUTSIDE
            live = st.lease_end > t
            if not live.all():
                st.lease_end = st.lease_end[live]
                st.lease_price = st.lease_price[live]
            # 2. Challenges ---------------------------------------------------------------------
            active = np.flatnonzero(st.state == ACTIVE)
            r_now = active.size
            d_now = st.lease_end.size
            failed = 0
            if r_now:
                sel = rng_.random(r_now) < p.challenge_p
                is_cheat = st.cheat[active]
                if is_cheat.any() and d_now:
                    leased_cheat = is_cheat & (rng_.random(r_now) < d_now / r_now)
                    sel |= leased_cheat & (rng_.random(r_now) < b.report_prob)
                fail_p = np.where(is_cheat, 1.0 - st.survive, b.honest_miss)
                caught = active[sel & (rng_.random(r_now) < fail_p)]
                if caught.size:
                    st.state[caught] = JAILED
                    st.timer[caught] = b.jail_epochs
                    st.slash_wei += caught.size * p.min_bond * p.miss_slash_bps // BPS
                    _charge_slash(st, caught, p.min_bond_pin * p.miss_slash * usd)
                    # A jailed device's lease (if it had one) fails; refund of unused epochs.
                    n_fail = int(rng_.binomial(caught.size, min(1.0, d_now / r_now)))
                    if n_fail and d_now:
                        drop = rng_.choice(d_now, size=min(n_fail, d_now), replace=False)
                        keep = np.ones(d_now, bool)
                        keep[drop] = False
                        st.lease_end = st.lease_end[keep]
                        st.lease_price = st.lease_price[keep]
                        failed = int(drop.size)
            r = st.active_count
            d_cnt = st.lease_end.size
            # 3. Clients ------------------------------------------------------------------------
            lam = st.m.base_arrivals * season[t] * shock[t] * math.exp(noise[ci, t])
            if dm.stratified:
                # Low-discrepancy demand: the expected number of arrivals (carried remainder),
                # willingness to pay and durations at stratified quantiles in random order.
                st.carry += lam
                n_arr = int(st.carry)
                st.carry -= n_arr
                q_w = (rng_.permutation(n_arr) + rng_.random(n_arr)) / max(n_arr, 1)
                q_d = (rng_.permutation(n_arr) + rng_.random(n_arr)) / max(n_arr, 1)
                z = np.interp(q_w, _Q_GRID, _Z_GRID)
                dur = np.ceil(np.log1p(-q_d) / math.log1p(-1.0 / dm.mean_lease_epochs))
                dur = np.clip(dur, 1, p.max_lease_epochs).astype(np.int64)
            else:
                n_arr = int(rng_.poisson(lam))
                z = rng_.standard_normal(n_arr)
                dur = np.minimum(rng_.geometric(1.0 / dm.mean_lease_epochs, size=n_arr),
                                 p.max_lease_epochs)
            wtp = st.m.econ.market_usd_h * np.exp(st.m.econ.wtp_sigma * z)
            accepted = priced_out = full = 0
            sold_epochs = 0
            new_end: list[int] = []
            new_price: list[float] = []
            burn_wei = 0
            wei_to_usd = usd / UNIT
            # Highest per-epoch price (wei) each client accepts; the quote changes only when a
            # lease is taken, so it is asked again only then.
            thr = (wtp / wei_to_usd).tolist()
            durs = dur.tolist()
            per_epoch = book.per_epoch
            pw = per_epoch(d_cnt, r) if d_cnt < r else 0
            for i in range(n_arr):
                if d_cnt >= r:
                    full += n_arr - i
                    break
                if pw > thr[i]:
                    priced_out += 1
                    continue
                m_ep = durs[i]
                burn, _escrow = split(pw * m_ep, p.beta_bps)
                burn_wei += burn
                new_end.append(t + m_ep)
                new_price.append(pw / UNIT)
                d_cnt += 1
                accepted += 1
                sold_epochs += m_ep
                if d_cnt < r:
                    pw = per_epoch(d_cnt, r)
            if new_end:
                st.lease_end = np.concatenate([st.lease_end, np.array(new_end, np.int64)])
                st.lease_price = np.concatenate([st.lease_price, np.array(new_price)])
            st.burn_wei += burn_wei
            # 4. Rewards ------------------------------------------------------------------------
            fee_pool = float(st.lease_price.sum()) * (1.0 - p.beta)
            em_dev = emission * p.weight / total_weight if total_weight > 0 and r else 0.0
            fee_dev = fee_pool / r if r else 0.0
            income_usd = (fee_dev + em_dev) * usd
            fixed_usd = (p.min_bond_pin * usd * hourly_capital
                         + p.challenge_p * b.gas_usd_per_challenge)
            active_mask = st.state == ACTIVE
            n_cheat_active = int(np.count_nonzero(active_mask & st.cheat))
            n_honest_active = r - n_cheat_active
            st.honest_pnl += n_honest_active * (income_usd - fixed_usd) - float(
                st.cost[active_mask & ~st.cheat].sum())
            st.cheat_pnl += n_cheat_active * (income_usd - fixed_usd) - float(
                st.cost[active_mask & st.cheat].sum())
            st.honest_dev_epochs += n_honest_active
            st.cheat_dev_epochs += n_cheat_active
            minted_epoch += em_dev * r
            # 5. Providers ----------------------------------------------------------------------
            pending_n = int(np.count_nonzero(st.state == PENDING))
            h = int(hours[t])
            slash_risk = p.challenge_p * b.honest_miss * p.min_bond_pin * p.miss_slash * usd
            if b.pipeline_aware:
                # Providers know the daily pattern of demand from history (it is stable and
                # public): the forecast of the daily-average D blends the de-seasonalized inflow
                # (where D is heading: accepted leases x mean duration) with the de-seasonalized
                # stock of leases.
                flow = accepted * dm.mean_lease_epochs
                x = (b.flow_weight * flow / shape_flow[h]
                     + (1.0 - b.flow_weight) * d_cnt / shape_d[h])
                st.ema_demand += alpha_ema * (x - st.ema_demand)
                supply_f = max(1, r + pending_n)
                u_f = min(1.0, st.ema_demand / supply_f)
                u_h = np.minimum(1.0, u_f * shape_d)
                fee_f = (1.0 - p.beta) * float(np.mean(book.marginal(u_h) * u_h))
                em_f = (emission * p.weight / (total_weight + p.weight * pending_n)
                        if total_weight > 0 else emission)
                net = (fee_f + em_f) * usd - fixed_usd - slash_risk
            else:
                st.income_hist.append(income_usd)
                net = float(np.mean(st.income_hist[-b.naive_window:])) - fixed_usd - slash_risk
            st.net_mid += alpha_mid * (net - st.net_mid)
            st.net_slow += alpha_slow * (net - st.net_slow)
            outside = np.flatnonzero((st.state == OUTSIDE) & ~st.banned)
            eligible = outside[st.cost[outside] * (1.0 + b.hurdle_in) < st.net_mid]
            join = _pick(eligible, b.kappa_in, st, "carry_in", rng_, dm.stratified)
            st.state[join] = PENDING
            st.timer[join] = b.entry_lag
            st.cheat_joins += int(np.count_nonzero(st.cheat[join]))
            active = np.flatnonzero(st.state == ACTIVE)
            # Leave only when both the current and the smoothed forecasts are below cost.
            losing = active[st.cost[active] * (1.0 - b.hurdle_out) > max(st.net_slow, st.net_mid)]
            leave = _pick(losing, b.kappa_out, st, "carry_out", rng_, dm.stratified)
            free = max(0, active.size - st.lease_end.size)
            if leave.size > free:
                leave = rng_.choice(leave, size=free, replace=False)
            st.state[leave] = EXITING
            st.timer[leave] = st.unbond
            # Record ----------------------------------------------------------------------------
            r_end = st.active_count
            d_end = st.lease_end.size
            tr.quote[t] = book.spot(d_end, r_end) if r_end else np.nan
            tr.paid[t] = float(st.lease_price.mean()) if d_end else np.nan
            tr.util[t] = d_end / r_end if r_end else np.nan
            tr.supply[t] = r_end
            tr.leased[t] = d_end
            tr.pending[t] = np.count_nonzero(st.state == PENDING)
            tr.arrivals[t] = n_arr
            tr.accepted[t] = accepted
            tr.priced_out[t] = priced_out
            tr.full[t] = full
            tr.fee_income[t] = fee_dev
            tr.emission_per_device[t] = em_dev
            tr.forecast_return[t] = net
            tr.burn[t] = burn_wei / UNIT
            tr.slashed[t] = (st.slash_wei - st.slash_wei_prev) / UNIT
            st.slash_wei_prev = st.slash_wei
            tr.minted[t] = em_dev * r
            bonded_states = (st.state == ACTIVE) | (st.state == PENDING) | (st.state == JAILED) | (
                st.state == EXITING)
            tr.bonded[t] = np.count_nonzero(bonded_states) * p.min_bond_pin
            tr.cheaters_active[t] = np.count_nonzero((st.state == ACTIVE) & st.cheat)
            tr.failed_leases[t] = failed
            tr.entries[t] = join.size
            tr.exits[t] = leave.size
            burned_epoch += burn_wei / UNIT + tr.slashed[t] * (1.0 - bounty)
        minted_total[t] = minted_epoch
        burned_total[t] = burned_epoch
        supply_now += minted_epoch - burned_epoch
        supply[t] = supply_now
    for st in states:
        tr = traces[st.p.name]
        tr.honest_pnl_usd = st.honest_pnl
        tr.cheater_pnl_usd = st.cheat_pnl
        tr.honest_device_epochs = st.honest_dev_epochs
        tr.cheater_device_epochs = st.cheat_dev_epochs
        tr.cheater_attempts = st.cheat_joins
    return Trace(classes=traces, token_usd=token, supply=supply, burned=burned_total,
                 minted=minted_total, seed=seed)


def _pick(candidates: np.ndarray, rate: float, st: _ClassState, carry: str,
          rng: np.random.Generator, stratified: bool) -> np.ndarray:
    """Each candidate acts with probability ``rate``; stratified: the expected number acts
    (remainder carried to the next epoch), chosen at random."""
    if candidates.size == 0:
        return candidates
    if not stratified:
        return candidates[rng.random(candidates.size) < rate]
    expected = getattr(st, carry) + rate * candidates.size
    n = min(candidates.size, int(expected))
    setattr(st, carry, expected - n)
    return rng.choice(candidates, size=n, replace=False) if n else candidates[:0]


def _charge_slash(st: _ClassState, idx: np.ndarray, usd_each: float) -> None:
    cheat = st.cheat[idx]
    st.cheat_pnl -= usd_each * int(np.count_nonzero(cheat))
    st.honest_pnl -= usd_each * int(np.count_nonzero(~cheat))
