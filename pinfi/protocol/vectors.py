"""The spec's known-answer vectors (docs/protocol.md#test-vectors, docs/vectors.json).

:func:`test_vectors` computes them from this package; the contracts' tests check the same
values on-chain, so the Python mirror, the spec and the contracts agree.
"""

from __future__ import annotations

from pinfi.protocol.challenge import challenge_seed, gen_a, gen_b, open_draw, seeds
from pinfi.protocol.hashing import keccak
from pinfi.protocol.matmul import product
from pinfi.protocol.merkle import MerkleTree, sample_seed, samples
from pinfi.protocol.prbmath import ud_exp2, ud_log2, ud_pow
from pinfi.protocol.pricing import (
    lease_cost,
    lease_cost_decimal,
    per_epoch_price,
    split_payment,
    ud_power,
)
from pinfi.types import UNIT


def test_vectors() -> dict[str, object]:
    """Known-answer vectors for the contracts and docs (plain JSON-able values).

    Seed ``s = keccak256("pinfi-test-vector")``; ``n`` = 16 and 32 with ``L = 16``; samples with
    ``blockhash = keccak256("pinfi-test-block")``; the opening draw with
    ``openSeed = keccak256("pinfi-test-open")``; pricing examples at several alphas.
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
    open_seed = keccak(b"pinfi-test-open")
    out["challenge"] = {
        "epoch_seed": "0x" + epoch_seed.hex(),
        "device_id": 7,
        "epoch": 3,
        "challenge_seed": "0x" + challenge_seed(epoch_seed, 7, 3).hex(),
        "open_seed": "0x" + open_seed.hex(),
        "open_draw": open_draw(open_seed, 7),
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
            "x0": x0, "x1": x1, "p_x0": ud_power(x0, a1), "p_x1": ud_power(x1, a1),
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
