"""keccak256 and ABI words: the hash every seed of the protocol is built from.

:func:`keccak` hashes one message (eth-hash); :func:`keccak_batch` is a numpy port of
Keccak-f[1600] that hashes thousands of equal-length one-block messages at once (the row and
column seeds of a challenge, docs/protocol.md#row-and-column-seeds).
"""

from __future__ import annotations

import numpy as np
from eth_hash.auto import keccak as _eth_keccak

from pinfi.protocol.errors import ProtocolError

MASK256 = (1 << 256) - 1


def keccak(data: bytes) -> bytes:
    """Return keccak256(data) (Ethereum's Keccak, not NIST SHA3-256)."""
    return _eth_keccak(data)


def word(x: int) -> bytes:
    """Return ``x`` as one ABI word: 32 bytes, big-endian, unsigned."""
    if not 0 <= x <= MASK256:
        raise ProtocolError(f"word out of uint256 range: {x}")
    return x.to_bytes(32, "big")


def as_bytes32(value: bytes, name: str) -> bytes:
    """``value`` as exactly 32 bytes (a hash or a seed), else :class:`ProtocolError`."""
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
U64 = tuple(np.uint64(i) for i in range(65))
"""``np.uint64`` shift amounts 0..64 (numpy shifts need a same-typed operand)."""
_RC64 = tuple(np.uint64(c) for c in _KECCAK_RC)
_KECCAK_CHUNK = 8192


def _keccak_f1600(a: list[np.ndarray]) -> list[np.ndarray]:
    """Keccak-f[1600] on 25 lane vectors (lane ``x + 5*y``), one message per vector element."""
    u = U64
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
