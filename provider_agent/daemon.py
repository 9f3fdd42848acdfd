"""The miner's daemon: follows new blocks and drives the prover, the lease server and metrics.

In-process use (tests, embedding)::

    d = Daemon.from_config(load("agent.toml"))
    d.start()                 # preflight checks, resume journaled transactions, /metrics
    d.step()                  # one pass over the current head
    d.run(stop_event)         # loop until stop_event is set

``provider-agent run`` is ``start`` + ``run`` with SIGTERM/SIGINT setting the stop event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from pinfi import chain as ch

from .backends import Backend, make_backend
from .config import Config
from .context import DEVICE_STATES, ZERO_ADDRESS, AgentError, Context, open_context
from .leases import LeaseServer
from .metrics import Metrics
from .prover import Prover

log = logging.getLogger("provider_agent.daemon")

REORG_WINDOW = 16


class Daemon:
    def __init__(self, ctx: Context, backend_for: Callable[[int], Backend] | None = None,
                 crash_at: set[str] | None = None) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self._backends: dict[tuple[str, int | None], Backend] = {}
        self.prover = Prover(ctx, backend_for or self.backend_for, crash_at)
        self.leases: LeaseServer | None = LeaseServer(ctx) if ctx.c.pool is not None else None
        self.last_head = -1
        self._hashes: dict[int, bytes] = {}
        self._down_since: float | None = None
        self._last_stats_epoch = -1

    @classmethod
    def from_config(cls, cfg: Config, metrics: Metrics | None = None,
                    crash_at: set[str] | None = None) -> Daemon:
        return cls(open_context(cfg, "operator", metrics), crash_at=crash_at)

    # ---- backends

    def backend_for(self, device_id: int) -> Backend:
        gpu = self.cfg.cuda_devices.get(device_id)
        key = (self.cfg.backend, gpu)
        b = self._backends.get(key)
        if b is None:
            b = make_backend(self.cfg.backend, self.cfg.torch_mode, gpu)
            b.self_check()
            log.info("backend for device=%d: %s (self-check passed)", device_id, b.describe())
            self._backends[key] = b
        return b

    # ---- startup

    def preflight(self) -> None:
        """Refuse to start on a setup that cannot prove (one clear line each)."""
        ctx = self.ctx
        if not self.cfg.devices:
            raise AgentError(f"no devices in {self.cfg.path} (register one: provider-agent "
                             "register)")
        for dev in self.cfg.devices:
            d = ctx.device(dev)
            if d["owner"] == ZERO_ADDRESS:
                raise AgentError(f"unknown device {dev} on chain {self.cfg.deployment.chain_id} "
                                 f"(Staking {ctx.c.staking.address})")
            if str(d["operator"]).lower() != ctx.address.lower():
                raise AgentError(f"device {dev}'s operator is {d['operator']}, not this agent's "
                                 f"key {ctx.address} (fix [keys] or call setOperator)")
        bal = ch.with_retry(lambda: ctx.w3.eth.get_balance(ctx.address), what="eth_getBalance")
        need = int(self.cfg.min_operator_balance_eth * 10**18)
        if bal == 0 or bal < need:
            raise AgentError(f"insufficient balance: operator {ctx.address} has "
                             f"{bal / 1e18:.6f} ETH; it pays the gas of commits and opens")
        self.backend_for(self.cfg.devices[0])

    def start(self, serve_metrics: bool = True) -> None:
        self.preflight()
        pending = self.ctx.sender.resume()
        if pending:
            log.info("resumed %d journaled transaction(s): %s", len(pending),
                     ", ".join(t.key for t in pending))
        if serve_metrics:
            self.ctx.metrics.serve(self.cfg.metrics_port, self.cfg.metrics_host)
        if self.leases is not None:
            self.leases.resume()
        log.info("agent %s started: devices=%s chain=%d", self.ctx.address, self.cfg.devices,
                 self.cfg.deployment.chain_id)

    # ---- loop

    def step(self) -> bool:
        """One pass; returns False when the RPC is unreachable (the caller backs off)."""
        try:
            head = self.ctx.head()
            self._check_reorg(head)
            self.ctx.metrics.head.set(head)
            self.ctx.metrics.epoch.set(max(0, self.ctx.epoch_of(head)))
            self.prover.on_head(head)
            self._sweep_txs(head)
            if self.leases is not None:
                self.leases.on_head(head)
            self._stats(head)
        except ch.RpcUnavailable as err:
            self.ctx.metrics.rpc_errors.inc()
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("RPC unavailable: %s; retrying with backoff", err)
            return False
        if self._down_since is not None:
            log.info("RPC back after %.1fs (head %d)", time.monotonic() - self._down_since, head)
            self._down_since = None
        self.last_head = head
        return True

    def run(self, stop: threading.Event) -> None:
        delay = self.cfg.poll_interval
        while not stop.is_set():
            try:
                ok = self.step()
            except Exception:
                log.exception("step failed")
                ok = False
            cap = max(5.0, self.cfg.poll_interval)
            delay = self.cfg.poll_interval if ok else min(delay * 2, cap)
            stop.wait(delay)
        if self.leases is not None:
            self.leases.shutdown()
        log.info("agent stopped")

    def _sweep_txs(self, head: int) -> None:
        """Track every journaled transaction still pending (checkpoints, adopted commits...):
        receipts, rebroadcasts after an outage, fee replacement of stuck ones."""
        for tx in self.ctx.journal.pending_txs(self.ctx.address):
            self.ctx.sender.poll(tx, head)

    def _check_reorg(self, head: int) -> None:
        if head == self.last_head:
            return
        if head < self.last_head:
            log.warning("head went back from %d to %d (reorg or node reset)", self.last_head, head)
        prev = min(self.last_head, head - 1)
        if prev >= 0 and prev in self._hashes:
            h = self.ctx.block_hash(prev)
            if h is not None and h != self._hashes[prev]:
                log.warning("reorg detected at block %d: re-checking proofs against the chain",
                            prev)
                self._hashes = {b: x for b, x in self._hashes.items() if b < prev - REORG_WINDOW}
        h = self.ctx.block_hash(head)
        if h is not None:
            self._hashes[head] = h
        for b in [b for b in self._hashes if b < head - REORG_WINDOW]:
            del self._hashes[b]

    def _stats(self, head: int) -> None:
        epoch = self.ctx.epoch_of(head)
        if epoch == self._last_stats_epoch:
            return
        self._last_stats_epoch = epoch
        m = self.ctx.metrics
        for dev in self.cfg.devices:
            d = self.ctx.device(dev)
            earned = int(ch.call(self.ctx.c.staking.functions.earned(dev)))
            m.rewards.labels(str(dev)).set(earned / 1e18)
            m.bond.labels(str(dev)).set(int(d["bond"]) / 1e18)  # type: ignore[call-overload]
            m.device_state.labels(str(dev)).set(int(d["state"]))  # type: ignore[call-overload]
            log.info("device=%d epoch=%d state=%s bond=%.2f earned=%.4f PIN", dev, epoch,
                     DEVICE_STATES[int(d["state"])],  # type: ignore[call-overload]
                     int(d["bond"]) / 1e18, earned / 1e18)  # type: ignore[call-overload]
        bal = ch.with_retry(lambda: self.ctx.w3.eth.get_balance(self.ctx.address),
                            what="eth_getBalance")
        m.operator_balance.set(bal / 1e18)
