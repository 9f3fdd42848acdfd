"""The per-(device, epoch) PoCPS state machine of the agent.

::

    SELECTED -> COMPUTED -> COMMIT_SENT -> COMMITTED -> OPEN_SENT -> OPENED -> DONE
         \\___________\\____________\\_____________\\___________\\-> MISSED / FAILED
                                               \\-> NOT_DRAWN (committed, not drawn: present)

PoCPS v2 (docs/protocol.md#selection): every device that is not Exempt commits every epoch
(``SELECTED`` = owes a commitment); openings start only after the commit deadline, when the
verifier's ``mustOpen`` view says whether this commitment was drawn (or is owed: Always, forced,
owed after a grace miss). An undrawn commitment is final as ``NOT_DRAWN``: the device is present,
and a voluntary opening would cost gas and earn nothing (rewards are paid per drawn or owed
proof, docs/protocol.md#vesting).

Every transition is written to the SQLite journal before the next action, the product's Merkle
tree (with C) is saved on disk before the commit, and each transaction is journaled before it is
broadcast. On every step the chain is read first (``proofStatus``/``record``): the chain is the
source of truth, the journal only says what was already sent. So after SIGKILL at any point the
agent resumes where it was, never sends a second commit for a (device, epoch) the chain already
has, and re-derives the samples from the commit block actually on the chain (reorgs).

Isolation: the prover runs in its own thread (first subscriber of the block follower), on its own
RPC connection, and is the only user of the operator key's nonce. Challenges are computed on a
bounded worker pool per backend (several devices of one host in parallel within the window) so
that committing and opening other devices never waits for a computation.

Safety: the agent never opens a root computed from a seed that differs from the one stored at
commit time (a wrong opening would be slashed as fraud; a miss costs less), and it checks a few
entries of C against the O(n) recomputation before committing.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from pinfi import chain as ch
from pinfi import protocol
from pinfi.types import ProofStatus

from . import state as st
from .backends import Backend, Result, log_progress
from .context import Context, ProofRecord
from .duty import epoch_duty
from .follower import Head
from .state import ProofRow

log = logging.getLogger("provider_agent.prover")

CRASH_ENV = "PROVIDER_AGENT_CRASH_AT"
"""TEST ONLY: comma-separated crash points (computed, commit_sent, committed, open_sent, opened);
the agent SIGKILLs itself at the first one it reaches (restart tests)."""

HEARTBEAT_KEY = "daemon:heartbeat"
HEARTBEAT_EVERY_S = 5.0
#: Heads between two checks that no journaled transaction lost its receipt (reorgs are checked
#: at once when the follower reports one).
RECONCILE_EVERY = 10


def crash_points() -> set[str]:
    return {p.strip() for p in os.environ.get(CRASH_ENV, "").split(",") if p.strip()}


def checkpoint_epoch(ctx: Context, epoch: int, head: int) -> bool:
    """Store ``epoch``'s seed on chain when nobody has (prover and keeper); True when the epoch
    needs nothing more from us (stored, sent, or not needed)."""
    if head < ctx.epoch_start(epoch):
        return False
    key = f"checkpoint:{epoch}"
    if ctx.journal.get_tx(key) is not None or ctx.stored_seed(epoch) is not None:
        return True
    try:
        ctx.sender.send(ctx.c.verifier.functions.checkpoint(), key)
        log.info("epoch=%d checkpoint sent", epoch)
    except ch.TxReverted as err:
        log.info("epoch=%d checkpoint not needed: %s", epoch, err.message)
    return True


def default_workers(backend: Backend) -> int:
    """Challenges one backend computes at once: one per GPU (a CUDA backend is one GPU); two on
    the CPU (its product and Merkle hashing already use every core; a second computation
    overlaps the other's single-threaded phases)."""
    return 1 if backend.name == "cuda" else 2


class Prover:
    """Drives the challenges of the agent's devices, one block head at a time."""

    name = "prover"

    def __init__(self, ctx: Context, backend_for: Callable[[int], Backend],
                 crash_at: set[str] | None = None,
                 devices: Callable[[], list[int]] | None = None) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.backend_for = backend_for
        self.devices = devices or (lambda: list(self.cfg.devices))
        self.crash_at = crash_points() if crash_at is None else crash_at
        self.trees: dict[tuple[int, int], protocol.MerkleTree] = {}
        self._checkpointed: set[int] = set()
        #: Threaded daemon: False (a finished computation wakes the prover through
        #: ``on_progress``); ``Daemon.step()``: True (each step waits for its computations).
        self.wait_compute = True
        self.on_progress: Callable[[], None] | None = None
        self._pools: dict[int, ThreadPoolExecutor] = {}
        self._jobs: dict[tuple[int, int], Future[tuple[Result, Path]]] = {}
        self._heads = 0
        self._beat = 0.0
        if "commit_sent" in self.crash_at or "open_sent" in self.crash_at:
            ctx.sender.before_broadcast = self._before_broadcast

    # ---- crash injection (tests)

    def _crash(self, point: str) -> None:
        if point in self.crash_at:
            log.warning("TEST crash point %s reached: SIGKILL", point)
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)

    def _before_broadcast(self, tx: ch.SentTx) -> None:
        kind = tx.key.split(":", 1)[0]
        self._crash(f"{kind}_sent")

    # ---- entry point

    def on_head(self, head: Head | int) -> None:
        if isinstance(head, int):
            head = Head(head)
        number = head.number
        self._heads += 1
        if head.reorg_from is not None or self._heads % RECONCILE_EVERY == 1:
            self.reconcile_txs(number)
        epoch = self.ctx.epoch_of(number)
        if epoch >= 0:
            for dev in self.devices():
                try:
                    self._ensure(dev, epoch, number)
                except ch.RpcUnavailable:
                    raise
                except Exception:
                    log.exception("device=%d epoch=%d selection check failed", dev, epoch)
        self._advance_all()
        if self.wait_compute and self._jobs:
            for fut in list(self._jobs.values()):
                try:
                    fut.result()
                except Exception:
                    pass  # reported by _collect
            self._advance_all()
        if epoch >= 0 and self.cfg.checkpoint and epoch not in self._checkpointed:
            if checkpoint_epoch(self.ctx, epoch, number):
                self._checkpointed.add(epoch)
        self.sweep_txs(number)
        self._heartbeat(number)

    def _advance_all(self) -> None:
        for row in self.ctx.journal.active_proofs():
            try:
                self.advance(row)
            except ch.RpcUnavailable:
                raise
            except Exception:
                log.exception("device=%d epoch=%d step %s failed", row.device_id, row.epoch,
                              row.state)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    # ---- transactions

    def sweep_txs(self, head: int) -> None:
        """Track every journaled transaction still pending (checkpoints, adopted commits...):
        receipts, rebroadcasts after an outage, fee replacement of stuck ones."""
        for tx in self.ctx.journal.pending_txs(self.ctx.address):
            self.ctx.sender.poll(tx, head)

    def reconcile_txs(self, head: int) -> None:
        """No nonce gap after a reorg: a journaled transaction whose nonce the chain has not
        used (yet it was recorded mined or reverted) lost its block; it becomes pending again
        and is rebroadcast, lowest nonce first, so the later ones can be mined."""
        addr = self.ctx.address
        used = int(ch.with_retry(lambda: self.ctx.w3.eth.get_transaction_count(addr, "latest"),
                                 what="eth_getTransactionCount"))
        lost = self.ctx.journal.settled_txs_from(addr, used)
        for tx in lost:
            log.warning("tx %s nonce=%d lost its block (reorg): rebroadcasting", tx.key,
                        tx.nonce)
            tx.status, tx.receipt = "pending", None
            self.ctx.journal.save_tx(tx)
            self.ctx.sender.poll(tx, head)
        if lost:
            self.ctx.sender.sync_nonce()

    def _heartbeat(self, head: int) -> None:
        """Tell ``status`` that a daemon serves these devices (pid, head, devices)."""
        now = time.time()
        if now - self._beat < HEARTBEAT_EVERY_S:
            return
        self._beat = now
        self.ctx.journal.put(HEARTBEAT_KEY, json.dumps(
            {"pid": os.getpid(), "time": now, "head": head, "devices": self.devices()}))

    # ---- selection

    def _ensure(self, dev: int, epoch: int, head: int) -> None:
        j = self.ctx.journal
        if j.get_proof(dev, epoch) is not None:
            return
        row = ProofRow(dev, epoch, st.SELECTED)
        seed = self.ctx.epoch_seed(epoch, head)
        if seed is None:
            row.state, row.detail = st.EXEMPT, "no epoch seed"
            j.save_proof(row)
            return
        info = self.ctx.challenge_info(dev, epoch)
        row.class_id = info.class_id
        row.seed = seed.hex()
        pc = self.ctx.class_params(row.class_id, epoch)
        duty = epoch_duty(info, forced=self.ctx.forced(dev, epoch),
                          owed=self.ctx.owed(dev, epoch))
        if not duty.commit:
            row.state, row.detail = st.EXEMPT, "not challenged (state)"
            j.save_proof(row)
            return
        if info.operator.lower() != self.ctx.address.lower():
            row.state, row.detail = st.NOT_OURS, f"operator is {info.operator}"
            log.error("device=%d epoch=%d operator is %s, not this agent's key %s", dev, epoch,
                      info.operator, self.ctx.address)
            j.save_proof(row)
            return
        row.s = protocol.challenge_seed(seed, dev, epoch).hex()
        row.n, row.leaf, row.k = pc.n, pc.leaf, pc.k
        row.commit_deadline = self.ctx.epoch_start(epoch) + pc.commit_window
        j.save_proof(row)
        self.ctx.metrics.selected.labels(str(dev)).inc()
        log.info("device=%d epoch=%d SELECTED (commit due; open: %s) n=%d L=%d k=%d commit by "
                 "block %d", dev, epoch, "drawn after the deadline" if duty.open is None
                 else duty.why, pc.n, pc.leaf, pc.k, row.commit_deadline - 1)

    # ---- the state machine

    def advance(self, row: ProofRow, max_steps: int = 8) -> None:
        """Run transitions of ``row`` until it waits for the chain (or is final)."""
        for _ in range(max_steps):
            before = (row.state, row.open_attempt)
            self._step(row)
            if row.terminal or (row.state, row.open_attempt) == before:
                return

    def _save(self, row: ProofRow, state: str, detail: str | None = None) -> None:
        row.state = state
        if detail is not None:
            row.detail = detail
        self.ctx.journal.save_proof(row)

    def _finish(self, row: ProofRow, state: str, reason: str, detail: str) -> None:
        self._save(row, state, detail)
        if state in (st.MISSED, st.FAILED):
            self.ctx.metrics.failed.labels(str(row.device_id), reason).inc()
            log.error("device=%d epoch=%d %s: %s", row.device_id, row.epoch, state, detail)
        self._cleanup_trees()

    def _chain_status(self, row: ProofRow) -> tuple[ProofStatus, ProofRecord | None]:
        status = self.ctx.proof_status(row.device_id, row.epoch)
        rec = (self.ctx.record(row.device_id, row.epoch) if status != ProofStatus.NONE
               else None)
        if rec is not None and rec.epoch != row.epoch:
            rec = None  # the slot was recycled (a passed forced challenge still reads Opened)
        return status, rec

    def _step(self, row: ProofRow) -> None:
        head = self.ctx.head()
        status, rec = self._chain_status(row)
        dev, e = row.device_id, row.epoch
        # --- the chain first
        if status == ProofStatus.SLASHED:
            self._finish(row, st.FAILED, "slashed", "slashed on-chain (fraud or miss)")
            return
        if status == ProofStatus.MISSED:
            self._finish(row, st.MISSED, "grace_miss", "reported missed on chain (a grace miss of "
                         "the commit: no bond slashed, the next epoch's opening is owed)")
            return
        if status == ProofStatus.OPENED and row.state == st.OPEN_SENT:
            self._poll_open(row, head)  # records the receipt (gas) and moves to OPENED
        if status == ProofStatus.OPENED:
            if row.state not in (st.OPENED, st.DONE):
                row.open_block = rec.open_block if rec else head
                self._save(row, st.OPENED)
                self.ctx.metrics.passed.labels(str(dev)).inc()
                log.info("device=%d epoch=%d OPENED block=%d: challenge passed", dev, e,
                         row.open_block)
                self._crash("opened")
            if head >= row.open_block + self.cfg.confirmations + 2:
                self._finish(row, st.DONE, "", "opened")
            return
        if status == ProofStatus.COMMITTED and row.state == st.COMMIT_SENT:
            self._poll_commit(row, head)  # records the receipt (gas) and moves to COMMITTED
            if row.state != st.COMMIT_SENT:
                return
        if status == ProofStatus.COMMITTED and row.state in (st.SELECTED, st.COMPUTED,
                                                              st.COMMIT_SENT):
            if rec is None:
                return
            if row.state == st.SELECTED:
                self._compute_now(row, head)
            row.commit_block = rec.commit_block
            if rec.root.hex() != row.root:
                self._finish(row, st.FAILED, "foreign_root",
                             f"on-chain root {rec.root.hex()[:16]} is not ours "
                             f"{row.root[:16]}: not opening")
                return
            self._save(row, st.COMMITTED)
            log.info("device=%d epoch=%d COMMITTED block=%d (found on chain)", dev, e,
                     row.commit_block)
            self._crash("committed")
            return
        if status == ProofStatus.NONE and row.state in (st.COMMITTED, st.OPEN_SENT, st.OPENED):
            if self.ctx.epoch_of(head) > e + 1:
                self._finish(row, st.MISSED, "lost", "record gone before the proof was final")
                return
            log.warning("device=%d epoch=%d commit no longer on chain (reorg): resending", dev, e)
            self._save(row, st.COMMIT_SENT)
            return
        if status == ProofStatus.COMMITTED and row.state == st.OPENED:
            log.warning("device=%d epoch=%d opening no longer on chain (reorg)", dev, e)
            self._save(row, st.COMMITTED)
            return
        # --- our side
        if row.state == st.SELECTED:
            if head + 1 >= row.commit_deadline:
                job = self._jobs.pop((dev, e), None)
                if job is not None:
                    job.cancel()
                self._finish(row, st.MISSED, "late", "commit window closed before computing")
                return
            self._compute(row, head)
        elif row.state == st.COMPUTED:
            self._commit(row, head)
        elif row.state == st.COMMIT_SENT:
            self._poll_commit(row, head)
        elif row.state == st.COMMITTED:
            self._open(row, head, rec)
        elif row.state == st.OPEN_SENT:
            self._poll_open(row, head)

    # ---- compute

    def _pool(self, backend: Backend) -> ThreadPoolExecutor:
        pool = self._pools.get(id(backend))
        if pool is None:
            workers = self.cfg.prove_workers or default_workers(backend)
            pool = ThreadPoolExecutor(workers, thread_name_prefix=f"prove-{backend.name}")
            self._pools[id(backend)] = pool
            log.info("backend %s: up to %d challenge(s) computed at once", backend.describe(),
                     workers)
        return pool

    def _work(self, backend: Backend, dev: int, e: int, s: bytes, n: int,
              leaf: int) -> tuple[Result, Path]:
        """On a worker thread: the product and the tree, saved on disk before the commit."""
        progress = log_progress(f"device={dev} epoch={e} compute") if n >= 4096 else None
        res = backend.compute(s, n, leaf, progress, self.cfg.cheat_fraction,
                              self.cfg.spot_checks)
        d = self.ctx.tree_dir(dev, e)
        tmp = d.with_name(d.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        res.tree.save(tmp)
        shutil.rmtree(d, ignore_errors=True)
        os.replace(tmp, d)
        return res, d

    def _compute(self, row: ProofRow, head: int) -> None:
        """Start the row's computation, or take its result when it is ready."""
        key = (row.device_id, row.epoch)
        fut = self._jobs.get(key)
        if fut is None:
            backend = self.backend_for(row.device_id)
            fut = self._pool(backend).submit(self._work, backend, row.device_id, row.epoch,
                                             bytes.fromhex(row.s), row.n, row.leaf)
            fut.add_done_callback(lambda _f: self.on_progress() if self.on_progress else None)
            self._jobs[key] = fut
            return
        if not fut.done():
            return
        del self._jobs[key]
        try:
            res, d = fut.result()
        except Exception as exc:
            log.error("device=%d epoch=%d compute failed: %s: %s; retrying", row.device_id,
                      row.epoch, type(exc).__name__, exc)
            return
        self._computed(row, res, d, head)

    def _compute_now(self, row: ProofRow, head: int) -> None:
        """Compute on this thread (recovery: the chain holds our commit, the journal lost the
        tree)."""
        fut = self._jobs.pop((row.device_id, row.epoch), None)
        res, d = fut.result() if fut is not None else self._work(
            self.backend_for(row.device_id), row.device_id, row.epoch, bytes.fromhex(row.s),
            row.n, row.leaf)
        self._computed(row, res, d, head)

    def _computed(self, row: ProofRow, res: Result, d: Path, head: int) -> None:
        dev, e = row.device_id, row.epoch
        self.trees[(dev, e)] = res.tree
        row.root = res.tree.root.hex()
        row.tree_dir = str(d)
        row.compute_s = round(res.total_s, 4)
        self.ctx.metrics.compute_seconds.labels(str(dev)).observe(res.total_s)
        self._save(row, st.COMPUTED, "")
        log.info("device=%d epoch=%d COMPUTED root=0x%s backend=%s product=%.3fs tree=%.3fs "
                 "head=%d deadline=%d", dev, e, row.root[:16], res.backend, res.product_s,
                 res.tree_s, head, row.commit_deadline)
        if self.cfg.cheat_fraction:
            log.warning("device=%d epoch=%d TEST ONLY cheat_fraction=%.2f: root is WRONG", dev, e,
                        self.cfg.cheat_fraction)
        self._crash("computed")

    def _tree(self, row: ProofRow) -> protocol.MerkleTree:
        key = (row.device_id, row.epoch)
        tree = self.trees.get(key)
        if tree is None and row.tree_dir and Path(row.tree_dir).is_dir():
            try:
                tree = protocol.MerkleTree.load(row.tree_dir)
            except Exception as exc:
                log.warning("device=%d epoch=%d saved tree unreadable (%s): recomputing",
                            row.device_id, row.epoch, exc)
        if tree is None or tree.root.hex() != row.root:
            res = self.backend_for(row.device_id).compute(
                bytes.fromhex(row.s), row.n, row.leaf, None, self.cfg.cheat_fraction, 0)
            tree = res.tree
        self.trees[key] = tree
        return tree

    # ---- commit

    def _commit(self, row: ProofRow, head: int) -> None:
        dev, e = row.device_id, row.epoch
        if head + 1 >= row.commit_deadline:
            self._finish(row, st.MISSED, "late", f"commit window closed (deadline block "
                         f"{row.commit_deadline}, head {head})")
            return
        start = self.ctx.epoch_start(e)
        if head < start + self.cfg.confirmations:
            return  # the epoch seed is not final yet
        seed = self.ctx.epoch_seed(e, head)
        if seed is None or seed.hex() != row.seed:
            log.warning("device=%d epoch=%d epoch seed changed (reorg): recomputing", dev, e)
            self.ctx.journal.delete_proof(dev, e)
            self.trees.pop((dev, e), None)
            row.state = st.DONE  # this object is stale; on_head re-checks selection
            return
        if head + 1 + self.cfg.safety_margin_blocks >= row.commit_deadline:
            log.warning("device=%d epoch=%d committing inside the safety margin (head %d, "
                        "deadline %d)", dev, e, head, row.commit_deadline)
        row.commit_key = f"commit:{dev}:{e}"
        self._save(row, st.COMMIT_SENT)
        fn = self.ctx.c.verifier.functions.commit(dev, e, bytes.fromhex(row.root))
        try:
            tx = self.ctx.sender.send(fn, row.commit_key)
        except ch.TxReverted as err:
            self._commit_rejected(row, err)
            return
        except ch.RpcUnavailable:
            self._save(row, st.COMPUTED)
            raise
        log.info("device=%d epoch=%d COMMIT_SENT tx=%s nonce=%d", dev, e, tx.hash, tx.nonce)

    def _commit_rejected(self, row: ProofRow, err: ch.TxReverted) -> None:
        dev, e = row.device_id, row.epoch
        name = err.name or ""
        if name == "AlreadyCommitted":
            self._save(row, st.COMPUTED)  # the chain check adopts the existing commit
        elif name in ("CommitWindowClosed", "WrongEpoch"):
            self._finish(row, st.MISSED, "late", f"commit rejected: {err.message}")
        elif name == "NotSelected":
            self._finish(row, st.NOT_SELECTED, "", f"contract says not selected: {err.message}")
            log.error("device=%d epoch=%d selection mismatch: %s", dev, e, err.message)
        elif name == "NotOperator":
            self._finish(row, st.NOT_OURS, "", err.message)
        else:
            self._save(row, st.COMPUTED)
            log.warning("device=%d epoch=%d commit would revert (%s); retrying next block", dev, e,
                        err.message)

    def _poll_commit(self, row: ProofRow, head: int) -> None:
        dev, e = row.device_id, row.epoch
        tx = self.ctx.journal.get_tx(row.commit_key) if row.commit_key else None
        if tx is None:
            self._save(row, st.COMPUTED)  # crashed before signing: send it now
            return
        if tx.status == "dropped":
            log.warning("device=%d epoch=%d commit tx dropped: resending", dev, e)
            self._save(row, st.COMPUTED)
            return
        rc = self.ctx.sender.poll(tx, head)
        if rc is None:
            if tx.status == "dropped":
                self._save(row, st.COMPUTED)
            return
        self.ctx.metrics.txs.labels("commit", tx.status).inc()
        if tx.status == "mined":
            row.commit_block = int(rc["blockNumber"])
            row.commit_hash = "0x" + bytes(rc["blockHash"]).hex()
            self._save(row, st.COMMITTED)
            log.info("device=%d epoch=%d COMMITTED tx=%s block=%d gas=%d", dev, e, tx.hash,
                     row.commit_block, int(rc["gasUsed"]))
            self._crash("committed")
            return
        err = self.ctx.sender.revert_reason(tx)
        log.warning("device=%d epoch=%d commit tx %s reverted: %s", dev, e, tx.hash, err.message)
        self._commit_rejected(row, err)

    # ---- open

    def _open(self, row: ProofRow, head: int, rec: ProofRecord | None) -> None:
        dev, e = row.device_id, row.epoch
        if rec is None:
            return
        commit_block = rec.commit_block
        row.commit_block = commit_block
        wait = max(1, self.cfg.confirmations)
        if head < commit_block + wait:
            return  # the sample seed's block must be final (and open needs a later block)
        # Openings start after the commit deadline (OpenTooEarly before); the draw comes from
        # the deadline block's hash, so it must be final too.
        dl = row.commit_deadline
        if head < dl + wait:
            return
        pc = self.ctx.class_params(row.class_id, e)
        deadline = dl + pc.open_window
        if head + 1 > deadline:
            self._finish(row, st.MISSED, "late", f"open window closed (deadline {deadline}, "
                         f"head {head})")
            return
        if not row.open_attempt and not self.ctx.must_open(dev, e):
            self._finish(row, st.NOT_DRAWN, "", "committed, not drawn for opening: present")
            log.info("device=%d epoch=%d committed, not drawn: present", dev, e)
            return
        stored = self.ctx.stored_seed(e)
        if stored is None or stored.hex() != row.seed:
            self._finish(row, st.MISSED, "seed_changed",
                         "epoch seed changed after the commit (reorg); not opening a root for "
                         "another seed")
            return
        bh = self.ctx.block_hash(commit_block)
        if bh is None:
            return
        tree = self._tree(row)
        if tree.root != rec.root:
            self._finish(row, st.FAILED, "foreign_root", "on-chain root is not ours: not opening")
            return
        sseed = protocol.sample_seed(bh, tree.root)
        picks = protocol.samples(sseed, tree.n_leaves, pc.k, pc.leaf)
        leaves, proof = protocol.build_opening(tree, picks)
        if not protocol.verify_opening(tree.root, tree.n_leaves, pc.k, pc.leaf, picks, leaves,
                                       proof):
            self._finish(row, st.FAILED, "bad_opening", "our own opening does not verify")
            return
        row.commit_hash = "0x" + bh.hex()
        row.open_attempt += 1
        row.open_key = f"open:{dev}:{e}:{row.open_attempt}"
        self._save(row, st.OPEN_SENT)
        fn = self.ctx.c.verifier.functions.open(dev, e, leaves, proof)
        try:
            tx = self.ctx.sender.send(fn, row.open_key)
        except ch.TxReverted as err:
            row.open_attempt -= 1  # nothing was signed under this key
            self._open_rejected(row, err)
            return
        except ch.RpcUnavailable:
            row.open_attempt -= 1
            self._save(row, st.COMMITTED)
            raise
        log.info("device=%d epoch=%d OPEN_SENT tx=%s nonce=%d commitBlock=%d samples=%s", dev, e,
                 tx.hash, tx.nonce, commit_block, [li for li, _ in picks])

    def _open_rejected(self, row: ProofRow, err: ch.TxReverted) -> None:
        dev, e = row.device_id, row.epoch
        name = err.name or ""
        if name in ("OpenWindowClosed",):
            self._finish(row, st.MISSED, "late", f"open rejected: {err.message}")
        elif name in ("BadProof", "OpenTooEarly", "AlreadyOpened", "NotCommitted"):
            log.warning("device=%d epoch=%d open rejected (%s): re-reading the chain", dev, e,
                        err.message)
            self._save(row, st.COMMITTED)
        elif name == "NotOperator":
            self._finish(row, st.NOT_OURS, "", err.message)
        else:
            self._save(row, st.COMMITTED)
            log.warning("device=%d epoch=%d open would revert (%s); retrying", dev, e, err.message)

    def _poll_open(self, row: ProofRow, head: int) -> None:
        dev, e = row.device_id, row.epoch
        tx = self.ctx.journal.get_tx(row.open_key) if row.open_key else None
        if tx is None or tx.status == "dropped":
            self._save(row, st.COMMITTED)
            return
        rc = self.ctx.sender.poll(tx, head)
        if rc is None:
            if tx.status == "dropped":
                self._save(row, st.COMMITTED)
            return
        self.ctx.metrics.txs.labels("open", tx.status).inc()
        if tx.status == "mined":
            row.open_block = int(rc["blockNumber"])
            status = self.ctx.proof_status(dev, e)
            if status == ProofStatus.OPENED:
                self._save(row, st.OPENED)
                self.ctx.metrics.passed.labels(str(dev)).inc()
                log.info("device=%d epoch=%d OPENED tx=%s block=%d gas=%d: challenge passed", dev,
                         e, tx.hash, row.open_block, int(rc["gasUsed"]))
                self._crash("opened")
            elif status == ProofStatus.SLASHED:
                self._finish(row, st.FAILED, "fraud", f"opening tx {tx.hash} convicted the "
                             "device of fraud (wrong entry)")
            return
        err = self.ctx.sender.revert_reason(tx)
        log.warning("device=%d epoch=%d open tx %s reverted: %s", dev, e, tx.hash, err.message)
        self._open_rejected(row, err)

    # ---- housekeeping

    def _cleanup_trees(self) -> None:
        root = self.cfg.data_dir / "trees"
        if not root.is_dir():
            return
        active = {Path(r.tree_dir).name for r in self.ctx.journal.active_proofs()}
        dirs = sorted((p for p in root.iterdir() if p.is_dir() and p.name not in active),
                      key=lambda p: p.stat().st_mtime)
        for p in dirs[: max(0, len(dirs) - self.cfg.keep_trees)]:
            shutil.rmtree(p, ignore_errors=True)
            self.trees.pop(tuple(int(x) for x in p.name.split("-")[:2]), None)  # type: ignore[arg-type]
