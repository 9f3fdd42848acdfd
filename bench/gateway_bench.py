"""The lease gateway's benchmark (``make bench``) -> ``bench/results/gateway.json``.

On a fresh local Anvil (started through Ape, blocks every ``BLOCK_S`` seconds like a real chain):
one device registered and proved Active by a real ``provider-agent run`` whose gateway is
enabled, a client with its own key. It measures:

* **lease -> job running**: from the block that mined the client's lease (and the moment its
  receipt arrived) to the job running on the device: the client checks the gateway's operator
  key, submits the manifest bound as the lease's jobSpec, the job starts. Blocks and seconds,
  several trials.
* **throughput**: one ``SIZE_MB`` file uploaded (``PUT /v1/blobs``) and downloaded (a job's
  output) through the gateway, against a plain local file copy of the same file measured side
  by side in the same run, ``REPS`` repetitions, medians (goal: >= 50 % of it).
* **service proxy latency**: p50 / p99 of ``REQUESTS`` sequential GETs to a job's service port,
  directly and through ``/v1/service`` (each request EIP-712 signed by the client and checked by
  the gateway); the difference is what the proxy adds (goal: <= 5 ms at p50 on loopback). The
  client's signing time is reported apart.

Run from the repository root: ``python bench/gateway_bench.py`` (the Makefile sets PATH so Ape
finds Anvil). A developer tool: it needs Ape.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "gateway.json"
BLOCK_S = 1
EPOCH_BLOCKS = 20
SIZE_MB = int(os.environ.get("PINFI_BENCH_MB", "128"))
REQUESTS = int(os.environ.get("PINFI_BENCH_REQUESTS", "400"))
TRIALS = 3
REPS = int(os.environ.get("PINFI_BENCH_REPS", "5"))
SERVICE_PY = """\
import asyncio, sys
BODY = b"pong"
async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            n = 0
            for line in head.split(b"\\r\\n"):
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":")[1])
            if n:
                await reader.readexactly(n)
            writer.write(b"HTTP/1.1 200 OK\\r\\ncontent-type: text/plain\\r\\ncontent-length: "
                         + str(len(BODY)).encode() + b"\\r\\n\\r\\n" + BODY)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    print("serving", flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def ms(x: float) -> float:
    return round(x * 1000, 3)


def timed_mb_s(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return SIZE_MB / (time.perf_counter() - t)


def hashed_copy(src: Path, dst: Path) -> str:
    """The floor of any integrity-checked copy: read, SHA-256 and write in one pass, through one
    reused 4 MiB buffer, unbuffered (no allocation or extra copy per block)."""
    h = hashlib.sha256()
    buf = memoryview(bytearray(4 << 20))
    with open(src, "rb", buffering=0) as f, open(dst, "wb", buffering=0) as g:
        while n := f.readinto(buf):
            h.update(buf[:n])
            g.write(buf[:n])
    return h.hexdigest()


def sha256_mb_s(src: Path) -> float:
    """One core's SHA-256 rate over the file (in memory), median of three."""
    data = src.read_bytes()
    return statistics.median(timed_mb_s(lambda: hashlib.sha256(data).digest())
                             for _ in range(3))


def wait_for(cond: Any, timeout: float, what: str, poll: float = 0.3) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit(f"gateway_bench: timed out waiting for {what}")
        time.sleep(poll)


def main() -> int:
    os.chdir(ROOT)
    from ape import accounts, chain, networks, project
    from ape.logging import LogLevel, logger

    logger.set_level(LogLevel.WARNING)
    with networks.parse_network_choice("ethereum:local:foundry"):
        return run(accounts, chain, project)


def run(accounts: Any, chain: Any, project: Any) -> int:
    from eth_account import Account

    from pinfi import chain as ch
    from pinfi import params
    from pinfi.delivery.manifest import Manifest, sha256_file
    from pinfi.sdk import PinFi
    from pinfi.types import DeviceState
    from pinfi_dev import demo
    from pinfi_dev.deploy import deploy_protocol

    tmp = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    demo.OUT = tmp
    network = params.network_params(epoch_blocks=EPOCH_BLOCKS, unbonding_blocks=2 * EPOCH_BLOCKS)
    cls = params.derive(1, name="cpu-bench", commit_window=6, open_window=5, dispute_window=5,
                        challenge_bps=10_000)
    admin, owner, client = (accounts.test_accounts[i] for i in (0, 1, 4))
    d = deploy_protocol(project, chain, admin, network, [cls])
    dep = ch.Deployment(chain.chain_id, d.addresses(), chain.blocks.head.number,
                        params={"network": network.to_json(), "classes": [cls.to_json()]})
    dep.save(tmp / "deployment.json")
    folder = tmp / "agents" / "provider"
    operator = demo._keystore(folder / "keys" / "operator.json")
    admin.transfer(operator.address, 10**19)
    d.token.transfer(owner, cls.min_bond * 2, sender=admin)
    d.token.approve(d.staking, cls.min_bond * 2, sender=owner)
    d.token.transfer(client, 10**24, sender=admin)
    d.token.approve(d.pool, 2**255, sender=client)
    start = d.staking.genesisBlock() + (d.staking.currentEpoch() + 1) * EPOCH_BLOCKS
    chain.mine(max(0, start - chain.blocks.head.number))
    device = int(d.staking.registerDevice(1, b"bench".ljust(32, b"\0"), operator.address,
                                          sender=owner).return_value)
    port = demo._free_port()
    url = f"http://127.0.0.1:{port}"
    d.registry.setEndpoint(device, url, sender=owner)
    cfg = demo._agent_config(folder, chain.provider.http_uri, [device], 0.0, gateway_port=port)
    text = cfg.read_text().replace('deployment = "../../deployment.json"',
                                   f'deployment = "{tmp / "deployment.json"}"')
    cfg.write_text(text + f"max_upload_mb = {2 * SIZE_MB}\n")
    procs = demo.Processes()
    procs.start("provider", [sys.executable, "-m", "provider_agent.cli", "run", "--config",
                             str(cfg)], folder / "agent.log")
    result: dict[str, Any] = {}
    load_before = os.getloadavg()[0]
    try:
        procs.wait_ready({"provider": folder}, " started: ", timeout=180)
        wait_for(lambda: _up(url), 120, "the gateway")
        w3 = chain.provider.web3
        w3.provider.make_request("evm_setAutomine", [False])
        w3.provider.make_request("evm_setIntervalMining", [BLOCK_S])
        print(f"gateway_bench: device {device} proving its first challenge ...", flush=True)
        wait_for(lambda: d.staking.deviceSummary(device)[2] == DeviceState.ACTIVE, 300,
                 "the device to become Active")
        key = bytes(Account.from_key(client.private_key).key)
        pf = PinFi.connect(chain.provider.http_uri, dep.to_dict(), key)
        python = demo._sandbox_binds()[1]
        load_before = os.getloadavg()[0]  # measurements start here
        result["lease_to_running"] = lease_to_running(pf, device, Manifest)
        result["throughput"] = throughput(pf, device, tmp, folder / "data" / "gateway" / "blobs",
                                          Manifest, sha256_file)
        result["service_proxy"] = service_latency(pf, device, tmp, Manifest, python)
    finally:
        procs.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    result["setup"] = {
        "block_time_s": BLOCK_S, "epoch_blocks": EPOCH_BLOCKS, "file_mb": SIZE_MB,
        "requests": REQUESTS, "trials": TRIALS, "repetitions": REPS,
        "python": platform.python_version(),
        "machine": platform.machine(), "cpus": os.cpu_count(),
        "sandbox": "bwrap" if shutil.which("bwrap") else "rlimits",
        # a shared machine's load skews every figure: the 1-minute load average around the run
        "load_avg_1m_before": round(load_before, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/info", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _end(pf: Any, lease_id: int) -> None:
    if pf.lease_info(lease_id).live:
        pf.terminate(lease_id)


def lease_to_running(pf: Any, device: int, Manifest: Any) -> dict[str, Any]:
    trials = []
    for i in range(TRIALS):
        m = Manifest.build("process", ["sleep", "60"], env={"TRIAL": str(i)})
        lease = pf.lease(device, 1, job_spec=m.hash)
        t0 = time.perf_counter()  # the lease's receipt is in: the client knows it holds it
        gw = pf.gateway(device)  # registry URL, operator key proven
        sub = gw.submit(lease.lease_id, m)
        st = gw.status(lease.lease_id, sub["job"]["job_id"])
        assert st["state"] == "running", st
        seconds = time.perf_counter() - t0
        trials.append({"lease_block": lease.block_number, "job_start_block":
                       st["start_block"], "blocks": st["start_block"] - lease.block_number,
                       "seconds": round(seconds, 3)})
        gw.cancel(lease.lease_id, sub["job"]["job_id"])
        gw.wait(lease.lease_id, sub["job"]["job_id"], 60, 0.2)
        _end(pf, lease.lease_id)
    return {"trials": trials,
            "median_blocks": statistics.median(t["blocks"] for t in trials),
            "median_seconds": statistics.median(t["seconds"] for t in trials),
            "note": "from the client holding the lease's receipt to the job running: identity "
                    "check, signed submit, job started (blocks: job's start block - lease's "
                    "block)"}


def throughput(pf: Any, device: int, tmp: Path, blobs: Path, Manifest: Any,
               sha256_file: Any) -> dict[str, Any]:
    """Each repetition times, side by side on the same file: a plain local copy, the same copy
    with a SHA-256 pass (the floor of any checked copy), an upload whose sha256 the client has
    (it built the manifest with it), an upload that hashes the file first, a download (streamed
    to disk, checked against the listing's sha256). The order rotates between repetitions;
    every copy made is deleted at the end of its repetition and the gateway's blob before each
    upload (every timed operation writes a new file; none rewrites one in place)."""
    src = tmp / "payload.bin"
    with open(src, "wb") as f:
        for _ in range(SIZE_MB):
            f.write(os.urandom(1 << 20))
    sha = sha256_file(src)
    sha_rate = sha256_mb_s(src)
    m = Manifest.build("process", ["cp", "payload.bin", "copy.bin"],
                       inputs={"payload.bin": sha}, outputs=["copy.bin"])
    lease = pf.lease(device, 3, job_spec=m.hash)
    gw = pf.gateway(device)
    gw.upload(lease.lease_id, src, sha)
    job = gw.submit(lease.lease_id, m)["job"]["job_id"]
    gw.wait(lease.lease_id, job, 300, 0.2)
    got = gw.fetch(lease.lease_id, job, tmp / "check")  # checks the sha256 itself
    assert sha256_file(got["copy.bin"]) == sha
    shutil.rmtree(tmp / "check")
    runs: dict[str, list[float]] = {k: [] for k in
                                    ("local_copy", "local_hashed_copy", "upload",
                                     "upload_cold", "download")}
    blob = blobs / sha
    for i in range(REPS):
        copy, hcopy, fetched = tmp / "copy.bin", tmp / "hcopy.bin", tmp / "fetched"
        ops: list[tuple[str, Any]] = [
            ("local_copy", partial(shutil.copyfile, src, copy)),
            ("local_hashed_copy", partial(hashed_copy, src, hcopy)),
            ("upload", partial(gw.upload, lease.lease_id, src, sha)),
            ("upload_cold", partial(gw.upload, lease.lease_id, src)),
            ("download", partial(gw.fetch, lease.lease_id, job, fetched))]
        k = i % len(ops)
        for name, fn in ops[k:] + ops[:k]:
            if name.startswith("upload"):
                blob.unlink()  # each upload stores the file anew, as the local copy does
            runs[name].append(timed_mb_s(fn))
            assert blob.is_file()
        copy.unlink()
        hcopy.unlink()
        shutil.rmtree(fetched)
    _end(pf, lease.lease_id)
    med = {k: statistics.median(v) for k, v in runs.items()}
    local = med["local_copy"]
    out: dict[str, Any] = {
        "file_mb": SIZE_MB, "file_bytes": SIZE_MB << 20, "repetitions": REPS,
        "cpus": os.cpu_count(), "statistic": "median of the repetitions, MB/s (MiB/s)",
        **{f"{k}_mb_s": round(v, 1) for k, v in med.items()},
        "upload_vs_local": round(med["upload"] / local, 3),
        "upload_cold_vs_local": round(med["upload_cold"] / local, 3),
        "download_vs_local": round(med["download"] / local, 3),
        "goal": ">= 0.5 of a local copy (upload with the manifest's sha256, download)",
        "goal_met": med["upload"] >= local / 2 and med["download"] >= local / 2,
        "local_hashed_copy_vs_local": round(med["local_hashed_copy"] / local, 3),
        "upload_vs_local_hashed_copy": round(med["upload"] / med["local_hashed_copy"], 3),
        "download_vs_local_hashed_copy": round(med["download"] / med["local_hashed_copy"], 3),
        "bound": "a kernel copy makes one pass over the bytes; a checked transfer through a "
                 "socket makes a SHA-256 pass (1-1.6 GB/s on one core here) and three copies "
                 "(socket in, socket out, page cache), on cores it shares with the other side "
                 "and the machine's other load. local_hashed_copy, one process with no socket, "
                 "is the floor of any checked copy",
        # Integrity costs SHA-256 passes a kernel copy does not make: an upload = the gateway's
        # pass (+ the client's first when it has no hash yet), a download = the client's check.
        "sha256_mb_s": round(sha_rate, 1),
        "runs_mb_s": {k: [round(x, 1) for x in v] for k, v in runs.items()},
        "note": "local_copy: shutil.copyfile (kernel copy); local_hashed_copy: read + sha256 + "
                "write in one pass; upload: signed PUT sent with sendfile, the gateway hashes "
                "and writes as it receives and renames into place on a match; upload_cold: the "
                "same after the client's own sha256 pass; download: sendfile from the gateway, "
                "the client hashes and writes as it receives and renames into place on a "
                "match. Loopback, one machine: client and gateway share its cores"}
    return out


def service_latency(pf: Any, device: int, tmp: Path, Manifest: Any, python: str
                    ) -> dict[str, Any]:
    from pinfi.delivery import auth as da
    from pinfi.delivery.manifest import sha256_hex

    sport = 18000 + os.getpid() % 1000
    m = Manifest.build("process", [python, "serve.py", str(sport)],
                       inputs={"serve.py": sha256_hex(SERVICE_PY.encode())},
                       service_port=sport, env={"PYTHONUNBUFFERED": "1"})
    lease = pf.lease(device, 3, job_spec=m.hash)
    gw = pf.gateway(device)
    job = gw.submit(lease.lease_id, m, {"serve.py": SERVICE_PY.encode()})["job"]["job_id"]
    direct = httpx.Client(base_url=f"http://127.0.0.1:{sport}", timeout=10)
    wait_for(lambda: _served(direct), 60, "the job's service")
    for _ in range(50):  # warm both paths
        direct.get("/ping")
        gw.service(lease.lease_id, "GET", "ping")
    d_times, p_times, s_times = [], [], []
    for _ in range(REQUESTS):
        t = time.perf_counter()
        r = direct.get("/ping")
        d_times.append(time.perf_counter() - t)
        assert r.content == b"pong"
        t = time.perf_counter()
        r = gw.service(lease.lease_id, "GET", "ping")
        p_times.append(time.perf_counter() - t)
        assert r.content == b"pong"
        t = time.perf_counter()
        da.sign_request(gw.account, gw.chain_id, gw.pool, lease.lease_id, "GET",
                        "/v1/service/ping", b"")
        s_times.append(time.perf_counter() - t)
    gw.cancel(lease.lease_id, job)
    _end(pf, lease.lease_id)
    out = {"requests": REQUESTS,
           "direct_p50_ms": ms(pct(d_times, 50)), "direct_p99_ms": ms(pct(d_times, 99)),
           "proxied_p50_ms": ms(pct(p_times, 50)), "proxied_p99_ms": ms(pct(p_times, 99)),
           "client_signing_p50_ms": ms(pct(s_times, 50))}
    out["added_p50_ms"] = round(out["proxied_p50_ms"] - out["direct_p50_ms"], 3)
    out["added_p99_ms"] = round(out["proxied_p99_ms"] - out["direct_p99_ms"], 3)
    out["added_p50_without_signing_ms"] = round(out["added_p50_ms"]
                                                - out["client_signing_p50_ms"], 3)
    out["goal"] = "added p50 <= 5 ms on loopback"
    return out


def _served(c: httpx.Client) -> bool:
    try:
        return c.get("/ping").status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
