"""Tests of the economics simulation (``pinfi_dev.sim``).

The pure-Python tests run in seconds without a chain:
``.venv/bin/python -m pytest -q tests/sim/test_sim.py -p no:ape``. The last test compares the
simulation's pricing with the deployed ``DissipativePool.quote`` on Anvil (``ape test``); it skips
itself until the pool contract exists.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinfi import protocol
from pinfi.params import ClassParams, emitted_until, load_params, load_raw, validate
from pinfi_dev.sim import economics as eco
from pinfi_dev.sim import experiments as ex
from pinfi_dev.sim.metrics import settle
from pinfi_dev.sim.model import Behaviour, Demand, Scenario, run_market
from pinfi_dev.sim.pricing import PriceBook, contract_quote, split

NETWORK, CLASSES = load_params()
UNIT = protocol.UNIT


def _setup() -> ex.Setup:
    return ex.Setup(network=NETWORK, classes=CLASSES, behaviour=Behaviour(), demand=Demand())


# --- parameters file ---------------------------------------------------------------------------


def test_params_file_is_complete_and_within_contract_bounds():
    raw = load_raw()
    for key in ("epochBlocks", "unbondingBlocks", "rewardPerBlock", "halvingBlocks", "maxSupply",
                "genesisSupply", "bountyBps"):
        assert key in raw["network"]
    names = [c["name"] for c in raw["classes"]]
    assert names == ["cpu-test", "rtx4090", "a100-80g", "h100-80g"]
    assert [c["id"] for c in raw["classes"]] == [1, 2, 3, 4]
    tiny = CLASSES["cpu-test"]
    assert (tiny.n, tiny.leaf, tiny.k, tiny.c) == (64, 16, 4, 1)
    assert validate(NETWORK, CLASSES) == []
    for c in CLASSES.values():
        assert c.open_window + c.dispute_window < 200
        assert c.commit_window + c.open_window + c.dispute_window <= NETWORK.epoch_blocks
        assert ClassParams.from_json(c.to_json()) == c


def test_emission_schedule_halves_and_is_capped():
    r, h = NETWORK.reward_per_block, NETWORK.halving_blocks
    assert emitted_until(NETWORK, h) == r * h
    assert emitted_until(NETWORK, 2 * h) == r * h + (r // 2) * h
    assert emitted_until(NETWORK, 10**12) <= NETWORK.max_emission


# --- pricing comes from pinfi.protocol ---------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(CLASSES)), r=st.integers(1, 5000), frac=st.floats(0, 1),
       epochs=st.integers(1, 720))
def test_pricebook_equals_protocol_lease_cost(name, r, frac, epochs):
    p = CLASSES[name]
    d = min(r - 1, int(frac * r))
    book = PriceBook.of(p)
    assert book.quote(d, r, epochs) == protocol.lease_cost(p.p_floor, p.p0, p.alpha, d, r, epochs)
    assert contract_quote(p, d, r, epochs) == book.quote(d, r, epochs)
    burn, escrow = split(book.quote(d, r, epochs), p.beta_bps)
    assert (burn, escrow) == protocol.split_payment(book.quote(d, r, epochs), p.beta_bps)


def test_higher_utilization_means_higher_price():
    for p in CLASSES.values():
        book = PriceBook.of(p)
        r = 200
        prices = [book.per_epoch(d, r) for d in range(r)]
        assert all(b > a for a, b in itertools.pairwise(prices)), p.name
        assert prices[0] >= p.p_floor


# --- the reduced simulation --------------------------------------------------------------------


def _h100_runs(seeds: int, epochs: int, shock: int | None, stratified: bool = True):
    setup = _setup()
    mk = ex.make_market(setup, "h100-80g", scale=0.6)
    sc = Scenario(epochs=epochs, shock_epoch=shock, background_weight=ex.background(setup, [mk]))
    dem = replace(setup.demand, stratified=stratified, noise_sigma=0.0 if stratified else 0.04)
    return [run_market([mk], NETWORK, sc, setup.behaviour, dem, seed=s).classes["h100-80g"]
            for s in range(seeds)]


def test_reduced_sim_is_reproducible():
    a = _h100_runs(1, 72, None, stratified=False)[0]
    b = _h100_runs(1, 72, None, stratified=False)[0]
    for key in ("quote", "util", "supply", "leased", "burn", "minted"):
        assert np.array_equal(getattr(a, key), getattr(b, key), equal_nan=True), key


def test_reduced_sim_qualitative_claims():
    """Higher utilization -> higher price along the run; a 2x demand shock settles (no
    oscillation) and brings more devices, not a permanently saturated pool."""
    shock = 48
    runs = _h100_runs(3, 24 * 6, shock)
    quote = np.mean([r.quote for r in runs], axis=0)
    util = np.mean([r.util for r in runs], axis=0)
    supply = np.mean([r.supply for r in runs], axis=0)
    # Price follows utilization hour by hour (the curve is increasing in u).
    assert np.corrcoef(util, quote)[0, 1] > 0.95
    s = settle(quote, shock)
    assert s.settle_epochs <= 12, s
    assert not s.oscillating, s
    assert supply[-24:].mean() > 1.2 * supply[shock - 24:shock].mean()
    assert util[-24:].max() < 0.999


def test_default_parameters_make_cheating_unprofitable():
    setup = _setup()
    f = np.linspace(0.0, 0.999, 400)
    for name in ex.GPU_CLASSES:
        p = CLASSES[name]
        em = ex.launch_emission_per_device(setup, name)
        income = eco.provider_return(p, 0.0, ex.U0, em, setup.behaviour, setup.demand)
        gain = max(ex.CLASS_ECON[name].opex_usd_h, income.emission + income.fees)
        margin = eco.cheat_margin(p, f, p.k, p.challenge_p, gain)
        assert margin.min() > 1.0, name  # slash > gain / p: the region where cheating pays is empty


def test_break_even_utilization_is_reachable():
    setup = _setup()
    for name in ex.GPU_CLASSES:
        p = CLASSES[name]
        be = eco.break_even_u(p, ex.CLASS_ECON[name].opex_usd_h,
                              ex.launch_emission_per_device(setup, name), setup.behaviour,
                              setup.demand)
        assert 0.3 < be < 0.8, (name, be)


# --- cross-check with the deployed contract (Anvil, ape test) ----------------------------------


def _curves() -> list[tuple[int, int, int, int, int]]:
    """(pFloor, P0, alpha, betaBps, maxLeaseEpochs) of the test class and of every class in the
    parameters file."""
    from tests.support.constants import PRICING

    test = (PRICING["pFloor"], PRICING["p0"], PRICING["alpha"], PRICING["betaBps"],
            PRICING["maxLeaseEpochs"])
    return [test, *[(c.p_floor, c.p0, c.alpha, c.beta_bps, c.max_lease_epochs)
                    for c in CLASSES.values()]]


def test_sim_pricing_matches_contract_quote(request):
    """For pool states ``(D, R)`` built on Anvil (``R`` Active devices proven by PoCPS, ``D``
    leases), ``DissipativePool.quote`` equals the simulation's price for every pricing curve of
    ``classes.json`` and random lease lengths."""
    try:
        project = request.getfixturevalue("project")
        chain = request.getfixturevalue("chain")
        accounts = request.getfixturevalue("accounts")
    except pytest.FixtureLookupError:
        pytest.skip("needs Ape's fixtures (run with `ape test`)")
    if not hasattr(project, "DissipativePool"):
        pytest.skip("contracts/DissipativePool.sol not there yet")
    from tests.support import pocps
    from tests.support.constants import CLASS_ID, PRICING, deploy_system

    admin, client, owner, operator = accounts[0], accounts[5], accounts[6], accounts[7]
    system = deploy_system(project, chain, admin)
    pool = system.pool
    rng = random.Random(20240601)
    curves = _curves()

    def set_curve(curve: tuple[int, int, int, int, int]) -> None:
        # DissipativePool.setClass takes one PoolParams struct (docs/protocol.md#class-parameters)
        pool.setClass(CLASS_ID, (curve[0], curve[1], curve[2], curve[3], curve[4],
                                 PRICING["terminateFeeBps"], PRICING["downBond"]), sender=admin)

    devices = [pocps.activate(chain, system, owner, operator) for _ in range(4)]
    system.token.transfer(client, 10**6 * UNIT, sender=admin)
    system.token.approve(pool, 2**256 - 1, sender=client)
    checked = 0
    for device in [*devices, None]:
        d, r, _ = pool.classState(CLASS_ID)
        assert r == len(devices)
        for curve in rng.sample(curves, len(curves)):
            set_curve(curve)
            for _ in range(2):
                m = rng.randint(1, curve[4])
                if d < r:
                    expected = PriceBook(curve[0], curve[1], curve[2]).quote(d, r, m)
                    assert m * pool.pricePerEpoch(CLASS_ID) == expected, (curve, d, r, m)
                    checked += 1
        if device is None:
            break
        set_curve(curves[0])
        pool.lease(device, 16, 2**255, chain.pending_timestamp + 3600, b"\x00" * 32,
                   sender=client)
    assert checked >= 30
