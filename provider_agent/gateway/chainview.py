"""The gateway's reads of the chain: heads, leases, device states and operators.

Its own web3 connection (the gateway is its own process). Operators are cached for a few seconds
(a request burst costs one read), leases and states are read fresh: they decide who may act.
The one exception is the service proxy's hot path (:meth:`ChainView.lease_recent`,
:meth:`ChainView.summary_recent`): a read at most ``max_age`` seconds old (the gateway's poll
interval), the same delay with which a running job is stopped when its lease ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from web3 import Web3

from pinfi import chain as ch
from pinfi.chain import reads

OPERATOR_TTL_S = 5.0
T = TypeVar("T")


class ChainView:
    def __init__(self, rpc_url: str, deployment: ch.Deployment, timeout: float = 10.0) -> None:
        self.w3: Web3 = ch.connect(rpc_url, deployment.chain_id, timeout=timeout)
        self.c = ch.load_contracts(self.w3, deployment)
        if self.c.pool is None:
            raise ch.ChainError("the deployment has no DissipativePool: nothing to serve")
        self.chain_id = deployment.chain_id
        self.pool_address = str(self.c.pool.address)
        self._ops: dict[int, tuple[float, str]] = {}
        self._leases: dict[int, tuple[float, ch.LeaseState]] = {}
        self._summaries: dict[int, tuple[float, ch.DeviceSummary]] = {}
        self._lock = threading.Lock()

    def head(self) -> int:
        return int(ch.with_retry(lambda: self.w3.eth.block_number, what="eth_blockNumber"))

    def current_epoch(self) -> int:
        return int(ch.call(self.c.staking.functions.currentEpoch(), "latest"))

    def lease(self, device_id: int) -> ch.LeaseState:
        return reads.lease(self.c, device_id)

    def summary(self, device_id: int) -> ch.DeviceSummary:
        return reads.device_summary(self.c, device_id)

    def lease_recent(self, device_id: int, max_age: float) -> ch.LeaseState:
        """``leaseOf(device)`` read at most ``max_age`` seconds ago."""
        return self._recent(self._leases, device_id, max_age, self.lease)

    def summary_recent(self, device_id: int, max_age: float) -> ch.DeviceSummary:
        return self._recent(self._summaries, device_id, max_age, self.summary)

    def cached(self, device_id: int, max_age: float) -> bool:
        """Whether operator, lease and state of the device are all cached and young enough
        for :meth:`lease_recent` / :meth:`summary_recent` to answer without a read."""
        now = time.monotonic()
        with self._lock:
            op, ls, sm = (self._ops.get(device_id), self._leases.get(device_id),
                          self._summaries.get(device_id))
        return bool(op and now - op[0] < OPERATOR_TTL_S and ls and now - ls[0] < max_age
                    and sm and now - sm[0] < max_age)

    def _recent(self, cache: dict[int, tuple[float, T]], device_id: int, max_age: float,
                read: Callable[[int], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = cache.get(device_id)
        if hit and now - hit[0] < max_age:
            return hit[1]
        value = read(device_id)
        with self._lock:
            cache[device_id] = (now, value)
        return value

    def operator(self, device_id: int) -> str:
        now = time.monotonic()
        with self._lock:
            hit = self._ops.get(device_id)
        if hit and now - hit[0] < OPERATOR_TTL_S:
            return hit[1]
        op = reads.device(self.c, device_id).operator
        with self._lock:
            self._ops[device_id] = (now, op)
        return op
