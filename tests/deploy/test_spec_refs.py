"""The spec is cited by stable anchor (``docs/protocol.md#<anchor>``), never by section number,
and every cited anchor exists: ``tools/check_spec_refs.py``, also run by ``make lint``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "check_spec_refs.py"

def _check(root: Path, *exclude: str) -> subprocess.CompletedProcess[str]:
    args = [a for e in exclude for a in ("--exclude", e)]
    return subprocess.run([sys.executable, str(TOOL), str(root), *args], capture_output=True,
                          text=True, timeout=120)


def test_the_tree_cites_the_spec_by_anchor() -> None:
    res = _check(ROOT)
    assert res.returncode == 0, res.stdout + res.stderr


# Written so that this file does not cite by number or a missing anchor itself.
BY_NUMBER = "PROTOCOL" + ".md section 4"
BY_SIGN = "spec \u00a73.7"
MISSING = "docs/protocol.md" + "#nowhere"
NUMBERED = "cites the spec by section number; cite docs/protocol.md#<anchor> instead"


def test_numbers_and_unknown_anchors_are_reported_and_exclude_skips(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "protocol.md").write_text('<a id="clock"></a>\n## 2. Clock\n')
    (tmp_path / "ok.py").write_text("# docs/protocol.md#clock\n")
    (tmp_path / "bad.py").write_text(f"# {BY_NUMBER}\n# {MISSING}\n")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "x.sol").write_text(f"// {BY_SIGN}\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    res = _check(tmp_path)
    assert res.returncode == 1
    assert res.stdout.splitlines() == [
        f"bad.py:1: {NUMBERED}",
        f"bad.py:2: {MISSING} is not an anchor of docs/protocol.md",
        f"old/x.sol:1: {NUMBERED}",
    ]
    res = _check(tmp_path, "bad.py", "old/")
    assert res.returncode == 0, res.stdout
