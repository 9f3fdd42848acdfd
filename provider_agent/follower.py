"""One block follower for every service of the agent, and the thread that runs each service.

The model is go-livepeer's block watcher: a single poller reads the chain head, notices reorgs
(a block it saw earlier now has another hash) and hands each new head to its subscribers (the
prover first, then the lease server, the device watcher, stats; or the keeper in ``verify``
mode). Handing a head over never waits for a subscriber: each one runs in its own
:class:`ServiceThread` and reads a :class:`Mailbox` that holds only the newest head, so a
subscriber that is slow (a hanging RPC call, a job that ignores SIGTERM, a bug) skips heads
instead of delaying the follower or anyone else.

``Daemon.step()`` (tests, embedding) drives the same objects inline: :meth:`BlockFollower.poll`
then each subscriber's ``on_head`` in order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pinfi import chain as ch

log = logging.getLogger("provider_agent.follower")

#: Blocks whose hashes the follower remembers to find where a reorg forked.
REORG_WINDOW = 64


@dataclass(frozen=True)
class Head:
    """A new chain head; ``reorg_from`` is the first block that changed since the last notice
    (None when the chain only grew)."""

    number: int
    reorg_from: int | None = None


class Service(Protocol):
    """A subscriber of the block follower."""

    name: str

    def on_head(self, head: Head) -> None: ...


class HeadSource(Protocol):
    def head(self) -> int: ...

    def block_hash(self, number: int) -> bytes | None: ...


class BlockFollower:
    """Polls the head through its own connection and notifies subscribers in order."""

    def __init__(self, source: HeadSource, poll_interval: float = 1.0,
                 on_rpc_error: Callable[[], None] | None = None) -> None:
        self.source = source
        self.poll_interval = poll_interval
        self.on_rpc_error = on_rpc_error
        self.last = -1
        self._hashes: dict[int, bytes] = {}
        self._boxes: list[tuple[Service, Mailbox]] = []
        self._down_since: float | None = None

    def subscribe(self, service: Service) -> Mailbox:
        """Add ``service`` (notified after those subscribed before it); returns its mailbox."""
        box = Mailbox()
        self._boxes.append((service, box))
        return box

    @property
    def services(self) -> list[Service]:
        return [s for s, _ in self._boxes]

    # ---- polling

    def poll(self) -> Head | None:
        """Read the head once: a :class:`Head` when it changed (with the reorg point, if any),
        else None. Raises :class:`~pinfi.chain.RpcUnavailable`."""
        number = self.source.head()
        if number == self.last:
            return None
        reorg_from = self._check_reorg(number)
        h = self.source.block_hash(number)
        if h is not None:
            self._hashes[number] = h
        for b in [b for b in self._hashes if b < number - REORG_WINDOW]:
            del self._hashes[b]
        if number < self.last:
            log.warning("head went back from %d to %d (reorg or node reset)", self.last, number)
            reorg_from = min(reorg_from if reorg_from is not None else number + 1, number + 1)
        self.last = number
        return Head(number, reorg_from)

    def _check_reorg(self, number: int) -> int | None:
        """The first block whose hash differs from what we saw, or None."""
        prev = min(self.last, number)
        if prev < 0 or prev not in self._hashes:
            return None
        now = self.source.block_hash(prev)
        if now is None or now == self._hashes[prev]:
            return None
        fork = prev
        for b in sorted((b for b in self._hashes if b < prev), reverse=True):
            h = self.source.block_hash(b)
            if h == self._hashes[b]:
                break
            fork = b
        for b in [b for b in self._hashes if b >= fork]:
            del self._hashes[b]
        log.warning("reorg: blocks from %d changed (head %d); services re-read the chain", fork,
                    number)
        return fork

    def notify(self, head: Head) -> None:
        for _, box in self._boxes:
            box.put(head)

    # ---- the follower thread

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set, backing off while the RPC is unreachable."""
        delay = self.poll_interval
        while not stop.is_set():
            try:
                head = self.poll()
                if self._down_since is not None:
                    log.info("RPC back after %.1fs", time.monotonic() - self._down_since)
                    self._down_since = None
                if head is not None:
                    self.notify(head)
                delay = self.poll_interval
            except ch.RpcUnavailable as err:
                if self.on_rpc_error is not None:
                    self.on_rpc_error()
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    log.warning("RPC unavailable: %s; retrying with backoff", err)
                delay = min(delay * 2, max(5.0, self.poll_interval))
            except Exception:
                log.exception("block follower: poll failed")
                delay = min(delay * 2, max(5.0, self.poll_interval))
            stop.wait(delay)


class Mailbox:
    """The newest head for one subscriber; older unread heads are dropped, but the earliest
    reorg point among them is kept (a subscriber never misses a reorg)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._head: Head | None = None
        self._poked = False

    def put(self, head: Head) -> None:
        with self._cond:
            old = self._head
            if old is not None and old.reorg_from is not None:
                rf = old.reorg_from if head.reorg_from is None else min(old.reorg_from,
                                                                         head.reorg_from)
                head = Head(head.number, rf)
            self._head = head
            self._cond.notify()

    def poke(self) -> None:
        """Wake the subscriber without a new head (e.g. a computation finished)."""
        with self._cond:
            self._poked = True
            self._cond.notify()

    def get(self, timeout: float) -> tuple[Head | None, bool]:
        """``(new head or None, poked)`` after at most ``timeout`` seconds."""
        with self._cond:
            if self._head is None and not self._poked:
                self._cond.wait(timeout)
            head, poked = self._head, self._poked
            self._head, self._poked = None, False
            return head, poked


class ServiceThread(threading.Thread):
    """Runs one service: waits on its mailbox, calls ``on_head``, survives its errors.

    Errors never leave the thread: an unreachable RPC is logged once per outage, anything else
    with its traceback; the service is called again on the next head (or retry tick).
    """

    def __init__(self, service: Service, box: Mailbox, stop: threading.Event,
                 retry_s: float = 1.0, on_rpc_error: Callable[[], None] | None = None) -> None:
        super().__init__(name=f"agent-{service.name}", daemon=True)
        self.service = service
        self.box = box
        self.stop_event = stop
        self.retry_s = retry_s
        self.on_rpc_error = on_rpc_error
        self.last: Head | None = None
        self.failed = False
        self._pending_reorg: int | None = None
        self._down_since: float | None = None

    def run(self) -> None:
        while not self.stop_event.is_set():
            head, poked = self.box.get(self.retry_s)
            if self.stop_event.is_set():
                break
            if head is None:
                if not (poked or self.failed) or self.last is None:
                    continue
                head = Head(self.last.number)  # retry (or re-run after a poke) at the same head
            self.run_once(head)

    def run_once(self, head: Head) -> bool:
        """Call the service once; a reorg notice it failed to handle is kept for the retry."""
        if self._pending_reorg is not None:
            rf = self._pending_reorg
            head = Head(head.number, rf if head.reorg_from is None else min(rf, head.reorg_from))
        self.last = head
        try:
            self.service.on_head(head)
        except ch.RpcUnavailable as err:
            if self.on_rpc_error is not None:
                self.on_rpc_error()
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("%s: RPC unavailable: %s; retrying", self.service.name, err)
            self._failed(head)
            return False
        except Exception:
            log.exception("%s: step failed at head %d", self.service.name, head.number)
            self._failed(head)
            return False
        if self._down_since is not None:
            log.info("%s: RPC back after %.1fs", self.service.name,
                     time.monotonic() - self._down_since)
            self._down_since = None
        self.failed = False
        self._pending_reorg = None
        return True

    def _failed(self, head: Head) -> None:
        self.failed = True
        self._pending_reorg = head.reorg_from
