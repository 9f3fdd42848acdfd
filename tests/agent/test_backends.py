"""Agent workload backends: every backend's product equals numpy's bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pinfi import protocol
from provider_agent import backends
from tests.support import agent as ah

SEED = protocol.keccak(b"agent-backend-test")


def test_cpu_backend_matches_protocol():
    res = backends.CpuBackend().compute(SEED, 64, 16, spot_checks=3)
    assert res.root == protocol.commit_root(SEED, 64, 16)


@pytest.mark.parametrize("mode", backends.TORCH_MODES)
def test_torch_cpu_equals_numpy(mode):
    pytest.importorskip("torch")
    for n in (16, 64, 128):
        ref = protocol.product(SEED, n)
        b = backends.TorchBackend("cpu", mode, tile_rows=32)
        c = b.product(SEED, n)
        assert c.dtype == np.uint32
        assert np.array_equal(c, ref), (mode, n)
    assert np.array_equal(b.gen_a(SEED, 64), protocol.gen_a(SEED, 64))
    b.self_check()


@pytest.mark.cuda
def test_cuda_equals_numpy():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    for mode in backends.TORCH_MODES:
        b = backends.TorchBackend("cuda", mode)
        for n in (16, 256, 1024):
            assert np.array_equal(b.product(SEED, n), protocol.product(SEED, n)), (mode, n)
        assert b.compute(SEED, 1024, 32).root == protocol.commit_root(SEED, 1024, 32)


def test_cheat_corrupts_last_rows_and_spot_check_catches():
    honest = backends.CpuBackend().compute(SEED, 64, 16)
    cheat = backends.CpuBackend().compute(SEED, 64, 16, cheat_fraction=0.5)
    assert cheat.root != honest.root
    c = protocol.product(SEED, 64)
    d = c.copy()
    backends.corrupt(d, 0.5)
    assert np.array_equal(d[:32], c[:32]) and np.all(d[32:] == c[32:] + 1)
    with pytest.raises(backends.BackendError, match="spot check failed"):
        backends.spot_check(SEED, d + 1, 4)


def test_challenge_command_prints_root():
    seed = "0x" + SEED.hex()
    r = ah.run_agent(ah.ROOT, "challenge", "--seed", seed, "--n", "128", "--leaf", "32",
                     "--backend", "cpu", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["root"] == "0x" + protocol.commit_root(SEED, 128, 32).hex()
    assert out["total_s"] >= 0 and "product_s" in out
    bad = ah.run_agent(ah.ROOT, "challenge", "--seed", "0x12", "--n", "64", "--leaf", "16",
                       "--backend", "cpu")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: --seed must be 32 bytes (0x + 64 hex digits)"]
