"""The provider-agent command line on a real Anvil: init -> register -> run -> status -> claim ->
unjail -> exit, lease serving with a job handler, /metrics, and one-line errors on bad input."""

from __future__ import annotations

import json
import sys
import time

import pytest
import requests

from pinfi.types import DeviceState
from provider_agent import cli, keystore
from provider_agent import config as config_mod
from provider_agent import state as st
from provider_agent.daemon import Daemon
from tests.support import agent as ah
from tests.support.constants import MIN_BOND, TEST_CLASS
from tests.support.pool import whole_cost

PENDING, ACTIVE, JAILED, EXITING, WITHDRAWN = (DeviceState.PENDING, DeviceState.ACTIVE,
                                               DeviceState.JAILED, DeviceState.EXITING,
                                               DeviceState.WITHDRAWN)
FAR = 2**63


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _drive(chain, daemon: Daemon, until, limit: int = 200) -> None:
    for _ in range(limit):
        chain.mine(1)
        daemon.step()
        if until():
            return
    raise AssertionError("condition not reached")


def _init(tmp_path, chain, system, capsys, **kw) -> tuple:
    pw = tmp_path / "pw.txt"
    pw.write_text(ah.PASSWORD)
    dep = ah.write_deployment(tmp_path / "deployment.json", system, chain)
    d = tmp_path / "agent"
    extra = [x for k, v in kw.items() for x in (f"--{k.replace('_', '-')}", v)]
    rc, _, err = _run(capsys, "init", "--dir", d, "--rpc-url", ah.rpc_uri(chain),
                        "--deployment", dep, "--backend", "cpu", "--confirmations", "0",
                        "--metrics-port", "0", "--owner-password-file", pw,
                        "--operator-password-file", pw, "--scrypt-n", "1024", *extra)
    assert rc == 0, err
    cfg = d / "agent.toml"
    owner = keystore.address_of(d / "keys" / "owner.json")
    operator = keystore.address_of(d / "keys" / "operator.json")
    return cfg, owner, operator, pw


def test_init_register_run_status_claim_unjail_exit(chain, system, deployer, tmp_path, capsys,
                                                    monkeypatch):
    cfg, owner, operator, _ = _init(tmp_path, chain, system, capsys)
    text = cfg.read_text()
    assert "operator_keystore" in text and "private" not in text.lower()
    ks = json.loads((cfg.parent / "keys" / "owner.json").read_text())
    assert "crypto" in ks and (cfg.parent / "keys" / "owner.json").stat().st_mode & 0o077 == 0
    deployer.transfer(owner, 10 * 10**18)
    deployer.transfer(operator, 10 * 10**18)
    system.token.transfer(owner, 3 * MIN_BOND, sender=deployer)
    monkeypatch.setenv("PINFI_OWNER_PASSWORD", ah.PASSWORD)

    rc, out, err = _run(capsys, "register", "--config", cfg, "--class", "1",
                        "--fingerprint", "test-gpu-A")
    assert rc == 0, err
    dev = config_mod.load(cfg).devices[0]
    assert out.strip().splitlines()[-1] == str(dev)
    rc, _, err = _run(capsys, "register", "--config", cfg, "--class", "1",
                      "--fingerprint", "test-gpu-A")
    assert rc == 2 and err.strip() == f"error: this hardware (test-gpu-A) is already " \
        f"registered as device {dev}"
    rc, out, _ = _run(capsys, "status", "--config", cfg, "--json")
    rep = json.loads(out)
    assert rc == 0 and rep["devices"][0]["state"] == "Pending"
    assert rep["devices"][0]["bond"] == str(MIN_BOND)  # integer wei, as a string
    assert isinstance(rep["operatorBalance"], str) and rep["operatorBalance"].isdigit()
    assert rep["devices"][0]["served"] is False and rep["daemon"]["running"] is False
    # `--class` takes a name as well as an id; an unknown name is one line naming the known ones
    rc, _, err = _run(capsys, "register", "--config", cfg, "--class", "cpu-tset",
                      "--fingerprint", "test-gpu-Z")
    assert rc == 2 and "unknown class 'cpu-tset'" in err and "cpu-test (1)" in err

    daemon = Daemon.from_config(config_mod.load(cfg))
    daemon.start(serve_metrics=False)
    _drive(chain, daemon, lambda: system.staking.getDevice(dev).state == ACTIVE
           and system.staking.earned(dev) > 0)
    rc, out, _ = _run(capsys, "status", "--config", cfg)
    line = next(x for x in out.splitlines() if x.strip().startswith(str(dev)))
    assert "Active" in line and "1,000.00" in line
    assert "epoch" in out.splitlines()[0]

    bal = system.token.balanceOf(owner)
    rc, out, err = _run(capsys, "claim", "--config", cfg)
    assert rc == 0, err
    assert system.token.balanceOf(owner) > bal and "claimed" in out

    # A second device proved by a lazy agent (test-only fault injection) is jailed; unjail tops
    # its bond up and brings it back to Pending.
    rc, out, err = _run(capsys, "register", "--config", cfg, "--class", "cpu-test",
                        "--fingerprint", "test-gpu-B")
    assert rc == 0, err
    bad = config_mod.load(cfg).devices[-1]
    lazy_cfg = config_mod.load(cfg)
    lazy_cfg.devices, lazy_cfg.cheat_fraction = [bad], 1.0
    lazy_cfg.discover_devices = False  # same operator key: prove `bad` only, never `dev`
    lazy_cfg.data_dir = tmp_path / "lazy-data"
    lazy = Daemon.from_config(lazy_cfg)
    lazy.start(serve_metrics=False)
    _drive(chain, lazy, lambda: system.staking.getDevice(bad).state == JAILED)
    rc, _, err = _run(capsys, "unjail", "--config", cfg, "--device", dev)
    assert rc == 2 and err.strip() == f"error: device {dev} is Active, not Jailed"
    chain.mine(system.staking.epochBlocks())  # unjailing waits for the epoch after the jailing
    rc, out, _ = _run(capsys, "status", "--config", cfg, "--json")
    jailed = next(r for r in json.loads(out)["devices"] if r["device"] == bad)
    assert jailed["state"] == "Jailed" and jailed["jailed"].startswith("fraud proven"), jailed
    rc, out, err = _run(capsys, "unjail", "--config", cfg, "--device", bad)
    assert rc == 0, err
    d = system.staking.getDevice(bad)
    assert d.state == PENDING and d.bond == MIN_BOND

    rc, out, err = _run(capsys, "exit", "--config", cfg, "--device", dev)
    assert rc == 0, err
    assert system.staking.getDevice(dev).state == EXITING
    rc, _, err = _run(capsys, "exit", "--config", cfg, "--device", dev, "--withdraw")
    assert rc == 2 and "unbonding until block" in err and len(err.strip().splitlines()) == 1
    chain.mine(2 * 20 + 1)
    bal = system.token.balanceOf(owner)
    rc, out, err = _run(capsys, "exit", "--config", cfg, "--device", dev, "--withdraw")
    assert rc == 0, err
    assert system.token.balanceOf(owner) == bal + MIN_BOND
    assert system.staking.getDevice(dev).state == WITHDRAWN


def _one_line_error(rc: int, err: str, starts: str) -> None:
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: " + starts), err


def test_bad_input_one_line_errors(chain, system, deployer, alice, tmp_path, capsys, monkeypatch):
    dep = ah.write_deployment(tmp_path / "deployment.json", system, chain)
    op = ah.make_key(tmp_path, "operator", deployer)
    broke = ah.make_key(tmp_path / "broke", "operator")  # no ETH
    uri = ah.rpc_uri(chain)
    dev = ah.register(system, alice, op.address)

    cfg = ah.write_config(tmp_path / "unknown", uri, dep, [999], op)
    _one_line_error(*_run(capsys, "run", "--config", cfg)[::2], "unknown device 999")

    cfg = ah.write_config(tmp_path / "down", f"http://127.0.0.1:{ah.free_port()}", dep, [dev], op)
    _one_line_error(*_run(capsys, "run", "--config", cfg)[::2], "cannot reach the RPC endpoint")

    wrong = tmp_path / "wrong-chain.json"
    wrong.write_text(json.dumps({**json.loads(dep.read_text()), "chainId": 1}))
    cfg = ah.write_config(tmp_path / "chain", uri, wrong, [dev], op)
    _one_line_error(*_run(capsys, "run", "--config", cfg)[::2], "wrong chain")

    cfg = ah.write_config(tmp_path / "pw", uri, dep, [dev], op)
    (tmp_path / "pw" / "keys" / "password.txt").write_text("not the password")
    _one_line_error(*_run(capsys, "run", "--config", cfg)[::2],
                    "wrong password for the operator keystore")

    system.staking.setOperator(dev, broke.address, sender=alice)
    cfg = ah.write_config(tmp_path / "broke", uri, dep, [dev], broke)
    _one_line_error(*_run(capsys, "run", "--config", cfg)[::2], "insufficient balance: operator")

    cfg = ah.write_config(tmp_path / "owner", uri, dep, [], op, owner=broke)
    _one_line_error(*_run(capsys, "register", "--config", cfg, "--class", "1",
                          "--fingerprint", "x")[::2], "insufficient balance")

    bad = tmp_path / "secret.toml"
    bad.write_text(cfg.read_text() + f'\n[extra]\nkey = "0x{"ab" * 32}"\n')
    _one_line_error(*_run(capsys, "status", "--config", bad)[::2], "config value")

    # the installed console script exits non-zero with the same one line
    r = ah.run_agent(cfg, "run", "--config", str(tmp_path / "unknown" / "agent.toml"))
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith(
        "error: unknown device 999"), r.stderr


JOB = """
import json, os, sys, time
with open(sys.argv[1], "w") as fh:
    json.dump({k: v for k, v in os.environ.items() if k.startswith("PINFI_")}, fh)
time.sleep(600)
"""


def test_lease_job_served_and_metrics(chain, system, deployer, alice, bob, tmp_path, capsys,
                                      monkeypatch):
    if system.pool is None:
        pytest.skip("DissipativePool not compiled")
    job = tmp_path / "job.py"
    job.write_text(JOB)
    out_dir = tmp_path / "jobs"
    out_dir.mkdir()
    dep = ah.write_deployment(tmp_path / "deployment.json", system, chain)
    op = ah.make_key(tmp_path, "operator", deployer)
    owner = ah.make_key(tmp_path, "owner", deployer)
    system.token.transfer(owner.address, MIN_BOND, sender=deployer)
    port = ah.free_port()
    cfg = ah.write_config(tmp_path, ah.rpc_uri(chain), dep, [], op, owner=owner,
                          metrics_port=port,
                          jobs={"command": f"{sys.executable} {job} {out_dir}/{{lease_id}}.json",
                                "stop_grace_s": 2.0})
    monkeypatch.setenv("PINFI_OWNER_PASSWORD", ah.PASSWORD)
    rc, _, err = _run(capsys, "register", "--config", cfg, "--class", "1", "--fingerprint", "L")
    assert rc == 0, err
    dev = config_mod.load(cfg).devices[0]
    daemon = Daemon.from_config(config_mod.load(cfg))
    daemon.start()
    _drive(chain, daemon, lambda: system.staking.getDevice(dev).state == ACTIVE)

    pool = system.pool
    cost = whole_cost(pool, 1, 2)
    system.token.transfer(bob, cost, sender=deployer)
    system.token.approve(pool, cost, sender=bob)
    spec = b"\x42" * 32
    tx = pool.lease(dev, 2, cost, FAR, spec, sender=bob)
    lease_id = int(tx.return_value)
    # The lease starts at the next epoch: drive the chain until the agent has started the job
    # (bounded by chain progress), then give the job process time to write its file (bounded
    # by a generous wall-clock timeout, never a fixed number of blocks).
    start_epoch = int(pool.leaseOf(dev)[1])

    def journal_row():
        return daemon.ctx.journal.get_lease(str(lease_id))

    _drive(chain, daemon, lambda: journal_row() is not None and journal_row().state == "RUNNING",
           limit=3 * 20)
    assert system.staking.currentEpoch() >= start_epoch
    env = ah.wait_for(lambda: ((out_dir / f"{lease_id}.json").exists()
                      and (out_dir / f"{lease_id}.json").read_text()) or None, 120,
                      what="job env")
    env = json.loads(env)
    assert env["PINFI_LEASE_ID"] == str(lease_id) and env["PINFI_DEVICE_ID"] == str(dev)
    assert env["PINFI_CLIENT"].lower() == bob.address.lower()
    assert env["PINFI_JOB_SPEC"] == "0x" + spec.hex()
    row = journal_row()
    assert row.state == "RUNNING" and row.pid > 0
    end = row.end_epoch
    _drive(chain, daemon, lambda: system.staking.currentEpoch() >= end, limit=3 * 20)
    # Stopping never blocks the daemon: the reaper finishes it (SIGTERM, SIGKILL after 2 s).
    ah.wait_for(lambda: journal_row().state == "ENDED", 60, what="job stopped")
    row = journal_row()
    assert not ah_alive(row.pid)
    rc, out, err = _run(capsys, "status", "--config", cfg, "--json")
    lease = json.loads(out)["devices"][0]["lease"]
    assert lease["id"] == str(lease_id) and lease["client"].lower() == bob.address.lower()
    assert lease["job"] == "ENDED" and lease["endEpoch"] == end
    # a second agent on the same metrics port: one clear log line, and it still starts
    clash = Daemon.from_config(config_mod.load(cfg))
    capsys.readouterr()
    clash.start()  # the CLI's log handler writes to stderr
    clash.close()
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if "metrics port" in x]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"127.0.0.1:{port} is unavailable" in lines[0]
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert f'pinfi_leases_served_total{{device="{dev}"}} 1.0' in metrics
    assert "pinfi_challenges_passed_total" in metrics and "pinfi_gas_used_total" in metrics
    assert daemon.ctx.journal.get_proof(dev, row.start_epoch) is not None
    # the lease's escrow is released after its end epoch: claim pays it
    _drive(chain, daemon, lambda: pool.claimable(dev) > 0, limit=60)
    bal = system.token.balanceOf(owner.address)
    rc, out, err = _run(capsys, "claim", "--config", cfg)
    assert rc == 0, err
    assert "from pool" in out and system.token.balanceOf(owner.address) > bal
    assert TEST_CLASS["n"] == 64 and st.DONE


def ah_alive(pid: int) -> bool:
    from provider_agent.leases import _alive

    time.sleep(0.1)
    return _alive(pid)
