"""`make demo` in a short run: real agent processes, a keeper and a client on a fresh Anvil."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_short_run(tmp_path):
    out = tmp_path / "demo"
    ape = Path(sys.executable).with_name("ape")
    proc = subprocess.run(
        [str(ape), "run", "demo", "--epochs", "5", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=os.environ.copy(),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    for key in ("leases", "burned", "slashed_cheater", "slashed_honest"):
        assert isinstance(summary[key], int), key
    assert summary["slashed_cheater"] >= 1
    assert summary["slashed_honest"] == 0
    assert summary["leases"] >= 2 and summary["burned"] > 0
    rows = summary["per_epoch"]
    low = min(rows, key=lambda r: r["utilization"])
    high = max(rows, key=lambda r: r["utilization"])
    assert high["utilization"] > low["utilization"]
    assert high["price"] > low["price"]
    quotes = [r["quote"] for r in rows if r["quote"] is not None]
    assert quotes, "the pool quoted a price in some epoch"
    assert (out / "price.png").stat().st_size > 0 and (out / "utilization.png").stat().st_size > 0
