"""The explorer's indexer: every event of a deployment's contracts into a database.

Driven by the shipped ABIs, not by a list of events: each log of the deployment's addresses is
decoded by the event ABI its topic names and stored with its block number, block hash and log
index; a few arguments (``deviceId``, ``epoch``, ``leaseId``, ``classId``) are copied to columns
so the read API's figures are SQL over this one table. A contract upgrade that renames or adds
events therefore needs no change here, only in the few queries that name them (figures.py).

Resumable: the cursor (last indexed block) and the hash of every chunk's last block are saved
in the same transaction as the chunk's events. Reorg-safe: before reading on, the cursor block's
saved hash is compared with the chain's; when they differ, the newest saved block that still
matches is found and everything after it is deleted and read again (the approach of
provider_agent/logcursor.py, which rewinds on the follower's reorg report). Lag is
``head - cursor`` (meta ``head`` and ``cursor``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

from eth_utils import event_abi_to_log_topic, to_checksum_address
from web3 import Web3
from web3._utils.events import get_event_data

from pinfi import chain as ch
from pinfi.chain.abi import has_abi, load_abi
from pinfi.chain.deployment import Deployment

from .db import Database

log = logging.getLogger("pinfi.explorer.indexer")

MAX_SCAN = 2_000
#: Arguments copied to columns, by name (either spelling the ABIs use).
PROMOTED = {"deviceId": "device_id", "epoch": "epoch", "leaseId": "lease_id",
            "classId": "class_id"}
#: How many epochs the pool's class views are snapshotted back from the head at most (older
#: state may be pruned on a non-archive node; those epochs keep only their events).
SNAPSHOT_EPOCHS = 2_000


def _plain(v: Any) -> Any:
    """JSON form of a decoded argument: ints as decimal text (uint256), bytes as 0x hex."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, bytes | bytearray):
        return "0x" + bytes(v).hex()
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


@dataclass
class EventSpec:
    contract: str
    name: str
    abi: dict[str, Any]


@dataclass
class Indexer:
    """Follows ``deployment`` on ``w3`` into ``db``. :meth:`sync` reads up to the head;
    :meth:`run` repeats it until stopped. ``confirmations`` blocks behind the head are left
    unread (0 on a local chain: the reorg check handles the rest)."""

    w3: Web3
    deployment: Deployment
    db: Database
    confirmations: int = 0
    max_scan: int = MAX_SCAN
    quote_epochs: int = 10
    on_chunk: Callable[[int], None] | None = None
    _specs: dict[tuple[str, str], EventSpec] = field(default_factory=dict, init=False)
    _names: dict[str, str] = field(default_factory=dict, init=False)
    _contracts: Any = field(default=None, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)

    def __post_init__(self) -> None:
        for name, addr in self.deployment.contracts.items():
            if not has_abi(name):
                continue
            address = to_checksum_address(addr)
            self._names[address.lower()] = name
            for item in load_abi(name):
                if item.get("type") == "event" and not item.get("anonymous"):
                    topic = "0x" + event_abi_to_log_topic(cast(Any, item)).hex()
                    self._specs[(address.lower(), topic)] = EventSpec(name, item["name"], item)
        self._contracts = ch.load_contracts(self.w3, self.deployment, check_code=False)
        ident = f"{self.deployment.chain_id}:{self.deployment.contracts.get('Staking', '')}"
        if self.db.get("deployment") not in (None, ident):
            log.warning("database held another deployment: starting over")
            self.db.reset()
        self.db.put("deployment", ident)

    # ---- position

    @property
    def cursor(self) -> int:
        """The last indexed block (``deploymentBlock - 1`` before the first read)."""
        v = self.db.get("cursor")
        return int(v) if v is not None else self.deployment.deployment_block - 1

    @property
    def head(self) -> int:
        v = self.db.get("head")
        return int(v) if v is not None else self.cursor

    @property
    def lag(self) -> int:
        return max(0, self.head - self.cursor)

    def epoch_blocks(self) -> int:
        v = self.db.get("epoch_blocks")
        if v is None:
            v = str(ch.call(self._contracts.staking.functions.epochBlocks(), "latest"))
            self.db.put("epoch_blocks", v)
        return int(v)

    def genesis_block(self) -> int:
        v = self.db.get("genesis_block")
        if v is None:
            v = str(ch.call(self._contracts.staking.functions.genesisBlock(), "latest"))
            self.db.put("genesis_block", v)
        return int(v)

    def epoch_of(self, block: int) -> int:
        g = self.genesis_block()
        return (block - g) // self.epoch_blocks() if block >= g else -1

    # ---- reorgs

    def _chain_hash(self, number: int) -> str | None:
        try:
            b = ch.with_retry(partial(self.w3.eth.get_block, number), what="eth_getBlockByNumber")
        except Exception as err:  # BlockNotFound: the chain is shorter now
            if "not found" in str(err).lower() or type(err).__name__ == "BlockNotFound":
                return None
            raise
        return None if b is None else "0x" + bytes(b["hash"]).hex()

    def check_reorg(self) -> int | None:
        """Roll back past a replaced block; returns the block rolled back to (None: no reorg)."""
        cur = self.cursor
        saved = self.db.scalar("SELECT hash FROM blocks WHERE number = ?", (cur,))
        if saved is None or self._chain_hash(cur) == saved:
            return None
        keep = self.deployment.deployment_block - 1
        for row in self.db.query("SELECT number, hash FROM blocks WHERE number < ? "
                                 "ORDER BY number DESC", (cur,)):
            if self._chain_hash(int(row["number"])) == row["hash"]:
                keep = int(row["number"])
                break
        self.rollback(keep)
        log.warning("reorg: blocks after %d replaced; rolled back to %d", keep, keep)
        return keep

    def rollback(self, keep: int) -> None:
        """Forget every row of blocks after ``keep``; the cursor moves back to ``keep``."""
        with self.db.transaction():
            for table in ("events", "blocks", "class_epochs"):
                self.db.execute(f"DELETE FROM {table} WHERE block_number > ?"
                                if table != "blocks" else
                                "DELETE FROM blocks WHERE number > ?", (keep,))
            self.db.put("cursor", str(keep))

    # ---- reading

    def _decode(self, lg: Any) -> tuple[Any, ...] | None:
        topics = lg["topics"]
        if not topics:
            return None
        addr = str(lg["address"]).lower()
        topic0 = "0x" + bytes(topics[0]).hex()
        spec = self._specs.get((addr, topic0))
        if spec is None:
            return None
        data = get_event_data(self.w3.codec, spec.abi, lg)
        args = _plain(dict(data["args"]))
        promoted: dict[str, Any] = {col: None for col in PROMOTED.values()}
        for arg, col in PROMOTED.items():
            if arg in args:
                promoted[col] = args[arg] if col == "lease_id" else int(args[arg])
        return (int(lg["blockNumber"]), int(lg["logIndex"]), "0x" + bytes(lg["blockHash"]).hex(),
                "0x" + bytes(lg["transactionHash"]).hex(), spec.contract, spec.name,
                promoted["device_id"], promoted["epoch"], promoted["lease_id"],
                promoted["class_id"], json.dumps(args, separators=(",", ":")))

    def _chunk(self, start: int, to: int) -> int:
        addresses = [to_checksum_address(a) for a in self._names]
        logs = ch.with_retry(partial(self.w3.eth.get_logs, {"fromBlock": start, "toBlock": to,
                                                           "address": addresses}),
                             what="eth_getLogs")
        rows = [r for r in (self._decode(lg) for lg in logs) if r is not None]
        end = ch.with_retry(partial(self.w3.eth.get_block, to), what="eth_getBlockByNumber")
        blocks = {int(r[0]): r[2] for r in rows}
        end_hash = "0x" + bytes(end["hash"]).hex()
        # A log's block hash disagreeing with the chunk end's ancestry shows up at the next
        # check_reorg (the end block's hash is what is compared).
        blocks[to] = end_hash
        with self.db.transaction():
            self.db.executemany(
                "INSERT INTO events (block_number, log_index, block_hash, tx_hash, contract, "
                "event, device_id, epoch, lease_id, class_id, args) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)
            self.db.executemany(
                "INSERT INTO blocks (number, hash, ts) VALUES (?, ?, ?) ON CONFLICT (number) "
                "DO UPDATE SET hash = excluded.hash, ts = excluded.ts",
                [(n, h, int(end["timestamp"]) if n == to else 0) for n, h in blocks.items()])
            self._snapshot_epochs(start, to)
            self.db.put("cursor", str(to))
        return len(rows)

    def _classes(self) -> list[int]:
        ids = {int(r["class_id"]) for r in self.db.query(
            "SELECT DISTINCT class_id FROM events WHERE event = 'ClassSet' AND class_id IS NOT "
            "NULL")}
        return sorted(ids)

    def _pool_class(self, cid: int, block: int, quote_epochs: int = 1) -> dict[str, Any]:
        pool = self._contracts.pool
        demand, supply, _ = ch.call(pool.functions.classState(cid), block)
        util = int(ch.call(pool.functions.utilization(cid), block))
        price: str | None
        try:  # one whole device-epoch (the quote bills the current epoch pro rata)
            price = str(ch.call(pool.functions.pricePerEpoch(cid), block))
        except ch.ChainError:
            price = None  # sold out
        quote: str | None
        try:
            quote = str(ch.call(pool.functions.quote(cid, quote_epochs), block))
        except ch.ChainError:
            quote = None
        return {"demand": str(demand), "supply": str(supply), "utilization": str(util),
                "price": price, "quote": quote}

    def _snapshot_epochs(self, start: int, to: int) -> None:
        """The pool's class views at the last block of every epoch ending in [start, to]."""
        if self._contracts.pool is None:
            return
        g, eb = self.genesis_block(), self.epoch_blocks()
        head = self.head
        first = max(self.epoch_of(start - 1) if start > g else 0, 0)
        for e in range(first, self.epoch_of(to) + 1):
            last = g + (e + 1) * eb - 1
            if not start <= last <= to or head - last > SNAPSHOT_EPOCHS * eb:
                continue
            for cid in self._classes():
                try:
                    v = self._pool_class(cid, last)
                except Exception as err:  # state pruned (non-archive node): events only
                    log.debug("no class view at block %d: %s", last, err)
                    continue
                self.db.execute(
                    "INSERT INTO class_epochs (class_id, epoch, block_number, demand, supply, "
                    "utilization, price) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
                    "(class_id, epoch) DO NOTHING",
                    (cid, e, last, v["demand"], v["supply"], v["utilization"], v["price"]))

    def refresh_views(self) -> None:
        """Devices' and classes' views at the indexed block (state, bond, R, D, quote now)."""
        block = self.cursor
        if block < self.deployment.deployment_block:
            return
        c = self._contracts
        from pinfi.chain import reads as rd

        devices = [int(r["device_id"]) for r in self.db.query(
            "SELECT device_id FROM events WHERE event = 'DeviceRegistered' ORDER BY device_id")]
        rows = []
        for d in devices:
            dev = rd.device(c, d, block)
            earned = int(ch.call(c.staking.functions.earned(d), block))
            claimable = (int(ch.call(c.pool.functions.claimable(d), block))
                         if c.pool is not None else 0)
            url = ""
            if ch.REGISTRY_NAME in self.deployment.contracts:
                try:
                    ep = rd.endpoint(c, d, block)
                    url = ep.url if ep.current else ""
                except ch.ChainError:
                    url = ""
            rows.append({"device_id": d, "block_number": block, "owner": dev.owner,
                         "class_id": dev.class_id, "state": int(dev.state),
                         "operator": dev.operator, "bond": str(dev.bond),
                         "earned": str(earned), "claimable": str(claimable), "endpoint": url})
        classes = []
        if c.pool is not None:
            epoch = self.epoch_of(block)
            for cid in self._classes():
                try:
                    v = self._pool_class(cid, block, self.quote_epochs)
                except ch.ChainError:
                    continue
                active = int(ch.call(c.staking.functions.classes(cid), block)[2])
                classes.append({"class_id": cid, "block_number": block, "epoch": epoch,
                                "demand": v["demand"], "supply": v["supply"],
                                "utilization": v["utilization"], "price": v["price"],
                                "quote": v["quote"], "quote_epochs": self.quote_epochs,
                                "active": active})
        with self.db.transaction():
            self.db.execute("DELETE FROM device_views")
            self.db.execute("DELETE FROM class_views")
            for r in rows:
                self.db.upsert("device_views", "device_id", r)
            for r in classes:
                self.db.upsert("class_views", "class_id", r)
            self.db.put("views_block", str(block))

    def sync(self, until: int | None = None, max_chunks: int | None = None) -> int:
        """Read up to the head (or ``until``); returns the number of events stored."""
        head = int(ch.with_retry(lambda: self.w3.eth.block_number, what="eth_blockNumber"))
        self.db.put("head", str(head))
        self.check_reorg()
        target = head - self.confirmations if until is None else min(until, head)
        count = chunks = 0
        while self.cursor < target and not self._stop.is_set():
            start = self.cursor + 1
            to = min(target, start + self.max_scan - 1)
            count += self._chunk(start, to)
            chunks += 1
            if self.on_chunk is not None:
                self.on_chunk(to)
            if max_chunks is not None and chunks >= max_chunks:
                break
        if chunks or self.db.get("views_block") != str(self.cursor):
            self.refresh_views()
        return count

    def run(self, interval: float = 1.0) -> None:
        """Sync until :meth:`stop` (errors are logged and retried)."""
        while not self._stop.is_set():
            try:
                self.sync()
            except Exception as err:
                log.warning("sync failed (retrying): %s", err)
            self._stop.wait(interval)

    def stop(self) -> None:
        self._stop.set()

    def start(self, interval: float = 1.0) -> threading.Thread:
        t = threading.Thread(target=self.run, args=(interval,), name="explorer-indexer",
                             daemon=True)
        t.start()
        return t


def open_indexer(rpc: str, deployment: str | Deployment, db: Database,
                 **kw: Any) -> Indexer:
    w3 = ch.connect(rpc)
    dep = Deployment.resolve(deployment, int(w3.eth.chain_id))
    return Indexer(w3, dep, db, **kw)


__all__ = ["Indexer", "open_indexer"]

