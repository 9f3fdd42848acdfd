"""The gateway is runtime code: it loads no developer tool (uvicorn brings click, allowed)."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("ape", "ape_", "ethpm_types", "matplotlib", "pinfi_dev", "pinfi.sim", "hypothesis",
             "pytest", "schemathesis")
CHECK = f"""
import json, sys
import provider_agent.gateway.__main__, provider_agent.gateway.app, pinfi.delivery.client
bad = sorted(m for m in sys.modules
             if any(m == f or m.startswith(f if f.endswith("_") else f + ".")
                    for f in {FORBIDDEN!r}))
print(json.dumps(bad))
"""


def test_gateway_imports_no_dev_module(tmp_path):
    proc = subprocess.run([sys.executable, "-c", CHECK], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
