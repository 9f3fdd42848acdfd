"""The daemon's hook: run the gateway as a child process when ``[gateway] enabled = true``.

A process of its own (not a thread of the daemon): request load, a slow upload or a stuck
handler can never delay a proof. The daemon starts it in ``Daemon.start`` and stops it (SIGTERM,
then SIGKILL after a few seconds) in ``Daemon.close``; jobs are not stopped with it (their
supervisors outlive it and the next gateway adopts them).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tomllib
from pathlib import Path

log = logging.getLogger("provider_agent.gateway.service")


class GatewayProcess:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def enabled(config: Path) -> bool:
        try:
            raw = tomllib.loads(Path(config).read_text()).get("gateway", {})
        except (OSError, tomllib.TOMLDecodeError):
            return False
        return isinstance(raw, dict) and bool(raw.get("enabled", False))

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "provider_agent.gateway",
                                      "--config", str(self.config)], stdin=subprocess.DEVNULL)
        log.info("gateway started (pid %d)", self.proc.pid)

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_if_enabled(config: Path) -> GatewayProcess | None:
    """The started gateway of ``config``, or None when ``[gateway] enabled`` is not set."""
    if not GatewayProcess.enabled(config):
        return None
    gp = GatewayProcess(config)
    gp.start()
    return gp
