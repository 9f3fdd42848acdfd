"""The ``docker`` runtime end to end (docs/delivery.md#manifest): the miner's Docker engine runs
the client's image, the job's directory is mounted at /work, outputs come back with a receipt,
and a lease that ends stops the container. Needs a Docker engine and a small local image
(``$PINFI_TEST_DOCKER_IMAGE``, default ``busybox:latest``, pulled if missing); skipped cleanly
where there is none, as on CI. GPU mapping (``limits.gpus``) is checked where the engine has the
NVIDIA runtime."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

import pytest

from pinfi.delivery.client import verify_receipt
from pinfi.delivery.manifest import Manifest, OutputFile, sha256_file
from pinfi.delivery.receipt import EndReason, Phase
from provider_agent.gateway.runner import docker_available
from tests.gateway.conftest import TIMEOUT

pytestmark = pytest.mark.skipif(not docker_available(), reason="no Docker engine on this machine")

IMAGE = os.environ.get("PINFI_TEST_DOCKER_IMAGE", "busybox:latest")


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image() -> str:
    if _docker("image", "inspect", IMAGE).returncode != 0 \
            and _docker("pull", IMAGE, timeout=600).returncode != 0:
        pytest.skip(f"docker image {IMAGE} is not present and cannot be pulled")
    return IMAGE


def _containers(job_id: str) -> list[str]:
    out = _docker("ps", "-q", "--filter", f"name=pinfi-job-{job_id[2:18]}").stdout
    return out.split()


def test_docker_job_runs_and_returns_outputs(stage, bob, tmp_path, image):
    gw = stage.client(bob)
    data = b"hello docker\n"
    m = Manifest.build("docker", ["sh", "-c", "mkdir -p out; tr a-z A-Z < in.txt > out/r.txt; "
                                              "echo lease=$PINFI_LEASE_ID"],
                       image=image, inputs={"in.txt": hashlib.sha256(data).hexdigest()},
                       outputs=["out"], limits={"memory_mb": 256})
    lease_id = stage.lease(bob, job_spec=m.hash)
    sub = gw.submit(lease_id, m, files={"in.txt": data})
    job_id = sub["job"]["job_id"]
    st = gw.wait(lease_id, job_id, timeout=TIMEOUT, poll=0.2)
    assert st["end_reason"] == "exited" and st["exit_code"] == 0, st
    assert f"lease={hex(lease_id)}".encode() in b"".join(gw.logs(lease_id, job_id))
    got = gw.fetch(lease_id, job_id, tmp_path)
    assert got["out/r.txt"].read_bytes() == b"HELLO DOCKER\n"
    outs = [OutputFile(p, sha256_file(f), f.stat().st_size) for p, f in got.items()]
    v = verify_receipt(stage.contracts, gw.receipt(lease_id, job_id), outs)
    assert v.receipt.phase == Phase.FINISHED and v.receipt.end_reason == EndReason.EXITED
    assert v.job_spec == v.receipt.manifest_hash
    assert not _containers(job_id)  # --rm: nothing left behind
    stage.system.pool.terminate(lease_id, sender=bob)


def test_docker_job_stopped_when_the_lease_is_terminated(stage, bob, image):
    gw = stage.client(bob)
    m = Manifest.build("docker", ["sh", "-c", "echo up; sleep 3600"], image=image)
    lease_id = stage.lease(bob, job_spec=m.hash)
    job_id = gw.submit(lease_id, m)["job"]["job_id"]
    stage.system.pool.terminate(lease_id, sender=bob)
    st = gw.wait(lease_id, job_id, timeout=TIMEOUT, poll=0.2)
    assert st["end_reason"] == "lease_terminated", st
    assert not _containers(job_id)
    r = verify_receipt(stage.contracts, gw.receipt(lease_id, job_id)).receipt
    assert r.end_reason == EndReason.LEASE_TERMINATED


@pytest.mark.skipif(shutil.which("nvidia-smi") is None, reason="no NVIDIA GPU")
def test_docker_job_sees_the_leased_gpu(stage, bob, image):
    if "nvidia" not in _docker("info", "--format", "{{json .Runtimes}}").stdout:
        pytest.skip("the Docker engine has no NVIDIA runtime")
    gw = stage.client(bob)
    m = Manifest.build("docker", ["sh", "-c", "ls /dev/nvidia0"], image=image,
                       limits={"gpus": 1})
    lease_id = stage.lease(bob, job_spec=m.hash)
    job_id = gw.submit(lease_id, m)["job"]["job_id"]
    st = gw.wait(lease_id, job_id, timeout=TIMEOUT, poll=0.2)
    assert st["end_reason"] == "exited" and st["exit_code"] == 0, st
    stage.system.pool.terminate(lease_id, sender=bob)
