"""The agent's SQLite files (the daemon's journal, the gateway's store) open one way.

Autocommit (every write is its own transaction), shared across threads (each owner serialises
its writes with its own lock), WAL so that readers never block the writer, and a 30 s busy
timeout so that two processes on one file wait for each other instead of failing. What a commit
costs is the owner's choice: ``FULL`` fsyncs it (the journal: a broadcast transaction must
never be forgotten), ``NORMAL`` appends (a power loss may drop the last commits).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal


def open_db(path: Path, schema: str, *,
            synchronous: Literal["FULL", "NORMAL"]) -> sqlite3.Connection:
    """Connect to ``path`` (created if missing) and apply ``schema`` (idempotent DDL)."""
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.executescript(schema)
    return db
