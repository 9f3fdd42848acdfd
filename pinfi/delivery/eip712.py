"""The EIP-712 domain and struct plumbing shared by gateway requests and job receipts.

Both are bound to one deployment: ``chainId`` and the ``DissipativePool`` address (the contract
the lease lives in) as ``verifyingContract``, so a signature for one chain or deployment is
worthless on another (docs/delivery.md#auth).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

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

    def sign(self, account: LocalAccount, chain_id: int, pool: str, obj: Any) -> str:
        return sign(account, domain(chain_id, pool), self.types, self.message(obj))

    def recover(self, chain_id: int, pool: str, obj: Any, signature: str | bytes) -> str:
        """The signer's checksummed address (``ValueError`` on a malformed signature)."""
        return recover(domain(chain_id, pool), self.types, self.message(obj), signature)
