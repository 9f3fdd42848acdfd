"""Connection: an HTTP ``Web3`` with one-line errors, RPC retries with backoff, and calls whose
reverts come back decoded."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import requests
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.types import BlockIdentifier, TxParams

from .errors import ChainError, RpcUnavailable
from .revert import REVERTS, explain

T = TypeVar("T")

TRANSIENT = (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError, OSError)


def is_transient(exc: BaseException) -> bool:
    """A connection problem worth retrying (never a revert)."""
    if isinstance(exc, REVERTS):
        return False
    if isinstance(exc, TRANSIENT):
        return True
    if isinstance(exc, requests.HTTPError):
        resp = exc.response
        return resp is None or resp.status_code >= 500 or resp.status_code == 429
    return False


def with_retry(fn: Callable[[], T], attempts: int = 3, base_delay: float = 0.2,
               what: str = "RPC call") -> T:
    """Run ``fn``, retrying transient RPC errors with exponential backoff; then RpcUnavailable."""
    delay = base_delay
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt == attempts - 1:
                first = str(exc).splitlines()[0][:160] if str(exc) else ""
                raise RpcUnavailable(f"{what} failed: {type(exc).__name__}: {first}") from exc
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def connect(url: str, expected_chain_id: int | None = None, timeout: float = 10.0,
            attempts: int = 1) -> Web3:
    """A connected HTTP ``Web3`` for ``url``; :class:`ChainError` (one line) when unusable."""
    if not url.startswith(("http://", "https://")):
        raise ChainError(f"RPC URL must be http(s)://..., got {url!r}")
    provider = Web3.HTTPProvider(url, request_kwargs={"timeout": timeout},
                                 exception_retry_configuration=None)
    w3 = Web3(provider)
    try:
        chain_id = with_retry(lambda: int(w3.eth.chain_id), attempts=attempts,
                              what=f"connecting to {url}")
    except RpcUnavailable as err:
        raise RpcUnavailable(f"cannot reach the RPC endpoint {url} (is the node running?)") from err
    except Exception as err:
        raise ChainError(f"RPC endpoint {url} does not answer eth_chainId: {err}") from err
    if expected_chain_id is not None and chain_id != int(expected_chain_id):
        raise ChainError(f"wrong chain: {url} serves chain id {chain_id}, the deployment is for "
                         f"chain id {expected_chain_id}")
    return w3


def call(fn: ContractFunction, block: BlockIdentifier = "latest", attempts: int = 3,
         sender: str | None = None) -> Any:
    """``fn.call()`` with RPC retries; a revert raises :class:`TxReverted` with the decoded
    error. ``sender``: the ``from`` of the call (what a transaction of that account would do)."""
    tx = cast(TxParams, {"from": sender}) if sender is not None else None
    try:
        return with_retry(lambda: fn.call(tx, block_identifier=block), attempts=attempts,
                          what=f"eth_call {fn.fn_name}")
    except REVERTS as exc:
        raise explain(exc) from exc


def head(w3: Web3) -> int:
    """The latest block number."""
    return int(with_retry(lambda: w3.eth.block_number, what="eth_blockNumber"))
