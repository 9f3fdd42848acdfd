"""The agent's journal: SQLite (WAL, synchronous=FULL), one row per step, so SIGKILL can't lose one.

Tables: ``proofs`` (one row per (device, epoch): the prover's state machine), ``txs`` (every
signed transaction, journaled before it is broadcast: the :class:`pinfi.chain.TxJournal`),
``leases`` (job handlers started for leases) and ``kv`` (cursors). The chain is the source of
truth; this journal says what the agent did and lets it resume without double-submitting.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from pinfi.chain import SentTx
from provider_agent.sqlitedb import open_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS proofs (
    device_id INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    state TEXT NOT NULL,
    class_id INTEGER NOT NULL DEFAULT 0,
    seed TEXT NOT NULL DEFAULT '',
    s TEXT NOT NULL DEFAULT '',
    n INTEGER NOT NULL DEFAULT 0,
    leaf INTEGER NOT NULL DEFAULT 0,
    k INTEGER NOT NULL DEFAULT 0,
    commit_deadline INTEGER NOT NULL DEFAULT 0,
    root TEXT NOT NULL DEFAULT '',
    tree_dir TEXT NOT NULL DEFAULT '',
    compute_s REAL NOT NULL DEFAULT 0,
    commit_key TEXT NOT NULL DEFAULT '',
    commit_block INTEGER NOT NULL DEFAULT 0,
    commit_hash TEXT NOT NULL DEFAULT '',
    open_key TEXT NOT NULL DEFAULT '',
    open_attempt INTEGER NOT NULL DEFAULT 0,
    open_block INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, epoch)
);
CREATE TABLE IF NOT EXISTS txs (
    key TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS txs_pending ON txs (sender, status);
CREATE TABLE IF NOT EXISTS leases (
    lease_id TEXT PRIMARY KEY,
    device_id INTEGER NOT NULL,
    client TEXT NOT NULL,
    start_epoch INTEGER NOT NULL,
    end_epoch INTEGER NOT NULL,
    job_spec TEXT NOT NULL,
    cost TEXT NOT NULL DEFAULT '0',
    state TEXT NOT NULL,
    pid INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER,
    started REAL NOT NULL DEFAULT 0,
    ended REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""

# Prover states (see provider_agent.prover).
SELECTED = "SELECTED"
COMPUTED = "COMPUTED"
COMMIT_SENT = "COMMIT_SENT"
COMMITTED = "COMMITTED"
OPEN_SENT = "OPEN_SENT"
OPENED = "OPENED"
DONE = "DONE"  # opened and final
FAILED = "FAILED"  # fraud proven against us, or an unrecoverable error
MISSED = "MISSED"  # a window closed before we could commit/open (or a grace miss on chain)
NOT_DRAWN = "NOT_DRAWN"  # committed, not drawn for opening: present for the epoch (PoCPS v2)
NOT_SELECTED = "NOT_SELECTED"  # the contract refused the commit as not owed
EXEMPT = "EXEMPT"
NOT_OURS = "NOT_OURS"  # the device's operator is another key

TERMINAL = (DONE, NOT_DRAWN, FAILED, MISSED, NOT_SELECTED, EXEMPT, NOT_OURS)


@dataclass
class ProofRow:
    device_id: int
    epoch: int
    state: str
    class_id: int = 0
    seed: str = ""
    s: str = ""
    n: int = 0
    leaf: int = 0
    k: int = 0
    commit_deadline: int = 0
    root: str = ""
    tree_dir: str = ""
    compute_s: float = 0.0
    commit_key: str = ""
    commit_block: int = 0
    commit_hash: str = ""
    open_key: str = ""
    open_attempt: int = 0
    open_block: int = 0
    detail: str = ""
    updated: float = 0.0

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


_PROOF_COLS = [f.name for f in fields(ProofRow)]


@dataclass
class LeaseRow:
    lease_id: str
    device_id: int
    client: str
    start_epoch: int
    end_epoch: int
    job_spec: str
    cost: str = "0"
    state: str = "PENDING"  # PENDING | RUNNING | ENDED | FAILED
    pid: int = 0
    exit_code: int | None = None
    started: float = 0.0
    ended: float = 0.0


_LEASE_COLS = [f.name for f in fields(LeaseRow)]


class Journal:
    """SQLite journal (thread-safe; every write is its own committed transaction)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.db = open_db(self.path, SCHEMA, synchronous="FULL")

    def close(self) -> None:
        with self._lock:
            self.db.close()

    # ---- proofs

    def get_proof(self, device_id: int, epoch: int) -> ProofRow | None:
        with self._lock:
            cur = self.db.execute(f"SELECT {','.join(_PROOF_COLS)} FROM proofs "
                                  "WHERE device_id=? AND epoch=?", (device_id, epoch))
            r = cur.fetchone()
        return ProofRow(*r) if r else None

    def save_proof(self, row: ProofRow) -> None:
        row.updated = time.time()
        vals = [getattr(row, c) for c in _PROOF_COLS]
        with self._lock:
            self.db.execute(f"INSERT OR REPLACE INTO proofs ({','.join(_PROOF_COLS)}) VALUES "
                            f"({','.join('?' * len(_PROOF_COLS))})", vals)

    def delete_proof(self, device_id: int, epoch: int) -> None:
        with self._lock:
            self.db.execute("DELETE FROM proofs WHERE device_id=? AND epoch=?", (device_id, epoch))

    def active_proofs(self) -> list[ProofRow]:
        marks = ",".join("?" * len(TERMINAL))
        with self._lock:
            cur = self.db.execute(f"SELECT {','.join(_PROOF_COLS)} FROM proofs WHERE state NOT IN "
                                  f"({marks}) ORDER BY epoch, device_id", TERMINAL)
            return [ProofRow(*r) for r in cur.fetchall()]

    def recent_proofs(self, device_id: int | None = None, limit: int = 20) -> list[ProofRow]:
        q = f"SELECT {','.join(_PROOF_COLS)} FROM proofs"
        args: tuple[Any, ...] = ()
        if device_id is not None:
            q += " WHERE device_id=?"
            args = (device_id,)
        q += " ORDER BY epoch DESC, device_id LIMIT ?"
        with self._lock:
            cur = self.db.execute(q, (*args, limit))
            return [ProofRow(*r) for r in cur.fetchall()]

    def count_states(self, device_id: int) -> dict[str, int]:
        with self._lock:
            cur = self.db.execute("SELECT state, COUNT(*) FROM proofs WHERE device_id=? "
                                  "GROUP BY state", (device_id,))
            return {s: c for s, c in cur.fetchall()}

    # ---- transactions (pinfi.chain.TxJournal)

    def save_tx(self, tx: SentTx) -> None:
        body = asdict(tx)
        body["raw"] = tx.raw.hex()
        body["receipt"] = _jsonable(tx.receipt) if tx.receipt is not None else None
        sender = body.pop("sender", None) or ""
        with self._lock:
            self.db.execute("INSERT OR REPLACE INTO txs (key, sender, nonce, status, body, "
                            "updated) VALUES (?, COALESCE((SELECT sender FROM txs WHERE key=?), "
                            "?), ?, ?, ?, ?)",
                            (tx.key, tx.key, sender or self._sender, tx.nonce, tx.status,
                             json.dumps(body), time.time()))

    _sender = ""

    def bind_sender(self, address: str) -> None:
        """Transactions saved from now on belong to ``address``."""
        self._sender = address

    def get_tx(self, key: str) -> SentTx | None:
        with self._lock:
            r = self.db.execute("SELECT body FROM txs WHERE key=?", (key,)).fetchone()
        return _tx(r[0]) if r else None

    def pending_txs(self, sender: str) -> list[SentTx]:
        with self._lock:
            cur = self.db.execute("SELECT body FROM txs WHERE sender=? AND status='pending' "
                                  "ORDER BY nonce", (sender,))
            return [_tx(r[0]) for r in cur.fetchall()]

    def settled_txs_from(self, sender: str, nonce: int) -> list[SentTx]:
        """``sender``'s transactions recorded mined or reverted with a nonce >= ``nonce``
        (after a reorg: the ones whose block is gone), lowest nonce first."""
        with self._lock:
            cur = self.db.execute("SELECT body FROM txs WHERE sender=? AND nonce>=? AND status "
                                  "IN ('mined','reverted') ORDER BY nonce", (sender, nonce))
            return [_tx(r[0]) for r in cur.fetchall()]

    def txs_for(self, prefix: str) -> list[SentTx]:
        with self._lock:
            cur = self.db.execute("SELECT body FROM txs WHERE key LIKE ? ORDER BY nonce",
                                  (prefix + "%",))
            return [_tx(r[0]) for r in cur.fetchall()]

    # ---- leases

    def get_lease(self, lease_id: str) -> LeaseRow | None:
        with self._lock:
            r = self.db.execute(f"SELECT {','.join(_LEASE_COLS)} FROM leases WHERE lease_id=?",
                                (lease_id,)).fetchone()
        return LeaseRow(*r) if r else None

    def save_lease(self, row: LeaseRow) -> None:
        vals = [getattr(row, c) for c in _LEASE_COLS]
        with self._lock:
            self.db.execute(f"INSERT OR REPLACE INTO leases ({','.join(_LEASE_COLS)}) VALUES "
                            f"({','.join('?' * len(_LEASE_COLS))})", vals)

    def leases(self, states: tuple[str, ...] | None = None) -> list[LeaseRow]:
        q = f"SELECT {','.join(_LEASE_COLS)} FROM leases"
        args: tuple[Any, ...] = ()
        if states:
            q += f" WHERE state IN ({','.join('?' * len(states))})"
            args = states
        with self._lock:
            return [LeaseRow(*r) for r in self.db.execute(q + " ORDER BY start_epoch", args)]

    # ---- kv

    def get(self, k: str, default: str | None = None) -> str | None:
        with self._lock:
            r = self.db.execute("SELECT v FROM kv WHERE k=?", (k,)).fetchone()
        return r[0] if r else default

    def put(self, k: str, v: str) -> None:
        with self._lock:
            self.db.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (k, v))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items() if k != "logs"}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, bytes | bytearray):
        return "0x" + bytes(obj).hex()
    if hasattr(obj, "hex") and not isinstance(obj, int | float | str):
        return "0x" + obj.hex().removeprefix("0x")
    return obj


def _tx(body: str) -> SentTx:
    d = json.loads(body)
    d["raw"] = bytes.fromhex(d["raw"])
    return SentTx(**d)
