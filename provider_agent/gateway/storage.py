"""What the gateway keeps on disk (``[gateway] data_dir``), all of it surviving a restart.

* ``gateway.db`` (SQLite, WAL): the job table and the nonce store of signed requests.
* ``blobs/<sha256>``: uploaded input files, content addressed (written to a temporary file while
  hashed, renamed into place only when the hash matches).
* ``jobs/<job id>/``: ``work/`` (the job's directory), ``log``, ``spec.json`` (what the
  supervisor runs), ``result.json`` (what it reports), ``child.pid``.

One lock serialises the writers (FastAPI's worker threads and the runner's monitor thread).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from provider_agent.sqlitedb import open_db

RUNNING, FINISHED = "running", "finished"

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
  job_id TEXT PRIMARY KEY, lease_id TEXT NOT NULL, device_id INTEGER NOT NULL,
  client TEXT NOT NULL, state TEXT NOT NULL, manifest TEXT NOT NULL, manifest_hash TEXT NOT NULL,
  inputs_hash TEXT NOT NULL, created_at REAL NOT NULL, start_block INTEGER NOT NULL,
  end_epoch INTEGER NOT NULL, supervisor_pid INTEGER NOT NULL DEFAULT 0,
  service_port INTEGER NOT NULL DEFAULT 0, stop_reason INTEGER NOT NULL DEFAULT 0,
  stop_deadline REAL NOT NULL DEFAULT 0, end_reason INTEGER NOT NULL DEFAULT 0,
  exit_code INTEGER NOT NULL DEFAULT 0, end_block INTEGER NOT NULL DEFAULT 0,
  ended_at REAL NOT NULL DEFAULT 0, outputs TEXT NOT NULL DEFAULT '[]',
  outputs_hash TEXT NOT NULL DEFAULT '', accepted_receipt TEXT NOT NULL DEFAULT '',
  receipt TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_device ON jobs(device_id, state);
CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expiry INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces(expiry);
"""


@dataclass
class Job:
    """One row of the job table (hashes and ids as 0x-hex text, receipts as JSON text)."""

    job_id: str
    lease_id: str
    device_id: int
    client: str
    state: str
    manifest: str
    manifest_hash: str
    inputs_hash: str
    created_at: float
    start_block: int
    end_epoch: int
    supervisor_pid: int = 0
    service_port: int = 0
    stop_reason: int = 0
    stop_deadline: float = 0.0
    end_reason: int = 0
    exit_code: int = 0
    end_block: int = 0
    ended_at: float = 0.0
    outputs: str = "[]"
    outputs_hash: str = ""
    accepted_receipt: str = ""
    receipt: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def lease_int(self) -> int:
        return int(self.lease_id, 16)

    def output_list(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = json.loads(self.outputs)
        return out


_COLUMNS = [f.name for f in fields(Job) if f.name != "extra"]


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "blobs").mkdir(exist_ok=True)
        (root / "jobs").mkdir(exist_ok=True)
        self.lock = threading.Lock()
        self._pruned_at = 0
        # WAL + NORMAL: a commit is an append, not an fsync (4 ms -> 0.05 ms per request
        # nonce); a process crash loses nothing, a power loss at most the last commits (nonces
        # of requests that expire within MAX_VALIDITY_S anyway; jobs die with the host).
        self.db = open_db(root / "gateway.db", SCHEMA, synchronous="NORMAL")  # L1: shared opener

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # ---- nonces

    def use_nonce(self, nonce: bytes, expiry: int, now: float | None = None) -> bool:
        """Record a request nonce; False when it was used before (a replay). Expired nonces
        are dropped: a request past its expiry is refused before it gets here."""
        t = int(now if now is not None else time.time())
        with self.lock:
            if t != self._pruned_at:  # expired nonces go at most once a second (indexed)
                self.db.execute("DELETE FROM nonces WHERE expiry < ?", (t - 1,))
                self._pruned_at = t
            try:
                self.db.execute("INSERT INTO nonces(nonce, expiry) VALUES (?, ?)",
                                (nonce.hex(), int(expiry)))
            except sqlite3.IntegrityError:
                return False
        return True

    # ---- jobs

    def insert(self, job: Job) -> None:
        row = asdict(job)
        row.pop("extra")
        with self.lock:
            self.db.execute(f"INSERT INTO jobs({','.join(_COLUMNS)}) VALUES "
                            f"({','.join('?' * len(_COLUMNS))})", [row[c] for c in _COLUMNS])

    def update(self, job_id: str, **values: Any) -> None:
        bad = set(values) - set(_COLUMNS)
        if bad:
            raise KeyError(f"unknown job column(s) {sorted(bad)}")
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.lock:
            self.db.execute(f"UPDATE jobs SET {sets} WHERE job_id = ?",
                            [*values.values(), job_id])

    def _rows(self, where: str, args: tuple[Any, ...]) -> list[Job]:
        with self.lock:
            cur = self.db.execute(f"SELECT {','.join(_COLUMNS)} FROM jobs WHERE {where}", args)
            return [Job(**dict(zip(_COLUMNS, r, strict=True))) for r in cur.fetchall()]

    def get(self, job_id: str) -> Job | None:
        rows = self._rows("job_id = ?", (job_id,))
        return rows[0] if rows else None

    def running(self, device_id: int | None = None) -> list[Job]:
        if device_id is None:
            return self._rows("state = ?", (RUNNING,))
        return self._rows("state = ? AND device_id = ?", (RUNNING, device_id))

    def expired(self, before: float) -> list[Job]:
        return self._rows("state = ? AND ended_at < ?", (FINISHED, before))

    def delete(self, job_id: str) -> None:
        with self.lock:
            self.db.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))

    # ---- files

    def job_dir(self, job_id: str) -> Path:
        return self.root / "jobs" / job_id[2:]

    def blob(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256

    def remove_job_files(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
