"""The SHA-256 Merkle commitment to C, stratified samples, openings and their verification.

Leaves are ``L`` consecutive entries of the row-major C as big-endian ``uint32``, hashed with a
``0x00`` prefix; inner nodes hash ``0x01 || left || right``
(docs/protocol.md#leaves-nodes-and-the-root).
The tree is built on all cores: forked workers (which see C copy-on-write) each hash an aligned
range of leaves and its subtree into a shared node array; SHA-256 through hashlib holds the GIL
on small inputs, so processes, not threads. Samples, the opening calldata and its check mirror
the contract (docs/protocol.md#stratified-samples, #open-calldata).
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
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


def _hash_rows(rows: np.ndarray) -> bytes:
    """SHA-256 of every row of a contiguous ``(m, w)`` uint8 array, digests concatenated."""
    w = rows.shape[1]
    mv = rows.reshape(-1).data  # a flat uint8 memoryview
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


_PARALLEL_MIN_LEAVES = 4096


def _build_nodes(flat: np.ndarray, leaf: int, n_leaves: int, workers: int | None) -> np.ndarray:
    """Build all ``2N-1`` nodes (level by level, root last), hashing leaf ranges in parallel.

    The leaves are cut into ``parts`` aligned power-of-two ranges; forked children each build
    their range's subtree into a shared node array while this process builds the first one,
    then the few levels above the subtrees are hashed here. A worker that cannot start or dies
    has its range redone here.
    """
    offsets = _level_offsets(n_leaves)
    total = 2 * n_leaves - 1
    w = default_workers() if workers is None else max(1, workers)
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


def commit_root_tree(
    s: bytes,
    n: int,
    leaf: int,
    workers: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> MerkleTree:
    """The whole prover pipeline: generate A and B, multiply exactly, build the tree."""
    t0 = time.perf_counter()
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
