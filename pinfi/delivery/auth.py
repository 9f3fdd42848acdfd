"""Signed gateway requests: EIP-712, one signature per request (docs/delivery.md#auth).

The client signs ``Request(leaseId, method, path, bodyHash, nonce, expiry)``: the lease it acts
under, the HTTP method, the path with its query string exactly as sent, the SHA-256 of the body,
a random 32-byte nonce and a unix-time expiry. The four values travel in headers
(:data:`HEADERS`). The gateway recovers the signer and checks on-chain that it is the lease's
client; the nonce store refuses a second use within the expiry window, and a far expiry is
refused so the store stays bounded. No session, no token: a stolen request replays nowhere else
(other path, body, lease or chain) and not twice.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount

from . import eip712

LEASE_HEADER = "X-PinFi-Lease"
NONCE_HEADER = "X-PinFi-Nonce"
EXPIRY_HEADER = "X-PinFi-Expiry"
SIGNATURE_HEADER = "X-PinFi-Signature"
HEADERS = (LEASE_HEADER, NONCE_HEADER, EXPIRY_HEADER, SIGNATURE_HEADER)
#: Longest accepted validity of a signed request, seconds (bounds the nonce store).
MAX_VALIDITY_S = 600
#: Clock difference tolerated between client and gateway, seconds.
CLOCK_SKEW_S = 30
#: Default validity the client asks for.
DEFAULT_VALIDITY_S = 120

#: The EIP-712 struct a client signs (docs/delivery.md#auth).
REQUEST = eip712.Struct.parse("Request(uint256 leaseId, string method, string path, "
                              "bytes32 bodyHash, bytes32 nonce, uint64 expiry)")

_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SIG = re.compile(r"^0x[0-9a-fA-F]{130}$")


class AuthError(ValueError):
    """A request whose signature headers are missing or malformed (one line)."""


@dataclass(frozen=True)
class SignedRequest:
    """The signed fields of one request, as the gateway reads them from the headers."""

    lease_id: int
    method: str
    path: str
    body_hash: bytes
    nonce: bytes
    expiry: int
    signature: str

    def signer(self, chain_id: int, pool: str) -> str:
        try:
            return REQUEST.recover(chain_id, pool, self, self.signature)
        except Exception as err:  # eth-keys raises several types for a bad signature
            raise AuthError(f"bad signature: {err}") from None


def parse_lease_id(text: str) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        raise AuthError(f"{LEASE_HEADER} is not an integer") from None
    if not 0 < v < 2**256:
        raise AuthError(f"{LEASE_HEADER} is out of range")
    return v


def from_headers(headers: Any, method: str, path: str, body: bytes = b"",
                 body_hash: bytes | None = None) -> SignedRequest:
    """The signed request of ``headers`` (a case-insensitive mapping) for a request with
    ``body`` (or whose body's SHA-256 will be ``body_hash``: a streamed upload, checked once
    received); :class:`AuthError` when a header is missing or malformed."""
    missing = [h for h in HEADERS if not headers.get(h)]
    if missing:
        raise AuthError(f"unsigned request: missing {', '.join(missing)} (sign it with "
                        "pinfi.delivery.auth.sign_request)")
    lease = parse_lease_id(headers[LEASE_HEADER])
    nonce = headers[NONCE_HEADER]
    if not _HEX32.match(nonce):
        raise AuthError(f"{NONCE_HEADER} must be 0x and 64 hex digits")
    try:
        expiry = int(headers[EXPIRY_HEADER])
    except ValueError:
        raise AuthError(f"{EXPIRY_HEADER} must be a unix time in seconds") from None
    if not 0 <= expiry < 2**64:
        raise AuthError(f"{EXPIRY_HEADER} is out of range")
    sig = headers[SIGNATURE_HEADER]
    if not _SIG.match(sig):
        raise AuthError(f"{SIGNATURE_HEADER} must be a 65-byte 0x-hex signature")
    digest = body_hash if body_hash is not None else hashlib.sha256(body).digest()
    return SignedRequest(lease, method.upper(), path, digest, bytes.fromhex(nonce[2:]), expiry,
                         sig)


def sign_request(account: LocalAccount, chain_id: int, pool: str, lease_id: int, method: str,
                 path: str, body: bytes = b"", validity_s: int = DEFAULT_VALIDITY_S,
                 now: float | None = None, body_hash: bytes | None = None) -> dict[str, str]:
    """The headers that authenticate one request (``path`` with its query string, as sent).
    ``body_hash``: the body's SHA-256 when already known (an upload's declared hash)."""
    nonce = os.urandom(32)
    expiry = int(now if now is not None else time.time()) + int(validity_s)
    digest = body_hash if body_hash is not None else hashlib.sha256(body).digest()
    req = SignedRequest(int(lease_id), method.upper(), path, digest, nonce, expiry, "")
    sig = REQUEST.sign(account, chain_id, pool, req)
    return {LEASE_HEADER: hex(int(lease_id)), NONCE_HEADER: "0x" + nonce.hex(),
            EXPIRY_HEADER: str(expiry), SIGNATURE_HEADER: sig}


def identity_text(chain_id: int, pool: str, challenge: str) -> str:
    """What a gateway's ``/v1/identity`` signs (EIP-191) for a client's challenge: the client
    checks that the signer is the device's operator on-chain, so the URL it found really is
    that device's gateway (docs/delivery.md#discovery)."""
    return (f"PinFi gateway identity\nchain: {int(chain_id)}\npool: {pool.lower()}\n"
            f"challenge: {challenge.lower()}")
