"""The supervisor of one job: ``python -m provider_agent.gateway.supervise <job dir>``.

The gateway starts it in a session of its own, so the job outlives a gateway restart and the
restarted gateway adopts it (by pid, checked against this module's command line). It runs
``spec.json``'s ``argv`` (the sandbox or ``docker run`` already composed by the runner) in a
session of its own with resource limits (setrlimit: CPU seconds, address space, file size, no
core dumps), output appended to ``log``, and waits. On SIGTERM, or when ``wall_s`` passes, it
stops the job: ``stop_argv`` if given (``docker stop``), SIGTERM to the job's process group,
SIGKILL after ``grace_s``. It always ends by writing ``result.json`` atomically:
``{"exit_code", "reason": "exited" | "stopped" | "wall_limit" | "failed_to_start",
"started_at", "ended_at"}`` (``exit_code`` is negative for a signal).

Only the standard library: it runs while the gateway may be down.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

MB = 1024 * 1024


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _limits(spec: dict[str, Any]) -> None:
    """Applied in the child before exec (inherited by everything it starts)."""
    lim = spec.get("rlimits") or {}
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if lim.get("cpu_s"):
        resource.setrlimit(resource.RLIMIT_CPU, (int(lim["cpu_s"]), int(lim["cpu_s"]) + 5))
    if lim.get("memory_mb"):
        n = int(lim["memory_mb"]) * MB
        resource.setrlimit(resource.RLIMIT_AS, (n, n))
    if lim.get("file_mb"):
        n = int(lim["file_mb"]) * MB
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run(job_dir: Path) -> int:
    spec = json.loads((job_dir / "spec.json").read_text())
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    started = time.time()
    result: dict[str, Any] = {"started_at": started}
    with open(job_dir / "log", "ab", buffering=0) as log:
        try:
            child = subprocess.Popen(spec["argv"], cwd=spec["cwd"], env=spec["env"],
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=lambda: _limits(spec))
        except OSError as err:
            log.write(f"[gateway] cannot start {spec['argv'][0]}: {err}\n".encode())
            _write_json(job_dir / "result.json", {**result, "exit_code": 127,
                                                  "reason": "failed_to_start",
                                                  "ended_at": time.time()})
            return 0
        (job_dir / "child.pid").write_text(str(child.pid))
        wall = float(spec.get("wall_s") or 0)
        grace = float(spec.get("grace_s", 10))
        reason = "exited"
        while child.poll() is None:
            if stop.wait(0.1):
                reason = "stopped"
            elif wall and time.time() - started > wall:
                reason = "wall_limit"
            else:
                continue
            log.write(f"[gateway] stopping the job ({reason})\n".encode())
            if spec.get("stop_argv"):
                try:
                    subprocess.run(spec["stop_argv"], timeout=grace + 5, check=False,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            _killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _killpg(child.pid, signal.SIGKILL)
                child.wait()
            break
        _killpg(child.pid, signal.SIGKILL)  # whatever the job left behind in its group
        result.update(exit_code=int(child.returncode), reason=reason, ended_at=time.time())
        log.write(f"[gateway] job ended: {reason}, exit status {child.returncode}\n".encode())
    _write_json(job_dir / "result.json", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(Path(sys.argv[1])))
