"""Gateway load never delays a proof: an honest daemon proving two devices with its gateway
enabled (``[gateway] enabled = true``: the gateway is its own process), while a client hammers
the gateway from its own process (concurrent signed uploads, status and log reads, identity
challenges) across an epoch boundary. Every device commits and opens every epoch in its windows
and nobody is reported or slashed (tests/agent/harness.py's verdict)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from pinfi.delivery.client import GatewayClient
from pinfi.delivery.manifest import Manifest
from pinfi.types import DeviceState
from tests.agent.harness import FAULT_CLASS, TIMEOUT, Stage
from tests.support import agent as ah
from tests.support.pool import whole_cost

ROOT = Path(__file__).resolve().parents[2]
FAR = 2**63


def test_gateway_load_never_delays_a_proof(project, chain, deployer, alice, bob, accounts,
                                           tmp_path):
    if not hasattr(project, "DissipativePool"):
        pytest.skip("DissipativePool not compiled")
    port = ah.free_port()
    url = f"http://127.0.0.1:{port}"
    stage = Stage(project, chain, deployer, [alice, bob], tmp_path, n_devices=2,
                  gateway={"enabled": True, "host": "127.0.0.1", "port": port,
                           "public_url": url, "poll_interval": 0.25, "max_upload_mb": 4,
                           "stop_grace_s": 2})
    devs = stage.devices
    stage.start()
    hammer = None
    stop = tmp_path / "stop-hammer"
    try:
        ah.wait_for(lambda: _up(url), TIMEOUT, 0.3, "the daemon's gateway")
        ah.wait_for(lambda: all(stage.system.staking.getDevice(d).state == DeviceState.ACTIVE
                                    for d in devs),
                    TIMEOUT, 0.2, "devices Active")
        client = accounts[6]
        pool, token = stage.system.pool, stage.system.token
        cost = whole_cost(pool, FAULT_CLASS["id"], 3)
        token.transfer(client, cost * 2, sender=deployer)
        token.approve(pool, cost * 2, sender=client)
        m = Manifest.build("process", ["sleep", "3600"])
        lease_id = int(pool.lease(devs[0], 3, cost * 2, FAR, m.hash, sender=client)
                       .return_value)
        key = "0x" + bytes(Account.from_key(client.private_key).key).hex()
        gw = GatewayClient(url, Account.from_key(key), int(chain.chain_id), pool.address)
        job = gw.submit(lease_id, m)["job"]["job_id"]
        e0 = stage.epoch()
        hammer = subprocess.Popen(
            [sys.executable, "-m", "tests.gateway.hammer", "--url", url, "--key", "HAMMER_KEY",
             "--chain-id", str(chain.chain_id), "--pool", pool.address, "--lease",
             str(lease_id), "--job", job, "--stop", str(stop), "--concurrency", "12"],
            cwd=ROOT, env={**os.environ, "HAMMER_KEY": key}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        # across the boundary into e0 + 1 and until its commit and open windows closed
        stage.wait_windows_closed(e0 + 1)
        stop.write_text("stop")
        out, err = hammer.communicate(timeout=300)
        assert hammer.returncode == 0, err[-2000:]
        stats = json.loads(out.strip().splitlines()[-1])
        counts = stats["counts"]
        print(f"hammer: {stats}")
        assert counts.get("200", 0) >= 100, stats  # it did hammer
        assert not any(k.startswith("5") for k in counts), stats  # no 5xx under load
        stage.assert_all_proved(devs, stage.first_epoch, e0 + 1)
        gw.cancel(lease_id, job)
    finally:
        stop.write_text("stop")
        if hammer is not None and hammer.poll() is None:
            hammer.kill()
        stage.stop()
        stage.daemon.close()


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/info", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False

