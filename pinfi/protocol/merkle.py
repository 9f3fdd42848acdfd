"""The SHA-256 Merkle commitment to C, stratified samples, openings and their verification.

Leaves are ``L`` consecutive entries of the row-major C as big-endian ``uint32``, hashed with a
``0x00`` prefix; inner nodes hash ``0x01 || left || right``
(docs/protocol.md#leaves-nodes-and-the-root).
Hashing uses the native batch hasher :mod:`pinfi.protocol._sha256batch` (C, SHA-NI where the
CPU has it, GIL released) when it was built: threads then split the tree, and
:func:`commit_root_tree` hashes each finished row block of C while the next one is multiplied.
Without it (no compiler at install time, or ``PINFI_NATIVE_HASH=0``) hashlib does the work:
SHA-256 through hashlib holds the GIL on small inputs, so forked workers (which see C
copy-on-write) each hash an aligned range of leaves and its subtree into a shared node array.
Both give the same nodes bit for bit. Samples, the opening calldata and its check mirror the
contract (docs/protocol.md#stratified-samples, #open-calldata).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import mmap
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Literal

import numpy as np

from pinfi.protocol.errors import ProtocolError
from pinfi.protocol.hashing import as_bytes32, keccak, word
from pinfi.protocol.matmul import default_workers, product_f32

log = logging.getLogger("pinfi.protocol")

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
MAX_SAMPLES = 64

_sha256 = hashlib.sha256

MmapMode = Literal["r+", "r", "w+", "c"]


def load_native() -> ModuleType | None:
    """The native batch hasher, or None where it was not built or ``PINFI_NATIVE_HASH=0``.

    It is an optional extension (setup.py): an install without a C compiler still works, on
    hashlib, with the same roots.
    """
    if os.environ.get("PINFI_NATIVE_HASH", "").strip() == "0":
        return None
    try:
        return importlib.import_module("pinfi.protocol._sha256batch")
    except ImportError:
        return None


_native = load_native()


def hasher() -> str:
    """Which SHA-256 builds trees here: ``native/sha-ni``, ``native/portable`` or ``hashlib``."""
    return "hashlib" if _native is None else f"native/{_native.backend()}"


def _hash_rows(rows: np.ndarray) -> bytes:
    """SHA-256 of every row of a contiguous ``(m, w)`` uint8 array, digests concatenated."""
    w = rows.shape[1]
    mv = rows.reshape(-1).data  # a flat uint8 memoryview
    sha = _sha256
    return b"".join([sha(mv[i : i + w]).digest() for i in range(0, len(mv), w)])


_HASH_CHUNK = 1 << 19  # bytes of input per hashing chunk (keeps temporaries in cache)


_NATIVE_DTYPES = (np.dtype(np.float32), np.dtype(np.uint32), np.dtype(">u4"))
"""Entry types the native hasher reads in place (others are converted chunk by chunk)."""


def _hash_leaves_into(data: np.ndarray, leaf: int, out: np.ndarray) -> None:
    """Hash leaves (``data``: (m, leaf) array of integer-valued entries) into ``out`` (m, 32)."""
    m = data.shape[0]
    if _native is not None:
        if data.dtype in _NATIVE_DTYPES and data.flags.c_contiguous:
            _native.leaves(data, leaf, out)
            return
        step = max(1, _HASH_CHUNK // (4 * leaf))
        for lo in range(0, m, step):
            hi = min(m, lo + step)
            _native.leaves(np.ascontiguousarray(data[lo:hi], ">u4"), leaf, out[lo:hi])
        return
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
    if _native is not None:
        _native.nodes(children, out)
        return
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


_PARALLEL_MIN_LEAVES = 4096
_THREAD_MIN_LEAVES = 2048
"""Fewest leaves per part handed to a hashing thread (smaller trees are hashed in one call)."""
_PARTS_PER_THREAD = 4
"""Parts per hashing thread: a part that a busy core delays holds up less of the tree."""


def _hash_top(nodes: np.ndarray, offsets: list[int], parts: int) -> None:
    """Hash the levels above ``parts`` finished subtree roots, up to the root."""
    level = len(offsets) - parts.bit_length()  # the level holding the `parts` subtree roots
    size = parts
    while size > 1:
        child = nodes[offsets[level] : offsets[level] + size]
        size //= 2
        level += 1
        _hash_nodes_into(child, nodes[offsets[level] : offsets[level] + size])


def _build_nodes_threads(flat: np.ndarray, leaf: int, n_leaves: int, workers: int) -> np.ndarray:
    """Build all nodes with the native hasher, aligned subtrees spread over ``workers`` threads
    (it releases the GIL), then the few levels above them here."""
    offsets = _level_offsets(n_leaves)
    nodes = np.empty((2 * n_leaves - 1, 32), np.uint8)
    parts = 1
    while parts < workers * _PARTS_PER_THREAD and n_leaves // (parts * 2) >= _THREAD_MIN_LEAVES:
        parts *= 2
    if workers < 2 or parts == 1:
        _build_range(flat, leaf, nodes, offsets, 0, n_leaves)
        return nodes
    span = n_leaves // parts
    with ThreadPoolExecutor(min(workers, parts), thread_name_prefix="pinfi-hash") as pool:
        futures = [
            pool.submit(_build_range, flat, leaf, nodes, offsets, p * span, (p + 1) * span)
            for p in range(parts)
        ]
        for f in futures:
            f.result()
    _hash_top(nodes, offsets, parts)
    return nodes


def _build_nodes(flat: np.ndarray, leaf: int, n_leaves: int, workers: int | None) -> np.ndarray:
    """Build all ``2N-1`` nodes (level by level, root last), hashing leaf ranges in parallel.

    The leaves are cut into ``parts`` aligned power-of-two ranges; forked children each build
    their range's subtree into a shared node array while this process builds the first one,
    then the few levels above the subtrees are hashed here. A worker that cannot start or dies
    has its range redone here.
    """
    w = default_workers() if workers is None else max(1, workers)
    if _native is not None:
        return _build_nodes_threads(flat, leaf, n_leaves, w)
    offsets = _level_offsets(n_leaves)
    total = 2 * n_leaves - 1
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
        worker = ctx.Process(
            target=_build_range,
            args=(flat, leaf, nodes, offsets, p * span, (p + 1) * span),
            daemon=True,
        )
        proc: multiprocessing.process.BaseProcess | None = worker
        try:
            worker.start()
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
    _hash_top(nodes, offsets, parts)
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
    def load(cls, path: str | os.PathLike[str], mmap_mode: MmapMode | None = "r") -> MerkleTree:
        """Load a tree saved by :meth:`save` (memory-mapped read-only by default)."""
        d = Path(path)
        meta = json.loads((d / "meta.json").read_text())
        nodes = np.load(d / "nodes.npy", mmap_mode=mmap_mode)
        data = np.load(d / "c.npy", mmap_mode=mmap_mode)
        tree = cls(nodes, data, int(meta["leaf_size"]))
        if tree.root.hex() != meta["root"]:
            raise ProtocolError("saved tree is corrupt: root mismatch")
        return tree


class IncrementalTree:
    """A tree built while C is still being written: :meth:`advance` hashes the leaves of the
    entries that became final and every node whose two children are now hashed.

    Calls must come in order (one at a time); :attr:`nodes` is complete once :meth:`advance`
    has seen all entries. Feeding it finished row blocks lets the commitment overlap the
    product (the native hasher releases the GIL); with hashlib it works too, just not in
    parallel.
    """

    def __init__(self, data: np.ndarray, leaf: int) -> None:
        """Prepare a tree over ``data`` (n x n or flat, written in order of flat index)."""
        self.data = data
        self.flat = data.reshape(-1)
        self.leaf = leaf
        self.n_leaves = _check_leaf(leaf, int(self.flat.size))
        self.offsets = _level_offsets(self.n_leaves)
        self.nodes = np.empty((2 * self.n_leaves - 1, 32), np.uint8)
        self.done = [0] * len(self.offsets)  # nodes hashed so far on each level

    def _level(self, t: int) -> np.ndarray:
        return self.nodes[self.offsets[t] : self.offsets[t] + (self.n_leaves >> t)]

    def advance(self, entries_final: int) -> None:
        """Entries ``[0, entries_final)`` of the flat C are final: hash what they allow."""
        target = min(self.n_leaves, entries_final // self.leaf)
        lo = self.done[0]
        if target > lo:
            block = self.flat[lo * self.leaf : target * self.leaf].reshape(target - lo, self.leaf)
            _hash_leaves_into(block, self.leaf, self._level(0)[lo:target])
            self.done[0] = target
        for t in range(1, len(self.offsets)):
            lo, hi = self.done[t], self.done[t - 1] // 2
            if hi <= lo:
                break
            _hash_nodes_into(self._level(t - 1)[2 * lo : 2 * hi], self._level(t)[lo:hi])
            self.done[t] = hi

    @property
    def complete(self) -> bool:
        """Whether the root is hashed."""
        return self.done[-1] == 1

    def tree(self) -> MerkleTree:
        """The finished :class:`MerkleTree` (ProtocolError if entries are still missing)."""
        if not self.complete:
            raise ProtocolError("incremental tree: not all entries were hashed")
        return MerkleTree(self.nodes, self.data, self.leaf)


OVERLAP_MIN_N = 1024
"""Smallest ``n`` whose commitment is hashed while the product runs (below it, one block)."""


def _product_and_tree(
    s: bytes,
    n: int,
    leaf: int,
    workers: int,
    progress: Callable[[float], None] | None,
) -> MerkleTree:
    """Product and tree in one pass: a hashing thread hashes each finished row block (and the
    subtrees it completes) while the next block is generated and multiplied."""
    c = np.empty((n, n), np.float32)
    inc = IncrementalTree(c, leaf)
    with ThreadPoolExecutor(1, thread_name_prefix="pinfi-hash") as pool:
        pending: list[Future[None]] = []

        def rows_done(r0: int, r1: int) -> None:
            if r1 < n:  # the last block is hashed below, on all cores
                pending.append(pool.submit(inc.advance, r1 * n))

        product_f32(s, n, c, progress, on_rows=rows_done)
        for f in pending:
            f.result()
    _finish(inc, workers)
    return inc.tree()


def _finish(inc: IncrementalTree, workers: int) -> None:
    """Hash the leaves not yet hashed on ``workers`` threads, then everything above them."""
    lo, n_leaves = inc.done[0], inc.n_leaves
    rest = n_leaves - lo
    if workers > 1 and rest >= 2 * _THREAD_MIN_LEAVES:
        step = -(-rest // workers)
        level0 = inc._level(0)
        flat, leaf = inc.flat, inc.leaf
        with ThreadPoolExecutor(workers, thread_name_prefix="pinfi-hash") as pool:
            futures = [
                pool.submit(
                    _hash_leaves_into,
                    flat[a * leaf : min(n_leaves, a + step) * leaf].reshape(-1, leaf),
                    leaf,
                    level0[a : min(n_leaves, a + step)],
                )
                for a in range(lo, n_leaves, step)
            ]
            for f in futures:
                f.result()
        inc.done[0] = n_leaves
    inc.advance(inc.flat.size)


def commit_root_tree(
    s: bytes,
    n: int,
    leaf: int,
    workers: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> MerkleTree:
    """The whole prover pipeline: generate A and B, multiply exactly, build the tree.

    With the native hasher the tree is built as the product's row blocks finish; with hashlib
    (whose small-input calls hold the GIL) after it, on forked workers.
    """
    t0 = time.perf_counter()
    w = default_workers() if workers is None else max(1, workers)
    if _native is not None and n >= OVERLAP_MIN_N and w > 1:
        tree = _product_and_tree(s, n, leaf, w, progress)
        log.debug("pipeline n=%d L=%d: %.3fs", n, leaf, time.perf_counter() - t0)
        return tree
    c = product_f32(s, n, np.empty((n, n), np.float32), progress)
    t1 = time.perf_counter()
    tree = MerkleTree.from_product(c, leaf, workers)
    log.debug(
        "pipeline n=%d L=%d: product %.3fs, tree %.3fs", n, leaf, t1 - t0, time.perf_counter() - t1
    )
    return tree


def commit_root(s: bytes, n: int, leaf: int) -> bytes:
    """Return the Merkle root of ``C = A @ B`` for challenge seed ``s`` (the whole pipeline)."""
    return commit_root_tree(s, n, leaf).root


def naive_root(c: np.ndarray, leaf: int) -> bytes:
    """The root by the definition, level by level in plain Python (a reference for tests)."""
    data = c.astype(">u4").tobytes()
    size = 4 * leaf
    level = [_sha256(LEAF_PREFIX + data[i : i + size]).digest() for i in range(0, len(data), size)]
    while len(level) > 1:
        level = [_node(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


# ---------------------------------------------------------------------------------------------
# Sampling, opening and verification
# ---------------------------------------------------------------------------------------------


def sample_seed(commit_blockhash: bytes, root: bytes) -> bytes:
    """``sseed = keccak256(blockhash(commitBlock) || root)`` (docs/protocol.md#sample-seed)."""
    return keccak(as_bytes32(commit_blockhash, "blockhash") + as_bytes32(root, "root"))


def _check_k(n_leaves: int, k: int) -> int:
    if k < 1 or k & (k - 1) or k > n_leaves or k > MAX_SAMPLES:
        raise ProtocolError(f"k must be a power of two <= min(N, {MAX_SAMPLES}), got {k}")
    if n_leaves < 1 or n_leaves & (n_leaves - 1):
        raise ProtocolError("n_leaves must be a power of two")
    return n_leaves // k


CHECK_TAG = b"check".ljust(32, b"\0")


def checked_strata(sseed: bytes, k: int, c: int) -> list[int]:
    """The ``c`` distinct strata (of ``k``) whose samples ``open`` recomputes on-chain.

    Partial Fisher-Yates over ``0..k-1``: step ``j`` swaps position ``j`` with
    ``j + keccak256(abi.encode(sseed, bytes32("check"), j)) % (k - j)``. The draw depends on
    ``sseed`` (the commit block's hash), unknown when the root is committed, so a prover that
    computed a fraction ``f`` of the strata survives the on-chain check with probability
    ``C(fk, c) / C(k, c) <= f^c`` (docs/protocol.md#stratified-samples).
    """
    if not 1 <= c <= k:
        raise ProtocolError(f"c must be in [1, k], got c={c}, k={k}")
    seed = as_bytes32(sseed, "sseed")
    perm = list(range(k))
    out = []
    for j in range(c):
        r = int.from_bytes(keccak(seed + CHECK_TAG + word(j)), "big")
        x = j + r % (k - j)
        perm[j], perm[x] = perm[x], perm[j]
        out.append(perm[j])
    return out


def samples(sseed: bytes, n_leaves: int, k: int, leaf: int) -> list[tuple[int, int]]:
    """The ``k`` stratified samples ``(leafIndex, entryIndex)``, one per stratum, sorted."""
    stratum = _check_k(n_leaves, k)
    seed = as_bytes32(sseed, "sseed")
    out = []
    for q in range(k):
        h = int.from_bytes(keccak(seed + word(q)), "big")
        out.append((q * stratum + h % stratum, (h >> 128) % leaf))
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
