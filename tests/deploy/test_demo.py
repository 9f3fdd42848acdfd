"""`make demo` in a short run: real agent processes with their gateways, a keeper and a client
that runs a numpy job on each leased device, on a fresh Anvil."""

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
        cwd=ROOT, capture_output=True, text=True, timeout=900, env=os.environ.copy(),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # quiet: no compiler listing, no line per confirmed transaction
    assert "Confirmed 0x" not in proc.stdout + proc.stderr
    assert "Compiling" not in proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    for key in ("leases", "burned_wei", "rewards_minted_wei", "slashed_cheater",
                "slashed_honest", "jobs_submitted", "jobs_completed", "results_verified",
                "receipts_verified"):
        assert isinstance(summary[key], int), key
    # one unit convention: token amounts are integer wei in fields named *_wei
    assert not {"burned", "rewards_minted"} & set(summary)
    assert summary["slashed_cheater"] >= 1
    assert summary["slashed_honest"] == 0
    assert summary["leases"] >= 2 and summary["burned_wei"] > 0
    # the client ran a real workload through the gateways and checked everything
    assert summary["jobs_completed"] >= 2, summary["jobs"]
    assert summary["results_verified"] == summary["jobs_completed"], summary["jobs"]
    # every job, finished well or not, has an operator-signed receipt that verifies
    assert summary["receipts_verified"] == summary["jobs_submitted"], summary["jobs"]
    rows = summary["per_epoch"]
    for r in rows:
        assert isinstance(r["price_wei"], int) and isinstance(r["burned_wei"], int)
        assert r["D"] <= r["R"]
        # read at one point: sold out exactly when D = R, priced at that utilization
        assert (r["quote_wei"] is None) == (r["D"] >= r["R"]), r
    # each epoch's lease is counted in its own epoch's D (read at the epoch's last block)
    leased = [r for r in rows if r["leases"]]
    assert leased and all(r["D"] >= 1 for r in leased)
    low = min(rows, key=lambda r: r["utilization"])
    high = max(rows, key=lambda r: r["utilization"])
    assert high["utilization"] > low["utilization"]
    assert high["price_wei"] > low["price_wei"]
    quotes = [r["quote_wei"] for r in rows if r["quote_wei"] is not None]
    assert quotes, "the pool quoted a price in some epoch"
    assert (out / "price.png").stat().st_size > 0 and (out / "utilization.png").stat().st_size > 0
