"""``pinfi fund``: give a new operator or client PIN and ETH on a local chain (docs/funding.md).

The PIN comes from a funded account: ``--from-keystore`` / ``$PINFI_FUNDER_KEY``, else, on a
local dev chain (Anvil or Hardhat, chain id 31337 or 1337), Anvil's first well-known test account
(the deployer of the README tour and of ``make demo``, which holds the genesis PIN). ETH is sent
from the same account. On any other chain the funder must be given explicitly: nobody should
sign mainnet transfers with a key published in every Foundry manual.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address

from pinfi import chain as ch

#: Anvil's (and Hardhat's) first test account: mnemonic "test test ... junk", index 0. Public.
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_CHAIN_IDS = (31337, 1337)


class FundError(Exception):
    """One line: why funding cannot go ahead."""


@dataclass(frozen=True)
class Funded:
    to: str
    pin_wei: int
    eth_wei: int
    txs: list[str]


def funder_account(chain_id: int, explicit: LocalAccount | None) -> LocalAccount:
    if explicit is not None:
        return explicit
    env = os.environ.get("PINFI_FUNDER_KEY")
    if env:
        try:
            acct: LocalAccount = Account.from_key(env.strip())
        except (ValueError, TypeError):
            raise FundError("$PINFI_FUNDER_KEY is not a 32-byte hex private key") from None
        return acct
    if chain_id in DEV_CHAIN_IDS:
        dev: LocalAccount = Account.from_key(ANVIL_DEV_KEY)
        return dev
    raise FundError(f"chain {chain_id} is not a local dev chain: pass --from-keystore or set "
                    "$PINFI_FUNDER_KEY (see docs/funding.md for testnets)")


def _send(w3: Any, acct: LocalAccount, tx: dict[str, Any], timeout: float) -> str:
    tx = {**tx, "from": acct.address, "chainId": int(w3.eth.chain_id),
          "nonce": w3.eth.get_transaction_count(acct.address, "pending")}
    tx.setdefault("gas", w3.eth.estimate_gas(tx))
    base = int(w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
    tip = ch.GWEI
    tx.update(maxPriorityFeePerGas=tip, maxFeePerGas=2 * base + tip)
    signed = acct.sign_transaction(tx)
    h = w3.eth.send_raw_transaction(signed.raw_transaction)
    rc = w3.eth.wait_for_transaction_receipt(h, timeout=timeout)
    if int(rc["status"]) != 1:
        raise FundError(f"transfer {h.hex()} reverted")
    return "0x" + bytes(h).hex()


def fund(contracts: ch.Contracts, funder: LocalAccount, to: str, pin_wei: int, eth_wei: int,
         timeout: float = 120.0) -> Funded:
    """Send ``eth_wei`` and ``pin_wei`` from ``funder`` to ``to``; checks balances first so a
    short funder fails with one line and nothing sent."""
    if not is_address(to):
        raise FundError(f"{to!r} is not an address")
    if pin_wei < 0 or eth_wei < 0:
        raise FundError("amounts must be >= 0")
    to = to_checksum_address(to)
    w3 = contracts.w3
    token = contracts.token
    pin_have = int(ch.call(token.functions.balanceOf(funder.address)))
    if pin_have < pin_wei:
        raise FundError(f"funder {funder.address} holds {pin_have / 10**18:g} PIN, "
                        f"{pin_wei / 10**18:g} asked")
    eth_have = int(w3.eth.get_balance(funder.address))
    if eth_have < eth_wei:
        raise FundError(f"funder {funder.address} holds {eth_have / 10**18:g} ETH, "
                        f"{eth_wei / 10**18:g} asked")
    txs = []
    if eth_wei:
        txs.append(_send(w3, funder, {"to": to, "value": eth_wei}, timeout))
    if pin_wei:
        data = token.encode_abi("transfer", args=[to, pin_wei])
        txs.append(_send(w3, funder, {"to": token.address, "data": data, "value": 0}, timeout))
    return Funded(to, pin_wei, eth_wei, txs)
