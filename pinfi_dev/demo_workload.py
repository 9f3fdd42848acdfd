"""The demo client's workload: a numpy matrix product run on a leased device through its
gateway, checked by the client without redoing it, and its operator-signed receipt verified.

Each job multiplies two integer-valued ``N x N`` matrices the client uploads (``c = a @ b`` in
``job.py``, in the provider's sandbox). The client checks the downloaded ``c`` with Freivalds'
test (``a @ (b @ r) == c @ r`` for random vectors ``r``: O(N^2) per round instead of the O(N^3)
product; entries are small integers, so float64 arithmetic is exact and the check is equality),
then verifies the receipt against the device's operator on-chain and that the lease's ``jobSpec``
is the manifest's hash. A result that fails the test is counted as such, never as verified.
"""

from __future__ import annotations

import io
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pinfi.delivery.manifest import Manifest, OutputFile, sha256_file, sha256_hex
from pinfi.sdk import PinFi

N = 384
FREIVALDS_ROUNDS = 8
JOB_PY = """\
import numpy as np
a, b = np.load("a.npy"), np.load("b.npy")
c = a @ b
np.save("c.npy", c)
print(f"c = a @ b: {c.shape[0]}x{c.shape[1]}, trace {np.trace(c):.0f}", flush=True)
"""


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


Matrices = tuple[np.ndarray, np.ndarray]


def make_job(seed: int, python: str = sys.executable) -> tuple[Manifest, dict[str, bytes],
                                                             Matrices]:
    """The manifest (inputs addressed by sha256, so its hash can be the lease's jobSpec), the
    files to upload and the matrices the client keeps to check the result. ``python``: the
    interpreter (with numpy) as the job sees it (in the sandbox, where the provider binds it)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-8, 9, size=(N, N)).astype(np.float64)
    b = rng.integers(-8, 9, size=(N, N)).astype(np.float64)
    files = {"job.py": JOB_PY.encode(), "a.npy": _npy(a), "b.npy": _npy(b)}
    manifest = Manifest.build(
        "process", [python, "job.py"],
        env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        inputs={p: sha256_hex(d) for p, d in files.items()}, outputs=["c.npy"])
    return manifest, files, (a, b)


def freivalds(a: np.ndarray, b: np.ndarray, c: np.ndarray, rounds: int = FREIVALDS_ROUNDS,
              seed: int = 0) -> bool:
    """``c == a @ b`` with error probability <= 2^-rounds for a wrong ``c`` (exact arithmetic)."""
    if c.shape != (a.shape[0], b.shape[1]):
        return False
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        r = rng.integers(0, 2, size=(b.shape[1],)).astype(np.float64)
        if not np.array_equal(a @ (b @ r), c @ r):
            return False
    return True


@dataclass
class JobOutcome:
    lease_id: int
    device_id: int
    job_id: str = ""
    end_reason: str = ""
    exit_code: int | None = None
    completed: bool = False
    result_ok: bool = False
    receipt_ok: bool = False
    error: str = ""
    seconds: float = 0.0
    log_tail: str = field(default="", repr=False)


class DeliveredJob(threading.Thread):
    """One job on one lease, in its own thread (the demo keeps producing blocks meanwhile)."""

    def __init__(self, connect: Any, lease_id: int, device_id: int, manifest: Manifest,
                 files: dict[str, bytes], ab: tuple[np.ndarray, np.ndarray], out: Path,
                 timeout: float = 240.0) -> None:
        super().__init__(daemon=True, name=f"job-{lease_id}")
        self.connect = connect  # () -> PinFi: a client of its own (web3 is per thread)
        self.manifest, self.files, self.ab = manifest, files, ab
        self.out, self.timeout = out, timeout
        self.outcome = JobOutcome(lease_id, device_id)

    def run(self) -> None:
        import time

        t0 = time.monotonic()
        o = self.outcome
        try:
            pf: PinFi = self.connect()
            gw = pf.gateway(o.device_id)  # URL from the registry, operator key proven
            sub = gw.submit(o.lease_id, self.manifest, self.files)
            o.job_id = sub["job"]["job_id"]
            st = gw.wait(o.lease_id, o.job_id, self.timeout, poll=0.5)
            o.end_reason, o.exit_code = st["end_reason"], st["exit_code"]
            o.log_tail = b"".join(gw.logs(o.lease_id, o.job_id)).decode(errors="replace")[-300:]
            o.completed = o.end_reason == "exited" and o.exit_code == 0
            got = gw.fetch(o.lease_id, o.job_id, self.out) if o.completed else {}
            if "c.npy" in got:
                o.result_ok = freivalds(*self.ab, np.load(got["c.npy"]), seed=o.lease_id)
            outs = [OutputFile(p, sha256_file(f), f.stat().st_size) for p, f in got.items()]
            v = pf.verify_receipt(gw.receipt(o.lease_id, o.job_id), outs)
            o.receipt_ok = v.job_spec == v.receipt.manifest_hash == self.manifest.hash
        except Exception as err:  # the demo reports it; it never hides a failed job
            o.error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            if not isinstance(err, ValueError | OSError):
                o.error += " | " + traceback.format_exc(limit=2).splitlines()[-1]
        o.seconds = round(time.monotonic() - t0, 1)
