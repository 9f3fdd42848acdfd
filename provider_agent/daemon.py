"""The miner's daemon: one block follower, and the services that subscribe to it.

::

    BlockFollower (own connection) --head--> prover        (thread 1, first; the operator key)
                                        \\--> devices       (thread 2; config file + chain scan)
                                        \\--> leases        (thread 3; jobs; reaper thread)
                                        \\--> stats         (thread 4; per-epoch metrics)

Each service has its own RPC connection and its own thread, reads only the newest head from its
mailbox and survives its own errors, so no lease job, job handler error, slow RPC call, config
mistake or metrics failure can delay a commit or an opening.

In-process use (tests, embedding)::

    d = Daemon.from_config(load("agent.toml"))
    d.start()                 # preflight checks, resume journaled transactions, /metrics
    d.step()                  # one pass: poll the head, then each service in order, inline
    d.run(stop_event)         # the threads, until stop_event is set

``provider-agent run`` is ``start`` + ``run`` with SIGTERM/SIGINT setting the stop event.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from pinfi import chain as ch
from pinfi.types import UNIT

from .backends import Backend, make_backend
from .config import Config
from .context import AgentError, Context, open_context
from .devices import DeviceSet, DeviceWatcher
from .follower import BlockFollower, Head, Service, ServiceThread
from .leases import LeaseServer
from .metrics import Metrics, MetricsError
from .prover import HEARTBEAT_KEY, Prover
from .stats import Stats

log = logging.getLogger("provider_agent.daemon")

#: The follower's connection gives up on one request quickly: it only reads the head.
FOLLOWER_RPC_TIMEOUT = 5.0


class Daemon:
    def __init__(self, ctx: Context, backend_for: Callable[[int], Backend] | None = None,
                 crash_at: set[str] | None = None) -> None:
        self.ctx = ctx
        self.cfg = cfg = ctx.cfg
        self._backends: dict[tuple[str, int | None], Backend] = {}
        discovered = DeviceWatcher.restore(ctx.journal) if cfg.discover_devices else []
        self.devices = DeviceSet(cfg.devices, discovered)
        self.prover = Prover(ctx, backend_for or self.backend_for, crash_at, self.devices.current)
        rpc_error = ctx.metrics.rpc_errors.inc
        self.follower = BlockFollower(ctx.view(FOLLOWER_RPC_TIMEOUT), cfg.poll_interval, rpc_error)
        self.watcher = DeviceWatcher(ctx.view(), ctx.journal, ctx.address, self.devices, cfg.path,
                                     cfg.discover_devices)
        self.leases: LeaseServer | None = (
            LeaseServer(ctx.view(), ctx.journal, ctx.metrics, self.devices.current)
            if ctx.c.pool is not None else None)
        self.stats = Stats(ctx.view(), ctx.metrics, ctx.address, self.devices.current)
        services: list[Service] = [self.prover, self.watcher]
        if self.leases is not None:
            services.append(self.leases)
        services.append(self.stats)
        self._boxes = {s.name: self.follower.subscribe(s) for s in services}
        self.threads: list[ServiceThread] = []
        self.gateway: Any = None  # the lease gateway process, when [gateway] enabled
        self._down = False

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
        if not self.devices.current():
            if not self.cfg.discover_devices:
                raise AgentError(f"no devices in {self.cfg.path} (register one: provider-agent "
                                 "register)")
            log.warning("no devices yet: waiting for a device whose operator is %s (register "
                        "one: provider-agent register)", ctx.address)
        for dev in self.cfg.devices:
            d = ctx.device(dev)
            if not d.owner or int(d.owner, 16) == 0:
                raise AgentError(f"unknown device {dev} on chain {self.cfg.deployment.chain_id} "
                                 f"(Staking {ctx.c.staking.address})")
            if d.operator.lower() != ctx.address.lower():
                raise AgentError(f"device {dev}'s operator is {d.operator}, not this agent's "
                                 f"key {ctx.address} (fix [keys] or call setOperator)")
        bal = ctx.balance(ctx.address)
        need = int(self.cfg.min_operator_balance_eth * UNIT)
        if bal == 0 or bal < need:
            raise AgentError(f"insufficient balance: operator {ctx.address} has "
                             f"{bal / UNIT:.6f} ETH; it pays the gas of commits and opens")
        self.backend_for(self.devices.current()[0] if self.devices.current() else 0)

    def start(self, serve_metrics: bool = True) -> None:
        self.preflight()
        pending = self.ctx.sender.resume()
        if pending:
            log.info("resumed %d journaled transaction(s): %s", len(pending),
                     ", ".join(t.key for t in pending))
        if serve_metrics:
            try:
                self.ctx.metrics.serve(self.cfg.metrics_port, self.cfg.metrics_host)
            except MetricsError as err:
                log.error("%s; proving without /metrics", err)
        if self.leases is not None:
            self.leases.resume()
        # [G1 gateway hook] the lease gateway (provider_agent/gateway) in its own process when
        # [gateway] enabled = true; see docs/delivery.md#gateway.
        from .gateway.service import start_if_enabled
        self.gateway = start_if_enabled(self.cfg.path)
        log.info("agent %s started: devices=%s chain=%d", self.ctx.address,
                 self.devices.current(), self.cfg.deployment.chain_id)

    # ---- inline pass (tests, embedding)

    def step(self) -> bool:
        """One pass over the current head, every service inline and in order; False when the
        RPC is unreachable (the caller backs off)."""
        try:
            head = self.follower.poll()
        except ch.RpcUnavailable as err:
            self.ctx.metrics.rpc_errors.inc()
            if not self._down:
                log.warning("RPC unavailable: %s; retrying with backoff", err)
            self._down = True
            return False
        if head is None:
            head = Head(self.follower.last)
        if self._down:
            log.info("RPC back (head %d)", head.number)
            self._down = False
        ok = True
        for svc in self.follower.services:
            try:
                svc.on_head(head)
            except ch.RpcUnavailable as err:
                self.ctx.metrics.rpc_errors.inc()
                log.warning("%s: RPC unavailable: %s", svc.name, err)
                ok = False
            except Exception:
                log.exception("%s: step failed at head %d", svc.name, head.number)
        return ok

    # ---- the threads

    def run(self, stop: threading.Event) -> None:
        """Follow the chain until ``stop`` is set: the follower on this thread, each service on
        its own."""
        self.prover.wait_compute = False
        self.prover.on_progress = self._boxes[self.prover.name].poke
        retry = max(0.5, self.cfg.poll_interval)
        self.threads = [ServiceThread(svc, self._boxes[svc.name], stop, retry,
                                      self.ctx.metrics.rpc_errors.inc)
                        for svc in self.follower.services]
        for t in self.threads:
            t.start()
        try:
            self.follower.run(stop)
        finally:
            stop.set()
            for t in self.threads:
                t.join(timeout=5.0)
            self.close()
        log.info("agent stopped")

    def close(self) -> None:
        """Stop the background workers (jobs keep running; they are the client's paid work)."""
        if getattr(self, "gateway", None) is not None:  # [G1 gateway hook]
            self.gateway.stop()
        if self.leases is not None:
            self.leases.shutdown()
        self.prover.close()
        try:
            self.ctx.journal.put(HEARTBEAT_KEY, json.dumps({"stopped": True}))
        except Exception:  # pragma: no cover - the journal is gone
            pass
