"""Per-epoch device figures for ``/metrics`` and the log: its own follower subscriber.

It runs on its own thread and RPC connection, so a slow read or a metrics failure never holds up
a commit or an opening.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pinfi import chain as ch
from pinfi.types import UNIT

from .context import ChainView
from .follower import Head
from .metrics import Metrics

log = logging.getLogger("provider_agent.stats")


class Stats:
    """Follower subscriber: head/epoch gauges every head, device figures once per epoch."""

    name = "stats"

    def __init__(self, view: ChainView, metrics: Metrics, address: str,
                 devices: Callable[[], list[int]]) -> None:
        self.view = view
        self.metrics = metrics
        self.address = address
        self.devices = devices
        self._last_epoch = -1

    def on_head(self, head: Head | int) -> None:
        number = head.number if isinstance(head, Head) else head
        epoch = self.view.epoch_of(number)
        m = self.metrics
        m.head.set(number)
        m.epoch.set(max(0, epoch))
        if epoch == self._last_epoch:
            return
        self._last_epoch = epoch
        for dev in self.devices():
            d = self.view.device(dev)
            earned = int(ch.call(self.view.c.staking.functions.earned(dev)))
            m.rewards.labels(str(dev)).set(earned / UNIT)
            m.bond.labels(str(dev)).set(d.bond / UNIT)
            m.device_state.labels(str(dev)).set(int(d.state))
            log.info("device=%d epoch=%d state=%s bond=%d earned=%d (wei of PIN)", dev, epoch,
                     d.state.label, d.bond, earned)
        m.operator_balance.set(self.view.balance(self.address) / UNIT)
