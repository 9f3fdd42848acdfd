"""Epochs, selection, the challenge seed and the matrix generator of a challenge.

The normative definitions are docs/protocol.md#clock, #selection, #challenge-seed,
#row-and-column-seeds and #splitmix64-entries: ``A`` and ``B`` are ``n x n`` matrices of 4-bit
entries, row ``i`` of ``A`` (column ``j`` of ``B``) expanded by splitmix64 from a seed that is
the low 8 bytes of a keccak256 of the challenge seed. :func:`entry` is the O(n) integer
recomputation of one entry of ``C = A @ B`` that the contract does in a dispute.
"""

from __future__ import annotations

import numpy as np

from pinfi.protocol.errors import ProtocolError
from pinfi.protocol.hashing import U64, as_bytes32, keccak, keccak_batch, word
from pinfi.types import BPS

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
"""Counter increment of the matrix generator (the splitmix64 gamma)."""
SPLITMIX_M1 = 0xBF58476D1CE4E5B9
SPLITMIX_M2 = 0x94D049BB133111EB


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


def open_draw(open_seed: bytes, device_id: int) -> int:
    """The per-device opening draw in basis points (docs/protocol.md#selection).

    ``uint256(keccak256(abi.encode(openSeed, deviceId))) % 10_000``: the one uniform draw in
    ``[0, 10_000)`` the verifier compares with ``challengeBps``; kept separate from
    :func:`must_open` so the spec's vector (docs/vectors.json) pins the value itself.
    """
    h = keccak(as_bytes32(open_seed, "open_seed") + word(device_id))
    return int.from_bytes(h, "big") % BPS


def must_open(open_seed: bytes, device_id: int, challenge_bps: int) -> bool:
    """Whether a Sampled device's commitment must be opened (docs/protocol.md#selection).

    ``open_draw(openSeed, deviceId) < challengeBps``, where ``openSeed`` is the hash of the
    epoch's commit deadline block ``epochStart + commitWindow`` (known only once every
    commitment of the epoch is in). Always/forced/owed devices must open whatever the draw.
    """
    return open_draw(open_seed, device_id) < challenge_bps


def challenge_seed(epoch_seed: bytes, device_id: int, epoch: int) -> bytes:
    """Return the challenge seed ``s = keccak256(abi.encode(S_e, deviceId, e))``."""
    return keccak(as_bytes32(epoch_seed, "epoch_seed") + word(device_id) + word(epoch))


# ---------------------------------------------------------------------------------------------
# Matrix generator
# ---------------------------------------------------------------------------------------------


def splitmix64(z: int) -> int:
    """Scalar splitmix64 finalizer, all arithmetic mod 2^64 (the reference definition)."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * SPLITMIX_M1) & MASK64
    z = ((z ^ (z >> 27)) * SPLITMIX_M2) & MASK64
    return z ^ (z >> 31)


def check_n(n: int) -> None:
    """``n`` must be a power of two and a multiple of 16 (16 entries per generated word)."""
    if n < 16 or n % 16 or n & (n - 1):
        raise ProtocolError(f"n must be a power of two and a multiple of 16, got {n}")


def _seed_scalar(s: bytes, tag: bytes, index: int) -> int:
    """Row/column seed: the low 8 bytes of ``keccak256(abi.encodePacked(s, tag, uint256(i)))``."""
    return int.from_bytes(keccak(s + tag + word(index))[-8:], "big")


def seeds(s: bytes, n: int, tag: bytes) -> np.ndarray:
    """Return the ``n`` row (``tag=b"A"``) or column (``tag=b"B"``) seeds as uint64.

    ``seed_i = uint64(uint256(keccak256(abi.encodePacked(s, bytes1(tag), uint256(i)))))``.
    """
    s = as_bytes32(s, "s")
    if len(tag) != 1:
        raise ProtocolError("tag must be one byte")
    msgs = np.zeros((n, 65), np.uint8)
    msgs[:, :32] = np.frombuffer(s, np.uint8)
    msgs[:, 32] = tag[0]
    msgs[:, 57:65] = np.arange(n, dtype=np.uint64).astype(">u8").view(np.uint8).reshape(n, 8)
    digests = keccak_batch(msgs)
    return np.ascontiguousarray(digests[:, 24:32]).view(">u8").reshape(n).astype(np.uint64)


def seed_pair(s: bytes, n: int) -> np.ndarray:
    """Row seeds then column seeds (2n uint64) in one batched keccak."""
    s = as_bytes32(s, "s")
    msgs = np.zeros((2 * n, 65), np.uint8)
    msgs[:, :32] = np.frombuffer(s, np.uint8)
    msgs[:n, 32] = ord("A")
    msgs[n:, 32] = ord("B")
    idx = np.arange(n, dtype=np.uint64).astype(">u8").view(np.uint8).reshape(n, 8)
    msgs[:n, 57:65] = idx
    msgs[n:, 57:65] = idx
    digests = keccak_batch(msgs)
    return np.ascontiguousarray(digests[:, 24:32]).view(">u8").reshape(2 * n).astype(np.uint64)


def words(seed_vec: np.ndarray, n: int) -> np.ndarray:
    """``splitmix64(seed + (w+1)*GOLDEN)`` for every seed and word ``w < n/16``: (len, n/16)."""
    counters = np.arange(1, n // 16 + 1, dtype=np.uint64) * np.uint64(GOLDEN)
    z = seed_vec.astype(np.uint64)[:, None] + counters[None, :]
    z ^= z >> U64[30]
    z *= np.uint64(SPLITMIX_M1)
    z ^= z >> U64[27]
    z *= np.uint64(SPLITMIX_M2)
    z ^= z >> U64[31]
    return z


def nibbles_u8(w: np.ndarray) -> np.ndarray:
    """Unpack words (m, n/16) into their 16 nibbles, low nibble first: (m, n) uint8."""
    # (m, n/2) bytes; byte b of a word holds nibbles 2b (low half) and 2b+1 (high half).
    by = np.ascontiguousarray(w.astype("<u8")).view(np.uint8)
    out = np.empty((by.shape[0], by.shape[1] * 2), np.uint8)
    np.bitwise_and(by, 15, out=out[:, 0::2])
    np.right_shift(by, 4, out=out[:, 1::2])
    return out


def nibbles_f32(w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Like :func:`nibbles_u8` but writes float32 entries (ready for BLAS)."""
    by = np.ascontiguousarray(w.astype("<u8")).view(np.uint8)
    m, half = by.shape
    if out is None:
        out = np.empty((m, half * 2), np.float32)
    np.bitwise_and(by, 15, out=out[:, 0::2], casting="unsafe")
    np.right_shift(by, 4, out=out[:, 1::2], casting="unsafe")
    return out


def gen_a(s: bytes, n: int, rows: slice | None = None) -> np.ndarray:
    """Return A (uint8, n x n) or the row block ``A[rows]``: ``A[i][k]`` from row seed ``r_i``."""
    check_n(n)
    r = seeds(s, n, b"A")
    if rows is not None:
        r = r[rows]
    return nibbles_u8(words(r, n))


def gen_b(s: bytes, n: int) -> np.ndarray:
    """Return B (uint8, n x n) indexed ``B[k][j]``; column ``j`` comes from column seed ``c_j``."""
    check_n(n)
    bt = nibbles_u8(words(seeds(s, n, b"B"), n))  # bt[j][k] = B[k][j]
    return np.ascontiguousarray(bt.T)


def entry(s: bytes, n: int, i: int, j: int) -> int:
    """Return ``C[i][j]`` in O(n) with plain integers: the on-chain recomputation
    (docs/protocol.md#entry-recomputation)."""
    check_n(n)
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
