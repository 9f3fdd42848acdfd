"""``pinfi``: the client command (docs/delivery.md#cli). Argument parsing and error handling.

Every failure a user can cause or meet (bad input, unknown device, RPC down, a contract revert,
a gateway refusal, a receipt that does not verify) ends as one ``pinfi: error: ...`` line on
stderr and exit status 2, never a traceback; a job that ran but did not exit 0 gives status 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pinfi import chain as ch

from . import commands

DEFAULT_RPC = "http://127.0.0.1:8545"


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection and key")
    g.add_argument("--rpc", default=os.environ.get("PINFI_RPC_URL", DEFAULT_RPC),
                   help="JSON-RPC URL ($PINFI_RPC_URL; default %(default)s)")
    g.add_argument("--deployment", default=os.environ.get("PINFI_DEPLOYMENT"),
                   help="deployments file or chain id ($PINFI_DEPLOYMENT; default: "
                        "deployments/<the RPC's chain id>.json)")
    g.add_argument("--keystore", default=None,
                   help="eth-account keystore of the client ($PINFI_KEYSTORE); else "
                        "$PINFI_PRIVATE_KEY")
    g.add_argument("--password-file", default=None,
                   help="the keystore's password ($PINFI_PASSWORD_FILE, $PINFI_PASSWORD, "
                        "else a prompt)")
    g.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="pinfi", description="PinFi client: find, price and lease devices, run jobs on "
        "them through their gateways, and check the operator-signed receipts.")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str) -> Any:
        p = sub.add_parser(name, help=help_, description=help_)
        _common(p)
        p.set_defaults(func=fn)
        return p

    p = add("classes", commands.classes,
            "device classes, their market and free devices with price")
    # [E1 explorer] reliability figures from an explorer (API URL or its database)
    p.add_argument("--explorer", default=os.environ.get("PINFI_EXPLORER"),
                   help="explorer API URL or database for reliability figures ($PINFI_EXPLORER)")

    p = add("quote", commands.quote, "what a lease costs now")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--class", dest="class_id", type=int, help="class id")
    g.add_argument("--device", type=int, help="a device (its class is quoted)")
    p.add_argument("--epochs", type=int, default=1)

    p = add("lease", commands.lease, "lease a device")
    p.add_argument("device", type=int)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-cost", default=None, help="in PIN (default: the quote + 1%%)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--manifest", help="bind this job manifest's hash as the lease's jobSpec")
    g.add_argument("--job-spec", default="", help="the jobSpec (0x + 64 hex, or <= 32 chars)")

    p = add("run", commands.run, "manifest -> lease if needed -> submit -> wait -> fetch -> "
            "verify the receipt")
    p.add_argument("manifest", help="job manifest (JSON, docs/delivery.md#manifest)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--device", type=int, help="lease this device")
    g.add_argument("--class", dest="class_id", type=int,
                   help="lease the first free device of this class with a gateway")
    g.add_argument("--lease", type=int, help="use this live lease of yours")
    p.add_argument("--epochs", type=int, default=1, help="lease length (default 1)")
    p.add_argument("--max-cost", default=None, help="in PIN (default: the quote + 1%%)")
    p.add_argument("--input", action="append", default=[], metavar="PATH=FILE",
                   help="upload FILE as the job's input PATH (repeatable)")
    p.add_argument("--out", default="outputs", help="folder for the outputs (receipt: "
                   "<out>.receipt.json)")
    p.add_argument("--url", default=None, help="gateway URL (default: the registry's)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the job")
    p.add_argument("--logs", action="store_true", help="stream the job's output to stderr")

    for name, fn, help_ in (("status", commands.status, "a job's status"),
                            ("logs", commands.logs, "a job's output (stdout and stderr)"),
                            ("fetch", commands.fetch, "download a job's outputs (sha256 "
                             "checked) and its receipt")):
        p = add(name, fn, help_)
        p.add_argument("lease", type=int, help="lease id")
        p.add_argument("job", help="job id (0x...)")
        p.add_argument("--url", default=None, help="gateway URL (default: the registry's)")
        if name == "logs":
            p.add_argument("--follow", "-f", action="store_true", help="until the job ends")
        if name == "fetch":
            p.add_argument("--out", default="outputs", help="folder for the outputs")

    p = add("verify-receipt", commands.verify_receipt,
            "check a job receipt against the device's operator on-chain")
    p.add_argument("receipt", help="receipt JSON file")
    p.add_argument("--outputs", default=None,
                   help="folder with the downloaded outputs (their hash is checked too)")

    p = add("fund", commands.fund, "send PIN and ETH to a new operator or client (local chain; "
            "docs/funding.md)")
    p.add_argument("--to", required=True, help="address to fund")
    p.add_argument("--pin", default="0", help="PIN to send (default 0)")
    p.add_argument("--eth", default="0", help="ETH to send (default 0)")
    p.add_argument("--from-keystore", default=None,
                   help="funder keystore (else $PINFI_FUNDER_KEY, else Anvil's test account 0 "
                        "on a local chain)")

    # [E1 explorer] pinfi explorer: index the deployment and serve the API and dashboard
    from pinfi.explorer import cli as explorer_cli

    p = add("explorer", explorer_cli.run, "index the deployment's events and serve the explorer "
            "(API and dashboard, docs/explorer.md)")
    explorer_cli.add_arguments(p)

    p = add("account", commands.account, "create a keystore, or show an address's balances")
    p.add_argument("action", choices=("new", "show"))
    p.add_argument("--address", default=None, help="show: this address (default: your key's)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="pinfi: %(message)s")
    try:
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        print("pinfi: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:  # every error is one line; a bug too (with its type)
        print(f"pinfi: error: {commands.one_line(err)}", file=sys.stderr)
        if os.environ.get("PINFI_DEBUG"):
            raise
        return 2


def _json_default(o: Any) -> Any:
    if isinstance(o, bytes):
        return "0x" + o.hex()
    return str(o)


def dump(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=_json_default))


__all__ = ["ch", "dump", "main", "parser"]
