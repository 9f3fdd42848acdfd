"""The job monitor never takes a job being started for lost: ``submit`` records the job, then
starts its supervisor and records the pid under its lock; a monitor pass in between waits for
the pid instead of finalizing the job (seen under load in ``make demo``: a job reported
``lost`` while it went on to run). Pure Python, no chain."""

from __future__ import annotations

import subprocess
import threading
import time

from provider_agent.gateway.runner import Runner
from provider_agent.gateway.storage import RUNNING, Job, Store


def test_monitor_waits_for_the_supervisor_pid(tmp_path):
    store = Store(tmp_path / "gw")
    runner = Runner.__new__(Runner)  # only what _check uses
    runner.store = store
    runner._submit_lock = threading.Lock()
    finalized: list[str] = []
    runner.finalize = lambda job, killed=False: finalized.append(job.job_id)  # type: ignore
    runner._lease_reason = lambda job: None  # type: ignore[method-assign]
    job = Job("0x" + "11" * 32, hex(5 << 64 | 1), 5, "0x" + "22" * 20, RUNNING, "{}",
              "0x" + "00" * 32, "0x" + "00" * 32, time.time(), 1, 10)
    jd = store.job_dir(job.job_id)
    (jd / "work").mkdir(parents=True)
    with runner._submit_lock:  # submit(): the job is recorded, the supervisor not started yet
        store.insert(job)
        checker = threading.Thread(target=runner._check, args=(store.get(job.job_id),))
        checker.start()
        time.sleep(0.3)
        assert finalized == [] and checker.is_alive()
        # a stand-in supervisor whose command line names the job directory
        sup = subprocess.Popen(["sh", "-c", "sleep 30; :", "supervise", str(jd)])
        store.update(job.job_id, supervisor_pid=sup.pid)
    try:
        checker.join(10)
        assert not checker.is_alive()
        assert finalized == []  # alive: not lost
        assert store.get(job.job_id).state == RUNNING
    finally:
        sup.kill()
        sup.wait()
    runner._check(store.get(job.job_id))  # the supervisor is gone now: finalized
    assert finalized == [job.job_id]
