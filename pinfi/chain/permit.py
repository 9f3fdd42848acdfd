"""EIP-2612 permits: the one typed-data definition of PinToken's ``Permit`` and its signature.

A permit lets ``spender`` take ``value`` of ``owner``'s tokens until ``deadline``; it is signed
off-chain and spent on-chain (``DissipativePool.leaseWithPermit``: a lease in one transaction).
The domain is the token's own: OpenZeppelin's ``ERC20Permit`` (name, version ``"1"``, chain id,
token address; ``eip712Domain()``, EIP-5267, returns it).
"""

from __future__ import annotations

from typing import Any

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

PERMIT_TYPES: dict[str, list[dict[str, str]]] = {
    "Permit": [{"name": "owner", "type": "address"},
               {"name": "spender", "type": "address"},
               {"name": "value", "type": "uint256"},
               {"name": "nonce", "type": "uint256"},
               {"name": "deadline", "type": "uint256"}],
}


def sign_permit(account: LocalAccount, *, name: str, chain_id: int, token: str, spender: str,
                value: int, nonce: int, deadline: int, version: str = "1"
                ) -> tuple[int, bytes, bytes]:
    """``(v, r, s)`` of ``account``'s permit for ``spender`` to take ``value`` until
    ``deadline`` (``nonce``: the token's ``nonces(owner)``)."""
    domain: dict[str, Any] = {"name": name, "version": version, "chainId": int(chain_id),
                              "verifyingContract": to_checksum_address(token)}
    message = {"owner": account.address, "spender": to_checksum_address(spender),
               "value": int(value), "nonce": int(nonce), "deadline": int(deadline)}
    sig = account.sign_message(encode_typed_data(domain, PERMIT_TYPES, message))
    return int(sig.v), int(sig.r).to_bytes(32, "big"), int(sig.s).to_bytes(32, "big")
