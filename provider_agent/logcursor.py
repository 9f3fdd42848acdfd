"""One log cursor for every service that reads contract events (leases, devices, the keeper).

A cursor remembers in the journal (``kv``) the last block whose logs were handled, reads the
next range in chunks of at most ``max_scan`` blocks, and moves back when the block follower
reports a reorg, so an event of a replaced block is read again (handlers are idempotent: they
key what they do by the event's ids).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from pinfi import chain as ch

log = logging.getLogger("provider_agent.logcursor")

MAX_SCAN = 2_000


class KV(Protocol):
    def get(self, k: str, default: str | None = None) -> str | None: ...

    def put(self, k: str, v: str) -> None: ...


@dataclass
class LogCursor:
    """Reads the logs of one contract event (``event``, a web3 contract event), resumably; its
    position is saved in ``kv`` under ``key``.

    ``first_block`` is where a cursor with nothing saved starts (e.g. the deployment block, or
    ``head - lookback`` with ``lookback`` set). One :meth:`poll` reads at most ``max_chunks``
    ranges of ``max_scan`` blocks.
    """

    kv: KV
    key: str
    event: Any
    first_block: int = 0
    lookback: int | None = None
    max_scan: int = MAX_SCAN
    argument_filters: dict[str, Any] | None = None
    max_chunks: int = 50

    @property
    def position(self) -> int | None:
        """The last block handled (None before the first read)."""
        v = self.kv.get(self.key)
        return None if v is None else int(v)

    def rewind(self, block: int) -> None:
        """A reorg replaced blocks from ``block``: read them again."""
        pos = self.position
        if pos is not None and pos >= block:
            self.kv.put(self.key, str(block - 1))
            log.info("%s: rewound to block %d (reorg)", self.key, block - 1)

    def _start(self, head: int) -> int:
        pos = self.position
        if pos is not None:
            return pos + 1
        if self.lookback is not None:
            return max(self.first_block, head - self.lookback)
        return self.first_block

    def poll(self, head: int, handle: Callable[[Any], None]) -> int:
        """Hand every new log up to ``head`` to ``handle`` in chain order; returns the count.

        The position is saved after each chunk whose logs were all handled; an exception from
        ``handle`` (or the RPC) leaves the chunk to be read again.
        """
        count = 0
        for _ in range(self.max_chunks):
            start = self._start(head)
            if start > head:
                break
            to = min(head, start + self.max_scan - 1)
            kw: dict[str, Any] = {"from_block": start, "to_block": to}
            if self.argument_filters:
                kw["argument_filters"] = self.argument_filters
            logs: list[Any] = ch.with_retry(partial(self.event.get_logs, **kw),
                                            what=f"eth_getLogs {self.key}")
            for lg in logs:
                handle(lg)
                count += 1
            self.kv.put(self.key, str(to))
        return count
