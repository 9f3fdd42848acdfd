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

The job starts when the lease's epoch starts and is stopped (SIGTERM, then SIGKILL after
``stop_grace_s``) when the lease ends, is terminated, or the device stops being leased
(``leaseOf`` is the truth, so extensions and terminations need no extra event handling). Its
output goes to ``<data_dir>/leases/<lease_id>.log``. Jobs run in their own session and survive an
agent restart; the restarted agent adopts them by pid.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import time
from typing import Any

from pinfi import chain as ch

from .context import Context
from .state import LeaseRow

log = logging.getLogger("provider_agent.leases")

MAX_SCAN = 2_000


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


class LeaseServer:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.pool = ctx.c.pool
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.log_dir = self.cfg.data_dir / "leases"

    def resume(self) -> None:
        for row in self.ctx.journal.leases(("RUNNING",)):
            if row.pid and _alive(row.pid):
                log.info("lease=%s device=%d job pid=%d still running: adopted", row.lease_id,
                         row.device_id, row.pid)
            elif row.pid:
                row.state, row.ended = "ENDED", time.time()
                self.ctx.journal.save_lease(row)

    # ---- chain

    def _scan(self, head: int) -> None:
        if self.pool is None or not self.cfg.devices:
            return
        j = self.ctx.journal
        cursor = j.get("lease_cursor")
        start = int(cursor) + 1 if cursor is not None else max(
            self.cfg.deployment.deployment_block, head - MAX_SCAN)
        if start > head:
            return
        to = min(head, start + MAX_SCAN - 1)
        ev = self.pool.events.LeaseOpened
        logs = ch.with_retry(lambda: ev.get_logs(from_block=start, to_block=to,
                                                  argument_filters={"deviceId": self.cfg.devices}),
                             what="eth_getLogs LeaseOpened")
        for lg in logs:
            a = lg["args"]
            lease_id = str(int(a["leaseId"]))
            if int(a["deviceId"]) not in self.cfg.devices or j.get_lease(lease_id) is not None:
                continue
            row = LeaseRow(lease_id, int(a["deviceId"]), str(a["client"]),
                           int(a["startEpoch"]), int(a["endEpoch"]),
                           "0x" + bytes(a["jobSpec"]).hex(), str(int(a["cost"])))
            j.save_lease(row)
            log.info("lease=%s device=%d LeaseOpened client=%s epochs=[%d,%d) cost=%.4f PIN "
                     "tx=%s", lease_id, row.device_id, row.client, row.start_epoch, row.end_epoch,
                     int(row.cost) / 1e18, "0x" + bytes(lg["transactionHash"]).hex())
        j.put("lease_cursor", str(to))

    def _lease_now(self, device_id: int) -> tuple[int, int, bool]:
        """``(leaseId, end, live)`` of the device's current (or last) lease."""
        assert self.pool is not None
        _client, _start, end, _per_epoch, nonce, live = ch.call(
            self.pool.functions.leaseOf(device_id))
        return (device_id << 64) | int(nonce), int(end), bool(live)

    def on_head(self, head: int) -> None:
        self._scan(head)
        epoch = self.ctx.epoch_of(head)
        for row in self.ctx.journal.leases(("PENDING", "RUNNING")):
            lease_id, end, live = self._lease_now(row.device_id)
            current = str(lease_id) == row.lease_id
            if current and end != row.end_epoch:
                log.info("lease=%s end epoch %d -> %d", row.lease_id, row.end_epoch, end)
                row.end_epoch = end
                self.ctx.journal.save_lease(row)
            over = not current or not live or epoch >= row.end_epoch
            if row.state == "PENDING":
                if over:
                    row.state, row.ended = "ENDED", time.time()
                    self.ctx.journal.save_lease(row)
                    log.warning("lease=%s ended before its job could start", row.lease_id)
                elif epoch >= row.start_epoch:
                    self._start(row)
            elif row.state == "RUNNING":
                if over:
                    self._stop(row, "lease ended")
                else:
                    self._reap(row)
        self.ctx.metrics.leases_running.set(
            sum(1 for r in self.ctx.journal.leases(("RUNNING",))))

    # ---- processes

    def _vars(self, row: LeaseRow) -> dict[str, Any]:
        gpu = self.cfg.cuda_devices.get(row.device_id)
        return {"lease_id": row.lease_id, "device_id": row.device_id, "client": row.client,
                "class_id": self.ctx.device(row.device_id)["classId"],
                "start_epoch": row.start_epoch, "end_epoch": row.end_epoch,
                "job_spec": row.job_spec, "cost": row.cost, "gpu": "" if gpu is None else gpu}

    def _start(self, row: LeaseRow) -> None:
        self.ctx.metrics.leases_served.labels(str(row.device_id)).inc()
        row.state, row.started = "RUNNING", time.time()
        cmd = self.cfg.job_command
        if not cmd:
            self.ctx.journal.save_lease(row)
            log.info("lease=%s device=%d serving (no [jobs] command configured)", row.lease_id,
                     row.device_id)
            return
        v = self._vars(row)
        args = [a.format(**v) for a in shlex.split(cmd)]
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
            row.state, row.exit_code, row.ended = "FAILED", -1, time.time()
            self.ctx.journal.save_lease(row)
            self.ctx.metrics.lease_job_failures.labels(str(row.device_id)).inc()
            log.error("lease=%s device=%d job failed to start: %s", row.lease_id, row.device_id,
                      err)
            return
        out.close()
        self.procs[row.lease_id] = proc
        row.pid = proc.pid
        self.ctx.journal.save_lease(row)
        log.info("lease=%s device=%d job started pid=%d until epoch %d: %s", row.lease_id,
                 row.device_id, proc.pid, row.end_epoch, " ".join(args))

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
        row.state = "ENDED" if code == 0 else "FAILED"
        self.ctx.journal.save_lease(row)
        if code != 0:
            self.ctx.metrics.lease_job_failures.labels(str(row.device_id)).inc()
        log.info("lease=%s device=%d job exited with %d before the lease ended", row.lease_id,
                 row.device_id, code)

    def _stop(self, row: LeaseRow, why: str) -> None:
        proc = self.procs.pop(row.lease_id, None)
        pid = proc.pid if proc is not None else row.pid
        code: int | None = None
        if pid and (proc.poll() is None if proc is not None else _alive(pid)):
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + self.cfg.job_stop_grace_s
            while time.monotonic() < deadline:
                if (proc.poll() is not None) if proc is not None else not _alive(pid):
                    break
                time.sleep(0.05)
            else:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if proc is not None:
                code = proc.wait()
        elif proc is not None:
            code = proc.poll()
        row.state, row.ended = "ENDED", time.time()
        row.exit_code = code
        self.ctx.journal.save_lease(row)
        log.info("lease=%s device=%d job stopped (%s)", row.lease_id, row.device_id, why)

    def shutdown(self) -> None:
        """Agent stopping: jobs keep running (they are the client's paid work)."""
        self.procs.clear()
