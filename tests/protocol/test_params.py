"""The one parameters schema (`pinfi.params`): parsing, named overrides, views, bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pinfi import params
from pinfi.params import ClassParams, NetworkParams, ParamsError, PoolPricing, ProofParams
from pinfi.params.schema import DEFAULTS


def test_shipped_file_is_valid_and_round_trips() -> None:
    p = params.default_params()
    assert params.validate(p.network, p.classes) == []
    assert [c.name for c in p.classes][:1] == ["cpu-test"]
    for c in p.classes:
        assert ClassParams.from_json(c.to_json()) == c
        assert ClassParams.from_json(json.loads(json.dumps(c.to_json()))) == c
        assert ClassParams.from_views(c.id, c.name, c.proof, c.staking, c.pricing) == c
    assert NetworkParams.from_json(p.network.to_json()) == p.network


def test_every_key_is_the_camel_case_of_its_attribute() -> None:
    raw = params.load_raw()
    # A file may leave out the keys with a default (maxBounty, graceEpochs), no other.
    defaulted = set(DEFAULTS)
    assert set(raw["classes"][0]) | (defaulted & set(params.CLASS_KEYS)) == set(params.CLASS_KEYS)
    assert set(raw["network"]) | (defaulted & set(params.NETWORK_KEYS)) == set(
        params.NETWORK_KEYS)
    assert params.camel("max_lease_epochs") == "maxLeaseEpochs" and params.camel("p0") == "p0"
    assert params.PROOF_KEYS[:4] == ("n", "leaf", "k", "c")


def test_local_override_and_derived_class() -> None:
    local = params.network_params("local")
    assert (local.epoch_blocks, local.unbonding_blocks) == (20, 40)
    assert params.network_params("local", epoch_blocks=24).epoch_blocks == 24
    base = params.class_params("cpu-test")
    bench = params.derive("cpu-test", name="bench", n=1024, leaf=32, k=8)
    assert (bench.name, bench.id, bench.n, bench.leaf, bench.k) == ("bench", base.id, 1024, 32, 8)
    assert bench.pricing == base.pricing
    assert base.with_(commitWindow=40) == base.with_(commit_window=40)
    assert params.class_params(1) == params.class_params("1") == base
    with pytest.raises(ParamsError, match="no network override 'mainnet'"):
        params.network_params("mainnet")
    with pytest.raises(ParamsError, match="no class 'gpu'"):
        params.class_params("gpu")
    with pytest.raises(ParamsError, match="no parameter 'leafs'"):
        base.with_(leafs=8)


def test_views_convert_to_and_from_the_contracts() -> None:
    c = params.class_params("cpu-test")
    assert c.proof.to_contract() == tuple(c.to_dict()[k] for k in params.PROOF_KEYS)
    assert c.staking.to_contract() == (c.min_bond, c.weight, c.max_bounty)
    assert c.max_bounty == c.min_bond // 10  # the default: a tenth of the bond
    assert c.pricing.to_contract() == tuple(c.to_dict()[k] for k in params.POOL_KEYS)
    # PoCPSVerifier.classParams as web3 returns it: derived log sizes and `exists` inside.
    raw = (c.n, c.leaf, c.k, c.c, 8, 6, *c.proof.to_contract()[4:], True)
    assert ProofParams.from_contract(raw) == c.proof
    assert (c.proof.log_leaves, c.proof.log_stratum) == (8, 6)
    assert PoolPricing.from_contract(c.pricing.to_contract()) == c.pricing
    assert params.StakingParams.from_contract((c.min_bond, c.weight, 3, True, c.max_bounty)) \
        == c.staking
    burn, escrow = c.pricing.split(1_000)
    assert (burn, escrow) == (200, 800)
    assert c.pricing.lease_cost(0, 4, 2) == 2 * c.pricing.per_epoch_price(0, 4)


def test_load_selects_checks_and_reports_one_line(tmp_path: Path) -> None:
    small = params.load(network="local", only=["cpu-test"])
    assert [c.name for c in small.classes] == ["cpu-test"] and small.network.epoch_blocks == 20
    with pytest.raises(ParamsError, match="commit\\+open\\+dispute must be <= epochBlocks"):
        params.load(network="local")
    with pytest.raises(ParamsError, match="not found"):
        params.load(tmp_path / "none.json")

    def refused(raw: dict, match: str) -> None:
        (tmp_path / "p.json").write_text(json.dumps(raw))
        with pytest.raises(ParamsError, match=match):
            params.load(tmp_path / "p.json")

    bad = params.load_raw()
    bad["classes"][0]["minBond"] = 1.5e21
    refused(bad, "minBond must be an integer")
    del bad["classes"][0]["minBond"]
    refused(bad, "class cpu-test: missing minBond")
    twice = params.load_raw()
    twice["classes"][1]["id"] = 1
    refused(twice, "id 1 must be unique")


def test_emission_mirror() -> None:
    net = params.default_params().network
    r, h = net.reward_per_block, net.halving_blocks
    assert params.emitted_until(net, h) == r * h
    assert net.emitted_until(2 * h) == r * h + (r // 2) * h
    assert params.emitted_until(net, 10**12) <= net.max_emission
