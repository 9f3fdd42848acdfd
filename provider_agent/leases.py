"""Lease serving: watch ``LeaseOpened`` for our devices and run the job handler for the lease.

The job handler is ``[jobs] command`` in the config, a command template (split like a shell
line, no shell involved) whose ``{placeholders}`` and environment describe the lease:

=====================  ==========================================
placeholder            environment variable
=====================  ==========================================
``{lease_id}``         ``PINFI_LEASE_ID``
``{device_id}``        ``PINFI_DEVICE_ID``
``{client}``           ``PINFI_CLIENT``
``{class_id}``         ``PINFI_CLASS_ID``
``{start_epoch}``      ``PINFI_START_EPOCH``
``{end_epoch}``        ``PINFI_END_EPOCH`` (first epoch not leased)
``{job_spec}``         ``PINFI_JOB_SPEC`` (0x-prefixed bytes32)
``{cost}``             ``PINFI_COST`` (base units)
``{gpu}``              ``PINFI_GPU`` / ``CUDA_VISIBLE_DEVICES`` when mapped
=====================  ==========================================

The job starts when the lease's epoch starts and is stopped when the lease ends, is terminated,
or the device stops being leased (``leaseOf`` is the truth, so extensions and terminations need
no extra event handling). Stopping never waits: the job's process group gets SIGTERM and the
:class:`Reaper` thread sends SIGKILL after ``stop_grace_s`` if it is still there (a ``docker
run`` with a shell as PID 1 ignores SIGTERM). Its output goes to
``<data_dir>/leases/<lease_id>.log``. Jobs run in their own session and survive an agent
restart; the restarted agent adopts them by pid.

The template is checked when the config loads (:func:`provider_agent.config.check_job_command`):
a typo such as ``{leaseid}`` is a config error, never an exception at a lease's start. The lease
server runs in its own thread on its own RPC connection: nothing it does (a hanging call, a job
that will not die, a handler that raises) can delay the prover.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any

from pinfi.types import format_lease_id

from .context import ChainView
from .follower import Head
from .logcursor import LogCursor
from .metrics import Metrics
from .state import Journal, LeaseRow

log = logging.getLogger("provider_agent.leases")

PENDING, RUNNING, STOPPING, ENDED, FAILED = "PENDING", "RUNNING", "STOPPING", "ENDED", "FAILED"


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as exited
        wpid, _ = os.waitpid(pid, os.WNOHANG)
        return wpid == 0
    except ChildProcessError:
        return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class _Dying:
    lease_id: str
    pid: int
    proc: subprocess.Popen[bytes] | None
    kill_at: float
    why: str


class Reaper(threading.Thread):
    """Finishes stopping jobs off every service's path: SIGKILL to the process group of a job
    still alive ``grace`` seconds after its SIGTERM, then the exit code in the journal."""

    def __init__(self, journal: Journal, interval: float = 0.1) -> None:
        super().__init__(name="agent-reaper", daemon=True)
        self.journal = journal
        self.interval = interval
        self._lock = threading.Lock()
        self._dying: list[_Dying] = []
        self._stop = threading.Event()

    def stop_job(self, row: LeaseRow, proc: subprocess.Popen[bytes] | None, grace: float,
                 why: str) -> None:
        """SIGTERM now; the rest happens on the reaper thread. Never blocks."""
        pid = proc.pid if proc is not None else row.pid
        if pid:
            _signal_group(pid, signal.SIGTERM)
        with self._lock:
            self._dying.append(_Dying(row.lease_id, pid, proc, time.monotonic() + grace, why))
        if not self.is_alive():
            try:
                self.start()
            except RuntimeError:
                pass  # already started by another caller

    def pending(self) -> int:
        with self._lock:
            return len(self._dying)

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sweep()

    def sweep(self) -> None:
        with self._lock:
            dying = list(self._dying)
        done = []
        for d in dying:
            gone = (d.proc.poll() is not None) if d.proc is not None else not _alive(d.pid)
            if not gone and time.monotonic() >= d.kill_at:
                log.warning("lease=%s job pid=%d ignored SIGTERM: SIGKILL", d.lease_id, d.pid)
                _signal_group(d.pid, signal.SIGKILL)
                d.kill_at = float("inf")
                continue
            if gone:
                done.append(d)
                row = self.journal.get_lease(d.lease_id)
                if row is not None:
                    row.state, row.ended = ENDED, time.time()
                    row.exit_code = d.proc.returncode if d.proc is not None else None
                    self.journal.save_lease(row)
                log.info("lease=%s job stopped (%s)", d.lease_id, d.why)
        if done:
            with self._lock:
                self._dying = [d for d in self._dying if d not in done]

    def close(self) -> None:
        self._stop.set()


class LeaseServer:
    """Follower subscriber: records our devices' leases and starts/stops their jobs."""

    name = "leases"

    def __init__(self, view: ChainView, journal: Journal, metrics: Metrics,
                 devices: Any = None, reaper: Reaper | None = None) -> None:
        self.view = view
        self.cfg = view.cfg
        self.journal = journal
        self.metrics = metrics
        self.pool = view.c.pool
        self.devices = devices if devices is not None else (lambda: list(self.cfg.devices))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.log_dir = self.cfg.data_dir / "leases"
        self.reaper = reaper or Reaper(journal)
        self.cursor = (LogCursor(journal, "lease_cursor", self.pool.events.LeaseOpened,
                                 self.cfg.deployment.deployment_block)
                       if self.pool is not None else None)

    def resume(self) -> None:
        for row in self.journal.leases((RUNNING, STOPPING)):
            if row.pid and _alive(row.pid):
                log.info("lease=%s device=%d job pid=%d still running: adopted", row.lease_id,
                         row.device_id, row.pid)
                if row.state == STOPPING:
                    self.reaper.stop_job(row, None, self.cfg.job_stop_grace_s, "lease ended")
            elif row.pid:
                row.state, row.ended = ENDED, time.time()
                self.journal.save_lease(row)

    # ---- chain

    def _on_log(self, lg: Any) -> None:
        a = lg["args"]
        lease_id = str(int(a["leaseId"]))
        devices = self.devices()
        if int(a["deviceId"]) not in devices or self.journal.get_lease(lease_id) is not None:
            return
        row = LeaseRow(lease_id, int(a["deviceId"]), str(a["client"]), int(a["startEpoch"]),
                       int(a["endEpoch"]), "0x" + bytes(a["jobSpec"]).hex(), str(int(a["cost"])))
        self.journal.save_lease(row)
        log.info("lease=%s (%s) device=%d LeaseOpened client=%s epochs=[%d,%d) cost=%d wei "
                 "tx=%s", lease_id, format_lease_id(int(lease_id)), row.device_id, row.client,
                 row.start_epoch, row.end_epoch, int(row.cost),
                 "0x" + bytes(lg["transactionHash"]).hex())

    def on_head(self, head: Head | int) -> None:
        if isinstance(head, int):
            head = Head(head)
        if self.cursor is None:
            return
        if head.reorg_from is not None:
            self.cursor.rewind(head.reorg_from)
        self.cursor.poll(head.number, self._on_log)
        epoch = self.view.epoch_of(head.number)
        for row in self.journal.leases((PENDING, RUNNING)):
            lease = self.view.lease(row.device_id)
            current = str(lease.lease_id) == row.lease_id
            if current and lease.end_epoch != row.end_epoch:
                log.info("lease=%s end epoch %d -> %d", row.lease_id, row.end_epoch,
                         lease.end_epoch)
                row.end_epoch = lease.end_epoch
                self.journal.save_lease(row)
            over = not current or not lease.live or epoch >= row.end_epoch
            if row.state == PENDING:
                if over:
                    row.state, row.ended = ENDED, time.time()
                    self.journal.save_lease(row)
                    log.warning("lease=%s ended before its job could start", row.lease_id)
                elif epoch >= row.start_epoch:
                    self._start(row)
            elif row.state == RUNNING:
                if over:
                    self._stop(row, "lease ended")
                else:
                    self._reap(row)
        self.metrics.leases_running.set(len(self.journal.leases((RUNNING, STOPPING))))

    # ---- processes

    def _vars(self, row: LeaseRow) -> dict[str, Any]:
        gpu = self.cfg.cuda_devices.get(row.device_id)
        return {"lease_id": row.lease_id, "device_id": row.device_id, "client": row.client,
                "class_id": self.view.device(row.device_id).class_id,
                "start_epoch": row.start_epoch, "end_epoch": row.end_epoch,
                "job_spec": row.job_spec, "cost": row.cost, "gpu": "" if gpu is None else gpu}

    def _start(self, row: LeaseRow) -> None:
        self.metrics.leases_served.labels(str(row.device_id)).inc()
        row.state, row.started = RUNNING, time.time()
        cmd = self.cfg.job_command
        if not cmd:
            self.journal.save_lease(row)
            log.info("lease=%s device=%d serving (no [jobs] command configured)", row.lease_id,
                     row.device_id)
            return
        try:
            v = self._vars(row)
            args = [a.format(**v) for a in shlex.split(cmd)]
        except (KeyError, IndexError, ValueError) as err:  # the config check makes this rare
            self._failed(row, f"job command cannot be filled: {err}")
            return
        env = dict(os.environ)
        env.update({f"PINFI_{k.upper()}": str(x) for k, x in v.items()})
        env["PINFI_RPC_URL"] = self.cfg.rpc_url
        if v["gpu"] != "":
            env["CUDA_VISIBLE_DEVICES"] = str(v["gpu"])
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log_dir / f"{row.lease_id}.log", "ab")  # the child keeps it
        try:
            proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as err:
            out.close()
            self._failed(row, f"job failed to start: {err}")
            return
        out.close()
        self.procs[row.lease_id] = proc
        row.pid = proc.pid
        self.journal.save_lease(row)
        log.info("lease=%s device=%d job started pid=%d until epoch %d: %s", row.lease_id,
                 row.device_id, proc.pid, row.end_epoch, " ".join(args))

    def _failed(self, row: LeaseRow, why: str) -> None:
        row.state, row.exit_code, row.ended = FAILED, -1, time.time()
        self.journal.save_lease(row)
        self.metrics.lease_job_failures.labels(str(row.device_id)).inc()
        log.error("lease=%s device=%d %s", row.lease_id, row.device_id, why)

    def _reap(self, row: LeaseRow) -> None:
        proc = self.procs.get(row.lease_id)
        code: int | None
        if proc is not None:
            code = proc.poll()
        elif row.pid:
            code = None if _alive(row.pid) else 0
        else:
            return
        if code is None:
            return
        self.procs.pop(row.lease_id, None)
        row.exit_code, row.ended = code, time.time()
        row.state = ENDED if code == 0 else FAILED
        self.journal.save_lease(row)
        if code != 0:
            self.metrics.lease_job_failures.labels(str(row.device_id)).inc()
        log.info("lease=%s device=%d job exited with %d before the lease ended", row.lease_id,
                 row.device_id, code)

    def _stop(self, row: LeaseRow, why: str) -> None:
        """SIGTERM the job and hand it to the reaper (never waits for it to exit)."""
        proc = self.procs.pop(row.lease_id, None)
        pid = proc.pid if proc is not None else row.pid
        alive = bool(pid) and (proc.poll() is None if proc is not None else _alive(pid))
        if not alive:
            row.state, row.ended = ENDED, time.time()
            row.exit_code = proc.returncode if proc is not None else row.exit_code
            self.journal.save_lease(row)
            log.info("lease=%s device=%d job done (%s)", row.lease_id, row.device_id, why)
            return
        row.state = STOPPING
        self.journal.save_lease(row)
        log.info("lease=%s device=%d stopping job pid=%d (%s): SIGTERM, SIGKILL in %gs",
                 row.lease_id, row.device_id, pid, why, self.cfg.job_stop_grace_s)
        self.reaper.stop_job(row, proc, self.cfg.job_stop_grace_s, why)

    def shutdown(self) -> None:
        """Agent stopping: jobs keep running (they are the client's paid work)."""
        self.procs.clear()
        self.reaper.close()
