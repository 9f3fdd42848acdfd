"""Which devices this agent proves, kept current while the daemon runs.

A device registered after ``run`` started must be proved from its first challenge epoch (the one
after its registration), or its owner loses bond. The set is the union of

* the config file's ``devices`` (re-read whenever the file changes: ``provider-agent register``
  appends the new id to it), and
* with ``discover_devices = true`` (the default), every device on the chain whose operator is
  this agent's key (``DeviceRegistered`` and ``OperatorChanged`` events, read with a
  :class:`~provider_agent.logcursor.LogCursor`).

The :class:`DeviceWatcher` runs as its own follower subscriber; the prover only reads the
:class:`DeviceSet` snapshot, so a slow scan or a broken config file never delays a proof.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from . import config as config_mod
from .config import ConfigError
from .context import ChainView
from .follower import Head
from .logcursor import LogCursor
from .state import Journal

log = logging.getLogger("provider_agent.devices")

DISCOVERED_KEY = "devices:discovered"


class DeviceSet:
    """Thread-safe set of the devices to prove (config file's list and discovered ones)."""

    def __init__(self, configured: list[int], discovered: list[int] | None = None) -> None:
        self._lock = threading.Lock()
        self._configured = set(configured)
        self._discovered = set(discovered or [])

    def current(self) -> list[int]:
        with self._lock:
            return sorted(self._configured | self._discovered)

    def __contains__(self, device_id: object) -> bool:
        with self._lock:
            return device_id in self._configured or device_id in self._discovered

    def set_configured(self, devices: list[int]) -> list[int]:
        """Replace the config file's list; returns the devices that are new to the set."""
        with self._lock:
            before = self._configured | self._discovered
            self._configured = set(devices)
            return sorted((self._configured | self._discovered) - before)

    def discovered(self) -> list[int]:
        with self._lock:
            return sorted(self._discovered)

    def set_discovered(self, device_id: int, ours: bool) -> bool:
        """Mark a chain device as ours or not; True when the set changed."""
        with self._lock:
            had = device_id in self._discovered
            if ours:
                self._discovered.add(device_id)
            else:
                self._discovered.discard(device_id)
            return had != ours


class DeviceWatcher:
    """Follower subscriber that keeps a :class:`DeviceSet` current."""

    name = "devices"

    def __init__(self, view: ChainView, journal: Journal, address: str, devices: DeviceSet,
                 config_path: Path, discover: bool = True) -> None:
        self.view = view
        self.journal = journal
        self.address = address.lower()
        self.devices = devices
        self.config_path = config_path
        self.discover = discover
        self._mtime = self._stat()
        self._bad_config: str | None = None
        first = view.cfg.deployment.deployment_block
        st = view.c.staking.events
        self.cursors = [LogCursor(journal, "cursor:device_registered", st.DeviceRegistered,
                                  first),
                        LogCursor(journal, "cursor:operator_changed", st.OperatorChanged, first)]

    @staticmethod
    def restore(journal: Journal) -> list[int]:
        """The devices discovered by an earlier run (the cursors resume after them)."""
        raw = journal.get(DISCOVERED_KEY)
        return [int(x) for x in json.loads(raw)] if raw else []

    def _stat(self) -> float:
        try:
            return self.config_path.stat().st_mtime
        except OSError:
            return 0.0

    def on_head(self, head: Head) -> None:
        self.reload_config()
        if not self.discover:
            return
        for cur in self.cursors:
            if head.reorg_from is not None:
                cur.rewind(head.reorg_from)
            cur.poll(head.number, self._on_log)

    def reload_config(self) -> None:
        """Re-read the config file's ``devices`` when the file changed."""
        mtime = self._stat()
        if mtime == self._mtime:
            return
        try:
            cfg = config_mod.load(self.config_path)
        except ConfigError as err:
            if str(err) != self._bad_config:
                log.error("config changed but does not load (%s); keeping the devices %s", err,
                          self.devices.current())
                self._bad_config = str(err)
            return
        self._mtime, self._bad_config = mtime, None
        for dev in self.devices.set_configured(cfg.devices):
            log.info("device=%d added from %s", dev, self.config_path)

    def _on_log(self, lg: dict) -> None:
        a = lg["args"]
        dev = int(a["deviceId"])
        ours = str(a["operator"]).lower() == self.address
        if self.devices.set_discovered(dev, ours):
            if ours:
                log.info("device=%d added: its operator on chain is this agent's key (%s)", dev,
                         lg["event"])
            else:
                log.warning("device=%d removed: its operator changed to %s", dev, a["operator"])
            self.journal.put(DISCOVERED_KEY, json.dumps(self.devices.discovered()))
