"""The EIP-712 domain shared by gateway requests and job receipts.

Both are bound to one deployment: ``chainId`` and the ``DissipativePool`` address (the contract
the lease lives in) as ``verifyingContract``, so a signature for one chain or deployment is
worthless on another (docs/delivery.md#auth).
"""

from __future__ import annotations

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
