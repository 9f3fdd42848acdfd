"""``pinfi run --class <id>`` as a user runs it: the command picks a free device of the class that
publishes a gateway, leases it, submits, waits, fetches and verifies the receipt; when no such
device is free it says so in one line (status 2) before anything is paid.

The stage (Anvil, two Active devices of the test class, the gateway serving one of them) and the
``cli`` runner are those of test_cli.py; this module gets its own stage (module scope), and each
test its own chain snapshot, so the devices start free whatever other tests did.
"""

from __future__ import annotations

import json
from pathlib import Path

from pinfi.types import lease_device

# test_cli.py's `cli` fixture, reused (imported as a re-export: the tests take it by name)
from tests.gateway.test_cli import cli as cli
from tests.gateway.test_cli import one_line_error
from tests.support.constants import CLASS_ID


def _pool_state(stage, client) -> tuple[int, tuple[int, int]]:
    """The client's PIN and the two devices' lease ids: what a refused run must leave as is."""
    pool = stage.system.pool
    return (int(stage.system.token.balanceOf(client)),
            (int(pool.currentLeaseId(stage.device)), int(pool.currentLeaseId(stage.other_device))))


def test_run_by_class_leases_a_free_device_with_a_gateway(cli, stage, bob):
    """Both devices are free; only ``stage.device`` publishes a gateway, so it is the pick."""
    tmp: Path = cli.tmp
    (tmp / "words.txt").write_text("by class\n")
    (tmp / "class-job.json").write_text(json.dumps({
        "runtime": "process", "command": ["sh", "-c", "tr a-z A-Z < words.txt > loud.txt"],
        "outputs": ["loud.txt"]}))
    proc = cli("run", "class-job.json", "--class", str(CLASS_ID), "--epochs", "2",
               "--input", "words.txt=words.txt", "--out", "by-class", "--json")
    res = json.loads(proc.stdout)
    assert res["device_id"] == stage.device and lease_device(res["lease_id"]) == stage.device
    assert res["exit_code"] == 0 and res["end_reason"] == "exited"
    assert res["receipt_verified"] and res["job_spec_bound"]
    assert (tmp / "by-class" / "loud.txt").read_text() == "BY CLASS\n"
    assert "Traceback" not in proc.stderr
    # the lease is the client's, live, on the picked device
    client, _, _, _, _, live = stage.system.pool.leaseOf(stage.device)
    assert client == bob.address and live
    assert int(stage.system.pool.currentLeaseId(stage.device)) == res["lease_id"]
    # the receipt checks out independently of the run (operator key on-chain, output hashes)
    ok = cli("verify-receipt", "by-class.receipt.json", "--outputs", "by-class")
    assert ok.stdout.startswith("valid:") and "is the lease's jobSpec" in ok.stdout


def test_run_by_class_with_no_free_device_is_one_line(cli, stage, bob, keeper):
    """``stage.device`` leased: the only free device has no gateway, then none is free at all,
    then the class does not exist; each time one line, status 2, and nothing leased or paid.
    (Each test runs in its own chain snapshot, so the leases here are taken here.)"""
    tmp: Path = cli.tmp
    (tmp / "noop.json").write_text(json.dumps({"runtime": "process", "command": ["true"]}))
    stage.lease(keeper, stage.device)

    before = _pool_state(stage, bob)
    one_line_error(cli("run", "noop.json", "--class", str(CLASS_ID), ok=False),
                   f"no free device of class {CLASS_ID}")
    assert _pool_state(stage, bob) == before

    stage.lease(keeper, stage.other_device)
    before = _pool_state(stage, bob)
    proc = cli("run", "noop.json", "--class", str(CLASS_ID), "--epochs", "1", ok=False)
    one_line_error(proc, f"no free device of class {CLASS_ID}")
    assert proc.stdout == ""
    assert _pool_state(stage, bob) == before

    one_line_error(cli("run", "noop.json", "--class", "999", ok=False),
                   "no free device of class 999")
