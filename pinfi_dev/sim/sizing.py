"""PoCPS sizing per class: what bounds ``n``, and the slack (docs/protocol.md#limits-and-sizing,
"Sizing").

The rule of the design is ``2 n^3 / F`` about half of the compute budget of the commit window.
With 12 s blocks and ``n <= 65536`` (the contract's bound) the GPU part is far shorter than any
window for all GPU classes, so the prover's time is set by moving C to the host and hashing it
(SHA-256 Merkle tree over ``n^2 * 4`` bytes), not by the GPU. The table below makes that explicit
and reports the *slack*: how many devices' challenges one machine could answer inside one
window, i.e. how far "one card cannot answer for two devices" really holds.

Host hashing rates are measured in this repository with :class:`pinfi.protocol.MerkleTree`
(:func:`measure_hashing`); defaults are the values measured on the 2-core CI box.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from pinfi.params import BLOCK_SECONDS, ClassParams
from pinfi_dev.sim.assumptions import ClassEconomics

__all__ = [
    "Capacity",
    "HashRates",
    "SizingRow",
    "capacity",
    "measure_hashing",
    "sizing_row",
]

PCIE_GB_S = 20.0
"""Device-to-host copy of C (PCIe 4.0 x16, practical; assumption)."""
GAS_ENTRY_PER_16 = 90
"""Verifier gas per 16 entries of an on-chain recomputation (one splitmix64 word of A and of B
and one 256-bit multiply; estimate from the assembly loop of ``PoCPSVerifier.entry``)."""


@dataclass(frozen=True)
class HashRates:
    """Single-core SHA-256 Merkle throughput of the reference agent."""

    bytes_per_s: float = 0.25e9
    seconds_per_call: float = 2.6e-6

    def seconds(self, n: int, leaf: int, cores: int) -> float:
        leaves = n * n // leaf
        cpu = n * n * 4 / self.bytes_per_s + 2 * leaves * self.seconds_per_call
        return cpu / cores


def measure_hashing(n: int = 1024, leaf: int = 1024) -> HashRates:
    """Measure the single-core hashing rate of :class:`pinfi.protocol.MerkleTree` (about 1 s)."""
    import numpy as np

    from pinfi.protocol import MerkleTree

    c = np.arange(n * n, dtype=np.uint32).reshape(n, n)
    t0 = time.perf_counter()
    MerkleTree.from_product(c, leaf, workers=1)
    big = time.perf_counter() - t0
    small_leaf = 16
    t0 = time.perf_counter()
    MerkleTree.from_product(c, small_leaf, workers=1)
    small = time.perf_counter() - t0
    calls_big = 2 * n * n // leaf
    calls_small = 2 * n * n // small_leaf
    per_call = max(1e-8, (small - big) / (calls_small - calls_big))
    per_byte = max(1e-12, (big - calls_big * per_call) / (n * n * 4))
    return HashRates(bytes_per_s=1.0 / per_byte, seconds_per_call=per_call)


@dataclass(frozen=True)
class SizingRow:
    """Prover and verifier numbers of one class."""

    name: str
    n: int
    leaf: int
    k: int
    c: int
    prover_tflop: float
    gpu_s: float
    c_bytes_gb: float
    device_mem_gb: float
    fits_vram: bool
    copy_s: float
    hash_s: float
    prover_s: float
    budget_s: float
    slack: float
    proof_bytes: int
    verifier_gas: int
    survive_half: float

    def as_dict(self) -> dict[str, float | int | bool | str]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def sizing_row(p: ClassParams, econ: ClassEconomics, rates: HashRates) -> SizingRow:
    """Sizing numbers of one class with the host hashing ``rates``."""
    n = p.n
    flop = 2.0 * n**3
    gpu_s = flop / (econ.throughput_tflops * 1e12)
    c_bytes = n * n * 4
    # A and B as fp16 (2 bytes/entry) plus C as fp32/uint32 when all of it stays on the device.
    dev_mem = (2 * n * n * 2 + c_bytes) / 1e9
    fits = econ.vram_gb > 0 and dev_mem < econ.vram_gb * 0.9
    copy_s = c_bytes / (PCIE_GB_S * 1e9) if econ.vram_gb > 0 else 0.0
    hash_s = rates.seconds(n, p.leaf, econ.host_cores)
    prover_s = gpu_s + copy_s + hash_s
    # The seed is known one block after the epoch start and the commit must be mined by
    # epochStart + commitWindow: about (commitWindow - 1) blocks of compute.
    budget = max(0.0, (p.commit_window - 1) * BLOCK_SECONDS)
    leaves = n * n // p.leaf
    depth = int(math.log2(leaves))
    stratum_depth = depth - int(math.log2(p.k))
    proof_bytes = p.k * (4 * p.leaf + 32 * stratum_depth)
    gas = (p.c * (n // 16) * GAS_ENTRY_PER_16 + proof_bytes * 16
           + p.k * stratum_depth * 400 + 60_000)
    return SizingRow(
        name=p.name, n=n, leaf=p.leaf, k=p.k, c=p.c, prover_tflop=flop / 1e12, gpu_s=gpu_s,
        c_bytes_gb=c_bytes / 1e9, device_mem_gb=dev_mem, fits_vram=fits, copy_s=copy_s,
        hash_s=hash_s, prover_s=prover_s, budget_s=budget,
        slack=budget / prover_s if prover_s > 0 else math.inf, proof_bytes=proof_bytes,
        verifier_gas=int(gas), survive_half=0.5**p.k,
    )


def sha256_compressions(n: int, leaf: int) -> int:
    """SHA-256 compressions of the Merkle tree over C (``n^2`` uint32 entries, ``leaf`` per leaf).

    A leaf of ``4 leaf`` bytes takes ``4 leaf / 64 + 1`` compressions (padding block), an inner
    node (64-byte message) two.
    """
    leaves = n * n // leaf
    return leaves * (4 * leaf // 64 + 1) + 2 * (leaves - 1)


@dataclass(frozen=True)
class Capacity:
    """Products one card computes inside one commit window: ``m`` of the class table.

    Two ways to build the commitment: the reference agent's (product on the card, C copied to
    the host and hashed by the host cores; the three stages pipeline across products) and the
    fastest one (Merkle hashing moved to the card, after the product on the same card). ``m`` is
    the larger: what a card *can* answer, whatever software its owner runs.
    """

    name: str
    budget_s: float
    gemm_s: float
    host_period_s: float
    host_fill_s: float
    gpu_period_s: float
    m_host: int
    m_gpu: int

    @property
    def m(self) -> int:
        return max(1, self.m_host, self.m_gpu)

    def as_dict(self) -> dict[str, float | int | str | None]:
        d: dict[str, float | int | str | None] = {
            k: (None if v == math.inf else round(v, 4) if isinstance(v, float) else v)
            for k, v in self.__dict__.items()}
        d["m"] = self.m
        return d


def capacity(p: ClassParams, econ: ClassEconomics, rates: HashRates,
             block_seconds: float = BLOCK_SECONDS) -> Capacity:
    """``m`` of class ``p`` on the card of ``econ`` (dense INT8 at peak: an upper bound)."""
    n = p.n
    ops = 2.0 * n**3
    budget = max(0.0, (p.commit_window - 1) * block_seconds)
    if econ.int8_tops > 0:
        gemm = ops / (econ.int8_tops * 1e12)
        copy = n * n * 4 / (PCIE_GB_S * 1e9)
    else:  # a CPU class: the product and the hashing share the host
        gemm = ops / (econ.throughput_tflops * 1e12)
        copy = 0.0
    host_hash = rates.seconds(n, p.leaf, econ.host_cores)
    stages = (gemm, copy, host_hash)
    period = max(stages)
    fill = sum(stages) - period
    m_host = int((budget - fill) // period) if budget > fill else 0
    if econ.gpu_sha256_ghs > 0:
        gpu_period = gemm + sha256_compressions(n, p.leaf) / (econ.gpu_sha256_ghs * 1e9)
        m_gpu = int(budget // gpu_period)
    else:
        gpu_period, m_gpu = math.inf, 0
    return Capacity(name=p.name, budget_s=budget, gemm_s=gemm, host_period_s=period,
                    host_fill_s=fill, gpu_period_s=gpu_period, m_host=m_host, m_gpu=m_gpu)
