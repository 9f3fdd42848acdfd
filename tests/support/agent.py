"""Helpers of the provider-agent tests: deployments, keystores, configs, a block miner, an RPC
proxy that can be switched off, and the agent as a subprocess."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from web3 import Web3

from pinfi_dev.deploy import deploy_protocol
from provider_agent import config as config_mod
from provider_agent import keystore
from tests.support.constants import NETWORK, TEST_CLASS, TEST_CLASS_FULL, System

ROOT = Path(__file__).resolve().parents[2]
AGENT_BIN = ROOT / ".venv" / "bin" / "provider-agent"
PASSWORD = "correct horse battery staple"
SCRYPT_N = 2**10  # fast keystores for tests (production uses eth-account's default)

# Roomy windows for agents running as subprocesses against a steadily mined chain (restarts
# take a few seconds on a loaded 2-core machine).
ROOMY_CLASS: dict[str, int] = {
    **TEST_CLASS_FULL, "commitWindow": 40, "openWindow": 40, "disputeWindow": 20,
    "challengeBps": 10_000,
}
ROOMY_EPOCH_BLOCKS = 100


def rpc_uri(chain: Any) -> str:
    p = chain.provider
    return str(getattr(p, "http_uri", None) or p.uri)


def deploy(project: Any, chain: Any, admin: Any, cls: dict[str, int] | None = None,
           epoch_blocks: int = NETWORK["epochBlocks"]) -> System:
    """A fresh system with one class (``TEST_CLASS_FULL`` by default)."""
    net = {**NETWORK, "epochBlocks": epoch_blocks, "unbondingBlocks": 2 * epoch_blocks}
    return deploy_protocol(project, chain, admin, net, [cls or TEST_CLASS_FULL],
                           with_pool=hasattr(project, "DissipativePool"))


def write_deployment(path: Path, system: System, chain: Any) -> Path:
    data = {"chainId": int(chain.chain_id), "deploymentBlock": 0,
            "contracts": system.addresses(), "params": {"classes": [TEST_CLASS_FULL]}}
    path.write_text(json.dumps(data))
    return path


@dataclass
class Key:
    path: Path
    address: str
    private_key: bytes


def make_key(dirpath: Path, name: str, fund_from: Any = None, eth: float = 10.0) -> Key:
    """A fresh encrypted keystore (password ``PASSWORD``) funded with ``eth`` from ``fund_from``."""
    acct = Account.create()
    path = dirpath / "keys" / f"{name}.json"
    keystore.create(path, PASSWORD, acct.key, iterations=SCRYPT_N)
    if fund_from is not None and eth:
        fund_from.transfer(acct.address, int(eth * 10**18))
    return Key(path, acct.address, bytes(acct.key))


def write_config(dirpath: Path, rpc: str, deployment: Path, devices: list[int], operator: Key,
                 owner: Key | None = None, **extra: Any) -> Path:
    pw = dirpath / "keys" / "password.txt"
    pw.parent.mkdir(parents=True, exist_ok=True)
    pw.write_text(PASSWORD)
    keys: dict[str, Any] = {"operator_keystore": str(operator.path),
                            "operator_password_file": str(pw)}
    if owner is not None:
        keys["owner_keystore"] = str(owner.path)
        keys["owner_password_file"] = str(pw)
    if "verifier" in extra:
        v: Key = extra.pop("verifier")
        keys["verifier_keystore"] = str(v.path)
        keys["verifier_password_file"] = str(pw)
    jobs = extra.pop("jobs", None)
    data: dict[str, Any] = {
        "rpc_url": rpc, "deployment": str(deployment), "data_dir": str(dirpath / "data"),
        "devices": devices, "backend": "cpu", "confirmations": 0, "poll_interval": 0.1,
        "safety_margin_blocks": 1, "metrics_port": 0, "spot_checks": 2, **extra, "keys": keys,
    }
    if jobs:
        data["jobs"] = jobs
    path = dirpath / "agent.toml"
    config_mod.write(path, data)
    return path


def register(system: System, owner: Any, operator: str, class_id: int = 1) -> int:
    from tests.support import pocps

    return pocps.register(system, owner, operator, class_id)


def goto_block(chain: Any, target: int) -> None:
    """Mine until the head is ``target - 1`` (the next block mined is ``target``)."""
    head = chain.blocks.head.number
    if head + 1 < target:
        chain.mine(target - head - 1)


class Miner(threading.Thread):
    """Mines one block every ``interval`` seconds through its own HTTP connection."""

    def __init__(self, uri: str, interval: float) -> None:
        super().__init__(daemon=True)
        self.w3 = Web3(Web3.HTTPProvider(uri, request_kwargs={"timeout": 30}))
        self.interval = interval
        self.stop_event = threading.Event()
        self.paused = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            if not self.paused.is_set():
                self.w3.provider.make_request("evm_mine", [])

    def head(self) -> int:
        return int(self.w3.eth.block_number)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RpcProxy:
    """An HTTP JSON-RPC proxy in front of Anvil that can disappear (connection refused) and
    come back on the same port, or drop only ``eth_sendRawTransaction``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.drop_sends = False
        self.requests = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.up()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy.requests += 1
                if proxy.drop_sends and b"eth_sendRawTransaction" in body:
                    self.send_response(502)
                    self.end_headers()
                    return
                r = requests.post(proxy.upstream, data=body,
                                  headers={"Content-Type": "application/json"}, timeout=30)
                self.send_response(r.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

        return Handler

    def up(self) -> None:
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        srv.daemon_threads = True
        self._server = srv
        self._thread = threading.Thread(target=srv.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        self.down()


def run_agent(config: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``provider-agent <args>`` with ``--config`` appended where the command takes one."""
    e = {**os.environ, **(env or {})}
    return subprocess.run([str(AGENT_BIN), *args], capture_output=True, text=True, env=e,
                          timeout=timeout, check=False)


def spawn_agent(config: Path, log_path: Path, env: dict[str, str] | None = None,
                extra: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    e = {**os.environ, **(env or {})}
    fh = open(log_path, "ab")  # the child keeps it open
    return subprocess.Popen([str(AGENT_BIN), "run", "--config", str(config), *extra],
                            stdout=fh, stderr=subprocess.STDOUT, env=e)


def wait_for(pred: Any, timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


__all__ = ["TEST_CLASS", "TEST_CLASS_FULL"]
