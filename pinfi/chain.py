"""Web3 plumbing shared by the provider agent and the dApp SDK (web3.py + eth-account, no Ape).

* :func:`connect`: an HTTP ``Web3`` with a clear one-line :class:`ChainError` when the RPC is down
  or serves another chain than the deployment;
* :class:`Deployment` (``deployments/<chainId>.json``) and :func:`load_contracts`, with the ABIs
  shipped in ``pinfi/abi`` (:func:`export_abis` writes them from Ape's compiled output;
  ``python -m pinfi.chain export-abi``);
* :func:`decode_error` / :func:`explain`: custom-error selectors of every shipped ABI turned into
  ``Name(arg=value, ...)``;
* :class:`TxSender`: owns one key's nonce, builds EIP-1559 transactions, journals each signed
  transaction *before* broadcasting it (so a crash can resume it), rebroadcasts transactions the
  node lost, replaces stuck ones with bumped fees, retries RPC errors with backoff and waits for
  receipts at a confirmation depth.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

import requests
from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import function_abi_to_4byte_selector, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)

log = logging.getLogger(__name__)

ABI_DIR = Path(__file__).resolve().parent / "abi"
CONTRACT_NAMES = ("PinToken", "Staking", "PoCPSVerifier", "DissipativePool")
GWEI = 10**9

T = TypeVar("T")


class ChainError(RuntimeError):
    """A problem talking to the chain; ``str(err)`` is one line meant for an operator."""


class RpcUnavailable(ChainError):
    """The RPC endpoint did not answer (connection refused, timeout, HTTP 5xx)."""


class TxReverted(ChainError):
    """A call or transaction reverted; ``error`` is the decoded custom error (or the raw data)."""

    def __init__(self, message: str, error: str | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.name = name


# ---------------------------------------------------------------------------------------------
# ABIs
# ---------------------------------------------------------------------------------------------


@cache
def load_abi(name: str) -> list[dict[str, Any]]:
    """The ABI of contract ``name`` shipped in ``pinfi/abi/<name>.json``."""
    path = ABI_DIR / f"{name}.json"
    if not path.is_file():
        raise ChainError(f"no ABI shipped for {name} ({path} missing; run python -m pinfi.chain "
                         "export-abi after ape compile)")
    return json.loads(path.read_text())


def has_abi(name: str) -> bool:
    return (ABI_DIR / f"{name}.json").is_file()


def compiled_abis(build_file: str | Path = ".build/__local__.json",
                  names: Iterable[str] = CONTRACT_NAMES) -> dict[str, list[dict[str, Any]]]:
    """ABIs of ``names`` from Ape's compiled manifest (those present)."""
    data = json.loads(Path(build_file).read_text())
    types = data.get("contractTypes", {})
    return {n: types[n]["abi"] for n in names if n in types}


def export_abis(build_file: str | Path = ".build/__local__.json", dest: str | Path = ABI_DIR,
                names: Iterable[str] = CONTRACT_NAMES) -> list[Path]:
    """Write ``dest/<name>.json`` for every compiled contract of ``names``; returns the paths."""
    out = []
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, abi in compiled_abis(build_file, names).items():
        path = dest / f"{name}.json"
        path.write_text(json.dumps(abi, indent=1, sort_keys=True) + "\n")
        out.append(path)
    load_abi.cache_clear()
    _error_table.cache_clear()
    return out


# ---------------------------------------------------------------------------------------------
# Custom errors
# ---------------------------------------------------------------------------------------------

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)


def _abi_type(inp: dict[str, Any]) -> str:
    t = inp["type"]
    if t.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in inp.get("components", []))
        return f"({inner}){t[5:]}"
    return t


@cache
def _error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for name in CONTRACT_NAMES:
        if not has_abi(name):
            continue
        for item in load_abi(name):
            if item.get("type") != "error":
                continue
            sel = function_abi_to_4byte_selector(item)
            types = [_abi_type(i) for i in item.get("inputs", [])]
            names = [i.get("name") or f"arg{k}" for k, i in enumerate(item.get("inputs", []))]
            table[sel] = (item["name"], types, names)
    return table


def _fmt(v: Any) -> str:
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, str):
        return v
    return str(v)


def decode_error(data: bytes | str | None) -> tuple[str, str] | None:
    """``(name, "Name(arg=value, ...)")`` of revert data, or None when it is unknown/empty."""
    if data is None:
        return None
    if isinstance(data, str):
        s = data[2:] if data.startswith("0x") else data
        try:
            raw = bytes.fromhex(s)
        except ValueError:
            return None
    else:
        raw = bytes(data)
    if len(raw) < 4:
        return None
    sel, body = raw[:4], raw[4:]
    try:
        if sel == _ERROR_STRING:
            (msg,) = abi_decode(["string"], body)
            return "Error", f"Error({msg!r})"
        if sel == _PANIC:
            (code,) = abi_decode(["uint256"], body)
            return "Panic", f"Panic(0x{code:02x})"
        known = _error_table().get(sel)
        if known is None:
            return None
        name, types, names = known
        values = abi_decode(types, body) if types else ()
    except Exception:  # malformed data: report the selector only
        return None
    args = ", ".join(f"{n}={_fmt(v)}" for n, v in zip(names, values, strict=True))
    return name, f"{name}({args})"


def _revert_data(exc: BaseException) -> str | None:
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str | bytes):
        return data if isinstance(data, str) else "0x" + data.hex()
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, str) and arg.startswith("0x") and len(arg) >= 10:
            return arg
    return None


def explain(exc: BaseException) -> TxReverted:
    """A :class:`TxReverted` with the decoded custom error of a web3 revert exception."""
    decoded = decode_error(_revert_data(exc))
    if decoded is not None:
        return TxReverted(f"reverted: {decoded[1]}", decoded[1], decoded[0])
    msg = getattr(exc, "message", None) or str(exc)
    return TxReverted(f"reverted: {msg}", msg, None)


REVERTS = (ContractLogicError, ContractCustomError, ContractPanicError)


# ---------------------------------------------------------------------------------------------
# Connection, deployments, contracts
# ---------------------------------------------------------------------------------------------

TRANSIENT = (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError, OSError)


def _is_transient(exc: BaseException) -> bool:
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
            if not _is_transient(exc):
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


@dataclass
class Deployment:
    """Addresses and parameters of one PinFi deployment (``deployments/<chainId>.json``)."""

    chain_id: int
    contracts: dict[str, str]
    deployment_block: int = 0
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> Deployment:
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise ChainError(f"deployment file {p} not found") from None
        except json.JSONDecodeError as err:
            raise ChainError(f"deployment file {p} is not valid JSON: {err}") from None
        return cls.from_dict(data, str(p))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "deployment") -> Deployment:
        try:
            contracts = {k: to_checksum_address(v) for k, v in dict(data["contracts"]).items()}
            return cls(int(data["chainId"]), contracts, int(data.get("deploymentBlock", 0)),
                       dict(data.get("params", {})))
        except (KeyError, TypeError, ValueError) as err:
            raise ChainError(f"{where}: missing or bad field ({err})") from None

    def to_dict(self) -> dict[str, Any]:
        return {"chainId": self.chain_id, "deploymentBlock": self.deployment_block,
                "contracts": dict(self.contracts), "params": dict(self.params)}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


@dataclass
class Contracts:
    """web3 contract objects of one deployment (``pool`` is None when not deployed)."""

    w3: Web3
    token: Contract
    staking: Contract
    verifier: Contract
    pool: Contract | None
    deployment: Deployment


def contract(w3: Web3, name: str, address: str) -> Contract:
    return w3.eth.contract(address=to_checksum_address(address), abi=load_abi(name))


def load_contracts(w3: Web3, deployment: Deployment, check_code: bool = True) -> Contracts:
    """Bind the shipped ABIs to the deployment's addresses (checking that code is there)."""
    addrs = deployment.contracts
    for name in ("PinToken", "Staking", "PoCPSVerifier"):
        if name not in addrs:
            raise ChainError(f"deployment has no {name} address")
    if check_code:
        for name, addr in addrs.items():
            code = with_retry(lambda a=addr: w3.eth.get_code(a), what="eth_getCode")
            if len(code) == 0:
                raise ChainError(f"no contract code at {name} {addr} on chain "
                                 f"{deployment.chain_id} (wrong deployment file?)")
    pool = None
    if "DissipativePool" in addrs and has_abi("DissipativePool"):
        pool = contract(w3, "DissipativePool", addrs["DissipativePool"])
    return Contracts(w3, contract(w3, "PinToken", addrs["PinToken"]),
                     contract(w3, "Staking", addrs["Staking"]),
                     contract(w3, "PoCPSVerifier", addrs["PoCPSVerifier"]), pool, deployment)


def call(fn: ContractFunction, block: int | str = "latest", attempts: int = 3) -> Any:
    """``fn.call()`` with RPC retries; reverts become :class:`TxReverted` with decoded errors."""
    try:
        return with_retry(lambda: fn.call(block_identifier=block), attempts=attempts,
                          what=f"eth_call {fn.fn_name}")
    except REVERTS as exc:
        raise explain(exc) from exc


# ---------------------------------------------------------------------------------------------
# Transactions
# ---------------------------------------------------------------------------------------------


@dataclass
class SentTx:
    """A logical transaction: one nonce, one or more signed attempts (fee replacements)."""

    key: str
    nonce: int
    to: str
    data: str
    gas: int
    max_fee: int
    priority_fee: int
    raw: bytes
    hashes: list[str]
    sent_block: int
    value: int = 0
    status: str = "pending"  # pending | mined | reverted | dropped
    receipt: dict[str, Any] | None = None

    @property
    def hash(self) -> str:
        return self.hashes[-1]


class TxJournal(Protocol):
    """Where a :class:`TxSender` persists every signed transaction before broadcasting it."""

    def save_tx(self, tx: SentTx) -> None: ...

    def pending_txs(self, sender: str) -> list[SentTx]: ...


class MemoryJournal:
    """A :class:`TxJournal` in memory (SDK scripts, CLI one-shots)."""

    def __init__(self) -> None:
        self.txs: dict[str, SentTx] = {}

    def save_tx(self, tx: SentTx) -> None:
        self.txs[tx.key] = tx

    def pending_txs(self, sender: str) -> list[SentTx]:
        return [t for t in self.txs.values() if t.status == "pending"]


def _err_text(exc: BaseException) -> str:
    msg = getattr(exc, "message", None)
    if isinstance(exc, Web3RPCError) and isinstance(exc.rpc_response, dict):
        err = exc.rpc_response.get("error")
        if isinstance(err, dict):
            msg = str(err.get("message", msg))
    return str(msg or exc).lower()


class TxSender:
    """Sends one account's transactions: nonce, EIP-1559 fees, journal, replacement, receipts.

    ``send`` estimates gas first (a revert raises :class:`TxReverted` and spends no nonce), signs,
    journals, then broadcasts; a broadcast that fails on the RPC is left pending and
    rebroadcast by :meth:`poll`. :meth:`poll` also replaces a transaction that stayed unmined for
    ``replace_after_blocks`` blocks (same nonce, fees bumped by ``bump_percent`` and at least
    twice the current base fee) and returns the receipt once it is ``confirmations`` deep.
    """

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        journal: TxJournal | None = None,
        *,
        priority_fee: int | None = None,
        max_fee_cap: int | None = None,
        bump_percent: int = 15,
        replace_after_blocks: int = 3,
        confirmations: int = 0,
        gas_margin: float = 1.25,
        on_gas: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.address = account.address
        self.journal: TxJournal = journal if journal is not None else MemoryJournal()
        self.priority_fee = priority_fee
        self.max_fee_cap = max_fee_cap
        self.bump_percent = max(10, bump_percent)
        self.replace_after_blocks = replace_after_blocks
        self.confirmations = confirmations
        self.gas_margin = gas_margin
        self.on_gas = on_gas
        self._chain_id: int | None = None
        self._next_nonce: int | None = None
        #: Called with each new transaction after it is journaled and before it is broadcast.
        self.before_broadcast: Callable[[SentTx], None] | None = None

    # ---- nonce and fees

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = with_retry(lambda: int(self.w3.eth.chain_id), what="eth_chainId")
        return self._chain_id

    def sync_nonce(self) -> int:
        """Take the next nonce from the node (pending) and the journal, whichever is higher."""
        chain_next = with_retry(lambda: self.w3.eth.get_transaction_count(self.address, "pending"),
                                what="eth_getTransactionCount")
        journal_next = max((t.nonce + 1 for t in self.journal.pending_txs(self.address)),
                           default=0)
        self._next_nonce = max(int(chain_next), journal_next)
        return self._next_nonce

    def fees(self) -> tuple[int, int]:
        """``(maxFeePerGas, maxPriorityFeePerGas)``: twice the base fee plus the tip, capped."""
        block = with_retry(lambda: self.w3.eth.get_block("latest"), what="eth_getBlock")
        base = int(block.get("baseFeePerGas", 0) or 0)
        if self.priority_fee is not None:
            tip = self.priority_fee
        else:
            try:
                tip = int(with_retry(lambda: self.w3.eth.max_priority_fee,
                                     what="eth_maxPriorityFeePerGas"))
            except RpcUnavailable:
                raise
            except Exception:
                tip = GWEI
        max_fee = 2 * base + tip
        if self.max_fee_cap is not None:
            max_fee = min(max_fee, self.max_fee_cap)
            tip = min(tip, max_fee)
        return max_fee, tip

    def head(self) -> int:
        return int(with_retry(lambda: self.w3.eth.block_number, what="eth_blockNumber"))

    # ---- sending

    def estimate(self, fn: ContractFunction, value: int = 0) -> int:
        try:
            # Against the pending block: the transaction executes in the next block, and some
            # checks depend on block.number (e.g. "not in the commit block").
            return int(with_retry(lambda: fn.estimate_gas({"from": self.address, "value": value},
                                                          block_identifier="pending"),
                                  what=f"eth_estimateGas {fn.fn_name}"))
        except REVERTS as exc:
            raise explain(exc) from exc

    def send(self, fn: ContractFunction, key: str, gas: int | None = None,
             value: int = 0) -> SentTx:
        """Estimate, sign, journal, broadcast ``fn`` under journal ``key``; returns the SentTx.

        Raises :class:`TxReverted` when the call would revert (nothing is signed) and
        :class:`RpcUnavailable` when the node cannot be reached before signing.
        """
        est = self.estimate(fn, value) if gas is None else gas
        gas_limit = int(est * self.gas_margin) + 10_000 if gas is None else gas
        max_fee, tip = self.fees()
        if self._next_nonce is None:
            self.sync_nonce()
        assert self._next_nonce is not None
        nonce = self._next_nonce
        data = fn._encode_transaction_data()
        to = to_checksum_address(fn.address)
        raw, h = self._sign(to, data, value, gas_limit, nonce, max_fee, tip)
        head = self.head()
        tx = SentTx(key, nonce, to, data, gas_limit, max_fee, tip, raw, [h], head, value)
        self.journal.save_tx(tx)  # journal BEFORE broadcast: a crash here is resumable
        self._next_nonce = nonce + 1
        log.info("tx %s nonce=%d hash=%s gas=%d maxFee=%.3fgwei", key, nonce, h, gas_limit,
                 max_fee / GWEI)
        if self.before_broadcast is not None:
            self.before_broadcast(tx)
        self._broadcast(tx)
        return tx

    def _sign(self, to: str, data: str, value: int, gas: int, nonce: int, max_fee: int,
              tip: int) -> tuple[bytes, str]:
        txd = {"type": 2, "chainId": self.chain_id, "nonce": nonce, "to": to, "data": data,
               "value": value, "gas": gas, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}
        signed = self.account.sign_transaction(txd)
        return bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex()

    def _broadcast(self, tx: SentTx) -> str:
        """Send the latest attempt: ``ok`` (the node has it), ``rpc`` (unreachable),
        ``nonce`` (nonce already used) or ``underpriced`` (fees too low for the node)."""
        try:
            with_retry(lambda: self.w3.eth.send_raw_transaction(tx.raw), attempts=2,
                       what="eth_sendRawTransaction")
            return "ok"
        except RpcUnavailable as err:
            log.warning("tx %s not broadcast (%s); will retry", tx.key, err)
            return "rpc"
        except Exception as exc:
            text = _err_text(exc)
            if "already known" in text or "already imported" in text:
                return "ok"
            if "nonce too low" in text or "nonce is too low" in text:
                return "nonce"  # poll() finds out which attempt (if any) was mined
            if "underpriced" in text or "base fee" in text or "fee cap" in text:
                log.warning("tx %s fees too low for the node (%s); bumping", tx.key, text[:80])
                return "underpriced"
            raise

    def resume(self) -> list[SentTx]:
        """After a restart: rebroadcast journaled pending transactions in nonce order."""
        pending = sorted(self.journal.pending_txs(self.address), key=lambda t: t.nonce)
        for tx in pending:
            self._broadcast(tx)
        self.sync_nonce()
        return pending

    # ---- tracking

    def _receipt(self, h: str) -> dict[str, Any] | None:
        try:
            return dict(with_retry(lambda: self.w3.eth.get_transaction_receipt(h),
                                   what="eth_getTransactionReceipt"))
        except TransactionNotFound:
            return None

    def _known(self, h: str) -> bool:
        try:
            with_retry(lambda: self.w3.eth.get_transaction(h), what="eth_getTransactionByHash")
            return True
        except TransactionNotFound:
            return False

    def poll(self, tx: SentTx, head: int | None = None) -> dict[str, Any] | None:
        """Advance ``tx``: its receipt when mined and deep enough, else None (after any
        rebroadcast or fee replacement). Sets ``tx.status`` to mined/reverted/dropped."""
        head = self.head() if head is None else head
        for h in reversed(tx.hashes):
            rc = self._receipt(h)
            if rc is None or rc.get("blockNumber") is None:
                continue
            if head < int(rc["blockNumber"]):
                head = self.head()  # the caller's head is older than this receipt
            if head - int(rc["blockNumber"]) < self.confirmations:
                return None
            was = tx.status
            tx.status = "mined" if int(rc["status"]) == 1 else "reverted"
            tx.receipt = rc
            if tx.hashes[-1] != h:
                tx.hashes.append(h)  # remember which attempt made it
            self.journal.save_tx(tx)
            if self.on_gas is not None and was == "pending":
                self.on_gas(tx.key, int(rc["gasUsed"]), int(rc.get("effectiveGasPrice", 0)))
            return rc
        # Not mined (or reorged out). Is the nonce used by something else?
        latest = int(with_retry(lambda: self.w3.eth.get_transaction_count(self.address, "latest"),
                                what="eth_getTransactionCount"))
        if latest > tx.nonce:
            # Our nonce was consumed but none of our attempts has a receipt: another tx (not
            # journaled) took it. Re-check once more later; mark dropped so the caller resends.
            tx.status = "dropped"
            self.journal.save_tx(tx)
            log.warning("tx %s nonce %d used by another transaction; dropped", tx.key, tx.nonce)
            return None
        if not self._known(tx.hash):
            log.info("tx %s not known to the node; rebroadcasting %s", tx.key, tx.hash)
            if self._broadcast(tx) == "underpriced":
                self.replace(tx, head)
            return None
        if head - tx.sent_block >= self.replace_after_blocks:
            self.replace(tx, head)
        return None

    def replace(self, tx: SentTx, head: int) -> None:
        """Same nonce and call, fees bumped by ``bump_percent`` (and >= 2x base fee + tip)."""
        max_fee, tip = self.fees()
        bump = 100 + self.bump_percent
        new_tip = max(tip, tx.priority_fee * bump // 100 + 1)
        new_max = max(max_fee, tx.max_fee * bump // 100 + 1, new_tip)
        if self.max_fee_cap is not None and new_max > self.max_fee_cap:
            if tx.max_fee >= self.max_fee_cap:
                log.warning("tx %s stuck at the fee cap %.3f gwei", tx.key, self.max_fee_cap / GWEI)
                return
            new_max = self.max_fee_cap
            new_tip = min(new_tip, new_max)
        raw, h = self._sign(tx.to, tx.data, tx.value, tx.gas, tx.nonce, new_max, new_tip)
        tx.raw, tx.max_fee, tx.priority_fee, tx.sent_block = raw, new_max, new_tip, head
        tx.hashes.append(h)
        self.journal.save_tx(tx)
        log.info("tx %s replaced: nonce=%d hash=%s maxFee=%.3fgwei", tx.key, tx.nonce, h,
                 new_max / GWEI)
        self._broadcast(tx)

    def wait(self, tx: SentTx, timeout: float = 120.0,
             poll_interval: float = 0.5) -> dict[str, Any]:
        """Block until ``tx`` is mined ``confirmations`` deep; raises on revert or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                rc = self.poll(tx)
            except RpcUnavailable as err:
                log.warning("waiting for %s: %s", tx.key, err)
                rc = None
            if rc is not None:
                if tx.status == "reverted":
                    raise self.revert_reason(tx)
                return rc
            if tx.status == "dropped":
                raise ChainError(f"transaction {tx.key} (nonce {tx.nonce}) was dropped")
            if time.monotonic() > deadline:
                raise TimeExhausted(f"transaction {tx.key} {tx.hash} not mined in {timeout:.0f}s")
            time.sleep(poll_interval)

    def transact(self, fn: ContractFunction, key: str, timeout: float = 120.0,
                 value: int = 0) -> dict[str, Any]:
        """``send`` then ``wait``: the receipt of a successful transaction."""
        return self.wait(self.send(fn, key, value=value), timeout)

    def revert_reason(self, tx: SentTx) -> TxReverted:
        """Replay a reverted transaction as a call at its block to decode the error."""
        rc = tx.receipt or {}
        block = rc.get("blockNumber")
        try:
            self.w3.eth.call({"from": self.address, "to": tx.to, "data": tx.data,
                              "value": tx.value, "gas": tx.gas},
                             block_identifier=int(block) - 1 if block else "latest")
        except REVERTS as exc:
            return explain(exc)
        except Exception as exc:  # pragma: no cover - replay itself failed
            return TxReverted(f"reverted ({exc})")
        return TxReverted(f"transaction {tx.key} reverted (reason unavailable)")


# ---------------------------------------------------------------------------------------------
# Command line: python -m pinfi.chain export-abi
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pinfi.chain", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export-abi", help="write pinfi/abi/*.json from Ape's compiled output")
    ex.add_argument("--build", default=".build/__local__.json", help="Ape's compiled manifest")
    ex.add_argument("--dest", default=str(ABI_DIR))
    args = ap.parse_args(argv)
    if args.cmd == "export-abi":
        for p in export_abis(args.build, args.dest):
            print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
