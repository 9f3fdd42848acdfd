"""PinFi protocol math: the single Python source of truth mirrored by the contracts.

This module implements, bit for bit, the encodings of ``PROTOCOL.md`` sections 4 (PoCPS) and 5
(dissipative pool):

* epochs, selection and challenge seeds (keccak256 over 32-byte words);
* the counter-based matrix generator (row/column seeds + splitmix64, 4-bit entries);
* the exact product ``C = A @ B`` (fp32 BLAS, exact because every partial sum is an integer
  below 2^24), computed in row blocks;
* the SHA-256 Merkle commitment over row-major big-endian ``uint32`` leaves, built on all cores
  with forked workers writing into a shared node array;
* stratified sampling, the tight multiproof opening and its verifier (a mirror of the contract);
* pool pricing: bit-exact ports of PRBMath v4 ``UD60x18`` (``mul``, ``div``, ``log2``, ``exp2``,
  ``pow``, ``powu``) and ``Common`` (``mulDiv``, ``mulDiv18``, ``exp2``, ``msb``), the contract's
  ``lease_cost`` and an exact :class:`~decimal.Decimal` reference of the same closed form.

Everything here is pure Python + numpy; nothing prints (the module logs at DEBUG level).
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
from eth_hash.auto import keccak as _eth_keccak

__all__ = [
    "UNIT",
    "MerkleTree",
    "PRBMathError",
    "ProtocolError",
    "build_opening",
    "challenge_seed",
    "clear_workspace",
    "commit_root",
    "commit_root_tree",
    "common_exp2",
    "entry",
    "entry_coords",
    "epoch_of",
    "epoch_start",
    "gen_a",
    "gen_b",
    "is_selected",
    "keccak",
    "keccak_batch",
    "lease_cost",
    "lease_cost_decimal",
    "marginal_price",
    "msb",
    "mul_div",
    "mul_div18",
    "opened_entry",
    "per_epoch_price",
    "product",
    "sample_seed",
    "samples",
    "seeds",
    "split_payment",
    "splitmix64",
    "test_vectors",
    "ud_div",
    "ud_exp2",
    "ud_log2",
    "ud_mul",
    "ud_pow",
    "ud_powu",
    "verify_opening",
    "verify_path",
    "word",
]

log = logging.getLogger(__name__)

UNIT = 10**18
"""The UD60x18 unit (1.0)."""

MASK64 = (1 << 64) - 1
MASK256 = (1 << 256) - 1
GOLDEN = 0x9E3779B97F4A7C15
"""Counter increment of the matrix generator (the splitmix64 gamma)."""
SPLITMIX_M1 = 0xBF58476D1CE4E5B9
SPLITMIX_M2 = 0x94D049BB133111EB
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
MAX_SAMPLES = 64
BPS = 10_000

_sha256 = hashlib.sha256


class ProtocolError(ValueError):
    """An argument violates a protocol requirement (the contract would revert)."""


class PRBMathError(ArithmeticError):
    """A PRBMath function would revert with the given error name."""


# ---------------------------------------------------------------------------------------------
# Hashing and words
# ---------------------------------------------------------------------------------------------


def keccak(data: bytes) -> bytes:
    """Return keccak256(data) (Ethereum's Keccak, not NIST SHA3-256)."""
    return _eth_keccak(data)


def word(x: int) -> bytes:
    """Return ``x`` as one ABI word: 32 bytes, big-endian, unsigned."""
    if not 0 <= x <= MASK256:
        raise ProtocolError(f"word out of uint256 range: {x}")
    return x.to_bytes(32, "big")


def _as_bytes32(value: bytes, name: str) -> bytes:
    b = bytes(value)
    if len(b) != 32:
        raise ProtocolError(f"{name} must be 32 bytes, got {len(b)}")
    return b


# --- batched keccak256 over numpy (single-block messages) ------------------------------------

_KECCAK_RATE = 136
_KECCAK_RC = (
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
)  # fmt: skip
# Rotation offsets r[x][y] of the rho step.
_KECCAK_ROT = (
    (0, 36, 3, 41, 18),
    (1, 44, 10, 45, 2),
    (62, 6, 43, 15, 61),
    (28, 55, 25, 21, 56),
    (27, 20, 39, 8, 14),
)
_U64 = tuple(np.uint64(i) for i in range(65))
_RC64 = tuple(np.uint64(c) for c in _KECCAK_RC)
_KECCAK_CHUNK = 8192


def _keccak_f1600(a: list[np.ndarray]) -> list[np.ndarray]:
    """Keccak-f[1600] on 25 lane vectors (lane ``x + 5*y``), one message per vector element."""
    u = _U64
    for rc in _RC64:
        c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
        d = [
            c[(x - 1) % 5] ^ ((c[(x + 1) % 5] << u[1]) | (c[(x + 1) % 5] >> u[63]))
            for x in range(5)
        ]
        b: list[np.ndarray] = [a[0]] * 25
        for x in range(5):
            dx = d[x]
            for y in range(5):
                v = a[x + 5 * y] ^ dx
                r = _KECCAK_ROT[x][y]
                b[y + 5 * ((2 * x + 3 * y) % 5)] = v if r == 0 else (v << u[r]) | (v >> u[64 - r])
        for y in range(0, 25, 5):
            b0, b1, b2, b3, b4 = b[y : y + 5]
            a[y] = b0 ^ (~b1 & b2)
            a[y + 1] = b1 ^ (~b2 & b3)
            a[y + 2] = b2 ^ (~b3 & b4)
            a[y + 3] = b3 ^ (~b4 & b0)
            a[y + 4] = b4 ^ (~b0 & b1)
        a[0] = a[0] ^ rc
    return a


def keccak_batch(messages: np.ndarray) -> np.ndarray:
    """keccak256 of many equal-length messages at once (numpy, vectorized across messages).

    ``messages`` is a ``(m, length)`` uint8 array with ``length < 136`` (one Keccak block).
    Returns an ``(m, 32)`` uint8 array of digests. About 20x faster than per-call keccak for the
    thousands of row/column seeds a challenge needs.
    """
    msgs = np.ascontiguousarray(messages, dtype=np.uint8)
    if msgs.ndim != 2 or msgs.shape[1] >= _KECCAK_RATE:
        raise ProtocolError("keccak_batch takes (m, length < 136) uint8 messages")
    m, length = msgs.shape
    out = np.empty((m, 32), np.uint8)
    for lo in range(0, m, _KECCAK_CHUNK):
        hi = min(m, lo + _KECCAK_CHUNK)
        blk = np.zeros((hi - lo, _KECCAK_RATE), np.uint8)
        blk[:, :length] = msgs[lo:hi]
        blk[:, length] ^= 0x01
        blk[:, _KECCAK_RATE - 1] ^= 0x80
        lanes_t = np.ascontiguousarray(blk.view("<u8").T)  # (17, chunk), little-endian lanes
        zero = np.zeros(hi - lo, np.uint64)
        state = [lanes_t[i] for i in range(17)] + [zero] * 8
        state = _keccak_f1600(state)
        out[lo:hi] = np.stack([s.astype("<u8") for s in state[:4]], axis=1).view(np.uint8)
    return out


# ---------------------------------------------------------------------------------------------
# Epochs, selection, challenge seed
# ---------------------------------------------------------------------------------------------


def epoch_of(block: int, genesis_block: int, epoch_blocks: int) -> int:
    """Return the epoch of ``block``: ``(block - genesisBlock) // epochBlocks``."""
    if epoch_blocks <= 0 or block < genesis_block:
        raise ProtocolError("block before genesis or epoch_blocks <= 0")
    return (block - genesis_block) // epoch_blocks


def epoch_start(epoch: int, genesis_block: int, epoch_blocks: int) -> int:
    """Return the first block of ``epoch``; its blockhash is the epoch seed ``S_e``."""
    if epoch < 0 or epoch_blocks <= 0:
        raise ProtocolError("negative epoch or epoch_blocks <= 0")
    return genesis_block + epoch * epoch_blocks


def _address_int(owner: str | bytes | int) -> int:
    if isinstance(owner, int):
        value = owner
    elif isinstance(owner, bytes | bytearray):
        value = int.from_bytes(owner, "big")
    else:
        value = int(owner, 16)
    if not 0 <= value < 1 << 160:
        raise ProtocolError(f"not an address: {owner!r}")
    return value


def is_selected(epoch_seed: bytes, owner: str, class_id: int, challenge_bps: int) -> bool:
    """Whether ``owner``'s devices of ``class_id`` are challenged in the epoch of ``epoch_seed``.

    ``uint256(keccak256(abi.encode(S_e, owner, classId))) % 10_000 < challengeBps``.
    """
    seed = _as_bytes32(epoch_seed, "epoch_seed")
    h = keccak(seed + word(_address_int(owner)) + word(class_id))
    return int.from_bytes(h, "big") % BPS < challenge_bps


def must_open(open_seed: bytes, device_id: int, challenge_bps: int) -> bool:
    """Whether a Sampled device's commitment must be opened (PoCPS v2, drawn per device).

    ``uint256(keccak256(abi.encode(openSeed, deviceId))) % 10_000 < challengeBps``, where
    ``openSeed`` is the hash of the epoch's commit deadline block ``epochStart + commitWindow``
    (known only once every commitment of the epoch is in). Always/forced/owed devices must
    open whatever the draw.
    """
    h = keccak(_as_bytes32(open_seed, "open_seed") + word(device_id))
    return int.from_bytes(h, "big") % BPS < challenge_bps


def challenge_seed(epoch_seed: bytes, device_id: int, epoch: int) -> bytes:
    """Return the challenge seed ``s = keccak256(abi.encode(S_e, deviceId, e))``."""
    return keccak(_as_bytes32(epoch_seed, "epoch_seed") + word(device_id) + word(epoch))


# ---------------------------------------------------------------------------------------------
# Matrix generator
# ---------------------------------------------------------------------------------------------


def splitmix64(z: int) -> int:
    """Scalar splitmix64 finalizer, all arithmetic mod 2^64 (the reference definition)."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * SPLITMIX_M1) & MASK64
    z = ((z ^ (z >> 27)) * SPLITMIX_M2) & MASK64
    return z ^ (z >> 31)


def _check_n(n: int) -> None:
    if n < 16 or n % 16 or n & (n - 1):
        raise ProtocolError(f"n must be a power of two and a multiple of 16, got {n}")


def _seed_scalar(s: bytes, tag: bytes, index: int) -> int:
    """Row/column seed: the low 8 bytes of ``keccak256(abi.encodePacked(s, tag, uint256(i)))``."""
    return int.from_bytes(keccak(s + tag + word(index))[-8:], "big")


def seeds(s: bytes, n: int, tag: bytes) -> np.ndarray:
    """Return the ``n`` row (``tag=b"A"``) or column (``tag=b"B"``) seeds as uint64.

    ``seed_i = uint64(uint256(keccak256(abi.encodePacked(s, bytes1(tag), uint256(i)))))``.
    """
    s = _as_bytes32(s, "s")
    if len(tag) != 1:
        raise ProtocolError("tag must be one byte")
    msgs = np.zeros((n, 65), np.uint8)
    msgs[:, :32] = np.frombuffer(s, np.uint8)
    msgs[:, 32] = tag[0]
    msgs[:, 57:65] = np.arange(n, dtype=np.uint64).astype(">u8").view(np.uint8).reshape(n, 8)
    digests = keccak_batch(msgs)
    return np.ascontiguousarray(digests[:, 24:32]).view(">u8").reshape(n).astype(np.uint64)


def _seed_pair(s: bytes, n: int) -> np.ndarray:
    """Row seeds then column seeds (2n uint64) in one batched keccak."""
    s = _as_bytes32(s, "s")
    msgs = np.zeros((2 * n, 65), np.uint8)
    msgs[:, :32] = np.frombuffer(s, np.uint8)
    msgs[:n, 32] = ord("A")
    msgs[n:, 32] = ord("B")
    idx = np.arange(n, dtype=np.uint64).astype(">u8").view(np.uint8).reshape(n, 8)
    msgs[:n, 57:65] = idx
    msgs[n:, 57:65] = idx
    digests = keccak_batch(msgs)
    return np.ascontiguousarray(digests[:, 24:32]).view(">u8").reshape(2 * n).astype(np.uint64)


def _words(seed_vec: np.ndarray, n: int) -> np.ndarray:
    """``splitmix64(seed + (w+1)*GOLDEN)`` for every seed and word ``w < n/16``: (len, n/16)."""
    counters = np.arange(1, n // 16 + 1, dtype=np.uint64) * np.uint64(GOLDEN)
    z = seed_vec.astype(np.uint64)[:, None] + counters[None, :]
    z ^= z >> _U64[30]
    z *= np.uint64(SPLITMIX_M1)
    z ^= z >> _U64[27]
    z *= np.uint64(SPLITMIX_M2)
    z ^= z >> _U64[31]
    return z


def _nibbles_u8(words: np.ndarray) -> np.ndarray:
    """Unpack words (m, n/16) into their 16 nibbles, low nibble first: (m, n) uint8."""
    # (m, n/2) bytes; byte b of a word holds nibbles 2b (low half) and 2b+1 (high half).
    by = np.ascontiguousarray(words.astype("<u8")).view(np.uint8)
    out = np.empty((by.shape[0], by.shape[1] * 2), np.uint8)
    np.bitwise_and(by, 15, out=out[:, 0::2])
    np.right_shift(by, 4, out=out[:, 1::2])
    return out


def _nibbles_f32(words: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Like :func:`_nibbles_u8` but writes float32 entries (ready for BLAS)."""
    by = np.ascontiguousarray(words.astype("<u8")).view(np.uint8)
    m, half = by.shape
    if out is None:
        out = np.empty((m, half * 2), np.float32)
    np.bitwise_and(by, 15, out=out[:, 0::2], casting="unsafe")
    np.right_shift(by, 4, out=out[:, 1::2], casting="unsafe")
    return out


def gen_a(s: bytes, n: int, rows: slice | None = None) -> np.ndarray:
    """Return A (uint8, n x n) or the row block ``A[rows]``: ``A[i][k]`` from row seed ``r_i``."""
    _check_n(n)
    r = seeds(s, n, b"A")
    if rows is not None:
        r = r[rows]
    return _nibbles_u8(_words(r, n))


def gen_b(s: bytes, n: int) -> np.ndarray:
    """Return B (uint8, n x n) indexed ``B[k][j]``; column ``j`` comes from column seed ``c_j``."""
    _check_n(n)
    bt = _nibbles_u8(_words(seeds(s, n, b"B"), n))  # bt[j][k] = B[k][j]
    return np.ascontiguousarray(bt.T)


def entry(s: bytes, n: int, i: int, j: int) -> int:
    """Return ``C[i][j]`` in O(n) with plain integers: the on-chain recomputation."""
    _check_n(n)
    if not (0 <= i < n and 0 <= j < n):
        raise ProtocolError("entry index out of range")
    r = _seed_scalar(s, b"A", i)
    c = _seed_scalar(s, b"B", j)
    total = 0
    for w in range(1, n // 16 + 1):
        g = w * GOLDEN
        a = splitmix64(r + g)
        b = splitmix64(c + g)
        for _ in range(16):
            total += (a & 15) * (b & 15)
            a >>= 4
            b >>= 4
    return total


def _row_block(n: int) -> int:
    """Rows per block of the product: about 16 MiB of float32 A per block (at least 16 rows)."""
    return max(16, min(n, (1 << 22) // n))


_GEN_THREADS = 2
_gen_pool: ThreadPoolExecutor | None = None
_ws_lock = threading.Lock()
_ws: dict[str, object] = {}
_WS_MAX_N = 8192


def _gen_rows(seed_vec: np.ndarray, n: int, out: np.ndarray) -> None:
    """Fill ``out`` (len(seed_vec) x n float32) with generated rows, on two threads.

    numpy releases the GIL inside its ufunc loops, so the two halves run on two cores.
    """
    global _gen_pool
    m = len(seed_vec)
    if m < 64 or _default_workers() < 2:
        _nibbles_f32(_words(seed_vec, n), out=out)
        return
    if _gen_pool is None:
        _gen_pool = ThreadPoolExecutor(_GEN_THREADS, thread_name_prefix="pinfi-gen")
    step = -(-m // _GEN_THREADS)
    futures = [
        _gen_pool.submit(
            lambda lo, hi: _nibbles_f32(_words(seed_vec[lo:hi], n), out=out[lo:hi]),
            lo,
            min(m, lo + step),
        )
        for lo in range(0, m, step)
    ]
    for f in futures:
        f.result()


def _workspace(n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Reusable scratch (B^T and one A block, float32) for size ``n``; None if in use.

    Reusing the scratch avoids re-faulting ~n*n*4 bytes of fresh pages on every challenge.
    Only the most recent ``n`` is kept, and only up to ``_WS_MAX_N`` (beyond it the O(n^3)
    product dwarfs the page faults); :func:`clear_workspace` frees it.
    """
    if n > _WS_MAX_N or not _ws_lock.acquire(blocking=False):
        return None
    ws = _ws.get("arrays")
    if not (isinstance(ws, tuple) and ws[0].shape == (n, n)):
        _ws.clear()
        ws = (np.empty((n, n), np.float32), np.empty((_row_block(n), n), np.float32))
        _ws["arrays"] = ws
    return ws


def _reset_after_fork() -> None:
    """A forked child has none of the parent's threads: start from a fresh pool and lock."""
    global _gen_pool, _ws_lock
    _gen_pool = None
    _ws_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def clear_workspace() -> None:
    """Drop the cached generator scratch (frees about ``4*n*n`` bytes)."""
    with _ws_lock:
        _ws.clear()


def _product_f32(
    s: bytes,
    n: int,
    out: np.ndarray,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Write the exact product into ``out`` (float32 n x n, integer valued) in row blocks."""
    _check_n(n)
    both = _seed_pair(s, n)
    rs, cs = both[:n], both[n:]
    ws = _workspace(n)
    owned = ws is not None
    if ws is None:
        ws = (np.empty((n, n), np.float32), np.empty((_row_block(n), n), np.float32))
    try:
        bt, a_blk = ws
        _gen_rows(cs, n, bt)  # bt[j][k] = B[k][j]; BLAS reads bt.T without a copy
        b_mat = bt.T
        block = a_blk.shape[0]
        for r0 in range(0, n, block):
            r1 = min(n, r0 + block)
            a_view = a_blk[: r1 - r0]
            _gen_rows(rs[r0:r1], n, a_view)
            np.matmul(a_view, b_mat, out=out[r0:r1])
            if progress is not None:
                progress(r1 / n)
    finally:
        if owned:
            _ws_lock.release()
    return out


def product(s: bytes, n: int, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Return the exact ``C = A @ B`` as uint32 (n x n), fp32 BLAS in row blocks.

    Exact: entries are in [0, 16), so every partial sum is an integer below ``225 n < 2^24``.
    ``progress`` (optional) is called with the fraction of rows done after each block.
    """
    c = _product_f32(s, n, np.empty((n, n), np.float32), progress)
    return c.astype(np.uint32)


# ---------------------------------------------------------------------------------------------
# Merkle tree (SHA-256, leaves of L big-endian uint32 entries)
# ---------------------------------------------------------------------------------------------


def _hash_rows(rows: np.ndarray) -> bytes:
    """SHA-256 of every row of a contiguous ``(m, w)`` uint8 array, digests concatenated."""
    w = rows.shape[1]
    mv = memoryview(rows.reshape(-1))
    sha = _sha256
    return b"".join([sha(mv[i : i + w]).digest() for i in range(0, len(mv), w)])


_HASH_CHUNK = 1 << 19  # bytes of input per hashing chunk (keeps temporaries in cache)


def _hash_leaves_into(data: np.ndarray, leaf: int, out: np.ndarray) -> None:
    """Hash leaves (``data``: (m, leaf) array of integer-valued entries) into ``out`` (m, 32)."""
    m = data.shape[0]
    width = 4 * leaf + 1
    step = max(1, _HASH_CHUNK // width)
    buf = np.empty((min(step, m), width), np.uint8)
    buf[:, 0] = 0
    for lo in range(0, m, step):
        hi = min(m, lo + step)
        b = buf[: hi - lo]
        b[:, 1:].view(">u4")[...] = data[lo:hi]
        out[lo:hi] = np.frombuffer(_hash_rows(b), np.uint8).reshape(hi - lo, 32)


def _hash_nodes_into(children: np.ndarray, out: np.ndarray) -> None:
    """Hash pairs of ``children`` ((2m, 32) uint8) into ``out`` ((m, 32) uint8)."""
    m = out.shape[0]
    pairs = children.reshape(m, 64)
    step = max(1, _HASH_CHUNK // 65)
    buf = np.empty((min(step, m), 65), np.uint8)
    buf[:, 0] = 1
    for lo in range(0, m, step):
        hi = min(m, lo + step)
        b = buf[: hi - lo]
        b[:, 1:] = pairs[lo:hi]
        out[lo:hi] = np.frombuffer(_hash_rows(b), np.uint8).reshape(hi - lo, 32)


def _level_offsets(n_leaves: int) -> list[int]:
    offsets = [0]
    size = n_leaves
    while size > 1:
        offsets.append(offsets[-1] + size)
        size //= 2
    return offsets


def _shared_array(shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """A zeroed numpy array on an anonymous shared mapping (visible to forked children)."""
    dt = np.dtype(dtype)
    size = max(1, int(np.prod(shape)) * dt.itemsize)
    mm = mmap.mmap(-1, size)
    return np.frombuffer(mm, dtype=dt, count=int(np.prod(shape))).reshape(shape)


def _build_range(
    flat: np.ndarray, leaf: int, nodes: np.ndarray, offsets: list[int], lo: int, hi: int
) -> None:
    """Hash leaves ``[lo, hi)`` (an aligned power-of-two range) and their subtree levels."""
    _hash_leaves_into(
        flat[lo * leaf : hi * leaf].reshape(hi - lo, leaf),
        leaf,
        nodes[offsets[0] + lo : offsets[0] + hi],
    )
    level, a, b = 0, lo, hi
    while b - a > 1:
        child = nodes[offsets[level] + a : offsets[level] + b]
        a, b = a // 2, b // 2
        level += 1
        _hash_nodes_into(child, nodes[offsets[level] + a : offsets[level] + b])


def _fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _default_workers() -> int:
    """Worker count: ``$PINFI_WORKERS`` if set, else the CPUs this process may run on."""
    env = os.environ.get("PINFI_WORKERS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


_PARALLEL_MIN_LEAVES = 4096


def _build_nodes(flat: np.ndarray, leaf: int, n_leaves: int, workers: int | None) -> np.ndarray:
    """Build all ``2N-1`` nodes (level by level, root last), hashing leaf ranges in parallel.

    The leaves are cut into ``parts`` aligned power-of-two ranges; forked children (which see
    ``flat`` copy-on-write) each build their range's subtree into a shared node array while
    this process builds the first one, then the few levels above the subtrees are hashed here.
    SHA-256 via hashlib holds the GIL on small inputs, so processes, not threads.
    """
    offsets = _level_offsets(n_leaves)
    total = 2 * n_leaves - 1
    w = _default_workers() if workers is None else max(1, workers)
    parts = 1
    while parts * 2 <= w and n_leaves // (parts * 2) >= _PARALLEL_MIN_LEAVES:
        parts *= 2
    if parts > 1 and not _fork_available():
        parts = 1
    if parts == 1:
        nodes = np.empty((total, 32), np.uint8)
        _build_range(flat, leaf, nodes, offsets, 0, n_leaves)
        return nodes
    nodes = _shared_array((total, 32), np.uint8)
    span = n_leaves // parts
    ctx = multiprocessing.get_context("fork")
    procs: list[tuple[int, multiprocessing.process.BaseProcess | None]] = []
    for p in range(1, parts):
        proc: multiprocessing.process.BaseProcess | None = ctx.Process(
            target=_build_range,
            args=(flat, leaf, nodes, offsets, p * span, (p + 1) * span),
            daemon=True,
        )
        try:
            proc.start()
        except (AssertionError, OSError) as exc:  # daemonic caller, fork refused, ...
            log.warning("merkle: cannot fork a hashing worker (%s); hashing here", exc)
            proc = None
        procs.append((p, proc))
    try:
        _build_range(flat, leaf, nodes, offsets, 0, span)
    finally:
        for _, proc in procs:
            if proc is not None:
                proc.join()
    for p, proc in procs:
        if proc is None or proc.exitcode != 0:
            if proc is not None:
                log.warning(
                    "merkle: worker for part %d exited with %s; redoing it", p, proc.exitcode
                )
            _build_range(flat, leaf, nodes, offsets, p * span, (p + 1) * span)
    level = len(offsets) - parts.bit_length()  # the level holding the `parts` subtree roots
    size = parts
    while size > 1:
        child = nodes[offsets[level] : offsets[level] + size]
        size //= 2
        level += 1
        _hash_nodes_into(child, nodes[offsets[level] : offsets[level] + size])
    return nodes


def _check_leaf(leaf: int, n_entries: int) -> int:
    if leaf < 1 or leaf & (leaf - 1) or n_entries % leaf:
        raise ProtocolError(f"leaf size must be a power of two dividing n*n, got {leaf}")
    n_leaves = n_entries // leaf
    if n_leaves & (n_leaves - 1):
        raise ProtocolError("number of leaves must be a power of two")
    return n_leaves


class MerkleTree:
    """The SHA-256 commitment to C: all ``2N-1`` nodes, leaves first, root last.

    ``nodes`` is one ``(2N-1, 32)`` uint8 array; level ``t`` (0 = leaf hashes) holds
    ``N >> t`` nodes. The tree keeps a reference to the entries (``data``, the row-major
    C, any integer-valued dtype) to serve leaf bytes.
    """

    def __init__(self, nodes: np.ndarray, data: np.ndarray, leaf_size: int) -> None:
        """Wrap built ``nodes`` over ``data`` (n x n or flat) cut in leaves of ``leaf_size``."""
        self.data = data
        self.leaf_size = leaf_size
        self.n_leaves = _check_leaf(leaf_size, int(data.size))
        if nodes.shape != (2 * self.n_leaves - 1, 32):
            raise ProtocolError("node array does not match the number of leaves")
        self.nodes = nodes
        self._offsets = _level_offsets(self.n_leaves)

    @classmethod
    def from_product(cls, c: np.ndarray, leaf: int, workers: int | None = None) -> MerkleTree:
        """Build the tree over C (n x n, uint32 or integer-valued float32), leaves of ``leaf``."""
        flat = c.reshape(-1)
        n_leaves = _check_leaf(leaf, int(flat.size))
        t0 = time.perf_counter()
        nodes = _build_nodes(flat, leaf, n_leaves, workers)
        log.debug("merkle: %d leaves of %d in %.3fs", n_leaves, leaf, time.perf_counter() - t0)
        return cls(nodes, c, leaf)

    @property
    def root(self) -> bytes:
        """The 32-byte root."""
        return bytes(self.nodes[-1])

    @property
    def depth(self) -> int:
        """Number of levels above the leaves (log2 N)."""
        return len(self._offsets) - 1

    def node(self, level: int, index: int) -> bytes:
        """Node ``index`` of ``level`` (0 = leaf hashes)."""
        if not 0 <= level <= self.depth or not 0 <= index < self.n_leaves >> level:
            raise IndexError("node out of range")
        return bytes(self.nodes[self._offsets[level] + index])

    def level(self, level: int) -> np.ndarray:
        """All nodes of ``level`` as an ``(N >> level, 32)`` view."""
        off = self._offsets[level]
        return self.nodes[off : off + (self.n_leaves >> level)]

    def leaf_bytes(self, index: int) -> bytes:
        """Raw bytes of leaf ``index``: ``4L`` bytes, entries as big-endian uint32."""
        if not 0 <= index < self.n_leaves:
            raise IndexError("leaf out of range")
        flat = self.data.reshape(-1)
        lo = index * self.leaf_size
        return flat[lo : lo + self.leaf_size].astype(">u4").tobytes()

    def path(self, index: int) -> list[bytes]:
        """Siblings from the leaf level up to (not including) the root."""
        if not 0 <= index < self.n_leaves:
            raise IndexError("leaf out of range")
        return [self.node(t, (index >> t) ^ 1) for t in range(self.depth)]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Persist to directory ``path``: ``meta.json``, ``nodes.npy`` and ``c.npy`` (uint32)."""
        d = Path(path)
        d.mkdir(parents=True, exist_ok=True)
        np.save(d / "nodes.npy", np.asarray(self.nodes))
        data = self.data if self.data.dtype == np.uint32 else self.data.astype(np.uint32)
        np.save(d / "c.npy", data)
        meta = {"leaf_size": self.leaf_size, "n_leaves": self.n_leaves, "root": self.root.hex()}
        (d / "meta.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, path: str | os.PathLike[str], mmap_mode: str | None = "r") -> MerkleTree:
        """Load a tree saved by :meth:`save` (memory-mapped read-only by default)."""
        d = Path(path)
        meta = json.loads((d / "meta.json").read_text())
        nodes = np.load(d / "nodes.npy", mmap_mode=mmap_mode)
        data = np.load(d / "c.npy", mmap_mode=mmap_mode)
        tree = cls(nodes, data, int(meta["leaf_size"]))
        if tree.root.hex() != meta["root"]:
            raise ProtocolError("saved tree is corrupt: root mismatch")
        return tree


def commit_root_tree(
    s: bytes,
    n: int,
    leaf: int,
    workers: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> MerkleTree:
    """The whole prover pipeline: generate A and B, multiply exactly, build the tree."""
    t0 = time.perf_counter()
    c = _product_f32(s, n, np.empty((n, n), np.float32), progress)
    t1 = time.perf_counter()
    tree = MerkleTree.from_product(c, leaf, workers)
    log.debug(
        "pipeline n=%d L=%d: product %.3fs, tree %.3fs", n, leaf, t1 - t0, time.perf_counter() - t1
    )
    return tree


def commit_root(s: bytes, n: int, leaf: int) -> bytes:
    """Return the Merkle root of ``C = A @ B`` for challenge seed ``s`` (the whole pipeline)."""
    return commit_root_tree(s, n, leaf).root


# ---------------------------------------------------------------------------------------------
# Sampling, opening and verification
# ---------------------------------------------------------------------------------------------


def sample_seed(commit_blockhash: bytes, root: bytes) -> bytes:
    """``sseed = keccak256(blockhash(commitBlock) || root)``."""
    return keccak(_as_bytes32(commit_blockhash, "blockhash") + _as_bytes32(root, "root"))


def _check_k(n_leaves: int, k: int) -> int:
    if k < 1 or k & (k - 1) or k > n_leaves or k > MAX_SAMPLES:
        raise ProtocolError(f"k must be a power of two <= min(N, {MAX_SAMPLES}), got {k}")
    if n_leaves < 1 or n_leaves & (n_leaves - 1):
        raise ProtocolError("n_leaves must be a power of two")
    return n_leaves // k


def samples(sseed: bytes, n_leaves: int, k: int, leaf: int) -> list[tuple[int, int]]:
    """The ``k`` stratified samples ``(leafIndex, entryIndex)``, one per stratum, sorted."""
    stratum = _check_k(n_leaves, k)
    seed = _as_bytes32(sseed, "sseed")
    out = []
    for q in range(k):
        h = int.from_bytes(keccak(seed + word(q)), "big")
        out.append((q * stratum + h % stratum, (h >> 128) % leaf))
    return out


CHECK_TAG = b"check".ljust(32, b"\0")


def checked_strata(sseed: bytes, k: int, c: int) -> list[int]:
    """The ``c`` distinct strata (of ``k``) whose samples ``open`` recomputes on-chain.

    Partial Fisher-Yates over ``0..k-1``: step ``j`` swaps position ``j`` with
    ``j + keccak256(abi.encode(sseed, bytes32("check"), j)) % (k - j)``. The draw depends on
    ``sseed`` (the commit block's hash), unknown when the root is committed, so a prover that
    computed a fraction ``f`` of the strata survives the on-chain check with probability
    ``C(fk, c) / C(k, c) <= f^c``.
    """
    if not 1 <= c <= k:
        raise ProtocolError(f"c must be in [1, k], got c={c}, k={k}")
    seed = _as_bytes32(sseed, "sseed")
    perm = list(range(k))
    out = []
    for j in range(c):
        r = int.from_bytes(keccak(seed + CHECK_TAG + word(j)), "big")
        x = j + r % (k - j)
        perm[j], perm[x] = perm[x], perm[j]
        out.append(perm[j])
    return out


def build_opening(
    tree: MerkleTree, sample_list: Sequence[tuple[int, int]]
) -> tuple[bytes, list[bytes]]:
    """Calldata of ``open``: the sampled leaves concatenated and the ``k*d`` stratum siblings."""
    k = len(sample_list)
    stratum = _check_k(tree.n_leaves, k)
    d = stratum.bit_length() - 1
    leaves = b"".join(tree.leaf_bytes(li) for li, _ in sample_list)
    proof: list[bytes] = []
    for q, (li, _) in enumerate(sample_list):
        if not q * stratum <= li < (q + 1) * stratum:
            raise ProtocolError(f"sample {q} is outside its stratum")
        proof.extend(tree.node(t, (li >> t) ^ 1) for t in range(d))
    return leaves, proof


def _node(left: bytes, right: bytes) -> bytes:
    return _sha256(NODE_PREFIX + left + right).digest()


def verify_opening(
    root: bytes,
    n_leaves: int,
    k: int,
    leaf: int,
    sample_list: Sequence[tuple[int, int]],
    leaves: bytes,
    proof: Sequence[bytes],
) -> bool:
    """Python mirror of the contract's multiproof check; False on any mismatch."""
    try:
        stratum = _check_k(n_leaves, k)
    except ProtocolError:
        return False
    d = stratum.bit_length() - 1
    size = 4 * leaf
    if len(sample_list) != k or len(leaves) != k * size or len(proof) != k * d:
        return False
    if any(len(p) != 32 for p in proof):
        return False
    level: list[bytes] = []
    for q, (li, ei) in enumerate(sample_list):
        local = li - q * stratum
        if not 0 <= local < stratum or not 0 <= ei < leaf:
            return False
        h = _sha256(LEAF_PREFIX + leaves[q * size : (q + 1) * size]).digest()
        for t in range(d):
            sib = bytes(proof[q * d + t])
            h = _node(sib, h) if (local >> t) & 1 else _node(h, sib)
        level.append(h)
    while len(level) > 1:
        level = [_node(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0] == bytes(root)


def verify_path(root: bytes, index: int, leaf_bytes: bytes, path: Sequence[bytes]) -> bool:
    """Check one full leaf-to-root path (``path[t]`` = sibling at level ``t``)."""
    if index < 0 or index >> len(path):
        return False
    h = _sha256(LEAF_PREFIX + bytes(leaf_bytes)).digest()
    for t, sib in enumerate(path):
        sib = bytes(sib)
        if len(sib) != 32:
            return False
        h = _node(sib, h) if (index >> t) & 1 else _node(h, sib)
    return h == bytes(root)


def opened_entry(leaves: bytes, leaf: int, q: int, entry_index: int) -> int:
    """The value of entry ``entry_index`` of the ``q``-th opened leaf (big-endian uint32)."""
    off = (q * leaf + entry_index) * 4
    return int.from_bytes(leaves[off : off + 4], "big")


def entry_coords(leaf_index: int, entry_index: int, leaf: int, n: int) -> tuple[int, int]:
    """Row and column ``(i, j)`` of a sampled entry: ``flat = leafIndex*L + entryIndex``."""
    flat = leaf_index * leaf + entry_index
    return flat // n, flat % n


# ---------------------------------------------------------------------------------------------
# PRBMath v4 ports (UD60x18 and Common), bit-exact with Python integers
# ---------------------------------------------------------------------------------------------

_UNIT_SQUARED = 10**36
_HALF_UNIT = UNIT // 2
_EXP2_MAX_INPUT = 192 * UNIT - 1


def _u256(x: int, name: str = "value") -> int:
    if not 0 <= x <= MASK256:
        raise PRBMathError(f"{name} is not a uint256: {x}")
    return x


def msb(x: int) -> int:
    """Index of the most significant bit (``Common.msb``; 0 for x = 0)."""
    _u256(x)
    return max(0, x.bit_length() - 1)


def mul_div(x: int, y: int, denominator: int) -> int:
    """``Common.mulDiv``: floor(x*y/denominator) with 512-bit intermediate; reverts on overflow."""
    _u256(x), _u256(y), _u256(denominator)
    if denominator == 0:
        raise PRBMathError("division by zero")
    result = x * y // denominator
    if result > MASK256:
        raise PRBMathError("PRBMath_MulDiv_Overflow")
    return result


def mul_div18(x: int, y: int) -> int:
    """``Common.mulDiv18``: floor(x*y/1e18); reverts when the result exceeds uint256."""
    _u256(x), _u256(y)
    result = x * y // UNIT
    if result > MASK256:
        raise PRBMathError("PRBMath_MulDiv18_Overflow")
    return result


_EXP2_FACTORS = (
    0x16A09E667F3BCC909, 0x1306FE0A31B7152DF, 0x1172B83C7D517ADCE, 0x10B5586CF9890F62A,
    0x1059B0D31585743AE, 0x102C9A3E778060EE7, 0x10163DA9FB33356D8, 0x100B1AFA5ABCBED61,
    0x10058C86DA1C09EA2, 0x1002C605E2E8CEC50, 0x100162F3904051FA1, 0x1000B175EFFDC76BA,
    0x100058BA01FB9F96D, 0x10002C5CC37DA9492, 0x1000162E525EE0547, 0x10000B17255775C04,
    0x1000058B91B5BC9AE, 0x100002C5C89D5EC6D, 0x10000162E43F4F831, 0x100000B1721BCFC9A,
    0x10000058B90CF1E6E, 0x1000002C5C863B73F, 0x100000162E430E5A2, 0x1000000B172183551,
    0x100000058B90C0B49, 0x10000002C5C8601CC, 0x1000000162E42FFF0, 0x10000000B17217FBB,
    0x1000000058B90BFCE, 0x100000002C5C85FE3, 0x10000000162E42FF1, 0x100000000B17217F8,
    0x10000000058B90BFC, 0x1000000002C5C85FE, 0x100000000162E42FF, 0x1000000000B17217F,
    0x100000000058B90C0, 0x10000000002C5C860, 0x1000000000162E430, 0x10000000000B17218,
    0x1000000000058B90C, 0x100000000002C5C86, 0x10000000000162E43, 0x100000000000B1721,
    0x10000000000058B91, 0x1000000000002C5C8, 0x100000000000162E4, 0x1000000000000B172,
    0x100000000000058B9, 0x10000000000002C5D, 0x1000000000000162E, 0x10000000000000B17,
    0x1000000000000058C, 0x100000000000002C6, 0x10000000000000163, 0x100000000000000B1,
    0x10000000000000059, 0x1000000000000002C, 0x10000000000000016, 0x1000000000000000B,
    0x10000000000000006, 0x10000000000000003, 0x10000000000000001, 0x10000000000000001,
)  # fmt: skip
"""Magic factors of ``Common.exp2``: entry ``b`` is used when bit ``63 - b`` of x is set."""


def common_exp2(x: int) -> int:
    """``Common.exp2``: 2^x for x in 192.64 fixed point, result in UD60x18 (unchecked math)."""
    _u256(x)
    result = 0x800000000000000000000000000000000000000000000000
    for b, factor in enumerate(_EXP2_FACTORS):
        if x & (1 << (63 - b)):
            result = ((result * factor) & MASK256) >> 64
    result = (result * UNIT) & MASK256
    shift = (191 - (x >> 64)) & MASK256
    return result >> shift if shift < 256 else 0


def ud_mul(x: int, y: int) -> int:
    """UD60x18 ``mul``: floor(x*y/1e18)."""
    return mul_div18(x, y)


def ud_div(x: int, y: int) -> int:
    """UD60x18 ``div``: floor(x*1e18/y)."""
    return mul_div(x, UNIT, y)


def ud_exp2(x: int) -> int:
    """UD60x18 ``exp2``: 2^x; reverts for x > 192e18 - 1."""
    _u256(x)
    if x > _EXP2_MAX_INPUT:
        raise PRBMathError("PRBMath_UD60x18_Exp2_InputTooBig")
    return common_exp2((x << 64) // UNIT)


def ud_log2(x: int) -> int:
    """UD60x18 ``log2`` (iterative approximation, truncating); reverts for x < 1e18."""
    _u256(x)
    if x < UNIT:
        raise PRBMathError("PRBMath_UD60x18_Log_InputTooSmall")
    n = msb(x // UNIT)
    result = n * UNIT
    y = x >> n
    if y == UNIT:
        return result
    delta = _HALF_UNIT
    double_unit = 2 * UNIT
    while delta > 0:
        y = y * y // UNIT
        if y >= double_unit:
            result += delta
            y >>= 1
        delta >>= 1
    return result


def ud_pow(x: int, y: int) -> int:
    """UD60x18 ``pow``: x^y via exp2(log2(x)*y), inverted for x < 1 exactly as PRBMath v4."""
    _u256(x), _u256(y)
    if x == 0:
        return UNIT if y == 0 else 0
    if x == UNIT:
        return UNIT
    if y == 0:
        return UNIT
    if y == UNIT:
        return x
    if x > UNIT:
        return ud_exp2(ud_mul(ud_log2(x), y))
    i = _UNIT_SQUARED // x
    w = ud_exp2(ud_mul(ud_log2(i), y))
    return _UNIT_SQUARED // w


def ud_powu(x: int, y: int) -> int:
    """UD60x18 ``powu``: x^y for an integer y by squaring, each step floor(a*b/1e18)."""
    _u256(x), _u256(y)
    result = x if y & 1 else UNIT
    y >>= 1
    while y > 0:
        x = mul_div18(x, x)
        if y & 1:
            result = mul_div18(result, x)
        y >>= 1
    return result


# ---------------------------------------------------------------------------------------------
# Dissipative pool pricing
# ---------------------------------------------------------------------------------------------

MAX_ALPHA = 4 * UNIT


def _check_pricing(p_floor: int, p0: int, alpha: int, d: int, r: int) -> None:
    if not 0 < alpha <= MAX_ALPHA:
        raise ProtocolError("alpha must be in (0, 4e18]")
    if not 0 <= d < r:
        raise ProtocolError("require 0 <= D < R")
    if p_floor < 0 or p0 < 0:
        raise ProtocolError("prices must be non-negative")


def _ud_power(x: int, a1: int) -> int:
    """``x^(alpha+1)``: ``powu`` when the exponent is whole, ``pow`` otherwise (as the contract)."""
    if a1 % UNIT == 0:
        return ud_powu(x, a1 // UNIT)
    return ud_pow(x, a1)


def per_epoch_price(p_floor: int, p0: int, alpha: int, d: int, r: int) -> int:
    """Contract price of one more device for one epoch at demand ``d`` of supply ``r``.

    ``pFloor + mulDiv(P0 * R, p(x1) - p(x0), alpha + 1e18)`` with ``x0 = D/R``, ``x1 = (D+1)/R``
    in UD60x18 (floored) and ``p(x) = x^(alpha+1)`` computed by PRBMath.
    """
    _check_pricing(p_floor, p0, alpha, d, r)
    x0 = d * UNIT // r
    x1 = (d + 1) * UNIT // r
    a1 = alpha + UNIT
    p_lo = _ud_power(x0, a1)
    p_hi = _ud_power(x1, a1)
    if p_hi < p_lo:  # checked subtraction in the contract
        raise PRBMathError("arithmetic underflow in p(x1) - p(x0)")
    return p_floor + mul_div(p0 * r, p_hi - p_lo, a1)


def lease_cost(p_floor: int, p0: int, alpha: int, d: int, r: int, epochs: int) -> int:
    """Bit-exact mirror of the contract's quote: ``epochs * per_epoch_price(...)``."""
    if epochs <= 0:
        raise ProtocolError("epochs must be positive")
    return epochs * per_epoch_price(p_floor, p0, alpha, d, r)


def lease_cost_decimal(p_floor: int, p0: int, alpha: int, d: int, r: int, epochs: int) -> Decimal:
    """Exact real-number reference (Decimal, 60 digits) of the closed form.

    ``m * (pFloor + P0*R/(alpha+1) * (((D+1)/R)^(alpha+1) - (D/R)^(alpha+1)))``.
    """
    _check_pricing(p_floor, p0, alpha, d, r)
    with localcontext() as ctx:
        ctx.prec = 60
        a1 = Decimal(alpha) / Decimal(UNIT) + 1
        x0 = Decimal(d) / Decimal(r)
        x1 = Decimal(d + 1) / Decimal(r)
        p_lo = x0**a1 if d > 0 else Decimal(0)
        per = Decimal(p_floor) + Decimal(p0) * Decimal(r) / a1 * (x1**a1 - p_lo)
        return +(Decimal(epochs) * per)


def marginal_price(p_floor: int, p0: int, alpha: int, u: float) -> float:
    """Continuous marginal price ``P(u) = pFloor + P0 * u^alpha`` (alpha in UD60x18)."""
    return float(p_floor) + float(p0) * float(u) ** (alpha / UNIT)


def split_payment(cost: int, beta_bps: int) -> tuple[int, int]:
    """Split a payment into ``(burn, escrow)``: ``burn = cost * betaBps // 10000``."""
    if cost < 0 or not 0 <= beta_bps <= BPS:
        raise ProtocolError("cost must be >= 0 and beta_bps in [0, 10000]")
    burn = cost * beta_bps // BPS
    return burn, cost - burn


# ---------------------------------------------------------------------------------------------
# Test vectors (pasted into docs/protocol.md and checked against the contracts)
# ---------------------------------------------------------------------------------------------


def _naive_root(c: np.ndarray, leaf: int) -> bytes:
    data = c.astype(">u4").tobytes()
    size = 4 * leaf
    level = [_sha256(LEAF_PREFIX + data[i : i + size]).digest() for i in range(0, len(data), size)]
    while len(level) > 1:
        level = [_node(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def test_vectors() -> dict[str, object]:
    """Known-answer vectors for the contracts and docs (plain JSON-able values).

    Seed ``s = keccak256("pinfi-test-vector")``; ``n`` = 16 and 32 with ``L = 16``; samples with
    ``blockhash = keccak256("pinfi-test-block")``; pricing examples at several alphas.
    """
    s = keccak(b"pinfi-test-vector")
    blockhash = keccak(b"pinfi-test-block")
    out: dict[str, object] = {"s": "0x" + s.hex(), "leaf": 16, "matrices": []}
    matrices: list[dict[str, object]] = []
    for n in (16, 32):
        a = gen_a(s, n)
        b = gen_b(s, n)
        c = product(s, n)
        tree = MerkleTree.from_product(c, 16, workers=1)
        k = 4
        smp = samples(sample_seed(blockhash, tree.root), tree.n_leaves, k, 16)
        picks = [(0, 0), (1, 2), (n // 2, n - 1), (n - 1, n - 1)]
        matrices.append({
            "n": n,
            "row_seed_0": int(seeds(s, n, b"A")[0]),
            "col_seed_0": int(seeds(s, n, b"B")[0]),
            "A_row0": [int(v) for v in a[0]],
            "A_row1": [int(v) for v in a[1]],
            "B_row0": [int(v) for v in b[0]],
            "B_col0": [int(v) for v in b[:, 0]],
            "C": [{"i": i, "j": j, "value": int(c[i, j])} for i, j in picks],
            "n_leaves": tree.n_leaves,
            "leaf0_hash": "0x" + tree.node(0, 0).hex(),
            "root": "0x" + tree.root.hex(),
            "samples_k4": {
                "blockhash": "0x" + blockhash.hex(),
                "sseed": "0x" + sample_seed(blockhash, tree.root).hex(),
                "samples": [list(x) for x in smp],
            },
        })  # fmt: skip
    out["matrices"] = matrices
    epoch_seed = keccak(b"pinfi-test-epoch")
    owner = "0x00000000000000000000000000000000000000aa"
    out["challenge"] = {
        "epoch_seed": "0x" + epoch_seed.hex(),
        "owner": owner,
        "class_id": 1,
        "selection_value": int.from_bytes(
            keccak(epoch_seed + word(_address_int(owner)) + word(1)), "big"
        )
        % BPS,
        "device_id": 7,
        "epoch": 3,
        "challenge_seed": "0x" + challenge_seed(epoch_seed, 7, 3).hex(),
    }
    pricing = []
    cases = [
        (10**15, 10**18, UNIT, 0, 10, 1),
        (10**15, 10**18, UNIT, 5, 10, 3),
        (10**15, 10**18, UNIT // 2, 3, 10, 2),
        (10**15, 10**18, 1_500_000_000_000_000_000, 7, 10, 4),
        (0, 5 * 10**18, 2 * UNIT, 99, 100, 1),
        (10**16, 10**18, 4 * UNIT, 1, 3, 10),
        (10**15, 10**18, 2_718_281_828_459_045_235, 42, 1000, 7),
    ]
    for p_floor, p0, alpha, d, r, m in cases:
        x0, x1 = d * UNIT // r, (d + 1) * UNIT // r
        a1 = alpha + UNIT
        cost = lease_cost(p_floor, p0, alpha, d, r, m)
        burn, escrow = split_payment(cost, 2000)
        pricing.append({
            "p_floor": p_floor, "p0": p0, "alpha": alpha, "d": d, "r": r, "epochs": m,
            "x0": x0, "x1": x1, "p_x0": _ud_power(x0, a1), "p_x1": _ud_power(x1, a1),
            "per_epoch": per_epoch_price(p_floor, p0, alpha, d, r), "cost": cost,
            "beta_bps": 2000, "burn": burn, "escrow": escrow,
            "cost_decimal": str(lease_cost_decimal(p_floor, p0, alpha, d, r, m)),
        })  # fmt: skip
    out["pricing"] = pricing
    out["prbmath"] = [
        {"fn": "pow", "x": x, "y": y, "result": ud_pow(x, y)}
        for x, y in [(2 * UNIT, UNIT // 2), (UNIT // 2, 1_500_000_000_000_000_000),
                     (3 * UNIT, 2_500_000_000_000_000_000), (10**17, 4 * UNIT + 1)]
    ] + [
        {"fn": "log2", "x": x, "result": ud_log2(x)} for x in (3 * UNIT, 10**20 + 7)
    ] + [
        {"fn": "exp2", "x": x, "result": ud_exp2(x)} for x in (UNIT // 3, 5 * UNIT + 123)
    ]  # fmt: skip
    return out


test_vectors.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported
