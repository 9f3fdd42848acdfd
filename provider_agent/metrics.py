"""Prometheus metrics of the agent (``/metrics`` on ``metrics_host:metrics_port``)."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from pinfi.types import DeviceState

log = logging.getLogger(__name__)


class MetricsError(RuntimeError):
    """``/metrics`` cannot be served (the port is taken...); ``str`` is one line."""


class Metrics:
    """All agent metrics in one private registry (several agents can live in one process)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        dev = ["device"]
        self.selected = Counter("pinfi_challenges_selected",
                                "Challenges the device was selected for", dev, registry=r)
        self.passed = Counter("pinfi_challenges_passed", "Challenges opened successfully", dev,
                              registry=r)
        self.failed = Counter("pinfi_challenges_failed", "Challenges missed or failed",
                              ["device", "reason"], registry=r)
        self.compute_seconds = Histogram(
            "pinfi_compute_seconds", "Wall time of one challenge (product + Merkle tree)", dev,
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600), registry=r)
        self.gas_used = Counter("pinfi_gas_used", "Gas used by the agent's transactions", ["kind"],
                                registry=r)
        self.gas_spent_wei = Counter("pinfi_gas_spent_wei", "Fees paid by the agent (wei)",
                                     ["kind"], registry=r)
        self.txs = Counter("pinfi_transactions", "Transactions mined", ["kind", "status"],
                           registry=r)
        self.rewards = Gauge("pinfi_rewards_earned_tokens", "Unclaimed maintenance rewards (PIN)",
                             dev, registry=r)
        self.bond = Gauge("pinfi_bond_tokens", "Bond of the device (PIN)", dev, registry=r)
        states = ", ".join(f"{int(x)} {x.label}" for x in DeviceState if x)
        self.device_state = Gauge("pinfi_device_state", f"Device state: {states}", dev,
                                  registry=r)
        self.head = Gauge("pinfi_head_block", "Latest block seen", registry=r)
        self.epoch = Gauge("pinfi_epoch", "Current epoch", registry=r)
        self.rpc_errors = Counter("pinfi_rpc_errors", "RPC calls that failed after retries",
                                  registry=r)
        self.operator_balance = Gauge("pinfi_operator_balance_eth", "Operator gas balance (ETH)",
                                      registry=r)
        self.leases_served = Counter("pinfi_leases_served", "Leases whose job handler was started",
                                     dev, registry=r)
        self.leases_running = Gauge("pinfi_leases_running", "Job handlers running now", registry=r)
        self.lease_job_failures = Counter("pinfi_lease_job_failures",
                                          "Job handlers that exited non-zero", dev, registry=r)
        self.disputes = Counter("pinfi_verifier_disputes", "Disputes sent (verify mode)",
                                ["result"], registry=r)
        self.missed_reports = Counter("pinfi_verifier_missed_reports",
                                      "Missed challenges reported (verify mode)", ["result"],
                                      registry=r)
        self.openings_checked = Counter("pinfi_verifier_openings_checked",
                                        "Openings recomputed (verify mode)", registry=r)

    def on_gas(self, key: str, gas_used: int, gas_price: int) -> None:
        kind = key.split(":", 1)[0]
        self.gas_used.labels(kind).inc(gas_used)
        self.gas_spent_wei.labels(kind).inc(gas_used * gas_price)

    def serve(self, port: int, host: str = "127.0.0.1", key: str = "metrics_port") -> None:
        """Serve ``/metrics`` on a daemon thread; :class:`MetricsError` (one line) when the
        port cannot be bound, e.g. another agent (``run`` beside ``verify``) holds it."""
        if not port:
            return
        try:
            start_http_server(port, addr=host, registry=self.registry)
        except OSError as err:
            raise MetricsError(f"metrics port {host}:{port} is unavailable ({err.strerror or err}"
                               f"): another agent may use it; set {key} to a free port or 0"
                               ) from None
        log.info("metrics on http://%s:%d/metrics", host, port)
