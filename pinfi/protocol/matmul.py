"""The exact product ``C = A @ B`` (docs/protocol.md#the-product-c), fp32 BLAS in row blocks.

Exact because every entry of A and B is below 16, so every partial sum is an integer below
``225 n < 2^24`` (float32 holds it exactly). The generator threads and a reusable scratch
live in one :class:`ProductEngine`, created on first use (importing this module starts no
thread and allocates nothing) and dropped in a forked child, which has none of the parent's
threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from pinfi.protocol.challenge import check_n, nibbles_f32, seed_pair, words

GEN_THREADS = 2
"""Threads that generate A/B rows (numpy releases the GIL inside its ufunc loops)."""
WORKSPACE_MAX_N = 8192
"""Largest ``n`` whose scratch is kept between challenges (beyond it the O(n^3) product dwarfs
the page faults the reuse saves)."""


def default_workers() -> int:
    """Worker count: ``$PINFI_WORKERS`` if set, else the CPUs this process may run on."""
    env = os.environ.get("PINFI_WORKERS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def row_block(n: int) -> int:
    """Rows per block of the product: about 16 MiB of float32 A per block (at least 16 rows)."""
    return max(16, min(n, (1 << 22) // n))


Workspace = tuple[np.ndarray, np.ndarray]
"""``(B^T, one A row block)``, float32."""


class ProductEngine:
    """The product's process-wide state: a small generator thread pool and a reusable scratch.

    Reusing the scratch avoids re-faulting ~n*n*4 bytes of fresh pages on every challenge; only
    the most recent ``n`` is kept, up to :data:`WORKSPACE_MAX_N`. The scratch is lent to one
    product at a time; a concurrent product allocates its own.
    """

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._arrays: Workspace | None = None

    def gen_rows(self, seed_vec: np.ndarray, n: int, out: np.ndarray) -> None:
        """Fill ``out`` (len(seed_vec) x n float32) with generated rows, on two threads."""
        m = len(seed_vec)
        if m < 64 or default_workers() < 2:
            nibbles_f32(words(seed_vec, n), out=out)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(GEN_THREADS, thread_name_prefix="pinfi-gen")
        step = -(-m // GEN_THREADS)
        futures = [
            self._pool.submit(
                lambda lo, hi: nibbles_f32(words(seed_vec[lo:hi], n), out=out[lo:hi]),
                lo,
                min(m, lo + step),
            )
            for lo in range(0, m, step)
        ]
        for f in futures:
            f.result()

    def borrow(self, n: int) -> Workspace | None:
        """The scratch for size ``n``, or None when in use or ``n`` is too big; give it back
        with :meth:`give_back`."""
        if n > WORKSPACE_MAX_N or not self._lock.acquire(blocking=False):
            return None
        ws = self._arrays
        if ws is None or ws[0].shape != (n, n):
            self._arrays = None
            ws = (np.empty((n, n), np.float32), np.empty((row_block(n), n), np.float32))
            self._arrays = ws
        return ws

    def give_back(self) -> None:
        self._lock.release()

    def clear(self) -> None:
        """Drop the cached scratch (frees about ``4*n*n`` bytes)."""
        with self._lock:
            self._arrays = None


_engine: ProductEngine | None = None
_engine_lock = threading.Lock()
_fork_hook = False


def _forget_engine() -> None:
    """In a forked child: the parent's threads and lock are not ours; start afresh."""
    global _engine, _engine_lock
    _engine = None
    _engine_lock = threading.Lock()


def engine() -> ProductEngine:
    """The process's :class:`ProductEngine`, created on first use."""
    global _engine, _fork_hook
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                if not _fork_hook and hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=_forget_engine)
                    _fork_hook = True
                _engine = ProductEngine()
    return _engine


def clear_workspace() -> None:
    """Drop the cached generator scratch (frees about ``4*n*n`` bytes)."""
    if _engine is not None:
        _engine.clear()


def product_f32(
    s: bytes,
    n: int,
    out: np.ndarray,
    progress: Callable[[float], None] | None = None,
    on_rows: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Write the exact product into ``out`` (float32 n x n, integer valued) in row blocks.

    ``on_rows(r0, r1)`` (optional) is called as soon as rows ``r0..r1`` of ``out`` are final, so
    the commitment can hash them while later blocks are multiplied.
    """
    check_n(n)
    both = seed_pair(s, n)
    rs, cs = both[:n], both[n:]
    eng = engine()
    ws = eng.borrow(n)
    owned = ws is not None
    if ws is None:
        ws = (np.empty((n, n), np.float32), np.empty((row_block(n), n), np.float32))
    try:
        bt, a_blk = ws
        eng.gen_rows(cs, n, bt)  # bt[j][k] = B[k][j]; BLAS reads bt.T without a copy
        b_mat = bt.T
        block = a_blk.shape[0]
        for r0 in range(0, n, block):
            r1 = min(n, r0 + block)
            a_view = a_blk[: r1 - r0]
            eng.gen_rows(rs[r0:r1], n, a_view)
            np.matmul(a_view, b_mat, out=out[r0:r1])
            if on_rows is not None:
                on_rows(r0, r1)
            if progress is not None:
                progress(r1 / n)
    finally:
        if owned:
            eng.give_back()
    return out


def product(s: bytes, n: int, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Return the exact ``C = A @ B`` as uint32 (n x n), fp32 BLAS in row blocks.

    ``progress`` (optional) is called with the fraction of rows done after each block.
    """
    c = product_f32(s, n, np.empty((n, n), np.float32), progress)
    return c.astype(np.uint32)
