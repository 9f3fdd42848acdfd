"""``pinfi explorer``: index a deployment and serve the API and dashboard (one process).

The indexer runs in a thread beside uvicorn; the database (SQLite file by default, or a
PostgreSQL URL) keeps the position, so a restart resumes where it stopped.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

DEFAULT_DB = "explorer.sqlite"


class ExplorerError(Exception):
    """Bad input to ``pinfi explorer`` (printed as one line)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=os.environ.get("PINFI_EXPLORER_DB", DEFAULT_DB),
                   help="SQLite file or postgresql:// URL ($PINFI_EXPLORER_DB; default "
                        "%(default)s)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8700)
    p.add_argument("--interval", type=float, default=1.0,
                   help="seconds between polls of the chain (default %(default)s)")
    p.add_argument("--no-follow", action="store_true",
                   help="serve the index as it is, without a chain (e.g. the demo's, after it "
                        "ended)")
    p.add_argument("--confirmations", type=int, default=0,
                   help="blocks behind the head left unread (default 0; reorgs are rolled "
                        "back anyway)")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from pinfi import chain as ch

    from .app import create_app
    from .db import open_db
    from .indexer import Indexer

    if not 0 < args.port < 65536:
        raise ExplorerError(f"--port {args.port} is not a TCP port")
    if args.no_follow:
        db = open_db(args.db)
        if db.get("cursor") is None:
            raise ExplorerError(f"{args.db} holds no index (run without --no-follow first)")
        print(f"pinfi explorer: serving {args.db} (indexed up to block {db.get('cursor')}, "
              f"not following a chain); http://{args.host}:{args.port}/", flush=True)
        uvicorn.run(create_app(db), host=args.host, port=args.port, log_level="warning")
        return 0
    w3 = ch.connect(args.rpc)
    dep: Any = args.deployment
    deployment = ch.Deployment.resolve(int(dep) if isinstance(dep, str) and dep.isdigit()
                                       else dep, int(w3.eth.chain_id))
    db = open_db(args.db)
    indexer = Indexer(w3, deployment, db, confirmations=args.confirmations)
    logging.getLogger("pinfi.explorer").setLevel(logging.INFO)
    indexer.start(args.interval)
    print(f"pinfi explorer: indexing chain {deployment.chain_id} from block "
          f"{deployment.deployment_block} into {args.db}; http://{args.host}:{args.port}/",
          flush=True)
    try:
        uvicorn.run(create_app(db), host=args.host, port=args.port, log_level="warning")
    finally:
        indexer.stop()
    return 0


def after_demo(w3: Any, deployment: Any, out: Any, serve: bool = False, port: int = 8700,
               host: str = "127.0.0.1") -> str:
    """Index the demo's chain into ``out/explorer.sqlite`` before it stops; print the command
    that serves it (or serve it now, following the chain, when ``serve``). Returns the command.
    """
    from pathlib import Path

    import uvicorn

    from .app import create_app
    from .db import open_db
    from .indexer import Indexer

    path = Path(out) / "explorer.sqlite"
    db = open_db(path)
    indexer = Indexer(w3, deployment, db)
    n = indexer.sync()
    command = f"pinfi explorer --db {path} --no-follow --port {port}"
    if not serve:
        print(f"explorer: {n} events of the demo indexed into {path}; look at them with\n"
              f"  {command}\n  (then open http://{host}:{port}/; make demo "
              "PINFI_DEMO_EXPLORER=1 keeps the chain and serves it live)", flush=True)
        db.close()
        return command
    indexer.start(1.0)
    print(f"explorer: http://{host}:{port}/ (following the demo's chain; Ctrl-C stops)",
          flush=True)
    try:
        uvicorn.run(create_app(db), host=host, port=port, log_level="warning")
    finally:
        indexer.stop()
    return command
