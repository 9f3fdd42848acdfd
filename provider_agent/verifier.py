"""Verify (keeper) mode: keep the other provers honest and earn the slash bounties.

Each step it

* checkpoints the current epoch when nobody did (so the epoch has challenges);
* stores each class's open seed (the hash of the commit deadline block, ``checkpointOpen``) once
  the deadline is past, so the draw stays judgeable after 256 blocks (docs/protocol.md#selection);
* reads every new ``Opened`` event, decodes the ``open`` calldata from its transaction,
  recomputes the sampled entries the contract did not check (the strata outside
  ``checked_strata(sseed, k, c)``, docs/protocol.md#checked-strata; with ``deep`` every entry of
  every opened leaf) in O(n) each, and on a mismatch sends ``dispute`` with the leaf and its full
  Merkle path (rebuilt from the opening alone: the stratum paths plus the other stratum roots);
* reports misses under the PoCPS v2 rules (``reportMissed``): a device that owes the epoch and
  has no commitment once the commit window closed, or a commitment the verifier's ``mustOpen``
  says had to be opened and was not once the open window closed. A committed, undrawn device is
  present (never reported).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

from eth_typing import HexStr

from pinfi import chain as ch
from pinfi import protocol
from pinfi.types import ProofStatus

from .context import Context
from .duty import epoch_duty
from .follower import BlockFollower, Head, ServiceThread
from .logcursor import LogCursor
from .prover import checkpoint_epoch

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
    """Follower subscriber of ``verify`` mode (see the module docstring)."""

    name = "keeper"

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
        self._open_seeds: set[tuple[int, int]] = set()
        self._epoch_classes: dict[int, set[int]] = {}
        self._down = False
        self.openings = LogCursor(ctx.journal, "opened_cursor", ctx.c.verifier.events.Opened,
                                  ctx.cfg.deployment.deployment_block, lookback=256)

    def start(self) -> None:
        self._pending = self.ctx.sender.resume()
        log.info("verifier %s started (devices: %s)", self.ctx.address,
                 "all" if self.devices is None else self.devices)

    # ---- loop

    def step(self) -> bool:
        """One pass at the current head (tests, ``verify --once``); False when the RPC is down."""
        try:
            self.on_head(Head(self.ctx.head()))
        except ch.RpcUnavailable as err:
            self.ctx.metrics.rpc_errors.inc()
            if not self._down:
                log.warning("RPC unavailable: %s", err)
            self._down = True
            return False
        self._down = False
        return True

    def on_head(self, head: Head) -> None:
        epoch = self.ctx.epoch_of(head.number)
        if epoch < 0:
            return
        if self.checkpoint_on and epoch not in self._checkpointed:
            if checkpoint_epoch(self.ctx, epoch, head.number):
                self._checkpointed.add(epoch)
        if self.dispute_on:
            if head.reorg_from is not None:
                self.openings.rewind(head.reorg_from)
            self.openings.poll(head.number, lambda lg: self._on_opened(lg, head.number))
        if self.checkpoint_on or self.missed_on:
            self._store_open_seeds(head.number, epoch)
        if self.missed_on:
            self._report_missed(head.number, epoch)
        self._poll(head.number)

    def run(self, stop: threading.Event) -> None:
        """The block follower on this thread, the keeper on its own, until ``stop``."""
        follower = BlockFollower(self.ctx.view(5.0), self.ctx.cfg.poll_interval,
                                 self.ctx.metrics.rpc_errors.inc)
        box = follower.subscribe(self)
        t = ServiceThread(self, box, stop, max(0.5, self.ctx.cfg.poll_interval),
                          self.ctx.metrics.rpc_errors.inc)
        t.start()
        try:
            follower.run(stop)
        finally:
            stop.set()
            t.join(timeout=5.0)

    # ---- pieces

    def _send(self, fn: Any, key: str) -> ch.SentTx | None:
        if self.ctx.journal.get_tx(key) is not None:
            return None  # already sent (journal): never twice
        try:
            tx = self.ctx.sender.send(fn, key)
        except ch.TxReverted as err:
            log.info("%s not sent: %s", key, err.message)
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
            reason = "" if ok else f": {self.ctx.sender.revert_reason(tx).message}"
            if kind == "dispute":
                self.ctx.metrics.disputes.labels("mined" if ok else "reverted").inc()
            elif kind == "missed":
                self.ctx.metrics.missed_reports.labels("mined" if ok else "reverted").inc()
            log.info("%s %s in block %d%s", tx.key, tx.status, int(rc["blockNumber"]), reason)
        self._pending = still

    def _on_opened(self, lg: Any, head: int) -> None:
        dev, e = int(lg["args"]["deviceId"]), int(lg["args"]["epoch"])
        if self.devices is not None and dev not in self.devices:
            return
        try:
            self.check_opening(dev, e, bytes(lg["args"]["sampleSeed"]),
                               "0x" + bytes(lg["transactionHash"]).hex(), head)
        except ch.RpcUnavailable:
            raise
        except Exception:
            log.exception("device=%d epoch=%d opening check failed", dev, e)

    def check_opening(self, dev: int, e: int, sseed: bytes, tx_hash: str, head: int) -> bool:
        """Recompute an opening; dispute the first wrong entry. True when it was honest."""
        c = self.ctx.c
        tx = ch.with_retry(lambda: self.ctx.w3.eth.get_transaction(HexStr(tx_hash)),
                           what="eth_getTx")
        try:
            fn, args = c.verifier.decode_function_input(tx["input"])
        except ValueError:
            log.warning("device=%d epoch=%d opening tx %s is not a direct open() call: skipped",
                        dev, e, tx_hash)
            return True
        if fn.fn_name != "open":
            return True
        leaves, proof = bytes(args["leaves"]), [bytes(p) for p in args["proof"]]
        info = self.ctx.challenge_info(dev, e)
        pc = self.ctx.class_params(info.class_id, e)
        seed = self.ctx.stored_seed(e)
        if seed is None:
            return True
        s = protocol.challenge_seed(seed, dev, e)
        n_leaves = 1 << pc.log_leaves
        picks = protocol.samples(sseed, n_leaves, pc.k, pc.leaf)
        self.ctx.metrics.openings_checked.inc()
        checked = set(protocol.checked_strata(sseed, pc.k, pc.c))
        strata = range(pc.k) if self.deep else [q for q in range(pc.k) if q not in checked]
        count = 0
        for q in strata:
            li, ei = picks[q]
            entries = range(pc.leaf) if self.deep else (ei,)
            for idx in entries:
                if q in checked and idx == ei:
                    continue  # the contract checked it at open
                count += 1
                i, jj = protocol.entry_coords(li, idx, pc.leaf, pc.n)
                claimed = protocol.opened_entry(leaves, pc.leaf, q, idx)
                expected = protocol.entry(s, pc.n, i, jj)
                if claimed != expected:
                    log.warning("device=%d epoch=%d FRAUD q=%d entry=%d C[%d][%d]=%d, expected "
                                "%d: disputing", dev, e, q, idx, i, jj, claimed, expected)
                    self._dispute(dev, e, q, idx, leaves, proof, picks, pc)
                    return False
        log.info("device=%d epoch=%d opening checked: honest (%d entries)", dev, e, count)
        return True

    def _dispute(self, dev: int, e: int, q: int, idx: int, leaves: bytes, proof: list[bytes],
                 picks: list[tuple[int, int]], pc: Any) -> None:
        paths = full_paths(leaves, proof, picks, pc.leaf, pc.log_stratum)
        size = 4 * pc.leaf
        leaf_bytes = leaves[q * size : (q + 1) * size]
        root = self.ctx.record(dev, e).root
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
        return list(range(1, self.ctx.device_count() + 1))

    def _store_open_seeds(self, head: int, epoch: int) -> None:
        """``checkpointOpen(classId, e)`` for each class of the watched devices once the commit
        deadline of ``e`` is final, if nobody stored it: without it the draw of a Sampled device
        is unknowable 256 blocks after the deadline, and a drawn device that did not open could
        no longer be reported."""
        classes = self._epoch_classes.get(epoch)
        if classes is None:
            if self.ctx.epoch_seed(epoch, head) is None:
                return
            classes = {self.ctx.challenge_info(dev, epoch).class_id for dev in self._devices()}
            self._epoch_classes = {epoch: classes}
        for cid in sorted(classes - {0}):
            if (cid, epoch) in self._open_seeds:
                continue
            pc = self.ctx.class_params(cid, epoch)
            dl = self.ctx.epoch_start(epoch) + pc.commit_window
            if head < dl + max(1, self.ctx.cfg.confirmations):
                continue
            self._open_seeds.add((cid, epoch))
            if self.ctx.stored_open_seed(dl) is not None:
                continue
            tx = self._send(self.ctx.c.verifier.functions.checkpointOpen(cid, epoch),
                            f"checkpointOpen:{cid}:{epoch}")
            if tx is not None:
                log.info("class=%d epoch=%d open seed (block %d) stored tx=%s", cid, epoch, dl,
                         tx.hash)
        for key in [k for k in self._open_seeds if k[1] < epoch - 2]:
            self._open_seeds.discard(key)

    def _report_missed(self, head: int, epoch: int) -> None:
        """Report the misses of the previous and the current epoch
        (docs/protocol.md#pocps-transactions): no commitment from the commit deadline ``dl`` on;
        a commitment that had to be opened (``mustOpen``) and was not from
        ``dl + openWindow + 1`` on."""
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
                info = self.ctx.challenge_info(dev, e)
                if not epoch_duty(info).commit:
                    self._settled.add(key)
                    continue
                pc = self.ctx.class_params(info.class_id, e)
                deadline = self.ctx.epoch_start(e) + pc.commit_window
                status = self.ctx.proof_status(dev, e)
                if status == ProofStatus.NONE:
                    due = deadline
                elif status == ProofStatus.COMMITTED:
                    due = deadline + pc.open_window + 1
                else:  # opened, slashed or already reported (grace miss)
                    self._settled.add(key)
                    continue
                self._due[key] = due
                if head + 1 < due:
                    continue
                if status == ProofStatus.COMMITTED and not self.ctx.must_open(dev, e):
                    self._settled.add(key)  # committed, not drawn: present
                    continue
                tx = self._send(c.verifier.functions.reportMissed(dev, e), f"missed:{dev}:{e}")
                self._settled.add(key)
                if tx is not None:
                    what = "no commitment" if status == ProofStatus.NONE else "drawn, not opened"
                    log.warning("device=%d epoch=%d missed its challenge (%s): reported tx=%s",
                                dev, e, what, tx.hash)
        for key in [k for k in self._settled if k[1] < epoch - 2]:
            self._settled.discard(key)
        for key in [k for k in self._due if k[1] < epoch - 2]:
            del self._due[key]
