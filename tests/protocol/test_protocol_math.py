"""Pure-Python tests of pinfi.protocol: generator, product, Merkle commitment, pricing.

No chain needed: run with ``pytest -q tests/protocol/test_protocol_math.py -p no:ape``.
"""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinfi import protocol as P
from pinfi.protocol import merkle, prbmath

U = P.UNIT
M64 = 2**64
SEED = P.keccak(b"pinfi-unit-test")
PRB_COMMON = Path(__file__).resolve().parents[2] / "node_modules/@prb/math/src/Common.sol"
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- independent references (written differently from the module on purpose) -----------------


def ref_splitmix(z: int) -> int:
    z %= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % M64
    return (z ^ (z >> 31)) % M64


def ref_seed(s: bytes, tag: bytes, i: int) -> int:
    from eth_abi.packed import encode_packed

    packed = encode_packed(["bytes32", "bytes1", "uint256"], [s, tag, i])
    assert len(packed) == 65
    return int.from_bytes(P.keccak(packed), "big") % M64


def ref_a(s: bytes, i: int, k: int) -> int:
    word = ref_splitmix(ref_seed(s, b"A", i) + (k // 16 + 1) * 0x9E3779B97F4A7C15)
    return (word >> (4 * (k % 16))) & 0xF


def ref_b(s: bytes, k: int, j: int) -> int:
    word = ref_splitmix(ref_seed(s, b"B", j) + (k // 16 + 1) * 0x9E3779B97F4A7C15)
    return (word >> (4 * (k % 16))) & 0xF


def naive_root(c: np.ndarray, leaf: int) -> bytes:
    """Recursive Merkle root straight from the definition."""
    import hashlib

    data = b"".join(int(v).to_bytes(4, "big") for v in c.reshape(-1))
    leaves = [data[i : i + 4 * leaf] for i in range(0, len(data), 4 * leaf)]

    def rec(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return hashlib.sha256(b"\x00" + leaves[lo]).digest()
        mid = (lo + hi) // 2
        return hashlib.sha256(b"\x01" + rec(lo, mid) + rec(mid, hi)).digest()

    return rec(0, len(leaves))


# --- words, epochs, selection -----------------------------------------------------------------


def test_word_and_keccak() -> None:
    assert P.word(1) == b"\x00" * 31 + b"\x01"
    assert P.word(2**256 - 1) == b"\xff" * 32
    with pytest.raises(P.ProtocolError):
        P.word(2**256)
    with pytest.raises(P.ProtocolError):
        P.word(-1)
    assert P.keccak(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )


def test_keccak_batch_matches_scalar() -> None:
    rng = np.random.default_rng(5)
    for length in (0, 1, 32, 65, 100, 135):
        msgs = rng.integers(0, 256, (37, length), dtype=np.uint8)
        got = P.keccak_batch(msgs)
        for row in range(37):
            assert bytes(got[row]) == P.keccak(bytes(msgs[row])), length
    with pytest.raises(P.ProtocolError):
        P.keccak_batch(np.zeros((2, 136), np.uint8))


def test_epochs() -> None:
    assert P.epoch_of(100, 100, 10) == 0
    assert P.epoch_of(119, 100, 10) == 1
    assert P.epoch_start(2, 100, 10) == 120
    assert P.epoch_of(P.epoch_start(7, 5, 13), 5, 13) == 7
    with pytest.raises(P.ProtocolError):
        P.epoch_of(99, 100, 10)


def test_opening_draw_and_challenge_seed_match_abi_encode() -> None:
    """The v2 opening draw is ``uint256(keccak256(abi.encode(openSeed, deviceId))) % 10_000``
    compared with ``challengeBps`` (docs/protocol.md#selection), per device."""
    from eth_abi import encode

    s_e = P.keccak(b"epoch")
    open_seed = P.keccak(b"deadline block")
    for device_id in (0, 1, 7, 2**64):
        h = P.keccak(encode(["bytes32", "uint256"], [open_seed, device_id]))
        value = int.from_bytes(h, "big") % 10_000
        assert P.open_draw(open_seed, device_id) == value
        assert P.must_open(open_seed, device_id, value + 1)
        assert not P.must_open(open_seed, device_id, value)
        assert P.must_open(open_seed, device_id, 10_000)
        assert not P.must_open(open_seed, device_id, 0)
    with pytest.raises(P.ProtocolError):
        P.open_draw(b"short", 1)
    vec = P.test_vectors()["challenge"]  # type: ignore[index]
    assert vec["open_draw"] == P.open_draw(bytes.fromhex(vec["open_seed"][2:]), vec["device_id"])
    expected = P.keccak(encode(["bytes32", "uint256", "uint256"], [s_e, 42, 9]))
    assert P.challenge_seed(s_e, 42, 9) == expected


# --- generator and product --------------------------------------------------------------------


def test_splitmix64_known_values() -> None:
    # SplitMix64 seeded with 0: output t is the finalizer of t * gamma.
    gamma = 0x9E3779B97F4A7C15
    assert P.splitmix64(gamma) == 0xE220A8397B1DCDAF
    assert P.splitmix64(2 * gamma % M64) == 0x6E789E6AA1B965F4
    assert P.splitmix64(3 * gamma % M64) == 0x06C45D188009454F
    rnd = random.Random(1)
    for z in [0, 1, M64 - 1, 2**63, *[rnd.getrandbits(64) for _ in range(200)]]:
        assert P.splitmix64(z) == ref_splitmix(z)


def test_seeds_match_encode_packed() -> None:
    for tag in (b"A", b"B"):
        vec = P.seeds(SEED, 64, tag)
        assert vec.dtype == np.uint64
        for i in (0, 1, 17, 63):
            assert int(vec[i]) == ref_seed(SEED, tag, i)


@pytest.mark.parametrize("n", [16, 64, 128])
def test_generator_matches_scalar_definition(n: int) -> None:
    a = P.gen_a(SEED, n)
    b = P.gen_b(SEED, n)
    assert a.shape == b.shape == (n, n) and a.dtype == b.dtype == np.uint8
    assert a.max() <= 15 and b.max() <= 15
    rnd = random.Random(n)
    for _ in range(60):
        i, k = rnd.randrange(n), rnd.randrange(n)
        assert a[i, k] == ref_a(SEED, i, k)
        assert b[k, i] == ref_b(SEED, k, i)
    blk = P.gen_a(SEED, n, slice(n // 2, n))
    assert np.array_equal(blk, a[n // 2 :])


@pytest.mark.parametrize("n", [64, 256])
def test_entry_equals_product(n: int) -> None:
    c = P.product(SEED, n)
    assert c.dtype == np.uint32 and c.shape == (n, n)
    exact = P.gen_a(SEED, n).astype(np.int64) @ P.gen_b(SEED, n).astype(np.int64)
    assert np.array_equal(c, exact)
    rnd = random.Random(n)
    for i, j in [(0, 0), (n - 1, n - 1), *[(rnd.randrange(n), rnd.randrange(n)) for _ in range(6)]]:
        assert P.entry(SEED, n, i, j) == int(c[i, j])


def test_entry_equals_product_1024() -> None:
    n = 1024
    fractions: list[float] = []
    c = P.product(SEED, n, progress=fractions.append)
    assert fractions and fractions[-1] == 1.0
    for i, j in [(0, 0), (1023, 1023), (517, 3)]:
        assert P.entry(SEED, n, i, j) == int(c[i, j])


def test_bad_sizes_rejected() -> None:
    for n in (8, 48, 100):
        with pytest.raises(P.ProtocolError):
            P.gen_a(SEED, n)


# --- Merkle commitment ------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "leaf"), [(16, 16), (32, 16), (64, 1), (64, 4), (64, 64)])
def test_merkle_root_matches_naive(n: int, leaf: int) -> None:
    c = P.product(SEED, n)
    tree = P.MerkleTree.from_product(c, leaf)
    assert tree.n_leaves == n * n // leaf
    assert tree.root == naive_root(c, leaf)
    assert P.commit_root(SEED, n, leaf) == tree.root


def test_merkle_parallel_matches_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(merkle, "_PARALLEL_MIN_LEAVES", 1024)  # fork even for this small tree
    n, leaf = 256, 4  # 16384 leaves
    c = P.product(SEED, n)
    serial = P.MerkleTree.from_product(c, leaf, workers=1)
    parallel = P.MerkleTree.from_product(c, leaf, workers=2)
    four = P.MerkleTree.from_product(c.astype(np.float32), leaf, workers=4)
    assert serial.root == parallel.root == four.root
    assert np.array_equal(np.asarray(serial.nodes), np.asarray(parallel.nodes))
    assert serial.root == naive_root(c, leaf)


def test_merkle_worker_failure_is_redone(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setattr(merkle, "_PARALLEL_MIN_LEAVES", 1024)
    c = P.product(SEED, 256)
    expected = P.MerkleTree.from_product(c, 4, workers=1).root
    parent = os.getpid()
    real = merkle._build_range

    def flaky(*args):  # type: ignore[no-untyped-def]
        if os.getpid() != parent:
            os._exit(3)  # a worker dies without writing its subtree
        real(*args)

    monkeypatch.setattr(merkle, "_build_range", flaky)
    assert P.MerkleTree.from_product(c, 4, workers=2).root == expected


def test_paths_and_save_load(tmp_path: Path) -> None:
    n, leaf = 64, 8
    tree = P.MerkleTree.from_product(P.product(SEED, n), leaf)
    for index in (0, 1, 255, 511):
        leaf_bytes = tree.leaf_bytes(index)
        assert len(leaf_bytes) == 4 * leaf
        path = tree.path(index)
        assert len(path) == tree.depth == 9
        assert P.verify_path(tree.root, index, leaf_bytes, path)
        assert not P.verify_path(tree.root, index ^ 1, leaf_bytes, path)
        bad = bytearray(leaf_bytes)
        bad[0] ^= 1
        assert not P.verify_path(tree.root, index, bytes(bad), path)
        assert not P.verify_path(tree.root, index, leaf_bytes, path[:-1])
    tree.save(tmp_path / "t")
    loaded = P.MerkleTree.load(tmp_path / "t")
    assert loaded.root == tree.root
    assert loaded.leaf_bytes(77) == tree.leaf_bytes(77)
    assert loaded.path(300) == tree.path(300)


# --- sampling and openings --------------------------------------------------------------------


@given(st.binary(min_size=32, max_size=32), st.integers(0, 10), st.integers(0, 6))
@FAST
def test_samples_stratified(sseed: bytes, log_n: int, log_k: int) -> None:
    n_leaves = 1 << (log_n + 6)
    k = 1 << log_k
    leaf = 32
    got = P.samples(sseed, n_leaves, k, leaf)
    assert len(got) == k
    stratum = n_leaves // k
    idx = [li for li, _ in got]
    assert idx == sorted(idx) and len(set(idx)) == k
    for q, (li, ei) in enumerate(got):
        assert q * stratum <= li < (q + 1) * stratum
        assert 0 <= ei < leaf
        h = int.from_bytes(P.keccak(sseed + q.to_bytes(32, "big")), "big")
        assert li == q * stratum + h % stratum and ei == (h >> 128) % leaf


def test_samples_reject_bad_k() -> None:
    s = P.keccak(b"x")
    for k in (0, 3, 128):
        with pytest.raises(P.ProtocolError):
            P.samples(s, 1024, k, 32)
    with pytest.raises(P.ProtocolError):
        P.samples(s, 8, 16, 32)


@pytest.fixture(scope="module")
def opened() -> tuple[P.MerkleTree, list[tuple[int, int]], bytes, list[bytes], int]:
    n, leaf, k = 64, 4, 16
    tree = P.commit_root_tree(SEED, n, leaf)
    sseed = P.sample_seed(P.keccak(b"blockhash"), tree.root)
    smp = P.samples(sseed, tree.n_leaves, k, leaf)
    leaves, proof = P.build_opening(tree, smp)
    return tree, smp, leaves, proof, k


def test_opening_verifies_and_entries_match(opened) -> None:  # type: ignore[no-untyped-def]
    tree, smp, leaves, proof, k = opened
    leaf, n = tree.leaf_size, 64
    d = (tree.n_leaves // k).bit_length() - 1
    assert len(leaves) == k * 4 * leaf and len(proof) == k * d
    assert P.verify_opening(tree.root, tree.n_leaves, k, leaf, smp, leaves, proof)
    for q, (li, ei) in enumerate(smp):
        i, j = P.entry_coords(li, ei, leaf, n)
        assert P.opened_entry(leaves, leaf, q, ei) == P.entry(SEED, n, i, j)


def test_opening_rejects_tampering(opened) -> None:  # type: ignore[no-untyped-def]
    tree, smp, leaves, proof, k = opened
    args = (tree.root, tree.n_leaves, k, tree.leaf_size)
    for pos in (0, len(leaves) // 2, len(leaves) - 1):
        bad = bytearray(leaves)
        bad[pos] ^= 0x01
        assert not P.verify_opening(*args, smp, bytes(bad), proof)
    for pos in (0, len(proof) // 2, len(proof) - 1):
        bad_proof = list(proof)
        node = bytearray(bad_proof[pos])
        node[5] ^= 0x80
        bad_proof[pos] = bytes(node)
        assert not P.verify_opening(*args, smp, leaves, bad_proof)
    moved = list(smp)
    li, ei = moved[3]
    moved[3] = (li ^ 1, ei)
    assert not P.verify_opening(*args, moved, leaves, proof)
    outside = list(smp)
    outside[3] = (smp[4][0], ei)
    assert not P.verify_opening(*args, outside, leaves, proof)
    assert not P.verify_opening(P.keccak(b"other root"), *args[1:], smp, leaves, proof)
    assert not P.verify_opening(*args, smp, leaves[:-1], proof)
    assert not P.verify_opening(*args, smp, leaves, proof[:-1])
    assert not P.verify_opening(
        tree.root, tree.n_leaves, k // 2, tree.leaf_size, smp, leaves, proof
    )


def test_opening_edge_k() -> None:
    tree = P.commit_root_tree(SEED, 16, 16)  # 16 leaves
    for k in (1, 2, 16):
        smp = P.samples(P.keccak(b"b"), tree.n_leaves, k, 16)
        leaves, proof = P.build_opening(tree, smp)
        assert P.verify_opening(tree.root, tree.n_leaves, k, 16, smp, leaves, proof)


# --- PRBMath ports ----------------------------------------------------------------------------


def test_exp2_factors_match_prbmath_source() -> None:
    if not PRB_COMMON.exists():
        pytest.skip("node_modules/@prb/math not installed")
    src = PRB_COMMON.read_text()
    body = src[src.index("function exp2(") : src.index("function msb(")]
    factors = [int(h, 16) for h in re.findall(r"result \* (0x[0-9A-Fa-f]+)\)", body)]
    masks = [int(h, 16) for h in re.findall(r"if \(x & (0x[0-9A-Fa-f]+) > 0\) \{\s*result", body)]
    assert factors == list(prbmath._EXP2_FACTORS)
    assert masks == [1 << (63 - b) for b in range(64)]


def test_prbmath_special_cases() -> None:
    assert P.ud_pow(0, 0) == U and P.ud_pow(0, 5) == 0
    assert P.ud_pow(U, 7 * U) == U and P.ud_pow(5 * U, 0) == U and P.ud_pow(123, U) == 123
    assert P.ud_powu(0, 0) == U and P.ud_powu(3 * U, 4) == 81 * U and P.ud_powu(0, 3) == 0
    assert P.ud_log2(U) == 0 and P.ud_log2(2 * U) == U and P.ud_log2(1024 * U) == 10 * U
    assert P.ud_exp2(0) == U and P.ud_exp2(U) == 2 * U and P.ud_exp2(10 * U) == 1024 * U
    assert P.ud_mul(3 * U, U // 2) == 3 * U // 2 and P.ud_div(U, 3 * U) == 333333333333333333
    assert P.mul_div(2**255, 4, 8) == 2**254
    assert P.msb(1) == 0 and P.msb(2**255) == 255
    with pytest.raises(P.PRBMathError):
        P.ud_log2(U - 1)
    with pytest.raises(P.PRBMathError):
        P.ud_exp2(192 * U)
    with pytest.raises(P.PRBMathError):
        P.mul_div(2**255, 4, 1)
    with pytest.raises(P.PRBMathError):
        P.mul_div(1, 1, 0)
    with pytest.raises(P.PRBMathError):
        P.mul_div18(2**255, 2**255)


def _dec(x: int) -> Decimal:
    return Decimal(x) / Decimal(U)


@given(st.integers(U, 10**40))
@FAST
def test_log2_close_to_decimal(x: int) -> None:
    with localcontext() as ctx:
        ctx.prec = 60
        exact = _dec(x).ln() / Decimal(2).ln()
        got = _dec(P.ud_log2(x))
        assert got <= exact + Decimal("1e-30")  # truncating approximation
        assert exact - got < Decimal("1e-16")


@given(st.integers(0, 192 * U - 1))
@FAST
def test_exp2_close_to_decimal(x: int) -> None:
    with localcontext() as ctx:
        ctx.prec = 80
        exact = Decimal(2) ** _dec(x)
        got = _dec(P.ud_exp2(x))
        assert abs(got - exact) <= exact * Decimal("1e-17") + Decimal("1e-18")


@given(st.integers(1, 1000 * U), st.integers(1, 5 * U))
@FAST
def test_pow_close_to_decimal(x: int, y: int) -> None:
    with localcontext() as ctx:
        ctx.prec = 80
        exact = _dec(x) ** _dec(y)
        if x != U and abs(exact.ln() / Decimal(2).ln()) > 191:  # beyond exp2's input range
            big = P.ud_log2(max(x, 10**36 // x)) * y // U > 192 * U - 1
            if big:
                with pytest.raises(P.PRBMathError):
                    P.ud_pow(x, y)
            return
        got = _dec(P.ud_pow(x, y))
        # x >= 1: relative error from log2's 1e-17 absolute error times y; x < 1: plus the
        # truncation of 1e36/x and of the final 1e36/w (one ulp).
        rel = Decimal("1e-16") * (1 + _dec(y)) + Decimal(y) / Decimal(x) * Decimal("1e-18")
        bound = exact * rel
        assert abs(got - exact) <= bound + Decimal("2e-18")


@given(st.integers(0, 10**6 * U), st.integers(0, 6))
@FAST
def test_powu_matches_repeated_mul(x: int, y: int) -> None:
    expected = U
    for _ in range(y):
        expected = expected * x // U
    got = P.ud_powu(x, y)
    if y <= 2:
        assert got == expected
    else:  # squaring rounds at different steps: a few ulps relative
        assert abs(got - expected) <= expected * 10**-15 + y


# --- pricing ----------------------------------------------------------------------------------

alphas = st.one_of(
    st.sampled_from([10**12, 10**15, 10**17, U // 2, U, 3 * U // 2, 2 * U, 3 * U, 4 * U]),
    st.integers(10**12, 4 * U),
)
supplies = st.integers(1, 100_000)
prices = st.integers(0, 10**24)


@given(prices, prices, alphas, supplies, st.data())
@FAST
def test_lease_cost_monotone_in_demand(p_floor: int, p0: int, alpha: int, r: int, data) -> None:  # type: ignore[no-untyped-def]
    if r < 2:
        return
    d = data.draw(st.integers(0, r - 2))
    assert P.per_epoch_price(p_floor, p0, alpha, d, r) <= P.per_epoch_price(
        p_floor, p0, alpha, d + 1, r
    )


@given(prices, prices, alphas, supplies, st.data(), st.integers(1, 10_000))
@FAST
def test_lease_cost_monotone_in_epochs(p_floor, p0, alpha, r, data, m) -> None:  # type: ignore[no-untyped-def]
    d = data.draw(st.integers(0, r - 1))
    c1 = P.lease_cost(p_floor, p0, alpha, d, r, m)
    c2 = P.lease_cost(p_floor, p0, alpha, d, r, m + 1)
    assert c1 <= c2 and c1 == m * P.per_epoch_price(p_floor, p0, alpha, d, r)


@given(prices, prices, alphas, supplies, st.data(), st.integers(1, 10_000))
@FAST
def test_lease_cost_close_to_decimal(p_floor, p0, alpha, r, data, m) -> None:  # type: ignore[no-untyped-def]
    d = data.draw(st.integers(0, r - 1))
    cost = P.lease_cost(p_floor, p0, alpha, d, r, m)
    exact = P.lease_cost_decimal(p_floor, p0, alpha, d, r, m)
    # Error per epoch: < 1 unit from the final floor, plus PRBMath's pow error, which is at most
    # about 10 * P0 * R * 1e-18 (measured; bound with margin).
    per_epoch_bound = 1 + Decimal(64) * p0 * r / U
    assert abs(Decimal(cost) - exact) <= m * per_epoch_bound
    if exact > 0 and m * per_epoch_bound <= exact * Decimal("1e-12"):
        assert abs(Decimal(cost) - exact) / exact < Decimal("1e-12")


@given(
    st.integers(10**15, 10**20),
    st.integers(10**16, 10**22),
    alphas,
    st.integers(2, 1000),
    st.data(),
    st.integers(1, 100),
)
@FAST
def test_lease_cost_relative_error_realistic(p_floor, p0, alpha, r, data, m) -> None:  # type: ignore[no-untyped-def]
    """Token-sized prices (>= 0.001 token) and R <= 1000: relative error below 1e-12."""
    d = data.draw(st.integers(0, r - 1))
    cost = P.lease_cost(p_floor, p0, alpha, d, r, m)
    exact = P.lease_cost_decimal(p_floor, p0, alpha, d, r, m)
    if p0 * r < p_floor * 10**4:
        assert abs(Decimal(cost) - exact) / exact < Decimal("1e-12")


def test_pricing_examples_and_split() -> None:
    # alpha = 1: per-epoch = pFloor + P0*R/2*(((D+1)/R)^2 - (D/R)^2) = pFloor + P0*(2D+1)/(2R)
    for d in range(10):
        assert P.per_epoch_price(10**15, 10**18, U, d, 10) == 10**15 + 10**18 * (2 * d + 1) // 20
    assert P.lease_cost(10**15, 10**18, U, 0, 10, 3) == 3 * (10**15 + 5 * 10**16)
    assert P.split_payment(1000, 2500) == (250, 750)
    assert P.split_payment(999, 3333) == (332, 667)
    assert P.marginal_price(10, 100, U, 0.5) == pytest.approx(60.0)
    assert P.marginal_price(10, 100, 2 * U, 0.5) == pytest.approx(35.0)
    for bad in [(0, 1, 0, 0, 1), (0, 1, 4 * U + 1, 0, 1), (0, 1, U, 1, 1), (0, 1, U, -1, 1)]:
        with pytest.raises(P.ProtocolError):
            P.per_epoch_price(*bad)
    with pytest.raises(P.ProtocolError):
        P.lease_cost(0, 1, U, 0, 1, 0)


def test_decimal_reference_is_the_integral() -> None:
    """m * integral_D^{D+1} P(x/R) dx, checked by a fine midpoint rule."""
    p_floor, p0, alpha, d, r, m = 10**15, 10**18, 3 * U // 2, 4, 10, 2
    steps = 20_000
    a = 1.5
    integral = sum(p_floor + p0 * ((d + (t + 0.5) / steps) / r) ** a for t in range(steps)) / steps
    assert float(P.lease_cost_decimal(p_floor, p0, alpha, d, r, m)) == pytest.approx(
        m * integral, rel=1e-8
    )


# --- published vectors ------------------------------------------------------------------------


def test_vectors_are_consistent() -> None:
    vec = P.test_vectors()
    json.dumps(vec)
    s = bytes.fromhex(str(vec["s"])[2:])
    assert s == P.keccak(b"pinfi-test-vector")
    for m in vec["matrices"]:  # type: ignore[attr-defined]
        n = m["n"]
        c = P.product(s, n)
        assert m["root"] == "0x" + naive_root(c, 16).hex()
        assert m["A_row0"] == [ref_a(s, 0, k) for k in range(n)]
        assert m["B_col0"] == [ref_b(s, k, 0) for k in range(n)]
        for e in m["C"]:
            assert e["value"] == P.entry(s, n, e["i"], e["j"])
    for p in vec["pricing"]:  # type: ignore[attr-defined]
        assert p["burn"] + p["escrow"] == p["cost"]
        assert abs(Decimal(p["cost"]) - Decimal(p["cost_decimal"])) <= p["epochs"] * (
            1 + Decimal(64) * p["p0"] * p["r"] / U
        )


def test_vectors_match_the_published_file() -> None:
    """docs/vectors.json holds exactly what ``python -m pinfi.protocol`` prints (plus extras)."""
    published = json.loads((Path(__file__).resolve().parents[2] / "docs/vectors.json").read_text())
    vec = json.loads(json.dumps(P.test_vectors()))
    assert {k: published[k] for k in vec} == vec


def test_product_starts_nothing_at_import() -> None:
    """The product's threads and scratch are created on first use, not when imported."""
    import subprocess
    import sys

    code = ("import threading; from pinfi import protocol; from pinfi.protocol import matmul;"
            "assert matmul._engine is None and threading.active_count() == 1;"
            "protocol.product(protocol.keccak(b'x'), 128);"
            "assert matmul._engine is not None; protocol.clear_workspace()")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
