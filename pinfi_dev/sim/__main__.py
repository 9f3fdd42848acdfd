"""``python -m pinfi_dev.sim [--seed N] [--out DIR] [--quick] [--workers N]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pinfi_dev.sim", description=__doc__)
    ap.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    ap.add_argument("--out", type=Path, default=Path("out/sim"), help="output folder")
    ap.add_argument("--quick", action="store_true", help="smaller, faster run")
    ap.add_argument("--workers", type=int, default=None, help="processes (default: up to 2)")
    args = ap.parse_args(argv)
    from pinfi_dev.sim.pipeline import run_all

    def log(msg: str) -> None:
        print(msg, flush=True)

    run_all(args.out, seed=args.seed, quick=args.quick, workers=args.workers, log=log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
