"""Lease -> submit -> run -> logs -> fetch -> receipt, against a real Anvil and the gateway as
its own process; discovery through the EndpointRegistry; the SDK's run."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import pytest
from eth_account import Account

from pinfi.delivery.client import ReceiptInvalid, verify_receipt
from pinfi.delivery.manifest import Manifest, OutputFile, sha256_file
from pinfi.delivery.receipt import EndReason, Phase
from pinfi.sdk import PinFi
from tests.gateway.conftest import TIMEOUT


def wait_finished(gw, lease_id: int, job_id: str) -> dict:
    return gw.wait(lease_id, job_id, timeout=TIMEOUT, poll=0.2)


def end_lease(stage, client, lease_id: int) -> None:
    if stage.system.pool.leaseOf(stage.device)[5]:
        stage.system.pool.terminate(lease_id, sender=client)


def test_registry_publishes_the_gateway(stage, alice, bob):
    reg = stage.system.registry
    with pytest.raises(reg.NotDeviceOwner):
        reg.setEndpoint(stage.device, stage.url, sender=bob)
    with pytest.raises(reg.UrlTooLong):
        reg.setEndpoint(stage.device, "http://" + "a" * 300, sender=alice)
    with pytest.raises(reg.BadUrlScheme):
        reg.setEndpoint(stage.device, "ftp://x", sender=alice)
    reg.setEndpoint(stage.device, stage.url, sender=alice)
    pf = PinFi.connect(stage.contracts.w3.provider.endpoint_uri,
                       stage.contracts.deployment.to_dict(), bob.private_key)
    assert pf.endpoint(stage.device) == stage.url
    gw = pf.gateway(stage.device)  # the gateway proves it holds the device's operator key
    assert gw.info()["operator"].lower() == stage.system.staking.getDevice(
        stage.device).operator.lower()


def test_end_to_end_job_and_receipt(stage, bob, tmp_path):
    gw = stage.client(bob)
    db = str(Path(stage.config).parent / "data" / "gateway" / "gateway.db")
    data = b"hello pinfi\n"
    m = Manifest.build("process", ["sh", "-c",
                                   "mkdir out; tr a-z A-Z < data/in.txt > out/result.txt; "
                                   "echo done; "
                                   f"if [ -e {db} ]; then echo visible; else echo hidden; fi "
                                   "> probe.txt"],
                       inputs={"data/in.txt": hashlib.sha256(data).hexdigest()},
                       outputs=["out", "probe.txt"])
    lease_id = stage.lease(bob, job_spec=m.hash)
    sub = gw.submit(lease_id, m, files={"data/in.txt": data})
    job_id = sub["job"]["job_id"]
    accepted = verify_receipt(stage.contracts, sub["receipt"]).receipt
    assert accepted.phase == Phase.ACCEPTED
    st = wait_finished(gw, lease_id, job_id)
    assert st["end_reason"] == "exited" and st["exit_code"] == 0
    assert b"done" in b"".join(gw.logs(lease_id, job_id))
    got = gw.fetch(lease_id, job_id, tmp_path)
    assert got["out/result.txt"].read_bytes() == b"HELLO PINFI\n"
    probe = got["probe.txt"].read_text().strip()
    if shutil.which("bwrap"):
        assert gw.info()["sandbox"] == "bwrap" and probe == "hidden"
    outs = [OutputFile(p, sha256_file(f), f.stat().st_size) for p, f in got.items()]
    v = verify_receipt(stage.contracts, gw.receipt(lease_id, job_id), outs)
    assert v.receipt.phase == Phase.FINISHED and v.receipt.end_reason == EndReason.EXITED
    assert v.operator == stage.system.staking.getDevice(stage.device).operator
    assert v.job_spec == v.receipt.manifest_hash  # the client bound the manifest as jobSpec
    assert v.receipt.end_block >= v.receipt.start_block > 0
    forged = Account.create()
    with pytest.raises(ReceiptInvalid, match="operator"):
        verify_receipt(stage.contracts, v.receipt.sign(forged))
    with pytest.raises(ReceiptInvalid, match="outputs"):
        verify_receipt(stage.contracts, v.receipt, outs[:-1])
    end_lease(stage, bob, lease_id)


def test_sdk_run_leases_submits_fetches_verifies(stage, bob, tmp_path):
    pf = PinFi.connect(stage.contracts.w3.provider.endpoint_uri,
                       stage.contracts.deployment.to_dict(), bob.private_key)
    m = Manifest.build("process", ["sh", "-c", "expr 6 \\* 7 > answer.txt"],
                       outputs=["answer.txt"])
    out = pf.run(stage.device, m, dest=tmp_path, epochs=2, url=stage.url, timeout=TIMEOUT)
    assert out["files"]["answer.txt"].read_text().strip() == "42"
    assert out["receipt"].job_spec == m.hash
    end_lease(stage, bob, out["lease_id"])


def test_job_past_its_lease_is_stopped(stage, bob):
    gw = stage.client(bob)
    lease_id = stage.lease(bob, epochs=1)
    job_id = gw.submit(lease_id, Manifest.build("process", ["sleep", "600"]))["job"]["job_id"]
    time.sleep(0.5)
    assert gw.status(lease_id, job_id)["state"] == "running"
    end = stage.system.pool.leaseOf(stage.device)[2]
    from tests.support import pocps

    pocps.goto_epoch(stage.chain, stage.system, end)
    st = wait_finished(gw, lease_id, job_id)
    assert st["end_reason"] == "lease_ended" and st["exit_code"] < 0
    r = verify_receipt(stage.contracts, gw.receipt(lease_id, job_id)).receipt
    assert r.end_reason == EndReason.LEASE_ENDED


def test_terminated_lease_stops_the_job(stage, bob):
    gw = stage.client(bob)
    lease_id = stage.lease(bob, epochs=3)
    job_id = gw.submit(lease_id, Manifest.build("process", ["sleep", "600"]))["job"]["job_id"]
    stage.system.pool.terminate(lease_id, sender=bob)
    st = wait_finished(gw, lease_id, job_id)
    assert st["end_reason"] == "lease_terminated"
    assert verify_receipt(stage.contracts, gw.receipt(lease_id, job_id)).receipt.end_reason \
        == EndReason.LEASE_TERMINATED


def test_gateway_restart_mid_job_adopts_it(stage, bob, tmp_path):
    gw = stage.client(bob)
    lease_id = stage.lease(bob, epochs=3)
    m = Manifest.build("process", ["sh", "-c", "sleep 4; echo kept > out.txt"],
                       outputs=["out.txt"])
    job_id = gw.submit(lease_id, m)["job"]["job_id"]
    stage.stop(kill=True)  # the gateway dies; the job's supervisor does not
    time.sleep(1)
    stage.start()
    st = wait_finished(gw, lease_id, job_id)
    assert st["end_reason"] == "exited" and st["exit_code"] == 0
    assert gw.fetch(lease_id, job_id, tmp_path)["out.txt"].read_text() == "kept\n"
    verify_receipt(stage.contracts, gw.receipt(lease_id, job_id))
    end_lease(stage, bob, lease_id)
