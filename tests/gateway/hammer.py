"""A client that hammers a gateway (``python -m tests.gateway.hammer``) until a stop file
appears: ``--concurrency`` threads each loop over signed uploads, job status and log reads and
public requests. Prints one JSON line of counts (by HTTP status, and exceptions) at the end."""

from __future__ import annotations

import argparse
import collections
import json
import os
import threading
import time
from pathlib import Path

import httpx
from eth_account import Account

from pinfi.delivery.client import GatewayClient, GatewayError


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", required=True, help="env var holding the client's private key")
    ap.add_argument("--chain-id", type=int, required=True)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--lease", type=int, required=True)
    ap.add_argument("--job", required=True)
    ap.add_argument("--stop", required=True, help="stop when this file exists")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--upload-kb", type=int, default=256)
    args = ap.parse_args()
    acct = Account.from_key(os.environ[args.key])
    counts: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    stop = Path(args.stop)

    def note(key: str) -> None:
        with lock:
            counts[key] += 1

    def worker(i: int) -> None:
        gw = GatewayClient(args.url, acct, args.chain_id, args.pool, timeout=120)
        public = httpx.Client(base_url=args.url, timeout=120)
        n = 0
        while not stop.exists():
            n += 1
            try:
                kind = n % 4
                if kind == 0:
                    gw.upload(args.lease, os.urandom(args.upload_kb * 1024))
                elif kind == 1:
                    gw.status(args.lease, args.job)
                elif kind == 2:
                    b"".join(gw.logs(args.lease, args.job))
                else:
                    r = public.get("/v1/identity", params={"challenge": "0x" + "ab" * 32})
                    if r.status_code != 200:
                        note(str(r.status_code))
                        continue
                note("200")
            except GatewayError as err:
                note(str(err.status))
            except Exception as err:  # counted, never fatal: the test asserts on the counts
                note(type(err).__name__)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(args.concurrency)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"counts": dict(counts), "seconds": round(time.monotonic() - t0, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
