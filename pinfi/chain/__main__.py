"""``python -m pinfi.chain export-abi``: write ``pinfi/abi/*.json`` from Ape's compiled output."""

from __future__ import annotations

import argparse

from .abi import ABI_DIR, export_abis


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pinfi.chain", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export-abi", help="write pinfi/abi/*.json from Ape's compiled output")
    ex.add_argument("--build", default=".build/__local__.json", help="Ape's compiled manifest")
    ex.add_argument("--dest", default=str(ABI_DIR))
    args = ap.parse_args(argv)
    if args.cmd == "export-abi":
        for p in export_abis(args.build, args.dest):
            print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
