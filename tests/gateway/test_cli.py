"""The ``pinfi`` client command as a user runs it (a subprocess of the installed entry point)
against a real Anvil and the gateway process: classes, quote, run (lease -> submit -> wait ->
fetch -> receipt), logs, verify-receipt, fund; every failure is one line, status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from pinfi.cli.fund import ANVIL_DEV_KEY
from pinfi.types import UNIT

ROOT = Path(__file__).resolve().parents[2]
PINFI = Path(sys.executable).with_name("pinfi")


@pytest.fixture(scope="module")
def cli(stage, alice, bob, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    stage.system.registry.setEndpoint(stage.device, stage.url, sender=alice)
    dep = tmp / "deployment.json"
    stage.contracts.deployment.save(dep)
    env = {**os.environ, "PINFI_RPC_URL": stage.contracts.w3.provider.endpoint_uri,
           "PINFI_DEPLOYMENT": str(dep), "PINFI_PRIVATE_KEY": "0x" + bytes(
               Account.from_key(bob.private_key).key).hex()}
    env.pop("PINFI_KEYSTORE", None)

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(PINFI), *args], cwd=tmp, env=env, capture_output=True,
                              text=True, timeout=300)
        if ok:
            assert proc.returncode == 0, proc.stderr[-2000:]
        return proc

    run.tmp = tmp  # type: ignore[attr-defined]
    return run


def one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pinfi: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_classes_and_quote(cli, stage):
    rows = json.loads(cli("classes", "--json").stdout)
    free = {d["device_id"]: d for r in rows for d in r["free"]}
    assert free[stage.device]["gateway"] == stage.url
    assert free[stage.device]["price_wei"] > 0 and "reliability" in free[stage.device]
    q = json.loads(cli("quote", "--device", str(stage.device), "--epochs", "2",
                       "--json").stdout)
    assert q["cost_wei"] > 0
    assert "PIN" in cli("classes").stdout


def test_run_logs_fetch_verify(cli, stage, bob):
    tmp: Path = cli.tmp
    (tmp / "in.txt").write_text("hello cli\n")
    (tmp / "job.json").write_text(json.dumps({
        "runtime": "process", "command": ["sh", "-c", "tr a-z A-Z < in.txt > up.txt; "
                                          "echo working"],
        "outputs": ["up.txt"]}))
    res = json.loads(cli("run", "job.json", "--device", str(stage.device), "--epochs", "2",
                         "--input", "in.txt=in.txt", "--out", "res", "--json").stdout)
    assert res["exit_code"] == 0 and res["receipt_verified"] and res["job_spec_bound"]
    assert (tmp / "res" / "up.txt").read_text() == "HELLO CLI\n"
    logs = cli("logs", str(res["lease_id"]), res["job_id"]).stdout
    assert "working" in logs
    ok = cli("verify-receipt", "res.receipt.json", "--outputs", "res")
    assert ok.stdout.startswith("valid:") and "is the lease's jobSpec" in ok.stdout
    (tmp / "res" / "up.txt").write_text("forged\n")
    one_line_error(cli("verify-receipt", "res.receipt.json", "--outputs", "res", ok=False),
                   "outputs")
    # the device is still leased: a second lease is refused before anything is sent
    one_line_error(cli("lease", str(stage.device), ok=False), "leased until epoch")
    stage.system.pool.terminate(res["lease_id"], sender=bob)


def test_bad_input_is_one_line(cli, stage):
    tmp: Path = cli.tmp
    one_line_error(cli("quote", "--device", "999", ok=False), "device 999 does not exist")
    one_line_error(cli("lease", "999", ok=False), "999")
    one_line_error(cli("classes", "--rpc", "http://127.0.0.1:1", ok=False), "RPC")
    (tmp / "bad.json").write_text('{"runtime": "vm", "command": ["true"]}')
    one_line_error(cli("run", "bad.json", "--device", str(stage.device), ok=False),
                   "malformed manifest", "runtime")
    one_line_error(cli("run", "missing.json", "--device", str(stage.device), ok=False),
                   "missing.json")
    one_line_error(cli("quote", "--class", "1", "--epochs", "0", ok=False), "--epochs")
    one_line_error(cli("verify-receipt", "bad.json", ok=False), "not a job receipt")
    one_line_error(cli("fund", "--to", "0x1234", "--pin", "1", ok=False), "not an address")


def test_fund_a_new_account(cli, stage, deployer):
    new = Account.create().address
    # with no funder given, a local chain's funder is Anvil's first test account: the test
    # chain's deployer, as in the README tour
    if deployer.address != Account.from_key(ANVIL_DEV_KEY).address:
        pytest.skip("the test chain's deployer is not Anvil's first test account")
    out = json.loads(cli("fund", "--to", new, "--pin", "250", "--eth", "1.5", "--json").stdout)
    assert out["pin_wei"] == 250 * UNIT and len(out["txs"]) == 2
    assert stage.system.token.balanceOf(new) == 250 * UNIT
    assert stage.contracts.w3.eth.get_balance(new) == 3 * UNIT // 2
    shown = json.loads(cli("account", "show", "--address", new, "--json").stdout)
    assert shown["pin_wei"] == 250 * UNIT
    one_line_error(cli("fund", "--to", new, "--pin", "1e40", ok=False), "PIN")
