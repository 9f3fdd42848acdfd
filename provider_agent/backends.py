"""Challenge workload backends: the exact product ``C = A x B`` of docs/protocol.md#the-product-c.

Every backend returns the same ``uint32`` matrix bit for bit; the Merkle tree is always built by
:mod:`pinfi.protocol` (hashlib SHA-256 on all cores), which also generates the row/column seeds.

* ``cpu``: :func:`pinfi.protocol.product` / ``commit_root_tree`` (numpy, fp32 BLAS, exact since
  every partial sum is an integer below 2^24).
* ``cuda``: torch on the GPU. A and B are generated on the device (splitmix64 in int64 lanes from
  the protocol's seeds) and multiplied in row tiles with ``int8`` inputs and int32 accumulation
  (``torch._int_mm``, default), or ``fp16``/``bf16`` inputs with fp32 accumulation, or ``fp32``
  (TF32 allowed: entries below 16 are exact in TF32). Each tile is copied back as ``uint32``.
  The same code runs on torch's CPU device (``--backend torch-cpu``), which is how the tests
  compare it with numpy on machines without a GPU.

Test only: ``cheat_fraction`` F corrupts the last ``ceil(F*n)`` rows of C (+1) before the tree is
built, i.e. a prover that skipped that share of the work; the agent exposes it as
``--cheat-fraction`` to demonstrate that the contract and verifiers catch it.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pinfi import protocol

log = logging.getLogger(__name__)

Progress = Callable[[float], None]

_M64 = 1 << 64


def _signed64(x: int) -> int:
    return x - _M64 if x >= 1 << 63 else x


class BackendError(RuntimeError):
    """The backend cannot be used here (one line for the operator)."""


@dataclass
class Result:
    """A computed challenge: its tree and where the time went."""

    tree: protocol.MerkleTree
    product_s: float
    tree_s: float
    backend: str

    @property
    def root(self) -> bytes:
        return self.tree.root

    @property
    def total_s(self) -> float:
        return self.product_s + self.tree_s

    def timings(self) -> dict[str, float]:
        return {"product_s": round(self.product_s, 4), "tree_s": round(self.tree_s, 4),
                "total_s": round(self.total_s, 4)}


def cheat_rows(n: int, fraction: float) -> int:
    """Rows corrupted by the test-only fault injection for ``fraction``."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("cheat fraction must be in [0, 1]")
    return min(n, math.ceil(fraction * n))


def corrupt(c: np.ndarray, fraction: float) -> None:
    """TEST ONLY: add 1 to the last ``ceil(fraction*n)`` rows of ``c`` in place."""
    rows = cheat_rows(c.shape[0], fraction)
    if rows:
        c[c.shape[0] - rows :, :] += 1


class Backend:
    """Computes the exact product; subclasses implement :meth:`product`."""

    name = "base"

    def product(self, s: bytes, n: int, progress: Progress | None = None) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name

    def compute(self, s: bytes, n: int, leaf: int, progress: Progress | None = None,
                cheat_fraction: float = 0.0, spot_checks: int = 0,
                workers: int | None = None) -> Result:
        """Product, optional spot checks against :func:`pinfi.protocol.entry`, optional (test
        only) corruption, then the Merkle tree."""
        t0 = time.perf_counter()
        c = self.product(s, n, progress)
        t1 = time.perf_counter()
        if spot_checks:
            spot_check(s, c, spot_checks)
        if cheat_fraction:
            corrupt(c, cheat_fraction)
        tree = protocol.MerkleTree.from_product(c, leaf, workers)
        return Result(tree, t1 - t0, time.perf_counter() - t1, self.name)

    def self_check(self, n: int = 64, leaf: int = 16) -> None:
        """Compare a small challenge with the numpy reference; BackendError on a mismatch."""
        s = protocol.keccak(b"pinfi-agent-self-check")
        got = self.compute(s, n, leaf, workers=1).root
        want = protocol.commit_root_tree(s, n, leaf, workers=1).root
        if got != want:
            raise BackendError(f"backend {self.describe()} computes a wrong product (self-check "
                               f"root {got.hex()[:16]} != {want.hex()[:16]}); refusing to prove")


def spot_check(s: bytes, c: np.ndarray, count: int, rng: random.Random | None = None) -> None:
    """Recompute ``count`` random entries in O(n) each; BackendError on any mismatch."""
    n = c.shape[0]
    r = rng or random.Random()
    for _ in range(count):
        i, j = r.randrange(n), r.randrange(n)
        want = protocol.entry(s, n, i, j)
        if int(c[i, j]) != want:
            raise BackendError(f"spot check failed at C[{i}][{j}]: {int(c[i, j])} != {want} "
                               "(faulty device or backend); refusing to commit")


class CpuBackend(Backend):
    """numpy fp32 BLAS through :mod:`pinfi.protocol`."""

    name = "cpu"

    def product(self, s: bytes, n: int, progress: Progress | None = None) -> np.ndarray:
        return protocol.product(s, n, progress)

    def describe(self) -> str:
        return "cpu (numpy fp32 BLAS)"


TORCH_MODES = ("int8", "fp16", "bf16", "fp32")


class TorchBackend(Backend):
    """torch on ``device`` (``cuda``, ``cuda:N`` or ``cpu``) in row tiles."""

    def __init__(self, device: str = "cuda", mode: str = "int8", tile_rows: int | None = None,
                 memory_fraction: float = 0.5) -> None:
        try:
            import torch
        except ImportError:
            raise BackendError("the cuda backend needs torch (pip install 'pinfi[cuda]')") from None
        if mode not in TORCH_MODES:
            raise BackendError(f"unknown torch mode {mode!r} "
                               f"(choose from {', '.join(TORCH_MODES)})")
        self.torch = torch
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise BackendError("no CUDA device available (torch.cuda.is_available() is False)")
        self.mode = mode
        self.tile_rows = tile_rows
        self.memory_fraction = memory_fraction
        self.name = "cuda" if self.device.type == "cuda" else "torch-cpu"
        if self.device.type == "cuda" and mode == "fp32":
            torch.backends.cuda.matmul.allow_tf32 = True  # exact: entries < 16, sums < 2^24
        g = np.arange(1, 65536 // 16 + 1, dtype=np.uint64) * np.uint64(protocol.GOLDEN)
        self._ctr_all = g.view(np.int64)
        self._m1 = _signed64(protocol.SPLITMIX_M1)
        self._m2 = _signed64(protocol.SPLITMIX_M2)

    def describe(self) -> str:
        t = self.torch
        if self.device.type == "cuda":
            idx = self.device.index if self.device.index is not None else t.cuda.current_device()
            return f"cuda:{idx} {t.cuda.get_device_name(idx)} ({self.mode}, torch {t.__version__})"
        return f"torch-cpu ({self.mode}, torch {t.__version__})"

    # ---- generation on the device

    def _lsr(self, z: Any, k: int) -> Any:
        return (z >> k) & ((1 << (64 - k)) - 1)

    def _gen(self, seed_vec: np.ndarray, n: int, out: Any) -> None:
        """Rows of 4-bit entries from uint64 seeds into ``out`` (m x n int8 on the device)."""
        t = self.torch
        dev = self.device
        ctr = t.from_numpy(self._ctr_all[: n // 16].copy()).to(dev)
        shifts = t.arange(0, 64, 4, dtype=t.int64, device=dev)
        m = len(seed_vec)
        step = max(1, (64 << 20) // (8 * n))  # ~64 MiB of int64 temporaries per chunk
        sv = t.from_numpy(np.ascontiguousarray(seed_vec, dtype=np.uint64).view(np.int64)).to(dev)
        for lo in range(0, m, step):
            hi = min(m, lo + step)
            z = sv[lo:hi, None] + ctr[None, :]
            z = z ^ self._lsr(z, 30)
            z = z * self._m1
            z = z ^ self._lsr(z, 27)
            z = z * self._m2
            z = z ^ self._lsr(z, 31)
            nib = (z.unsqueeze(-1) >> shifts) & 15  # low nibble first
            out[lo:hi] = nib.reshape(hi - lo, n).to(t.int8)

    def gen_a(self, s: bytes, n: int) -> np.ndarray:
        """A generated on the device, copied back (tests)."""
        out = self.torch.empty((n, n), dtype=self.torch.int8, device=self.device)
        self._gen(protocol.seeds(s, n, b"A"), n, out)
        return out.cpu().numpy().astype(np.uint8)

    def _tile(self, n: int) -> int:
        if self.tile_rows:
            return max(16, min(n, self.tile_rows))
        t = self.torch
        if self.device.type == "cuda":
            free, _total = t.cuda.mem_get_info(self.device)
            budget = int(free * self.memory_fraction) - 3 * n * n  # B (+ fp16 copy) stays resident
        else:
            budget = 256 << 20
        per_row = n * 16  # A tile (int8/fp16), C tile (int32), staging
        rows = max(32, budget // max(1, per_row))
        return int(min(n, 1 << (rows.bit_length() - 1)))

    def _mm(self, a: Any, b: Any) -> Any:
        t = self.torch
        if self.mode == "int8":
            m = a.shape[0]
            if m <= 16:  # cuBLAS int8 GEMM needs more than 16 rows: pad with zeros
                pad = t.zeros((32 - m, a.shape[1]), dtype=a.dtype, device=a.device)
                return t._int_mm(t.cat([a, pad]), b)[:m]
            return t._int_mm(a, b)
        dtype = {"fp16": t.float16, "bf16": t.bfloat16, "fp32": t.float32}[self.mode]
        if self.device.type == "cuda" and dtype != t.float32:
            return t.mm(a.to(dtype), b, out_dtype=t.float32)
        return t.mm(a.to(dtype).float(), b.float())

    def product(self, s: bytes, n: int, progress: Progress | None = None) -> np.ndarray:
        t = self.torch
        dev = self.device
        rs = protocol.seeds(s, n, b"A")
        cs = protocol.seeds(s, n, b"B")
        with t.inference_mode():
            bt = t.empty((n, n), dtype=t.int8, device=dev)
            self._gen(cs, n, bt)  # bt[j][k] = B[k][j]
            if self.mode == "int8":
                b = bt.t()  # column-major B, what cuBLASLt's int8 GEMM wants
            else:
                dtype = {"fp16": t.float16, "bf16": t.bfloat16, "fp32": t.float32}[self.mode]
                b = bt.to(dtype).t()
                del bt
            tile = self._tile(n)
            a = t.empty((tile, n), dtype=t.int8, device=dev)
            out = np.empty((n, n), np.uint32)
            pinned = None
            if dev.type == "cuda":
                pinned = t.empty((tile, n), dtype=t.int32, pin_memory=True)
            for r0 in range(0, n, tile):
                r1 = min(n, r0 + tile)
                av = a[: r1 - r0]
                self._gen(rs[r0:r1], n, av)
                c = self._mm(av, b)
                if c.dtype != t.int32:
                    c = c.to(t.int32)
                if pinned is not None:
                    pv = pinned[: r1 - r0]
                    pv.copy_(c)
                    out[r0:r1] = pv.numpy().view(np.uint32)
                else:
                    out[r0:r1] = c.cpu().numpy().view(np.uint32)
                if progress is not None:
                    progress(r1 / n)
        return out


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


BACKENDS = ("auto", "cpu", "cuda", "torch-cpu")


def make_backend(name: str = "auto", mode: str = "int8", cuda_device: int | None = None,
                 tile_rows: int | None = None) -> Backend:
    """``auto`` picks ``cuda`` when torch sees a GPU, else ``cpu``."""
    if name == "auto":
        name = "cuda" if cuda_available() else "cpu"
    if name == "cpu":
        return CpuBackend()
    if name == "cuda":
        dev = "cuda" if cuda_device is None else f"cuda:{cuda_device}"
        return TorchBackend(dev, mode, tile_rows)
    if name == "torch-cpu":
        return TorchBackend("cpu", mode, tile_rows)
    raise BackendError(f"unknown backend {name!r} (choose from {', '.join(BACKENDS)})")


def log_progress(label: str, every: float = 0.25) -> Progress:
    """A progress callback that logs at every ``every`` fraction (for long challenges)."""
    state = {"next": every, "t0": time.perf_counter()}

    def cb(frac: float) -> None:
        if frac + 1e-9 >= state["next"]:
            log.info("%s: %3.0f%% of rows in %.1fs", label, 100 * frac,
                     time.perf_counter() - state["t0"])
            while state["next"] <= frac + 1e-9:
                state["next"] += every

    return cb
