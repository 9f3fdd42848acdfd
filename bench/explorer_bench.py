"""The explorer's benchmark (``make bench``) -> ``bench/results/explorer.json``.

On a fresh local Anvil (through Ape, automine): the protocol with the test class, four devices
made Active by real PoCPS proofs, then a loop of protocol transactions sent straight over
JSON-RPC (leases, extensions, reward claims, pool claims, endpoint updates) until the
deployment's contracts hold at least ``EVENTS`` events. It measures, for SQLite and for a real
PostgreSQL server started here (skipped with a reason where none can run):

* **indexer throughput**: a fresh index synced from the deployment block to the head, events
  stored per second (view snapshots included: the sync as a user runs it);
* **API latency**: p50 / p99 of ``REQUESTS`` GETs from ``CLIENTS`` local client threads (a
  bounded load: each waits for its answer) over a mix of endpoints, against the explorer
  served by uvicorn on loopback.

Run from the repository root: ``python bench/explorer_bench.py`` (the Makefile sets PATH so Ape
finds Anvil). A developer tool: it needs Ape.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "results" / "explorer.json"
EVENTS = int(os.environ.get("PINFI_BENCH_EVENTS", "10000"))
REQUESTS = int(os.environ.get("PINFI_BENCH_REQUESTS", "600"))
CLIENTS = 4
FAR = 2**63


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> int:
    os.chdir(ROOT)
    from ape import accounts, chain, networks, project
    from ape.logging import LogLevel, logger

    logger.set_level(LogLevel.WARNING)
    with networks.parse_network_choice("ethereum:local:foundry"):
        return run(accounts, chain, project)


def generate(chain: Any, project: Any, accounts: Any) -> tuple[Any, Any, int]:
    """Deploy, activate devices, then send protocol transactions until >= EVENTS events."""
    from pinfi import chain as ch
    from tests.support.constants import CLASS_ID, deploy_system
    from tests.support.pool import activate_many

    admin, alice, operator, bob = (accounts.test_accounts[i] for i in (0, 1, 3, 2))
    system = deploy_system(project, chain, admin)
    first = int(system.staking.genesisBlock()) - 1
    devices = activate_many(chain, system, alice, operator, 4)
    system.token.transfer(bob, 10**24, sender=admin)
    system.token.approve(system.pool, 2**255, sender=bob)
    dep = ch.Deployment(int(chain.chain_id), system.addresses(), deployment_block=first)
    w3 = chain.provider.web3
    c = ch.load_contracts(w3, dep)
    reg = w3.eth.contract(address=system.registry.address, abi=ch.load_abi(ch.REGISTRY_NAME))
    topics = [a for a in dep.contracts.values()]

    def count() -> int:
        return len(w3.eth.get_logs({"fromBlock": first, "toBlock": "latest",
                                    "address": topics}))

    batch: list[tuple[str, list[Any]]] = []

    def send(fn: Any, sender: str) -> None:
        """Queued; one JSON-RPC batch per round (a revert, e.g. nothing to claim yet, is a
        skipped step)."""
        batch.append(("eth_sendTransaction", [{"from": sender, "to": fn.address, "gas":
                                               hex(600_000),
                                               "data": fn._encode_transaction_data()}]))

    def flush() -> None:
        if batch:
            w3.provider.make_batch_request(list(batch))
            batch.clear()

    leases: dict[int, int] = {}
    n, i = count(), 0
    t0 = time.perf_counter()
    while n < EVENTS:
        for d in devices:
            lv = c.pool.functions.leaseOf(d).call()
            if not lv[5]:  # free: lease it for 2 epochs
                send(c.pool.functions.lease(d, 2, 10**30, FAR, b"\x33" * 32), bob.address)
                flush()
                leases[d] = int(c.pool.functions.currentLeaseId(d).call())
            elif i % 7 == 0:
                send(c.pool.functions.extend(leases[d], 1, 10**30, FAR), bob.address)
            send(c.staking.functions.claim(d), alice.address)
            if i % 3 == 0:
                send(c.pool.functions.claim(d), alice.address)
            send(reg.functions.setEndpoint(d, f"http://10.0.0.{d}:{9000 + i % 1000}"),
                 alice.address)
        flush()
        i += 1
        if i % 25 == 0:
            n = count()
            print(f"  {n} events ({time.perf_counter() - t0:.0f} s)", flush=True)
    n = count()
    _ = CLASS_ID
    return w3, dep, n


def index(w3: Any, dep: Any, url: str) -> dict[str, Any]:
    from pinfi.explorer.db import open_db
    from pinfi.explorer.indexer import Indexer

    db = open_db(url)
    ix = Indexer(w3, dep, db)
    t0 = time.perf_counter()
    stored = ix.sync()
    dt = time.perf_counter() - t0
    events = int(db.scalar("SELECT COUNT(*) FROM events"))
    out = {"events": events, "stored_this_sync": stored, "blocks": ix.cursor -
           dep.deployment_block + 1, "seconds": round(dt, 3),
           "events_per_s": round(events / dt, 1), "lag_after": ix.lag}
    db.close()
    return out


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api_latency(url: str) -> dict[str, Any]:
    import httpx
    import uvicorn

    from pinfi.explorer.app import create_app
    from pinfi.explorer.db import open_db

    db = open_db(url)
    port = _port()
    srv = uvicorn.Server(uvicorn.Config(create_app(db), host="127.0.0.1", port=port,
                                        log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    while not srv.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    devices = [d["device_id"] for d in httpx.get(base + "/api/devices", timeout=60).json()]
    lease = httpx.get(base + "/api/leases", params={"limit": 1}, timeout=60).json()[0]
    paths = ["/api/status", "/api/classes", f"/api/devices/{devices[0]}", "/api/devices",
             f"/api/leases/{lease['lease_id']}", "/api/leases?limit=50",
             "/api/burn-emission", f"/devices/{devices[-1]}"]
    lat: dict[str, list[float]] = {p: [] for p in paths}
    lock = threading.Lock()

    def client(k: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as h:
            for j in range(REQUESTS // CLIENTS):
                p = paths[(j + k) % len(paths)]
                t0 = time.perf_counter()
                r = h.get(p)
                dt = time.perf_counter() - t0
                assert r.status_code == 200, (p, r.status_code)
                with lock:
                    lat[p].append(dt * 1000)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    srv.should_exit = True
    t.join(timeout=10)
    db.close()
    every = [x for xs in lat.values() for x in xs]
    return {"requests": len(every), "clients": CLIENTS, "seconds": round(wall, 2),
            "requests_per_s": round(len(every) / wall, 1),
            "p50_ms": round(statistics.median(every), 2), "p99_ms": round(pct(every, 0.99), 2),
            "by_path": {p: {"p50_ms": round(statistics.median(xs), 2),
                            "p99_ms": round(pct(xs, 0.99), 2)} for p, xs in lat.items()}}


def run(accounts: Any, chain: Any, project: Any) -> int:
    from tests.explorer import pgserver

    t0 = time.perf_counter()
    w3, dep, n = generate(chain, project, accounts)
    gen_s = time.perf_counter() - t0
    print(f"chain holds {n} events of the deployment ({gen_s:.0f} s to generate)", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="explorer-bench-"))
    results: dict[str, Any] = {}
    lite = str(tmp / "bench.sqlite")
    results["sqlite"] = {"indexer": index(w3, dep, lite), "api": api_latency(lite)}
    print("sqlite", json.dumps(results["sqlite"]["indexer"]), flush=True)
    why = pgserver.available()
    if why is None:
        server = pgserver.PgServer()
        try:
            server.start()
            pg = server.create_db("explorer_bench")
            results["postgresql"] = {"indexer": index(w3, dep, pg), "api": api_latency(pg)}
            print("postgresql", json.dumps(results["postgresql"]["indexer"]), flush=True)
        finally:
            server.stop()
    else:
        results["postgresql"] = {"skipped": why}
    load = os.getloadavg()
    out = {"bench": "explorer", "chain_events": n, "generate_seconds": round(gen_s, 1),
           "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                       "loadavg": [round(x, 2) for x in load]},
           "notes": "Anvil automine on loopback; the indexer's sync includes its view "
                    "snapshots (per-epoch class views, devices and classes now); API load: "
                    f"{CLIENTS} client threads, each waiting for its answer.",
           **results}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
