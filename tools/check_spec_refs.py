#!/usr/bin/env python3
"""Lint: code and docs cite the spec by stable anchor, and every cited anchor exists.

A citation is ``docs/<page>.md#<anchor>`` (or ``(#anchor)`` inside a page). Anchors are the
``<a id="...">`` tags in front of the pages' headings. A citation by section number
(``§3.7``, ``PROTOCOL.md section 4``, ``protocol.md 4.3``) is an error: numbers change when the
spec is reorganised, anchors do not.

Usage: ``python tools/check_spec_refs.py [ROOT] [--exclude PATH ...]``; exits 1 and prints
``file:line: problem`` for each bad citation. ``--exclude`` skips a file, or every file below a
folder, as a citing file (its anchors still count): for files being rewritten elsewhere.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ANCHOR = re.compile(r'<a id="([a-z0-9-]+)"></a>')
CITE = re.compile(r"docs/([a-z_]+\.md)#([A-Za-z0-9_-]+)")
LOCAL_CITE = re.compile(r"\]\(#([A-Za-z0-9_-]+)\)")
NUMBERED = re.compile(
    r"(§\s*\d)|((?:PROTOCOL|protocol)\.md,?\s+(?:section\s+|§\s*)?\d)|(spec(?:ification)?\s+section\s+\d)",
)
SUFFIXES = {".py", ".sol", ".md", ".toml", ".cjs", ".js", ".yaml", ".yml", ".sh"}


def tracked_files(root: Path) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                         cwd=root, capture_output=True, text=True, check=True).stdout
    return [root / p for p in out.splitlines()
            if Path(p).suffix in SUFFIXES or Path(p).name == "Makefile"]


def anchors(root: Path) -> dict[str, set[str]]:
    return {p.name: set(ANCHOR.findall(p.read_text(encoding="utf-8")))
            for p in (root / "docs").glob("*.md")}


def _excluded(rel: Path, exclude: list[str]) -> bool:
    return any(rel == Path(e) or Path(e) in rel.parents for e in exclude)


def check(root: Path, exclude: list[str] | None = None) -> list[str]:
    """``file:line: problem`` for each bad citation in the files below ``root`` (those under a
    path of ``exclude``, relative to ``root``, are not read)."""
    known = anchors(root)
    problems: list[str] = []
    for path in tracked_files(root):
        if not path.is_file():
            continue
        rel = path.relative_to(root)
        if _excluded(rel, exclude or []):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for no, line in enumerate(text.splitlines(), 1):
            for page, anchor in CITE.findall(line):
                if page not in known:
                    problems.append(f"{rel}:{no}: cites docs/{page}, which does not exist")
                elif anchor not in known[page]:
                    problems.append(f"{rel}:{no}: docs/{page}#{anchor} is not an anchor of "
                                    f"docs/{page}")
            if rel.parent.name == "docs" and rel.suffix == ".md":
                for anchor in LOCAL_CITE.findall(line):
                    if anchor not in known.get(rel.name, set()):
                        problems.append(f"{rel}:{no}: #{anchor} is not an anchor of {rel.name}")
            if path.name != Path(__file__).name and NUMBERED.search(line):
                problems.append(f"{rel}:{no}: cites the spec by section number; cite "
                                "docs/protocol.md#<anchor> instead")
    return problems


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--exclude", action="append", default=[], metavar="PATH",
                    help="a file or folder (relative to ROOT) whose citations are not checked")
    args = ap.parse_args(argv[1:])
    problems = check(args.root, [e.rstrip("/") for e in args.exclude])
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} spec citation problem(s)", file=sys.stderr)
        return 1
    print("spec citations: all anchors exist, none by number")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
