"""The one transaction sender and waiter.

:class:`TxSender` owns one key's nonce, builds EIP-1559 transactions, journals each signed
transaction *before* broadcasting it (so a crash can resume it), rebroadcasts transactions the
node lost, replaces stuck ones with bumped fees, retries RPC errors with backoff and waits for
receipts at a confirmation depth. The agent drives it with :meth:`TxSender.poll` from its loop;
one-shot callers (the SDK, owner commands) use :meth:`TxSender.wait` / :meth:`TxSender.transact`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import TransactionNotFound, Web3RPCError
from web3.types import TxParams

from .errors import RpcUnavailable, TxDropped, TxReverted, TxTimeout
from .revert import REVERTS, explain
from .rpc import with_retry

log = logging.getLogger("pinfi.chain")

GWEI = 10**9


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


#: Looks (and seconds between them) for the receipt of a transaction whose nonce the node already
#: counts as used, before it is called dropped.
RECEIPT_LAG_TRIES = 5
RECEIPT_LAG_S = 0.4


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
            params = cast(TxParams, {"from": self.address, "value": value})
            return int(with_retry(lambda: fn.estimate_gas(params, block_identifier="pending"),
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
        txd: dict[str, Any] = {"type": 2, "chainId": self.chain_id, "nonce": nonce, "to": to,
                               "data": data, "value": value, "gas": gas, "maxFeePerGas": max_fee,
                               "maxPriorityFeePerGas": tip}
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
            return dict(with_retry(lambda: self.w3.eth.get_transaction_receipt(HexStr(h)),
                                   what="eth_getTransactionReceipt"))
        except TransactionNotFound:
            return None

    def _known(self, h: str) -> bool:
        try:
            with_retry(lambda: self.w3.eth.get_transaction(HexStr(h)),
                       what="eth_getTransactionByHash")
            return True
        except TransactionNotFound:
            return False

    def _mined(self, tx: SentTx) -> dict[str, Any] | None:
        """The receipt of whichever attempt of ``tx`` was mined, if any."""
        for h in reversed(tx.hashes):
            rc = self._receipt(h)
            if rc is not None and rc.get("blockNumber") is not None:
                if tx.hashes[-1] != h:
                    tx.hashes.append(h)  # remember which attempt made it
                return rc
        return None

    def poll(self, tx: SentTx, head: int | None = None) -> dict[str, Any] | None:
        """Advance ``tx``: its receipt when mined and deep enough, else None (after any
        rebroadcast or fee replacement). Sets ``tx.status`` to mined/reverted/dropped."""
        head = self.head() if head is None else head
        rc = self._mined(tx)
        if rc is None:
            # Not mined (or reorged out). Is the nonce used by something else?
            latest = int(with_retry(
                lambda: self.w3.eth.get_transaction_count(self.address, "latest"),
                what="eth_getTransactionCount"))
            if latest <= tx.nonce:
                if not self._known(tx.hash):
                    log.info("tx %s not known to the node; rebroadcasting %s", tx.key, tx.hash)
                    if self._broadcast(tx) == "underpriced":
                        self.replace(tx, head)
                elif head - tx.sent_block >= self.replace_after_blocks:
                    self.replace(tx, head)
                return None
            # The nonce is used: by one of our attempts mined since the lookup above, or by a
            # transaction that is not journaled (then the caller resends under a new nonce). A
            # loaded node can count a just-mined transaction before it serves its receipt: look
            # a few times before calling it dropped.
            rc = self._mined(tx)
            for _ in range(RECEIPT_LAG_TRIES):
                if rc is not None:
                    break
                time.sleep(RECEIPT_LAG_S)
                rc = self._mined(tx)
            if rc is None:
                tx.status = "dropped"
                self.journal.save_tx(tx)
                log.warning("tx %s nonce %d used by another transaction; dropped", tx.key,
                            tx.nonce)
                return None
        if head < int(rc["blockNumber"]):
            head = self.head()  # the caller's head is older than this receipt
        if head - int(rc["blockNumber"]) < self.confirmations:
            return None
        was = tx.status
        tx.status = "mined" if int(rc["status"]) == 1 else "reverted"
        tx.receipt = rc
        self.journal.save_tx(tx)
        if self.on_gas is not None and was == "pending":
            self.on_gas(tx.key, int(rc["gasUsed"]), int(rc.get("effectiveGasPrice", 0)))
        return rc

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
             poll_interval: float = 0.25) -> dict[str, Any]:
        """Block until ``tx`` is mined ``confirmations`` deep and return its receipt.

        Raises :class:`TxReverted` (decoded) when it reverted, :class:`TxDropped` when another
        transaction took its nonce, :class:`TxTimeout` after ``timeout`` seconds.
        """
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
                raise TxDropped(f"transaction {tx.hash} (nonce {tx.nonce}) was replaced by "
                                "another transaction of this account")
            if time.monotonic() > deadline:
                raise TxTimeout(f"transaction {tx.hash} not mined in {timeout:.0f}s")
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
            self.w3.eth.call(cast(TxParams, {"from": self.address, "to": tx.to, "data": tx.data,
                                             "value": tx.value, "gas": tx.gas}),
                             block_identifier=int(block) - 1 if block else "latest")
        except REVERTS as exc:
            return explain(exc)
        except Exception as exc:  # pragma: no cover - replay itself failed
            return TxReverted(f"transaction {tx.key} reverted (replay failed: {exc})")
        return TxReverted(f"transaction {tx.key} reverted (reason unavailable)")
