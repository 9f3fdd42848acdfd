"""Run Slither on the contracts and fail on any High or Medium finding not in the triage file.

Run with the Slither venv's Python (``make lint`` does): Slither is analysed from the
standard-JSON input written by ``tools/slither_input.py`` and compiled by the project's solc-js
shim. The compilation is handed to Slither as a platform object, not a path, so crytic-compile
does not look for a framework (it would find ``foundry.toml`` and call forge for settings).

The triage file (``slither.triage.json``) lists every accepted finding as
``{"detector": ..., "where": ..., "why": ...}``: ``where`` is the ``Contract.function`` (or
``Contract``) of the finding's first element. ``slither.triage.md`` explains each one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from crytic_compile import CryticCompile
from crytic_compile.platform.solc_standard_json import SolcStandardJson
from slither import Slither
from slither.__main__ import get_detectors_and_printers

BLOCKING = {"High", "Medium"}


def _where(result: dict[str, Any]) -> str:
    """``Contract.function`` (or ``Contract``) of a finding's first element."""
    for element in result.get("elements", []):
        kind = element.get("type")
        if kind == "function":
            parent = element.get("type_specific_fields", {}).get("parent", {}).get("name", "")
            return f"{parent}.{element['name']}"
        if kind == "contract":
            return str(element["name"])
        parent = element.get("type_specific_fields", {}).get("parent", {})
        if parent.get("type") == "function":
            contract = parent.get("type_specific_fields", {}).get("parent", {}).get("name", "")
            return f"{contract}.{parent['name']}"
        if parent.get("type") == "contract":
            return f"{parent['name']}.{element.get('name', '')}"
    return ""


def analyse(input_json: Path, solc: str) -> list[dict[str, Any]]:
    """Every detector's results on the project's own contracts (dependencies excluded)."""
    platform = SolcStandardJson(json.loads(input_json.read_text()))
    compilation = CryticCompile(platform, solc=solc)
    slither = Slither(compilation)
    detectors, _ = get_detectors_and_printers()
    for detector in detectors:
        slither.register_detector(detector)
    results: list[dict[str, Any]] = []
    for found in slither.run_detectors():
        results.extend(found)
    return [r for r in results if not _in_dependency(r)]


def _in_dependency(result: dict[str, Any]) -> bool:
    paths = [
        e.get("source_mapping", {}).get("filename_relative", "") for e in result.get("elements", [])
    ]
    return bool(paths) and all(p.startswith("node_modules") for p in paths)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="standard-JSON input (tools/slither_input.py)")
    parser.add_argument("--solc", required=True, help="solc executable (the shim)")
    parser.add_argument("--triage", type=Path, default=Path("slither.triage.json"))
    parser.add_argument("--report", type=Path, help="write every finding here (JSON)")
    args = parser.parse_args()

    accepted = json.loads(args.triage.read_text())["accepted"]
    keys = {(a["detector"], a["where"]) for a in accepted}
    results = analyse(args.input, args.solc)
    rows = [
        {"detector": r["check"], "impact": r["impact"], "confidence": r["confidence"],
         "where": _where(r), "description": r["description"].strip()}
        for r in results
    ]
    if args.report:
        args.report.write_text(json.dumps(rows, indent=1))
    untriaged = [
        r for r in rows if r["impact"] in BLOCKING and (r["detector"], r["where"]) not in keys
    ]
    used = {(r["detector"], r["where"]) for r in rows}
    by_impact: dict[str, int] = {}
    for r in rows:
        by_impact[r["impact"]] = by_impact.get(r["impact"], 0) + 1
    print(f"slither: {len(rows)} findings {by_impact}; {len(keys)} accepted in {args.triage}")
    for stale in sorted(keys - used):
        print(f"slither: triage entry no longer found (remove it): {stale[0]} {stale[1]}")
    for r in untriaged:
        print(f"slither: UNTRIAGED {r['impact']} {r['detector']} at {r['where']}:")
        print(f"  {r['description']}")
    return 1 if untriaged else 0


if __name__ == "__main__":
    sys.exit(main())
