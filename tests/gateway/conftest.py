"""The gateway's stage: a real Anvil, two Active devices (one served by the gateway's operator
key, one by another), funded clients, and the gateway as its own process (uvicorn subprocess)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from pinfi import chain as ch
from pinfi.delivery.client import GatewayClient, GatewayError
from pinfi.types import UNIT
from provider_agent import keystore
from tests.support import agent as ah
from tests.support.pool import FAR, activate_many

ROOT = Path(__file__).resolve().parents[2]
#: Bound of every wait on the gateway process (2 loaded cores).
TIMEOUT = 180.0


@dataclass
class Stage:
    system: Any
    chain: Any
    device: int  # served by the gateway
    other_device: int  # another operator's device
    url: str
    config: Path
    log: Path
    port: int
    proc: subprocess.Popen[bytes] | None
    contracts: ch.Contracts

    def client(self, account: Any) -> GatewayClient:
        return GatewayClient(self.url, Account.from_key(account.private_key),
                             int(self.chain.chain_id), self.system.pool.address)

    def lease(self, client: Any, device: int | None = None, epochs: int = 2,
              job_spec: bytes = b"\0" * 32) -> int:
        dev = self.device if device is None else device
        tx = self.system.pool.lease(dev, epochs, 10**30, FAR, job_spec, sender=client)
        return int(tx.return_value)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "provider_agent.gateway", "--config", str(self.config),
             "--port", str(self.port), "--log-level", "info"],
            cwd=ROOT, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        end = time.monotonic() + TIMEOUT
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/v1/info", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("gateway did not answer in time")

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
            self.proc.wait(30)
        self.proc = None


@pytest.fixture(scope="module")
def stage(project, chain, deployer, alice, bob, operator, keeper, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gateway")
    system = ah.deploy(project, chain, deployer)
    device = activate_many(chain, system, alice, operator, 1)[0]
    other = activate_many(chain, system, alice, keeper, 1)[0]
    for client in (bob, keeper):
        system.token.transfer(client, 1_000_000 * UNIT, sender=deployer)
        system.token.approve(system.pool, 10**30, sender=client)
    dep = ah.write_deployment(tmp / "deployment.json", system, chain)
    key_path = tmp / "keys" / "operator.json"
    keystore.create(key_path, ah.PASSWORD, bytes(Account.from_key(operator.private_key).key),
                    iterations=ah.SCRYPT_N)
    op = ah.Key(key_path, operator.address, b"")
    config = ah.write_config(tmp, ah.rpc_uri(chain), dep, [device], op)
    port = ah.free_port()
    with open(config, "a") as f:
        f.write(f'\n[gateway]\nport = {port}\nmax_upload_mb = 1\nstop_grace_s = 2\n'
                f'poll_interval = 0.2\nretention_s = 3600\npublic_url = "http://127.0.0.1:{port}"\n')
    w3 = ch.connect(ah.rpc_uri(chain), int(chain.chain_id))
    contracts = ch.load_contracts(w3, ch.Deployment.load(dep))
    st = Stage(system, chain, device, other, f"http://127.0.0.1:{port}", config,
               tmp / "gateway.log", port, None, contracts)
    st.start()
    yield st
    st.stop()


@pytest.fixture(scope="module")
def lease(stage, bob):
    """A lease of bob's on the stage's device for the module (terminated at its end)."""
    lid = stage.lease(bob, epochs=8)
    yield lid
    if stage.system.pool.leaseOf(stage.device)[5]:
        stage.system.pool.terminate(lid, sender=bob)


def jobs_and_blobs(stage) -> tuple[int, int]:
    """Rows in the gateway's job table and files in its blob folder (temporary ones included)."""
    root = Path(stage.config).parent / "data" / "gateway"
    with sqlite3.connect(root / "gateway.db") as db:
        n = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    return n, len(list((root / "blobs").iterdir()))


def refused(status: int, fn: Any, *args: Any, match: str = "") -> str:
    """``fn(*args)`` raises a GatewayError with ``status`` and a one-line reason with ``match``."""
    with pytest.raises(GatewayError) as e:
        fn(*args)
    msg = str(e.value)
    assert e.value.status == status, msg
    assert "\n" not in msg and match in msg, msg
    return msg
