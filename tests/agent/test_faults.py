"""Agent fault tests: nothing another service does can make an honest prover miss.

Each test runs an honest daemon in threads (like ``provider-agent run``) proving several devices
on a chain mined every 0.5 s, with a keeper that reports every miss, and injects one fault of
the kind that cost honest miners their bond when the services shared one loop:

1. lease jobs that ignore SIGTERM, stopped at an epoch boundary (20 s grace each);
2. a ``[jobs] command`` with an unknown placeholder (rejected when the config loads), and a job
   handler that raises at runtime;
3. a device registered while the daemon runs;
4. an RPC call of the lease server that hangs 30 s.

In each, every device commits every epoch and opens every commitment it is drawn for (all of
them: `challengeBps` 10,000) in its windows, and nobody is reported or slashed (PoCPS v2).
"""

from __future__ import annotations

import sys
import threading
import time

import pytest

from pinfi.types import DeviceState
from provider_agent import cli
from provider_agent import config as config_mod
from provider_agent.config import ConfigError
from provider_agent.leases import LeaseServer, _alive
from tests.agent.harness import FAULT_CLASS, TIMEOUT, Stage
from tests.support import agent as ah
from tests.support.pool import whole_cost

FAR = 2**63

STUBBORN_JOB = """
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)   # like a shell as PID 1 in `docker run`
open(sys.argv[1], "w").write("started")
while True:
    time.sleep(0.2)
"""


def _lease_all(stage: Stage, client, devices: list[int], epochs: int = 1) -> None:
    """``client`` leases each device for ``epochs`` epochs (starting next epoch)."""
    pool, token = stage.system.pool, stage.system.token
    for dev in devices:
        cost = whole_cost(pool, FAULT_CLASS["id"], epochs)
        token.transfer(client, cost, sender=stage.deployer)
        token.approve(pool, cost, sender=client)
        pool.lease(dev, epochs, cost, FAR, b"\x07" * 32, sender=client)


def _wait_active(stage: Stage, devices: list[int]) -> None:
    ah.wait_for(lambda: all(stage.system.staking.getDevice(d).state == DeviceState.ACTIVE
                            for d in devices),
                TIMEOUT, 0.2, "devices Active")


def test_jobs_ignoring_sigterm_never_delay_a_proof(project, chain, deployer, alice, bob,
                                                   accounts, tmp_path):
    if not hasattr(project, "DissipativePool"):
        pytest.skip("DissipativePool not compiled")
    job = tmp_path / "stubborn.py"
    job.write_text(STUBBORN_JOB)
    marks = tmp_path / "marks"
    marks.mkdir()
    stage = Stage(project, chain, deployer, [alice, bob], tmp_path,
                  jobs={"command": f"{sys.executable} {job} {marks}/{{lease_id}}",
                        "stop_grace_s": 20.0})
    devs = stage.devices
    stage.start()
    try:
        _wait_active(stage, devs)
        _lease_all(stage, accounts[6], devs, epochs=1)
        leases = [stage.system.pool.leaseOf(d) for d in devs]
        end = max(int(x[2]) for x in leases)
        ah.wait_for(lambda: len(list(marks.iterdir())) == len(devs), TIMEOUT, 0.2,
                    "both jobs started")
        # The jobs are stopped at the start of epoch `end`, exactly when the commits are due;
        # each holds on for 20 s (40 blocks, twice the commit window).
        stage.wait_windows_closed(end)
        stage.assert_all_proved(devs, stage.first_epoch, end)
        rows = stage.daemon.ctx.journal.leases()
        assert len(rows) == len(devs)
        ah.wait_for(lambda: all(r.state == "ENDED" for r in stage.daemon.ctx.journal.leases()),
                    TIMEOUT, 0.2, "jobs killed after the grace period")
        assert not any(_alive(r.pid) for r in stage.daemon.ctx.journal.leases())
    finally:
        stage.stop()


def test_unknown_placeholder_rejected_at_load(tmp_path, chain, deployer, capsys):
    key = ah.make_key(tmp_path, "operator")
    dep = tmp_path / "deployment.json"
    dep.write_text('{"chainId": 1, "contracts": {"PinToken": "0x' + "11" * 20
                   + '", "Staking": "0x' + "22" * 20 + '", "PoCPSVerifier": "0x' + "33" * 20
                   + '"}}')
    cfg = ah.write_config(tmp_path, "http://127.0.0.1:1", dep, [1], key,
                          jobs={"command": "docker run job:{leaseid} {job_spec}"})
    with pytest.raises(ConfigError, match=r"unknown placeholder \{leaseid\}: did you mean "
                                          r"\{lease_id\}"):
        config_mod.load(cfg)
    rc = cli.main(["run", "--config", str(cfg)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "{leaseid}" in err[0], err
    for bad in ("x {}", "x {lease_id.real}", "x {a", "x {gpu} {cost} {CLIENT}"):
        cfg = ah.write_config(tmp_path, "http://127.0.0.1:1", dep, [1], key,
                              jobs={"command": bad})
        with pytest.raises(ConfigError, match=r"\[jobs\] command"):
            config_mod.load(cfg)


def test_job_handler_raising_never_delays_a_proof(project, chain, deployer, alice, bob, accounts,
                                                  tmp_path, monkeypatch):
    if not hasattr(project, "DissipativePool"):
        pytest.skip("DissipativePool not compiled")
    calls = []

    def broken(self, row):
        calls.append(row.lease_id)
        raise RuntimeError("job handler bug")

    monkeypatch.setattr(LeaseServer, "_vars", broken)
    stage = Stage(project, chain, deployer, [alice, bob], tmp_path,
                  jobs={"command": "true {lease_id}"})
    devs = stage.devices
    stage.start()
    try:
        _wait_active(stage, devs)
        _lease_all(stage, accounts[6], devs, epochs=2)
        end = max(int(stage.system.pool.leaseOf(d)[2]) for d in devs)
        stage.wait_windows_closed(end - 1)
        assert calls, "the job handler never ran"
        stage.assert_all_proved(devs, stage.first_epoch, end - 1)
    finally:
        stage.stop()


def test_device_registered_while_running_is_proved(project, chain, deployer, alice, bob,
                                                   accounts, tmp_path):
    stage = Stage(project, chain, deployer, [alice, bob], tmp_path)
    stage.start()
    try:
        # Register two more devices mid-epoch: one through the chain only (the daemon finds it
        # by its operator), one also appended to the config file (as `register` does).
        stage.wait_block(stage.epoch_start(stage.first_epoch) + 5)
        late = [stage.register(accounts[7]), stage.register(accounts[8])]
        config_mod.set_devices(stage.config, [*stage.devices, late[1]])
        first_late = stage.epoch() + 1
        assert all(stage.system.staking.getDevice(d).since == first_late for d in late)
        stage.wait_windows_closed(first_late + 1)
        assert set(late) <= set(stage.daemon.devices.current())
        stage.assert_all_proved(stage.devices, stage.first_epoch, first_late + 1)
        stage.assert_all_proved(late, first_late, first_late + 1)
    finally:
        stage.stop()


def test_lease_server_rpc_hang_never_delays_a_proof(project, chain, deployer, alice, bob,
                                                    tmp_path):
    stage = Stage(project, chain, deployer, [alice, bob], tmp_path)
    assert stage.daemon.leases is not None
    provider = stage.daemon.leases.view.w3.provider
    original = provider._make_request  # below web3's cached middleware chain
    hang = threading.Event()
    hung: list[float] = []

    def stalling(method, request_data):
        if hang.is_set() and not hung:
            hung.append(time.monotonic())
            time.sleep(30)  # a stalled node connection
            hung.append(time.monotonic())
        return original(method, request_data)

    provider._make_request = stalling
    stage.start()
    try:
        # Stall the lease server's connection just before the first challenge epoch starts.
        stage.wait_block(stage.epoch_start(stage.first_epoch) - 3)
        hang.set()
        stage.wait_windows_closed(stage.first_epoch + 1)
        assert len(hung) == 2 and hung[1] - hung[0] >= 29, hung
        stage.assert_all_proved(stage.devices, stage.first_epoch, stage.first_epoch + 1)
    finally:
        stage.stop()
