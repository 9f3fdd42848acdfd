"""Verify (keeper) mode: keep the other provers honest and earn the slash bounties.

Each step it

* checkpoints the current epoch when nobody did (so the epoch has challenges);
* reads every new ``Opened`` event, decodes the ``open`` calldata from its transaction,
  recomputes the sampled entries the contract did not check (``q >= c``; with ``deep`` every
  entry of every opened leaf) in O(n) each, and on a mismatch sends ``dispute`` with the leaf and
  its full Merkle path (rebuilt from the opening alone: the stratum paths plus the other
  stratum roots);
* reports selected devices that have no valid opening once their window has passed
  (``reportMissed``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any

from pinfi import chain as ch
from pinfi import protocol

from .context import ZERO_ADDRESS, Context
from .prover import MODE_ALWAYS, MODE_EXEMPT, STATUS_COMMITTED, STATUS_NONE

log = logging.getLogger("provider_agent.verifier")

MAX_SCAN = 2_000


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(protocol.NODE_PREFIX + left + right).digest()


def full_paths(leaves: bytes, proof: list[bytes], picks: list[tuple[int, int]], leaf: int,
               log_stratum: int) -> list[list[bytes]]:
    """Full leaf-to-root paths of every opened leaf, from the opening alone.

    An opening carries, per sample q, the siblings inside its stratum; the siblings above the
    stratum level are the roots of the other strata, which the other samples determine.
    """
    k = len(picks)
    d = log_stratum
    size = 4 * leaf
    roots = []
    for q, (li, _) in enumerate(picks):
        h = hashlib.sha256(protocol.LEAF_PREFIX + leaves[q * size : (q + 1) * size]).digest()
        local = li - (q << d)
        for t in range(d):
            sib = bytes(proof[q * d + t])
            h = _node(sib, h) if (local >> t) & 1 else _node(h, sib)
        roots.append(h)
    levels = [roots]
    while len(levels[-1]) > 1:
        lv = levels[-1]
        levels.append([_node(lv[i], lv[i + 1]) for i in range(0, len(lv), 2)])
    out = []
    for q in range(k):
        upper = [levels[t][(q >> t) ^ 1] for t in range(len(levels) - 1)]
        out.append([bytes(p) for p in proof[q * d : (q + 1) * d]] + upper)
    return out


class Keeper:
    def __init__(self, ctx: Context, devices: list[int] | None = None, *, dispute: bool = True,
                 report_missed: bool = True, checkpoint: bool = True, deep: bool = False) -> None:
        self.ctx = ctx
        self.devices = devices
        self.dispute_on = dispute
        self.missed_on = report_missed
        self.checkpoint_on = checkpoint
        self.deep = deep
        self._settled: set[tuple[int, int]] = set()
        self._due: dict[tuple[int, int], int] = {}
        self._pending: list[ch.SentTx] = []
        self._checkpointed: set[int] = set()
        self._down_since: float | None = None

    def start(self) -> None:
        self._pending = self.ctx.sender.resume()
        log.info("verifier %s started (devices: %s)", self.ctx.address,
                 "all" if self.devices is None else self.devices)

    # ---- loop

    def step(self) -> bool:
        try:
            head = self.ctx.head()
            epoch = self.ctx.epoch_of(head)
            if epoch < 0:
                return True
            if self.checkpoint_on:
                self._checkpoint(epoch, head)
            if self.dispute_on:
                self._scan_openings(head)
            if self.missed_on:
                self._report_missed(head, epoch)
            self._poll(head)
        except ch.RpcUnavailable as err:
            self.ctx.metrics.rpc_errors.inc()
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("RPC unavailable: %s", err)
            return False
        self._down_since = None
        return True

    def run(self, stop: threading.Event) -> None:
        delay = self.ctx.cfg.poll_interval
        while not stop.is_set():
            try:
                ok = self.step()
            except Exception:
                log.exception("verifier step failed")
                ok = False
            delay = self.ctx.cfg.poll_interval if ok else min(delay * 2, 5.0)
            stop.wait(delay)

    # ---- pieces

    def _send(self, fn: Any, key: str) -> ch.SentTx | None:
        if self.ctx.journal.get_tx(key) is not None:
            return None  # already sent (journal): never twice
        try:
            tx = self.ctx.sender.send(fn, key)
        except ch.TxReverted as err:
            log.info("%s not sent: %s", key, err.error)
            return None
        self._pending.append(tx)
        return tx

    def _poll(self, head: int) -> None:
        still = []
        for tx in self._pending:
            rc = self.ctx.sender.poll(tx, head)
            kind = tx.key.split(":", 1)[0]
            if rc is None:
                if tx.status == "pending":
                    still.append(tx)
                continue
            ok = tx.status == "mined"
            reason = "" if ok else f": {self.ctx.sender.revert_reason(tx).error}"
            if kind == "dispute":
                self.ctx.metrics.disputes.labels("mined" if ok else "reverted").inc()
            elif kind == "missed":
                self.ctx.metrics.missed_reports.labels("mined" if ok else "reverted").inc()
            log.info("%s %s in block %d%s", tx.key, tx.status, int(rc["blockNumber"]), reason)
        self._pending = still

    def _checkpoint(self, epoch: int, head: int) -> None:
        if epoch in self._checkpointed or head < self.ctx.epoch_start(epoch):
            return
        stored = bytes(ch.call(self.ctx.c.verifier.functions.epochSeed(epoch)))
        if stored == b"\x00" * 32:
            self._send(self.ctx.c.verifier.functions.checkpoint(), f"checkpoint:{epoch}")
            log.info("epoch=%d checkpoint sent", epoch)
        self._checkpointed.add(epoch)

    def _scan_openings(self, head: int) -> None:
        j = self.ctx.journal
        cursor = j.get("opened_cursor")
        start = int(cursor) + 1 if cursor is not None else max(
            self.ctx.cfg.deployment.deployment_block, head - 256)
        if start > head:
            return
        to = min(head, start + MAX_SCAN - 1)
        ev = self.ctx.c.verifier.events.Opened
        logs = ch.with_retry(lambda: ev.get_logs(from_block=start, to_block=to),
                             what="eth_getLogs Opened")
        for lg in logs:
            dev, e = int(lg["args"]["deviceId"]), int(lg["args"]["epoch"])
            if self.devices is not None and dev not in self.devices:
                continue
            try:
                self.check_opening(dev, e, bytes(lg["args"]["sampleSeed"]),
                                   "0x" + bytes(lg["transactionHash"]).hex(), head)
            except ch.RpcUnavailable:
                raise
            except Exception:
                log.exception("device=%d epoch=%d opening check failed", dev, e)
        j.put("opened_cursor", str(to))

    def check_opening(self, dev: int, e: int, sseed: bytes, tx_hash: str, head: int) -> bool:
        """Recompute an opening; dispute the first wrong entry. True when it was honest."""
        c = self.ctx.c
        tx = ch.with_retry(lambda: self.ctx.w3.eth.get_transaction(tx_hash), what="eth_getTx")
        try:
            fn, args = c.verifier.decode_function_input(tx["input"])
        except ValueError:
            log.warning("device=%d epoch=%d opening tx %s is not a direct open() call: skipped",
                        dev, e, tx_hash)
            return True
        if fn.fn_name != "open":
            return True
        leaves, proof = bytes(args["leaves"]), [bytes(p) for p in args["proof"]]
        _, _, class_id, _ = ch.call(c.staking.functions.challengeInfo(dev, e))
        pc = self.ctx.class_params(int(class_id), e)
        seed = bytes(ch.call(c.verifier.functions.epochSeed(e)))
        s = protocol.challenge_seed(seed, dev, e)
        n_leaves = 1 << pc.log_leaves
        picks = protocol.samples(sseed, n_leaves, pc.k, pc.leaf)
        self.ctx.metrics.openings_checked.inc()
        first = 0 if self.deep else pc.c
        for q in range(first, pc.k):
            li, ei = picks[q]
            entries = range(pc.leaf) if self.deep else (ei,)
            for idx in entries:
                if q < pc.c and idx == ei:
                    continue  # the contract checked it at open
                i, jj = protocol.entry_coords(li, idx, pc.leaf, pc.n)
                claimed = protocol.opened_entry(leaves, pc.leaf, q, idx)
                expected = protocol.entry(s, pc.n, i, jj)
                if claimed != expected:
                    log.warning("device=%d epoch=%d FRAUD q=%d entry=%d C[%d][%d]=%d, expected "
                                "%d: disputing", dev, e, q, idx, i, jj, claimed, expected)
                    self._dispute(dev, e, q, idx, leaves, proof, picks, pc)
                    return False
        log.info("device=%d epoch=%d opening checked: honest (%d entries)", dev, e,
                 (pc.k - first) * (pc.leaf if self.deep else 1))
        return True

    def _dispute(self, dev: int, e: int, q: int, idx: int, leaves: bytes, proof: list[bytes],
                 picks: list[tuple[int, int]], pc: Any) -> None:
        paths = full_paths(leaves, proof, picks, pc.leaf, pc.log_stratum)
        size = 4 * pc.leaf
        leaf_bytes = leaves[q * size : (q + 1) * size]
        root = bytes(ch.call(self.ctx.c.verifier.functions.record(dev, e))[0])
        if not protocol.verify_path(root, picks[q][0], leaf_bytes, paths[q]):
            log.error("device=%d epoch=%d rebuilt path does not match the root: not disputing",
                      dev, e)
            return
        fn = self.ctx.c.verifier.functions.dispute(dev, e, q, idx, leaf_bytes, paths[q])
        tx = self._send(fn, f"dispute:{dev}:{e}")
        if tx is not None:
            log.info("device=%d epoch=%d dispute sent tx=%s", dev, e, tx.hash)

    def _devices(self) -> list[int]:
        if self.devices is not None:
            return self.devices
        count = int(ch.call(self.ctx.c.staking.functions.deviceCount()))
        return list(range(1, count + 1))

    def _report_missed(self, head: int, epoch: int) -> None:
        c = self.ctx.c
        for e in (epoch - 1, epoch):
            if e < 0:
                continue
            seed = None
            for dev in self._devices():
                key = (dev, e)
                if key in self._settled:
                    continue
                due = self._due.get(key)
                if due is not None and head + 1 < due:
                    continue
                if seed is None:
                    seed = self.ctx.epoch_seed(e, head)
                    if seed is None:
                        break
                owner, _op, class_id, mode = ch.call(c.staking.functions.challengeInfo(dev, e))
                if owner == ZERO_ADDRESS or int(mode) == MODE_EXEMPT:
                    self._settled.add(key)
                    continue
                pc = self.ctx.class_params(int(class_id), e)
                forced = int(ch.call(c.verifier.functions.forcedEpochPlusOne(dev))) == e + 1
                if not (int(mode) == MODE_ALWAYS or forced
                        or protocol.is_selected(seed, owner, int(class_id), pc.challenge_bps)):
                    self._settled.add(key)
                    continue
                status = int(ch.call(c.verifier.functions.proofStatus(dev, e)))
                if status == STATUS_NONE:
                    due = self.ctx.epoch_start(e) + pc.commit_window
                elif status == STATUS_COMMITTED:
                    rec = ch.call(c.verifier.functions.record(dev, e))
                    due = int(rec[2]) + pc.open_window + 1
                else:  # opened or already slashed
                    self._settled.add(key)
                    continue
                self._due[key] = due
                if head + 1 < due:
                    continue
                tx = self._send(c.verifier.functions.reportMissed(dev, e), f"missed:{dev}:{e}")
                self._settled.add(key)
                if tx is not None:
                    log.warning("device=%d epoch=%d missed its challenge: reported tx=%s", dev, e,
                                tx.hash)
        for key in [k for k in self._settled if k[1] < epoch - 2]:
            self._settled.discard(key)
        for key in [k for k in self._due if k[1] < epoch - 2]:
            del self._due[key]
