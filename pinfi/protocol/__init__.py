"""PinFi protocol math: the single Python source of truth mirrored by the contracts.

Bit for bit the encodings of docs/protocol.md#encodings-normative (PoCPS) and
docs/protocol.md#dissipative-pool, one module per concern:

* :mod:`~pinfi.protocol.hashing`: keccak256, ABI words, a batched numpy keccak;
* :mod:`~pinfi.protocol.challenge`: epochs, selection, challenge seeds, the matrix generator
  (row/column seeds + splitmix64, 4-bit entries) and the O(n) entry recomputation;
* :mod:`~pinfi.protocol.matmul`: the exact product ``C = A @ B`` (fp32 BLAS in row blocks);
* :mod:`~pinfi.protocol.merkle`: the SHA-256 commitment, stratified samples, openings, checks;
* :mod:`~pinfi.protocol.prbmath`: PRBMath v4 ``UD60x18`` / ``Common`` ports;
* :mod:`~pinfi.protocol.pricing`: the pool's per-epoch price, lease cost and payment split;
* :mod:`~pinfi.protocol.vectors`: the spec's known-answer vectors.

Everything is pure Python + numpy; nothing prints (the package logs at DEBUG level). The names
below are the public surface: ``from pinfi import protocol; protocol.commit_root(...)``.
"""

from __future__ import annotations

from pinfi.protocol.challenge import (
    GOLDEN,
    MASK64,
    SPLITMIX_M1,
    SPLITMIX_M2,
    challenge_seed,
    entry,
    epoch_of,
    epoch_start,
    gen_a,
    gen_b,
    must_open,
    open_draw,
    seeds,
    splitmix64,
)
from pinfi.protocol.errors import PRBMathError, ProtocolError
from pinfi.protocol.hashing import MASK256, keccak, keccak_batch, word
from pinfi.protocol.matmul import clear_workspace, product
from pinfi.protocol.merkle import (
    CHECK_TAG,
    LEAF_PREFIX,
    MAX_SAMPLES,
    NODE_PREFIX,
    MerkleTree,
    build_opening,
    checked_strata,
    commit_root,
    commit_root_tree,
    entry_coords,
    naive_root,
    opened_entry,
    sample_seed,
    samples,
    verify_opening,
    verify_path,
)
from pinfi.protocol.prbmath import (
    common_exp2,
    msb,
    mul_div,
    mul_div18,
    ud_div,
    ud_exp2,
    ud_log2,
    ud_mul,
    ud_pow,
    ud_powu,
)
from pinfi.protocol.pricing import (
    MAX_ALPHA,
    lease_cost,
    lease_cost_decimal,
    marginal_price,
    per_epoch_price,
    split_payment,
)
from pinfi.protocol.vectors import test_vectors
from pinfi.types import BPS, UNIT

__all__ = [
    "BPS",
    "CHECK_TAG",
    "GOLDEN",
    "LEAF_PREFIX",
    "MASK64",
    "MASK256",
    "MAX_ALPHA",
    "MAX_SAMPLES",
    "NODE_PREFIX",
    "SPLITMIX_M1",
    "SPLITMIX_M2",
    "UNIT",
    "MerkleTree",
    "PRBMathError",
    "ProtocolError",
    "build_opening",
    "challenge_seed",
    "checked_strata",
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
    "keccak",
    "keccak_batch",
    "lease_cost",
    "lease_cost_decimal",
    "marginal_price",
    "msb",
    "mul_div",
    "mul_div18",
    "must_open",
    "naive_root",
    "open_draw",
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
