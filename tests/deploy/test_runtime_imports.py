"""The runtime (what a miner or a dApp imports) stays apart from the developer tools.

``import pinfi.sdk, pinfi.cli, provider_agent.cli`` must load no Ape, click, matplotlib,
``pinfi_dev`` or simulation module. Checked twice:

* in a subprocess of the dev environment (fast, offline): nothing forbidden ends up in
  ``sys.modules`` even though it is all installed;
* in a fresh virtual environment holding only the runtime dependencies (``pyproject``'s
  ``dependencies`` and what they need, pinned by ``requirements.lock``) plus the package itself
  (``--no-deps -e .``): the imports work without the dev extra. uv's cache makes this quick; the
  test is skipped (with the reason) when neither the cache nor the registry can supply a package.
"""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.imports import forbidden_loaded

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".venv" / "bin" / "uv"
#: The runtime entry points: what a miner or a dApp imports.
ENTRY_POINTS = ("pinfi.sdk", "pinfi.cli", "provider_agent.cli")


def test_runtime_imports_no_dev_module_in_dev_env(tmp_path):
    """Everything is installed here; the runtime must still not import it."""
    assert forbidden_loaded(sys.executable, ENTRY_POINTS, tmp_path) == []


def runtime_pins() -> list[str]:
    """``name==version`` of the runtime closure: ``pyproject``'s dependencies and, recursively,
    what they require (markers and extras honoured), each at its ``requirements.lock`` pin."""
    lock: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            lock[canonicalize_name(name.strip())] = version.strip()
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    queue = [Requirement(d) for d in deps]
    done: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    while queue:
        req = queue.pop()
        name, extras = canonicalize_name(req.name), frozenset(req.extras)
        if (name, extras) in done:
            continue
        done.add((name, extras))
        names.add(name)
        for text in md.distribution(name).requires or []:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e})
                                         for e in ("", *extras)):
                queue.append(sub)
    missing = sorted(n for n in names if n not in lock)
    assert not missing, f"runtime dependencies not pinned in requirements.lock: {missing}"
    return sorted(f"{n}=={lock[n]}" for n in names)


def _uv(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(UV), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _install(python: Path, *args: str) -> None:
    """``uv pip install`` from the cache, else from the registry; skip if neither works."""
    base = ["pip", "install", "-q", "--python", str(python), *args]
    offline = _uv(*base, "--offline")
    if offline.returncode == 0:
        return
    online = _uv(*base)
    if online.returncode != 0:
        reason = (online.stderr.strip().splitlines() or ["no output"])[-1][:200]
        pytest.skip(f"cannot install the runtime dependencies (registry unreachable?): {reason}")


@pytest.mark.slow
def test_runtime_imports_in_a_runtime_only_venv(tmp_path):
    if not UV.is_file():
        pytest.skip(f"uv not found at {UV} (make setup installs it)")
    pins = runtime_pins()
    # click is installed with uvicorn (the lease gateway's server, G1): installed, never
    # imported by pinfi.sdk / provider_agent.cli (checked below).
    assert not any(p.split("==")[0] in ("eth-ape", "matplotlib") for p in pins), pins
    venv = tmp_path / "venv"
    made = _uv("venv", "-q", "--python", sys.executable, str(venv))
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    _install(python, *pins)
    _install(python, "--no-deps", "-e", str(ROOT))
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print([m for m in "
                            "('ape', 'matplotlib') if u.find_spec(m)])"],
                           capture_output=True, text=True, check=False)
    assert probe.stdout.strip() == "[]", f"dev packages in the runtime-only venv: {probe.stdout}"
    assert forbidden_loaded(python, ENTRY_POINTS, tmp_path) == []
