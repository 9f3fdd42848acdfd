"""The explorer's database: SQLite by default, PostgreSQL when given a ``postgresql://`` URL.

One small wrapper so the indexer and the read API write their SQL once (``?`` placeholders,
portable types). Amounts are uint256 and overflow SQL integers, so they are stored as decimal
text and summed in Python; SQL does the filtering, grouping and counting. psycopg is imported
only when a PostgreSQL URL is given (the runtime import check stays free of it).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = (
    # key/value state: cursor, head, deployment identity.
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
    # hashes of indexed blocks (each chunk's last block and every block with a log): the reorg
    # check compares them with the chain's.
    "CREATE TABLE IF NOT EXISTS blocks (number BIGINT PRIMARY KEY, hash TEXT NOT NULL,"
    " ts BIGINT NOT NULL)",
    # every event of the deployment's contracts, decoded by its ABI; a few arguments promoted
    # to columns (device_id, epoch, lease_id, class_id) so the figures are plain SQL.
    "CREATE TABLE IF NOT EXISTS events (block_number BIGINT NOT NULL, log_index INTEGER NOT NULL,"
    " block_hash TEXT NOT NULL, tx_hash TEXT NOT NULL, contract TEXT NOT NULL,"
    " event TEXT NOT NULL, device_id BIGINT, epoch BIGINT, lease_id TEXT, class_id INTEGER,"
    " args TEXT NOT NULL, PRIMARY KEY (block_number, log_index))",
    "CREATE INDEX IF NOT EXISTS events_device ON events (device_id, event)",
    "CREATE INDEX IF NOT EXISTS events_name ON events (event, block_number)",
    "CREATE INDEX IF NOT EXISTS events_lease ON events (lease_id)",
    # per class and epoch: the pool's views read at the epoch's last block (price charts).
    "CREATE TABLE IF NOT EXISTS class_epochs (class_id INTEGER NOT NULL, epoch BIGINT NOT NULL,"
    " block_number BIGINT NOT NULL, demand TEXT NOT NULL, supply TEXT NOT NULL,"
    " utilization TEXT NOT NULL, price TEXT, PRIMARY KEY (class_id, epoch))",
    # the views at the indexed block (refreshed after each sync): devices and classes now.
    "CREATE TABLE IF NOT EXISTS device_views (device_id BIGINT PRIMARY KEY,"
    " block_number BIGINT NOT NULL, owner TEXT NOT NULL, class_id INTEGER NOT NULL,"
    " state INTEGER NOT NULL, operator TEXT NOT NULL, bond TEXT NOT NULL, earned TEXT NOT NULL,"
    " claimable TEXT NOT NULL, endpoint TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS class_views (class_id INTEGER PRIMARY KEY,"
    " block_number BIGINT NOT NULL, epoch BIGINT NOT NULL, demand TEXT NOT NULL,"
    " supply TEXT NOT NULL, utilization TEXT NOT NULL, price TEXT, quote TEXT,"
    " quote_epochs INTEGER NOT NULL, active INTEGER NOT NULL)",
)

#: Tables whose rows carry a block number (rolled back on a reorg).
BLOCK_TABLES = ("events", "blocks", "class_epochs")


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


class Database:
    """A connection with ``?``-placeholder SQL, dict rows and one lock (the indexer thread and
    the API share it)."""

    def __init__(self, url: str | Path) -> None:
        self.url = str(url)
        self.postgres = is_postgres(self.url)
        self._lock = threading.RLock()
        self._depth = 0
        if self.postgres:
            try:
                import psycopg
            except ImportError:
                raise RuntimeError("a PostgreSQL database needs psycopg: pip install "
                                   "'pinfi[explorer]'") from None
            self._conn: Any = psycopg.connect(self.url, autocommit=True)
        else:
            path = self.url.removeprefix("sqlite:///").removeprefix("sqlite://")
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        for stmt in SCHEMA:
            self.execute(stmt)

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """All statements inside commit together (nested calls join the outer one)."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._lock:
            self._conn.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if not rows:
            return
        with self._lock:
            if self.postgres:
                with self._conn.cursor() as cur:
                    cur.executemany(self._sql(sql), rows)
            else:
                self._conn.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._conn.execute(self._sql(sql), tuple(params))
            if cur.description is None:
                return []
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.query(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def get(self, key: str, default: str | None = None) -> str | None:
        v = self.scalar("SELECT v FROM meta WHERE k = ?", (key,))
        return default if v is None else str(v)

    def put(self, key: str, value: str) -> None:
        self.execute("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET "
                     "v = excluded.v", (key, value))

    def upsert(self, table: str, key: str, row: dict[str, Any]) -> None:
        cols = list(row)
        sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
        self.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                     f"({', '.join('?' for _ in cols)}) ON CONFLICT ({key}) DO UPDATE SET {sets}",
                     [row[c] for c in cols])

    def reset(self) -> None:
        """Drop every indexed row (a new deployment in the same database)."""
        with self.transaction():
            for t in (*BLOCK_TABLES, "meta", "device_views", "class_views"):
                self.execute(f"DELETE FROM {t}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_db(url: str | Path | None, default: str | Path = "explorer.sqlite") -> Database:
    """The database at ``url`` (a SQLite path or ``sqlite:///path``, or ``postgresql://...``)."""
    return Database(url or default)
