"""The native batch hasher (pinfi/protocol/_sha256batch.c) is bit-exact with hashlib.

The commitment is consensus-critical (docs/protocol.md#leaves-nodes-and-the-root): a prover whose
native build hashed one leaf differently would commit a root no honest opening can match and be
slashed. So every native path (SHA-NI and portable C, every entry type, threaded trees, the tree
built while the product runs) is compared with hashlib on random data, and the hashlib fallback
(extension absent) must keep working with the same roots.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from pinfi import protocol as P
from pinfi.protocol import matmul, merkle

SEED = P.keccak(b"pinfi-native-hash-test")
VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors.json"

native = merkle.load_native()
needs_native = pytest.mark.skipif(native is None, reason="native hasher not built")


def _leaf_ref(entries: np.ndarray) -> bytes:
    """hashlib digests of each row of ``entries`` (m, L), by the spec's definition."""
    return b"".join(
        hashlib.sha256(b"\x00" + row.astype(">u4").tobytes()).digest() for row in entries
    )


def _node_ref(children: np.ndarray) -> bytes:
    flat = children.reshape(-1, 64)
    return b"".join(hashlib.sha256(b"\x01" + row.tobytes()).digest() for row in flat)


def _backends() -> list[str | None]:
    """Compression functions to test; [None] (tests skip) where the extension is absent."""
    if native is None:
        return [None]
    names: list[str | None] = ["portable"]
    if native.backend() != "portable":
        names.append(native.backend())
    return names


@pytest.fixture(params=_backends())
def backend(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    """The native module with each compression function this CPU has, restored afterwards."""
    if native is None:
        pytest.skip("native hasher not built")
    before = native.backend()
    native.set_backend(request.param)
    try:
        yield native
    finally:
        native.set_backend(before)


@pytest.fixture
def hashlib_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build trees as on a machine where the extension could not be compiled."""
    monkeypatch.setitem(sys.modules, "pinfi.protocol._sha256batch", None)  # import fails
    assert merkle.load_native() is None
    monkeypatch.setattr(merkle, "_native", None)
    assert merkle.hasher() == "hashlib"


# --- the two primitives ----------------------------------------------------------------------


@pytest.mark.parametrize("leaf", [1, 2, 3, 13, 14, 15, 16, 17, 32, 64, 255, 256, 257, 1024])
def test_leaves_match_hashlib(backend: ModuleType, leaf: int) -> None:
    rng = np.random.default_rng(leaf)
    m = 37
    u32 = rng.integers(0, 2**32, (m, leaf), dtype=np.uint32)
    want = _leaf_ref(u32)
    out = np.empty((m, 32), np.uint8)
    for data in (u32, u32.astype(">u4"), u32.astype(">u4").tobytes()):
        out[:] = 0
        backend.leaves(data, leaf, out)
        assert out.tobytes() == want
    f32 = rng.integers(0, 1 << 24, (m, leaf)).astype(np.float32)  # the fp32 product's range
    backend.leaves(f32, leaf, out)
    assert out.tobytes() == _leaf_ref(f32.astype(np.uint32))
    ba = bytearray(32 * m)  # any writable buffer works as output
    backend.leaves(u32, leaf, ba)
    assert bytes(ba) == want


@pytest.mark.parametrize("m", [1, 2, 7, 64, 1000])
def test_nodes_match_hashlib(backend: ModuleType, m: int) -> None:
    children = np.random.default_rng(m).integers(0, 256, (2 * m, 32), dtype=np.uint8)
    out = np.empty((m, 32), np.uint8)
    backend.nodes(children, out)
    assert out.tobytes() == _node_ref(children)


@needs_native
def test_bad_buffers_rejected() -> None:
    assert native is not None
    out = np.empty((2, 32), np.uint8)
    with pytest.raises(ValueError, match="whole leaves"):
        native.leaves(np.zeros(10, np.uint32), 4, out)
    with pytest.raises(ValueError, match="out has"):
        native.leaves(np.zeros(12, np.uint32), 4, out)
    with pytest.raises(TypeError, match="float32, uint32 or bytes"):
        native.leaves(np.zeros(8, np.float64), 4, out)
    with pytest.raises(TypeError, match="writable"):
        native.leaves(np.zeros(8, np.uint32), 4, bytes(64))
    with pytest.raises(TypeError, match="C-contiguous"):
        native.leaves(np.zeros((8, 2), np.uint32)[:, 0], 4, out)
    with pytest.raises(ValueError, match="children"):
        native.nodes(np.zeros((3, 32), np.uint8), out)
    with pytest.raises(ValueError, match="not available"):
        native.set_backend("no-such-backend")


# --- whole trees -----------------------------------------------------------------------------


def _hashlib_tree(c: np.ndarray, leaf: int, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    with monkeypatch.context() as mp:
        mp.setattr(merkle, "_native", None)
        return np.asarray(P.MerkleTree.from_product(c, leaf, workers=1).nodes)


@needs_native
@pytest.mark.parametrize(
    ("n", "leaf", "workers"),
    [(16, 16, 1), (64, 1, 2), (64, 8, 3), (128, 4, 2), (256, 32, 4), (256, 65536, 2)],
)
def test_tree_matches_hashlib(
    backend: ModuleType, monkeypatch: pytest.MonkeyPatch, n: int, leaf: int, workers: int
) -> None:
    monkeypatch.setattr(merkle, "_THREAD_MIN_LEAVES", 4)  # threads even for these small trees
    rng = np.random.default_rng(n * leaf)
    c = rng.integers(0, 1 << 24, (n, n)).astype(np.uint32)
    want = _hashlib_tree(c, leaf, monkeypatch)
    for data in (c, c.astype(np.float32), c.astype(np.int64)):
        tree = P.MerkleTree.from_product(data, leaf, workers=workers)
        assert np.array_equal(np.asarray(tree.nodes), want)
    assert tree.root == P.naive_root(c, leaf)


@needs_native
def test_incremental_tree_any_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fed in arbitrary pieces (not leaf aligned), the tree equals the one-shot build."""
    n, leaf = 128, 8
    c = np.random.default_rng(5).integers(0, 1 << 24, (n, n)).astype(np.float32)
    want = _hashlib_tree(c, leaf, monkeypatch)
    inc = merkle.IncrementalTree(c, leaf)
    cuts = sorted(np.random.default_rng(6).integers(0, n * n, 20).tolist())
    for cut in cuts:
        inc.advance(cut)
        assert not inc.complete
    with pytest.raises(P.ProtocolError):
        inc.tree()
    merkle._finish(inc, 2)
    assert inc.complete
    assert np.array_equal(np.asarray(inc.tree().nodes), want)


@needs_native
@pytest.mark.parametrize("leaf", [1, 16, 32, 1024, 128 * 128])
def test_pipelined_commit_matches_hashlib(monkeypatch: pytest.MonkeyPatch, leaf: int) -> None:
    """The tree hashed while the product's row blocks finish (8 blocks here) is the same."""
    n = 128
    monkeypatch.setattr(merkle, "OVERLAP_MIN_N", 0)
    monkeypatch.setattr(matmul, "row_block", lambda n: 16)
    monkeypatch.setattr(merkle, "_THREAD_MIN_LEAVES", 4)
    P.clear_workspace()  # drop a cached scratch with another block size
    calls: list[tuple[int, int]] = []
    real = merkle.product_f32

    def spy(*args, on_rows=None, **kwargs):  # type: ignore[no-untyped-def]
        def seen(r0: int, r1: int) -> None:
            calls.append((r0, r1))
            on_rows(r0, r1)

        return real(*args, on_rows=seen, **kwargs)

    monkeypatch.setattr(merkle, "product_f32", spy)
    fractions: list[float] = []
    tree = P.commit_root_tree(SEED, n, leaf, workers=2, progress=fractions.append)
    P.clear_workspace()
    assert len(calls) == n // 16 and fractions[-1] == 1.0
    c = P.product(SEED, n)
    assert np.array_equal(np.asarray(tree.nodes), _hashlib_tree(c, leaf, monkeypatch))
    assert tree.root == P.naive_root(c, leaf)


# --- the fallback ----------------------------------------------------------------------------


@pytest.mark.usefixtures("hashlib_only")
def test_fallback_without_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    n, leaf = 256, 4  # 16384 leaves: the forked workers run too
    monkeypatch.setattr(merkle, "_PARALLEL_MIN_LEAVES", 1024)
    c = P.product(SEED, n)
    serial = P.MerkleTree.from_product(c, leaf, workers=1)
    forked = P.MerkleTree.from_product(c.astype(np.float32), leaf, workers=2)
    assert serial.root == forked.root == P.naive_root(c, leaf)
    assert P.commit_root(SEED, n, leaf) == serial.root
    assert P.commit_root(SEED, 1024, 1024) == P.naive_root(P.product(SEED, 1024), 1024)


def test_env_disables_native(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINFI_NATIVE_HASH", "0")
    assert merkle.load_native() is None


@pytest.mark.parametrize("use_native", [True, False])
def test_vectors_still_match(monkeypatch: pytest.MonkeyPatch, use_native: bool) -> None:
    """docs/vectors.json roots and leaf hashes, with and without the extension."""
    if use_native and native is None:
        pytest.skip("native hasher not built")
    monkeypatch.setattr(merkle, "_native", native if use_native else None)
    published = json.loads(VECTORS.read_text())
    s = bytes.fromhex(published["s"][2:])
    for mat in published["matrices"]:
        n = mat["n"]
        tree = P.MerkleTree.from_product(P.product(s, n), published["leaf"], workers=2)
        assert "0x" + tree.root.hex() == mat["root"]
        assert "0x" + tree.node(0, 0).hex() == mat["leaf0_hash"]
        assert P.commit_root(s, n, published["leaf"]) == tree.root


@needs_native
def test_hasher_names_the_backend() -> None:
    assert native is not None
    assert merkle.hasher() == f"native/{native.backend()}"
    assert native.backend() in ("sha-ni", "portable")
