"""`pinfi explorer` as a user runs it (a process beside the chain) and `pinfi classes` showing
its reliability figures."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_explorer_command_and_classes(chain, w3, scenario, tmp_path):
    dep = tmp_path / "deployment.json"
    scenario.deployment.save(dep)
    rpc = chain.provider.uri
    port = _port()
    env = {**os.environ, "PINFI_RPC_URL": rpc}
    proc = subprocess.Popen([sys.executable, "-m", "pinfi.cli", "explorer", "--deployment",
                             str(dep), "--db", str(tmp_path / "e.sqlite"), "--port", str(port),
                             "--interval", "0.2"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                st = httpx.get(url + "/api/status", timeout=5).json()
                if st["indexed_block"] == w3.eth.block_number and st["views_block"] == \
                        st["indexed_block"]:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "explorer never caught up"
            time.sleep(0.2)
        out = subprocess.run([sys.executable, "-m", "pinfi.cli", "classes", "--deployment",
                              str(dep), "--explorer", url, "--json"], env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        (cls,) = json.loads(out.stdout)
        free = cls["free"]
        assert free and all(d["reliability"] is not None for d in free)
        assert all(d["reliability"]["uptime"] == 1.0 for d in free)
        text = subprocess.run([sys.executable, "-m", "pinfi.cli", "classes", "--deployment",
                               str(dep), "--explorer", str(tmp_path / "e.sqlite")], env=env,
                              capture_output=True, text=True, timeout=120)
        assert text.returncode == 0 and "reliability 100% of" in text.stdout, text.stdout
        bad = subprocess.run([sys.executable, "-m", "pinfi.cli", "explorer", "--deployment",
                              str(dep), "--port", "0"], env=env, capture_output=True, text=True,
                             timeout=60)
        assert bad.returncode == 2 and bad.stderr.startswith("pinfi: error: --port 0")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_after_demo_then_serve_without_chain(w3, scenario, tmp_path, capsys):
    from pinfi.explorer.cli import after_demo

    command = after_demo(w3, scenario.deployment, tmp_path, serve=False)
    assert "indexed into" in capsys.readouterr().out
    port = _port()
    argv = command.split()[1:]
    argv[argv.index("--port") + 1] = str(port)
    env = {**os.environ, "PINFI_RPC_URL": "http://127.0.0.1:9"}  # no chain there
    proc = subprocess.Popen([sys.executable, "-m", "pinfi.cli", *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                st = httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=5).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "explorer did not serve"
                time.sleep(0.2)
        assert st["indexed_block"] == w3.eth.block_number or st["indexed_block"] > 0
        assert len(httpx.get(f"http://127.0.0.1:{port}/api/devices").json()) >= 5
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    empty = subprocess.run([sys.executable, "-m", "pinfi.cli", "explorer", "--db",
                            str(tmp_path / "none.sqlite"), "--no-follow"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2 and "holds no index" in empty.stderr
