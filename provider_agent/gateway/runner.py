"""Jobs: start one per device, watch it and its lease, stop it, collect outputs, sign receipts.

A job runs under its own supervisor process (:mod:`.supervise`), so it survives a gateway
restart: :meth:`Runner.monitor_once` (the monitor thread, every ``poll_interval``) treats every
``running`` row alike, whether started by this process or an earlier one. Per running job it:

* finalizes it when the supervisor wrote ``result.json`` or is gone;
* stops it when the lease ended, was terminated, or the device left Active (reads of
  ``leaseOf`` / ``deviceSummary``; an RPC failure never stops a job);
* escalates a stop whose grace ran out (SIGKILL of the supervisor and the job's group).

Stopping never waits: a signal and a deadline in the job row, nothing else. Finalizing hashes the
declared outputs (regular files inside the job directory; symlinks and anything resolving
outside it are skipped) and signs the FINISHED receipt with the operator key. Finished jobs are
deleted ``retention_s`` after they ended.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from pinfi.delivery.manifest import Manifest, OutputFile, outputs_hash, sha256_file
from pinfi.delivery.receipt import EndReason, Phase, Receipt
from pinfi.types import DeviceState, format_lease_id, lease_device, lease_nonce

from .chainview import ChainView
from .settings import GatewaySettings
from .storage import FINISHED, RUNNING, Job, Store

log = logging.getLogger("provider_agent.gateway.runner")

MAX_OUTPUT_FILES = 10_000
#: Extra seconds after the grace before the gateway kills a supervisor that did not finish.
KILL_MARGIN_S = 10.0
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
_RESULT_REASONS = {"exited": EndReason.EXITED, "wall_limit": EndReason.WALL_LIMIT,
                   "failed_to_start": EndReason.FAILED_TO_START, "stopped": EndReason.LOST}


class JobError(Exception):
    """A job request the gateway refuses: ``status`` (HTTP) and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10,
                              check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive_supervisor(pid: int, job_dir: Path) -> bool:
    """Whether ``pid`` is still this job's supervisor (a reused pid is not)."""
    if pid <= 0:
        return False
    try:  # our own child: reap it if it exited
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"supervise" in cmdline and str(job_dir).encode() in cmdline


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def collect_outputs(work: Path, declared: tuple[str, ...] | list[str]) -> list[OutputFile]:
    """The regular files at the declared output paths (a file, or a directory walked without
    following links), never anything that resolves outside ``work``."""
    root = work.resolve()
    found: dict[str, OutputFile] = {}
    for rel in declared:
        p = work / rel
        if p.is_symlink() or not p.exists():
            continue
        real = p.resolve()
        if not real.is_relative_to(root):
            continue
        files: list[Path] = []
        if real.is_file():
            files = [real]
        elif real.is_dir():
            for dirpath, dirnames, filenames in os.walk(real, followlinks=False):
                dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
                files += [Path(dirpath) / f for f in filenames]
        for f in sorted(files):
            if len(found) >= MAX_OUTPUT_FILES:
                break
            if f.is_symlink() or not f.is_file() or not f.resolve().is_relative_to(root):
                continue
            name = f.relative_to(root).as_posix()
            found[name] = OutputFile(name, sha256_file(f), f.stat().st_size)
    return [found[k] for k in sorted(found)]


@dataclass
class Started:
    job: Job
    receipt: Receipt


class Runner:
    def __init__(self, settings: GatewaySettings, store: Store, chain: ChainView,
                 operator: LocalAccount) -> None:
        self.s = settings
        self.store = store
        self.chain = chain
        self.operator = operator
        self._submit_lock = threading.Lock()
        want = settings.sandbox
        self.bwrap = bwrap_path() if want in ("auto", "bwrap") else None
        if want == "bwrap" and self.bwrap is None:
            raise RuntimeError("[gateway] sandbox = \"bwrap\" but bwrap is not installed "
                               "(apt-get install bubblewrap)")
        if self.bwrap is None:
            log.warning("process jobs run WITHOUT a sandbox (bubblewrap %s): a private working "
                        "directory and resource limits only",
                        "not installed" if want == "auto" else "disabled")
        self.docker = docker_available()
        self._last_prune = 0.0

    @property
    def sandbox(self) -> str:
        return "bwrap" if self.bwrap else "rlimits"

    # ---- receipts

    def _receipt(self, job: Job, phase: Phase, **kw: Any) -> Receipt:
        return Receipt(self.chain.chain_id, self.chain.pool_address, job.lease_int,
                       bytes.fromhex(job.job_id[2:]), phase,
                       bytes.fromhex(job.manifest_hash[2:]), bytes.fromhex(job.inputs_hash[2:]),
                       start_block=job.start_block, **kw).sign(self.operator)

    # ---- submit

    def submit(self, lease_id: int, client: str, manifest: Manifest, end_epoch: int) -> Started:
        device = lease_device(lease_id)
        if manifest.runtime == "docker" and not self.docker:
            raise JobError(422, "the docker runtime is not available on this device (no Docker "
                                "engine): use runtime \"process\"")
        if manifest.limits.gpus and manifest.runtime != "docker":
            raise JobError(422, "limits.gpus needs the docker runtime (process jobs see the "
                                "device's GPU through CUDA_VISIBLE_DEVICES)")
        missing = [i.path for i in manifest.inputs if not self.store.blob(i.sha256).is_file()]
        if missing:
            raise JobError(422, f"input {missing[0]!r} was not uploaded (PUT /v1/blobs/<sha256> "
                                f"first; {len(missing)} missing)")
        with self._submit_lock:
            busy = self.store.running(device)
            if busy:
                raise JobError(409, f"device {device} is running job {busy[0].job_id} (one job "
                                    "at a time; wait for it or cancel it)")
            port = 0
            if manifest.service_port:
                port = manifest.service_port if manifest.runtime == "process" else free_port()
                if any(j.service_port == port for j in self.store.running()):
                    raise JobError(409, f"service port {port} is in use by another job on this "
                                        "gateway")
            job = Job("0x" + secrets.token_hex(32), hex(lease_id), device,
                      client, RUNNING, manifest.canonical().decode(), manifest.hash_hex,
                      "0x" + manifest.inputs_hash.hex(), time.time(), self.chain.head(),
                      end_epoch, service_port=port)
            jd = self.store.job_dir(job.job_id)
            work = jd / "work"
            work.mkdir(parents=True)
            for inp in manifest.inputs:
                dest = work / inp.path
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.store.blob(inp.sha256), dest)
            spec = self._spec(job, manifest, jd, work)
            (jd / "spec.json").write_text(json.dumps(spec))
            (jd / "log").touch()
            self.store.insert(job)
            try:
                with open(jd / "supervisor.err", "ab") as err_file:
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "provider_agent.gateway.supervise", str(jd)],
                        start_new_session=True, stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=err_file)
            except OSError as err:
                self.store.update(job.job_id, state=FINISHED, note=f"supervisor: {err}",
                                  end_reason=int(EndReason.FAILED_TO_START), ended_at=time.time())
                raise JobError(503, f"cannot start the job's supervisor: {err}") from None
            job.supervisor_pid = proc.pid
            accepted = self._receipt(job, Phase.ACCEPTED)
            job.accepted_receipt = json.dumps(accepted.to_json())
            self.store.update(job.job_id, supervisor_pid=proc.pid,
                              accepted_receipt=job.accepted_receipt)
        log.info("job %s started for lease %s (device %d, %s, %s)", job.job_id,
                 format_lease_id(lease_id), device, manifest.runtime, self.sandbox)
        return Started(job, accepted)

    def _spec(self, job: Job, m: Manifest, jd: Path, work: Path) -> dict[str, Any]:
        lim = m.limits
        gpu = self.s.agent.cuda_devices.get(job.device_id)
        penv = {"PINFI_LEASE_ID": job.lease_id, "PINFI_DEVICE_ID": str(job.device_id),
                "PINFI_JOB_ID": job.job_id, "PINFI_CLIENT": job.client}
        if job.service_port:
            penv["PINFI_SERVICE_PORT"] = str(m.service_port)
        env = {**m.env, **penv}
        wall = lim.wall_seconds or self.s.default_wall_s or 0
        base: dict[str, Any] = {"cwd": str(work), "grace_s": self.s.stop_grace_s, "wall_s": wall,
                                "rlimits": {"cpu_s": lim.cpu_seconds,
                                            "memory_mb": lim.memory_mb,
                                            "file_mb": lim.output_mb}}
        if m.runtime == "docker":
            name = f"pinfi-job-{job.job_id[2:18]}"
            argv = ["docker", "run", "--rm", "--init", "--name", name, "-v", f"{work}:/work",
                    "-w", "/work"]
            if lim.gpus:
                argv += ["--gpus", f"device={gpu}" if gpu is not None else str(lim.gpus)]
            if lim.memory_mb:
                argv += ["--memory", f"{lim.memory_mb}m"]
            if not (self.s.job_network or m.service_port):
                argv += ["--network", "none"]  # as the process sandbox: no network by default
            if job.service_port:
                argv += ["-p", f"127.0.0.1:{job.service_port}:{m.service_port}"]
            for k, v in env.items():
                argv += ["-e", f"{k}={v}"]
            argv += [str(m.image), *m.command]
            # The engine enforces memory; address-space limits would break the docker client.
            base["rlimits"] = {"file_mb": lim.output_mb}
            return {**base, "argv": argv, "env": {"PATH": os.environ.get("PATH", SANDBOX_PATH)},
                    "stop_argv": ["docker", "stop", "-t", str(int(self.s.stop_grace_s)), name]}
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = str(gpu)
        if self.bwrap:
            argv = [self.bwrap, "--die-with-parent", "--unshare-all"]
            if self.s.job_network or m.service_port:
                argv.append("--share-net")
            for p in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc/alternatives",
                      "/etc/ssl", "/etc/ca-certificates", "/etc/ld.so.cache",
                      "/etc/resolv.conf", "/etc/hosts", "/etc/localtime"):
                argv += ["--ro-bind-try", p, p]
            for src, dest in self.s.ro_bind_pairs():
                argv += ["--ro-bind-try", src, dest]
            argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", str(work),
                     "/work", "--chdir", "/work", "--clearenv"]
            for k, v in {"PATH": SANDBOX_PATH, "HOME": "/work", **env}.items():
                argv += ["--setenv", k, v]
            argv += ["--", *m.command]
            return {**base, "argv": argv, "env": {"PATH": SANDBOX_PATH}}
        return {**base, "argv": list(m.command),
                "env": {"PATH": SANDBOX_PATH, "HOME": str(work), "TMPDIR": str(work), **env}}

    # ---- stop

    def stop(self, job: Job, reason: EndReason) -> None:
        """Ask the job's supervisor to stop it (SIGTERM, SIGKILL after the grace); returns at
        once. The first reason given is the one the receipt states."""
        if job.stop_reason:
            return
        deadline = time.time() + self.s.stop_grace_s + KILL_MARGIN_S
        self.store.update(job.job_id, stop_reason=int(reason), stop_deadline=deadline)
        job.stop_reason, job.stop_deadline = int(reason), deadline
        log.info("stopping job %s (%s)", job.job_id, reason.label)
        try:
            os.kill(job.supervisor_pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass

    # ---- monitor

    def _lease_reason(self, job: Job) -> EndReason | None:
        """Why the job must stop now, from the chain (None: it may go on)."""
        st = self.chain.summary(job.device_id).state
        if st != DeviceState.ACTIVE:
            return EndReason.DEVICE_INACTIVE
        lease = self.chain.lease(job.device_id)
        if lease.nonce != lease_nonce(job.lease_int):
            return EndReason.LEASE_ENDED
        if not lease.live:
            return (EndReason.LEASE_TERMINATED if lease.end_epoch < job.end_epoch
                    else EndReason.LEASE_ENDED)
        if lease.end_epoch > job.end_epoch:  # extended
            self.store.update(job.job_id, end_epoch=lease.end_epoch)
            job.end_epoch = lease.end_epoch
        return None

    def monitor_once(self) -> None:
        for job in self.store.running():
            try:
                self._check(job)
            except Exception as err:  # an RPC hiccup: never stop a job for it
                log.warning("job %s: check failed: %s", job.job_id, err)
        if time.time() - self._last_prune > 60:
            self.prune()

    def _check(self, job: Job) -> None:
        jd = self.store.job_dir(job.job_id)
        if job.supervisor_pid <= 0:
            # submit() records the job before it starts the supervisor and sets the pid under
            # its lock: read it again under that lock, or a job being started would be taken
            # for lost (G2: seen under load in `make demo`). Still 0 afterwards: the gateway
            # died between the two, and the job never started.
            with self._submit_lock:
                job = self.store.get(job.job_id) or job
            if job.state != RUNNING:
                return
        if (jd / "result.json").is_file() or not _alive_supervisor(job.supervisor_pid, jd):
            self.finalize(job)
            return
        if job.stop_reason:
            if time.time() > job.stop_deadline:
                log.warning("job %s: supervisor did not stop in time: killing it", job.job_id)
                _killpg(job.supervisor_pid, signal.SIGKILL)
                child = jd / "child.pid"
                if child.is_file():
                    _killpg(int(child.read_text() or 0), signal.SIGKILL)
                self.finalize(job, killed=True)
            return
        reason = self._lease_reason(job)
        if reason is not None:
            self.stop(job, reason)

    def finalize(self, job: Job, killed: bool = False) -> None:
        jd = self.store.job_dir(job.job_id)
        try:
            result = json.loads((jd / "result.json").read_text())
        except (OSError, ValueError):
            result = {"exit_code": -9 if killed else -1, "reason": "stopped"}
        reason = (EndReason(job.stop_reason) if job.stop_reason
                  else _RESULT_REASONS.get(str(result.get("reason")), EndReason.LOST))
        code = int(result.get("exit_code", -1))
        manifest = Manifest.parse(job.manifest)
        outs = collect_outputs(jd / "work", manifest.outputs)
        oh = outputs_hash(outs)
        end_block = self.chain.head()
        receipt = self._receipt(job, Phase.FINISHED, outputs_hash=oh, exit_code=code,
                                end_reason=reason, end_block=end_block)
        self.store.update(job.job_id, state=FINISHED, end_reason=int(reason), exit_code=code,
                          end_block=end_block, ended_at=time.time(),
                          outputs=json.dumps([o.to_json() for o in outs]),
                          outputs_hash="0x" + oh.hex(), receipt=json.dumps(receipt.to_json()))
        log.info("job %s finished: %s, exit %d, %d output file(s)", job.job_id, reason.label,
                 code, len(outs))

    def prune(self, now: float | None = None) -> int:
        """Delete finished jobs older than the retention period; returns how many."""
        t = now if now is not None else time.time()
        self._last_prune = t
        old = self.store.expired(t - self.s.retention_s)
        for job in old:
            self.store.remove_job_files(job.job_id)
            self.store.delete(job.job_id)
        return len(old)

    def run(self, stop: threading.Event) -> None:
        """The monitor thread's loop."""
        while not stop.wait(self.s.poll_interval):
            try:
                self.monitor_once()
            except Exception:
                log.exception("monitor pass failed")
