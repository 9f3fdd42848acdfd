"""``python -m provider_agent.gateway --config agent.toml``: serve the lease gateway.

Runs the job monitor thread and uvicorn in one process of its own (the daemon starts it when
``[gateway] enabled = true``). Errors at start are one line on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from typing import Any

import uvicorn

from pinfi import chain as ch
from provider_agent import keystore
from provider_agent.config import ConfigError

from . import settings as settings_mod
from .app import Gateway, create_app
from .chainview import ChainView
from .transfer import Sendfile, keep_freed_memory


def build(config: str, host: str | None = None, port: int | None = None) -> tuple[Gateway, Any]:
    s = settings_mod.load(config)
    if host is not None:
        s.host = host
    if port is not None:
        s.port = port
    cfg = s.agent
    pw = keystore.password("operator", cfg.operator_password_file, prompt=False)
    operator = keystore.load(cfg.operator_keystore, pw, "operator")
    chain = ChainView(cfg.rpc_url, cfg.deployment)
    gw = Gateway(s, chain, operator)
    return gw, create_app(gw)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m provider_agent.gateway", description=__doc__)
    ap.add_argument("--config", required=True, help="the agent's TOML config file")
    ap.add_argument("--host", default=None, help="override [gateway] host")
    ap.add_argument("--port", type=int, default=None, help="override [gateway] port")
    ap.add_argument("--log-level", default="info")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        gw, app = build(args.config, args.host, args.port)
    except (ConfigError, ch.ChainError, keystore.KeystoreError, OSError, RuntimeError) as err:
        print(f"gateway: {err}", file=sys.stderr)
        return 2
    stop = threading.Event()
    monitor = threading.Thread(target=gw.runner.run, args=(stop,), name="gateway-monitor",
                               daemon=True)
    gw.runner.monitor_once()  # adopt or finalize the jobs of an earlier run before serving
    monitor.start()
    try:
        # Sendfile outermost: output downloads go out with os.sendfile; freed upload pieces
        # are reused rather than faulted in again (transfer.py).
        keep_freed_memory()
        uvicorn.run(Sendfile(app), host=gw.s.host, port=gw.s.port,
                    log_level=args.log_level.lower(), access_log=False)
    finally:
        stop.set()
        monitor.join(timeout=5)
        gw.store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
