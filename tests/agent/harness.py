"""An honest threaded daemon proving several devices on a steadily mined Anvil, with a keeper
that reports every miss: the stage of the agent fault tests (tests/agent/test_faults.py).

Blocks come every ``BLOCK_S`` seconds of wall-clock time whatever the machine's load, like a
real chain; every device commits every epoch (PoCPS v2) and, with ``challengeBps`` 10,000, is
drawn to open every commitment after the deadline; the commit window is
``FAULT_CLASS["commitWindow"]`` blocks. A fault that held the prover for longer than that (a
20 s job stop, a 30 s RPC hang) would make it miss; the tests assert it never does.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pinfi.types import DeviceState
from provider_agent import config as config_mod
from provider_agent.context import open_context
from provider_agent.daemon import Daemon
from provider_agent.verifier import Keeper
from tests.support import agent as ah
from tests.support.constants import MIN_BOND, TEST_CLASS_FULL

BLOCK_S = 0.5
EPOCH_BLOCKS = 50
FAULT_CLASS: dict[str, int] = {
    **TEST_CLASS_FULL, "commitWindow": 20, "openWindow": 20, "disputeWindow": 10,
    "challengeBps": 10_000,
}
#: Wall-clock bound of any wait (a loaded machine is slow; the chain still advances).
TIMEOUT = 600.0


class Stage:
    """Deploys, registers ``n_devices`` devices for one operator key, and runs the daemon (in
    threads, like ``provider-agent run``), a keeper and a miner until :meth:`stop`."""

    def __init__(self, project: Any, chain: Any, deployer: Any, owners: list[Any],
                 tmp_path: Path, n_devices: int = 2, **cfg_extra: Any) -> None:
        self.chain = chain
        self.deployer = deployer
        self.tmp = tmp_path
        self.system = ah.deploy(project, chain, deployer, FAULT_CLASS, EPOCH_BLOCKS)
        self.owners = owners
        self.op = ah.make_key(tmp_path, "operator", deployer)
        self.dep = ah.write_deployment(tmp_path / "deployment.json", self.system, chain)
        # Register right after an epoch starts: the first challenge epoch is the next one.
        st = self.system.staking
        ah.goto_block(chain, st.genesisBlock() + (st.currentEpoch() + 1) * EPOCH_BLOCKS + 1)
        self.devices = [self.register(owners[i % len(owners)]) for i in range(n_devices)]
        self.first_epoch = st.currentEpoch() + 1
        self.config = ah.write_config(tmp_path, ah.rpc_uri(chain), self.dep, self.devices,
                                      self.op, poll_interval=0.1, **cfg_extra)
        self.daemon = Daemon.from_config(config_mod.load(self.config))
        kkey = ah.make_key(tmp_path / "keeper", "keeper", deployer)
        kcfg = ah.write_config(tmp_path / "keeper", ah.rpc_uri(chain), self.dep, [], kkey,
                               verifier=kkey, poll_interval=0.2)
        self.keeper = Keeper(open_context(config_mod.load(kcfg), "verifier",
                                          journal_name="verifier.db"))
        self.stop_event = threading.Event()
        self.miner = ah.Miner(ah.rpc_uri(chain), BLOCK_S)
        self._threads: list[threading.Thread] = []

    def register(self, owner: Any) -> int:
        return ah.register(self.system, owner, self.op.address)

    def start(self) -> None:
        self.daemon.start(serve_metrics=False)
        self.keeper.start()
        for target in (self.daemon.run, self.keeper.run):
            t = threading.Thread(target=target, args=(self.stop_event,), daemon=True)
            t.start()
            self._threads.append(t)
        # Blocks at a steady pace (automine stays on for the test's own Ape transactions: each
        # transaction also mines a block, which only shortens the windows in time).
        self.miner.start()

    def stop(self) -> None:
        self.miner.stop()
        self.stop_event.set()
        for t in self._threads:
            t.join(timeout=30)

    # ---- clock

    def head(self) -> int:
        return self.miner.head()

    def epoch(self) -> int:
        return int(self.system.staking.currentEpoch())

    def epoch_start(self, epoch: int) -> int:
        return int(self.system.staking.genesisBlock()) + epoch * EPOCH_BLOCKS

    def wait_block(self, block: int, what: str = "") -> None:
        ah.wait_for(lambda: self.head() >= block, TIMEOUT, 0.2, what or f"block {block}")

    def wait_windows_closed(self, epoch: int) -> None:
        """Until every commit and open window of ``epoch`` closed and the keeper had blocks to
        report a miss."""
        self.wait_block(self.epoch_start(epoch) + FAULT_CLASS["commitWindow"]
                        + FAULT_CLASS["openWindow"] + 4, f"windows of epoch {epoch} closed")

    # ---- verdict

    def opened(self, devices: list[int], first: int, last: int) -> set[tuple[int, int]]:
        v = self.daemon.ctx.c.verifier.events
        logs = v.Opened.get_logs(from_block=self.epoch_start(first))
        return {(int(lg["args"]["deviceId"]), int(lg["args"]["epoch"])) for lg in logs
                if int(lg["args"]["deviceId"]) in devices and first <= int(lg["args"]["epoch"])
                <= last}

    def committed(self, devices: list[int], first: int, last: int) -> set[tuple[int, int]]:
        v = self.daemon.ctx.c.verifier.events
        logs = v.Committed.get_logs(from_block=self.epoch_start(first))
        return {(int(lg["args"]["deviceId"]), int(lg["args"]["epoch"])) for lg in logs
                if int(lg["args"]["deviceId"]) in devices and first <= int(lg["args"]["epoch"])
                <= last}

    def assert_all_proved(self, devices: list[int], first: int, last: int) -> None:
        """Every device committed every epoch in ``[first, last]`` in its window and opened
        every commitment it had to open (all of them: ``challengeBps`` 10,000) in its window;
        nobody was reported (not even a grace miss) or slashed."""
        v = self.daemon.ctx.c.verifier
        want = {(d, e) for d in devices for e in range(first, last + 1)}
        got = self.committed(devices, first, last)
        assert got == want, f"missing commits {sorted(want - got)}\n{self.rows(devices)}"
        must = {(d, e) for d, e in want if v.functions.mustOpen(d, e).call()}
        assert must == want  # every commitment drawn: the keeper stored every open seed
        got = self.opened(devices, first, last)
        assert got == must, f"missing openings {sorted(must - got)}\n{self.rows(devices)}"
        start = self.epoch_start(first) - EPOCH_BLOCKS
        assert v.events.MissReported.get_logs(from_block=start) == []
        assert v.events.GraceMiss.get_logs(from_block=start) == []
        assert v.events.FraudProven.get_logs(from_block=start) == []
        for d in devices:
            dev = self.system.staking.getDevice(d)
            assert dev.bond == MIN_BOND, (d, dev)
            assert dev.state in (DeviceState.PENDING, DeviceState.ACTIVE), (d, dev)
        missed = self.keeper.ctx.metrics.registry.get_sample_value(
            "pinfi_verifier_missed_reports_total", {"result": "mined"})
        assert not missed

    def rows(self, devices: list[int]) -> str:
        out = []
        for d in devices:
            for r in self.daemon.ctx.journal.recent_proofs(d, 6):
                out.append(f"dev {d} e{r.epoch} {r.state} {r.detail}")
        return "\n".join(out)
