"""The fast EIP-712 digest of gateway requests and receipts equals eth-account's generic
typed-data encoding, so signatures made either way verify either way."""

from __future__ import annotations

import os

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st

from pinfi.delivery import auth as da
from pinfi.delivery import eip712
from pinfi.delivery.receipt import RECEIPT

POOL = "0x" + "ab" * 20


def generic_digest(struct: eip712.Struct, chain_id: int, obj: object) -> bytes:
    signable = encode_typed_data(eip712.domain(chain_id, POOL), struct.types, struct.message(obj))
    return bytes(_hash_eip191_message(signable))


@settings(max_examples=40, deadline=None)
@given(lease=st.integers(0, 2**256 - 1), method=st.sampled_from(["GET", "POST", "PUT"]),
       path=st.text(max_size=80), body=st.binary(max_size=64),
       expiry=st.integers(0, 2**64 - 1), chain_id=st.integers(1, 2**40))
def test_request_digest_matches_eth_account(lease, method, path, body, expiry, chain_id):
    import hashlib

    req = da.SignedRequest(lease, method, path, hashlib.sha256(body).digest(), os.urandom(32),
                           expiry, "")
    assert da.REQUEST.digest(chain_id, POOL, req) == generic_digest(da.REQUEST, chain_id, req)


@settings(max_examples=20, deadline=None)
@given(exit_code=st.integers(-(2**31), 2**31 - 1), phase=st.integers(0, 1),
       reason=st.integers(0, 8), blocks=st.tuples(st.integers(0, 2**64 - 1),
                                                  st.integers(0, 2**64 - 1)))
def test_receipt_digest_matches_eth_account(exit_code, phase, reason, blocks):
    class R:
        lease_id = 5 << 64 | 3
        job_id = os.urandom(32)
        manifest_hash = os.urandom(32)
        inputs_hash = os.urandom(32)
        outputs_hash = os.urandom(32)
        end_reason = reason
        start_block, end_block = blocks

    r = R()
    r.exit_code, r.phase = exit_code, phase  # type: ignore[attr-defined]
    assert RECEIPT.digest(31337, POOL, r) == generic_digest(RECEIPT, 31337, r)


def test_fast_and_generic_signatures_interoperate():
    acct = Account.create()
    req = da.SignedRequest(7 << 64 | 1, "GET", "/v1/service/x?q=1", b"\0" * 32, os.urandom(32),
                           1_900_000_000, "")
    generic = eip712.sign(acct, eip712.domain(1, POOL), da.REQUEST.types,
                          da.REQUEST.message(req))
    assert da.REQUEST.recover(1, POOL, req, generic) == acct.address
    fast = da.REQUEST.sign(acct, 1, POOL, req)
    assert eip712.recover(eip712.domain(1, POOL), da.REQUEST.types, da.REQUEST.message(req),
                          fast) == acct.address


def test_malformed_signatures_are_refused_as_eth_account_does():
    """A bad v and a short signature raise (the gateway: 401). The high-s twin of a valid
    signature recovers the same signer, as with eth-account (the fast path hands it over): no
    harm, a request's replay key is its signed nonce, not its signature bytes."""
    import pytest

    acct = Account.create()
    req = da.SignedRequest(7 << 64 | 1, "GET", "/v1/x", b"\0" * 32, os.urandom(32), 1, "")
    sig = bytes.fromhex(da.REQUEST.sign(acct, 1, POOL, req)[2:])
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(sig[32:64], "big")
    twin = sig[:32] + (n - s).to_bytes(32, "big") + bytes([55 - sig[64]])
    assert da.REQUEST.recover(1, POOL, req, "0x" + twin.hex()) == acct.address
    for bad in (sig[:64] + b"\x05", sig[:64]):
        with pytest.raises(ValueError):
            da.REQUEST.recover(1, POOL, req, "0x" + bad.hex())
