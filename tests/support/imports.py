"""What a runtime entry point drags in: the check that the runtime loads no developer tool."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

#: Developer tools no runtime module may import (``ape_`` covers every Ape plugin).
DEV_MODULES = ("ape", "ape_", "ethpm_types", "click", "matplotlib", "pinfi_dev", "pinfi.sim",
               "hypothesis", "pytest")

_CHECK = """
import importlib, json, sys
for name in {modules!r}:
    importlib.import_module(name)
bad = sorted(m for m in sys.modules
             if any(m == f or m.startswith(f if f.endswith("_") else f + ".")
                    for f in {forbidden!r}))
print(json.dumps(bad))
"""


def forbidden_loaded(python: str | Path, modules: tuple[str, ...], cwd: Path,
                     forbidden: tuple[str, ...] = DEV_MODULES) -> list[str]:
    """The ``forbidden`` modules (or their submodules) in ``sys.modules`` after a fresh
    interpreter ``python``, started in ``cwd`` (not the repository), imports ``modules``."""
    code = _CHECK.format(modules=modules, forbidden=forbidden)
    proc = subprocess.run([str(python), "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return loaded
