"""The EIP-712 domain and struct plumbing shared by gateway requests and job receipts.

Both are bound to one deployment: ``chainId`` and the ``DissipativePool`` address (the contract
the lease lives in) as ``verifyingContract``, so a signature for one chain or deployment is
worthless on another (docs/delivery.md#auth).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from eth_utils import keccak, to_checksum_address

DOMAIN_NAME = "PinFi Gateway"
DOMAIN_VERSION = "1"


def domain(chain_id: int, pool: str) -> dict[str, Any]:
    return {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": int(chain_id),
            "verifyingContract": to_checksum_address(pool)}


def sign(account: LocalAccount, dom: dict[str, Any], types: dict[str, Any],
         message: dict[str, Any]) -> str:
    signable = encode_typed_data(dom, types, message)
    return "0x" + bytes(account.sign_message(signable).signature).hex()


def recover(dom: dict[str, Any], types: dict[str, Any], message: dict[str, Any],
            signature: str | bytes) -> str:
    """The signer's checksummed address (``ValueError`` on a malformed signature)."""
    signable = encode_typed_data(dom, types, message)
    return str(Account.recover_message(signable, signature=signature))


# ---- the same digest without eth-account's generic typed-data encoder (G2)
# Every request to a gateway is signed by the client and recovered by the gateway; the generic
# encoder costs about 1 ms each way, the digest below a few microseconds (tests/gateway/
# test_eip712.py checks both give the same bytes). Only atomic member types are supported,
# which is all the gateway's structs use.

_DOMAIN_TYPE = keccak(b"EIP712Domain(string name,string version,uint256 chainId,"
                      b"address verifyingContract)")


@lru_cache(maxsize=64)
def domain_separator(chain_id: int, pool: str) -> bytes:
    return bytes(keccak(_DOMAIN_TYPE + keccak(DOMAIN_NAME.encode())
                        + keccak(DOMAIN_VERSION.encode())
                        + abi_encode(["uint256", "address"],
                                     [int(chain_id), to_checksum_address(pool)])))


_INT = re.compile(r"(u?)int(\d*)")
_BYTES_N = re.compile(r"bytes([1-9]|[12]\d|3[012])")
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_coincurve: Any
try:  # a runtime dependency (pyproject); eth-account's path stays as the fallback
    import coincurve as _coincurve
except ImportError:  # pragma: no cover
    _coincurve = None


def _encode_member(typ: str, value: Any) -> bytes:
    """One member's 32-byte EIP-712 encoding (``encodeData``), range-checked like eth-abi."""
    if typ == "string":
        return bytes(keccak(str(value).encode()))
    if typ == "bytes":
        return bytes(keccak(bytes(value)))
    m = _INT.fullmatch(typ)
    if m:
        bits, v = int(m.group(2) or 256), int(value)
        lo, hi = (0, 2**bits) if m.group(1) else (-(2 ** (bits - 1)), 2 ** (bits - 1))
        if not lo <= v < hi:
            raise ValueError(f"{v} out of range for {typ}")
        # uintN two's-complement-free (a uint256 >= 2^255 does not fit a signed 256-bit word)
        return v.to_bytes(32, "big", signed=not m.group(1))
    if typ == "bool":
        return int(bool(value)).to_bytes(32, "big")
    if typ == "address":
        return bytes.fromhex(to_checksum_address(value)[2:]).rjust(32, b"\0")
    if _BYTES_N.fullmatch(typ):
        b = bytes(value)
        if len(b) > int(typ[5:]):
            raise ValueError(f"{len(b)} bytes do not fit {typ}")
        return b.ljust(32, b"\0")
    raise ValueError(f"EIP-712 member type {typ} is not supported by the fast digest")


def _sign_raw(account: LocalAccount, digest: bytes) -> str:
    return "0x" + bytes(account.unsafe_sign_hash(Hash32(digest)).signature).hex()


def _recover_raw(digest: bytes, signature: str | bytes) -> str:
    sig = bytes.fromhex(signature[2:] if signature.startswith("0x") else signature) \
        if isinstance(signature, str) else bytes(signature)
    if _coincurve is not None and len(sig) == 65 and sig[64] in (27, 28) and \
            int.from_bytes(sig[32:64], "big") <= _SECP256K1_N // 2:
        # libsecp256k1 directly (eth-keys' wrapper costs more than the recovery itself), with
        # eth-keys' checks: v in {27, 28}, low s
        pub = _coincurve.PublicKey.from_signature_and_message(
            sig[:64] + bytes([sig[64] - 27]), digest, hasher=None)
        return str(to_checksum_address(keccak(pub.format(compressed=False)[1:])[-20:]))
    return str(Account._recover_hash(digest, signature=sig))


@lru_cache(maxsize=64)
def _type_hash(name: str, fields: tuple[tuple[str, str], ...]) -> bytes:
    return bytes(keccak(f"{name}({','.join(f'{t} {n}' for n, t in fields)})".encode()))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


@dataclass(frozen=True)
class Struct:
    """One EIP-712 struct of the gateway domain, declared once by its type string (as
    docs/delivery.md writes it); its values are read from an object's snake_case attributes
    (``leaseId`` from ``lease_id``), so a request and a receipt share the signing plumbing."""

    name: str
    fields: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, decl: str) -> Struct:
        """``Struct.parse("Request(uint256 leaseId, string method)")``."""
        m = re.fullmatch(r"\s*(\w+)\((.*)\)\s*", decl, re.S)
        if not m:
            raise ValueError(f"not an EIP-712 struct declaration: {decl!r}")
        members = tuple(tuple(member.split()) for member in m.group(2).split(","))
        if any(len(member) != 2 for member in members):
            raise ValueError(f"malformed member in {decl!r}")
        return cls(m.group(1), tuple((name, typ) for typ, name in members))

    @property
    def types(self) -> dict[str, Any]:
        return {self.name: [{"name": name, "type": typ} for name, typ in self.fields]}

    def message(self, obj: Any) -> dict[str, Any]:
        values = {name: getattr(obj, _snake(name)) for name, _ in self.fields}
        return {k: v.value if isinstance(v, Enum) else v for k, v in values.items()}

    @property
    def type_hash(self) -> bytes:
        return _type_hash(self.name, self.fields)

    def digest(self, chain_id: int, pool: str, obj: Any) -> bytes:
        """The EIP-712 digest ``keccak256(0x1901 || domainSeparator || hashStruct(obj))``."""
        msg = self.message(obj)
        data = self.type_hash + b"".join(_encode_member(t, msg[n]) for n, t in self.fields)
        return bytes(keccak(b"\x19\x01" + domain_separator(int(chain_id), str(pool))
                            + keccak(data)))

    def sign(self, account: LocalAccount, chain_id: int, pool: str, obj: Any) -> str:
        return _sign_raw(account, self.digest(chain_id, pool, obj))

    def recover(self, chain_id: int, pool: str, obj: Any, signature: str | bytes) -> str:
        """The signer's checksummed address (``ValueError`` on a malformed signature)."""
        try:
            return _recover_raw(self.digest(chain_id, pool, obj), signature)
        except ValueError:
            raise
        except Exception as err:  # a malformed signature from eth-keys (BadSignature, ...)
            raise ValueError(f"bad signature: {err}") from None
