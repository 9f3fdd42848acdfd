"""The ``pinfi`` subcommands (docs/delivery.md#cli); each returns the exit status."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_utils import to_checksum_address

from pinfi import chain as ch
from pinfi.chain import reads as rd
from pinfi.delivery.manifest import Manifest, ManifestError, OutputFile, sha256_file
from pinfi.delivery.receipt import Receipt
from pinfi.sdk import PinFi, PinFiError, UnknownDevice, format_pin
from pinfi.types import UNIT, DeviceState, lease_device

from . import fund as fund_mod
from . import keys

if TYPE_CHECKING:
    from pinfi.delivery.client import GatewayClient

# pinfi.delivery.client is imported where a command needs it: it brings httpx, which imports
# click (and rich) when they are installed, and `import pinfi.cli` stays free of them
# (tests/deploy/test_runtime_imports.py).

#: Errors whose text is already the one line a user should read (any PinFi error class too).
KNOWN = (PinFiError, ManifestError, ch.ChainError, keys.KeyError_, fund_mod.FundError)


class UsageError(Exception):
    """Bad input the parser could not catch."""


def one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, ManifestError):
        return f"malformed manifest: {text}"
    if isinstance(err, (*KNOWN, UsageError)) or type(err).__module__.startswith("pinfi."):
        return text or type(err).__name__
    if isinstance(err, OSError) and err.strerror:
        return f"{err.filename or ''}: {err.strerror}".lstrip(": ")
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def pin_amount(text: str, what: str) -> int:
    """``"12.5"`` PIN (or ETH) -> base units."""
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"{what} {text!r} is not a number") from None
    if d < 0 or d != d:
        raise UsageError(f"{what} must be >= 0")
    return int(d * UNIT)


def _positive(n: int, what: str) -> int:
    if n < 1:
        raise UsageError(f"{what} must be at least 1")
    return n


def connect(args: argparse.Namespace, account: bool = True) -> PinFi:
    acct = keys.load(args.keystore, args.password_file, required=account)
    dep: Any = args.deployment
    if isinstance(dep, str) and dep.isdigit():
        dep = int(dep)
    return PinFi.connect(args.rpc, dep, acct)


def _out(args: argparse.Namespace, obj: Any, text: str) -> None:
    if args.json:
        from .main import dump

        dump(obj)
    else:
        print(text)


def _known_device(pf: PinFi, device_id: int) -> dict[str, Any]:
    d = pf.device(device_id)
    if d["state"] == DeviceState.NONE.label:
        raise UnknownDevice(f"device {device_id} does not exist")
    return d


# ---- market


def classes(args: argparse.Namespace) -> int:
    pf = connect(args, account=False)
    rows: list[dict[str, Any]] = []
    # [E1 explorer] reliability from an explorer when one is given (--explorer / $PINFI_EXPLORER)
    from pinfi.explorer import reliability as rel_mod

    reliability = rel_mod.lookup(getattr(args, "explorer", None))
    for c in pf.classes():
        free = pf.free_devices(c.id)
        try:
            price: int | None = pf.price_per_epoch(c.id)
        except PinFiError:
            price = None  # sold out (or the pool cannot quote)
        devices = []
        for dev in free:
            try:
                url = rd.endpoint(pf.contracts, dev)
                gw = url.url if url.current else ""
            except ch.ChainError:
                gw = ""
            devices.append({"device_id": dev, "price_wei": price, "gateway": gw,
                            "reliability": reliability.get(dev)})
        rows.append({"class_id": c.id, "name": pf.deployment.class_name(c.id) or c.name,
                     "supply": c.supply, "demand": c.demand,
                     "utilization": round(c.utilization, 4), "price_wei": price,
                     "max_lease_epochs": c.max_lease_epochs, "free": devices})
    lines = []
    for r in rows:
        price_s = format_pin(r["price_wei"]) if r["price_wei"] is not None else "sold out"
        lines.append(f"class {r['class_id']} {r['name']}: {r['demand']}/{r['supply']} leased "
                     f"(u = {r['utilization']:.2f}), next device-epoch {price_s}, "
                     f"max {r['max_lease_epochs']} epochs")
        for d in r["free"]:
            lines.append(f"  device {d['device_id']:>5}  {price_s}/epoch  gateway "
                         f"{d['gateway'] or '-'}  reliability "
                         f"{rel_mod.text(d['reliability'])}")
        if not r["free"]:
            lines.append("  (no free device)")
    _out(args, rows, "\n".join(lines) if lines else "no device class configured")
    return 0


def quote(args: argparse.Namespace) -> int:
    pf = connect(args, account=False)
    epochs = _positive(args.epochs, "--epochs")
    cid = args.class_id if args.device is None else _known_device(pf, args.device)["class_id"]
    cost = pf.quote(cid, epochs, "pending")
    per_epoch = pf.price_per_epoch(cid)
    _out(args, {"class_id": cid, "epochs": epochs, "cost_wei": cost,
                "price_per_epoch_wei": per_epoch},
         f"class {cid}, {epochs} epoch(s): {format_pin(cost)} if mined in the next block "
         f"({format_pin(per_epoch)} per whole epoch; the current epoch is billed pro rata "
         "by block)")
    return 0


def _manifest(path: str, inputs: list[str]) -> tuple[Manifest, dict[str, Path]]:
    """The manifest with each ``--input PATH=FILE``'s sha256 filled in: the exact manifest the
    gateway will run, so its hash (the lease's jobSpec) matches the receipt's."""
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as err:
        raise UsageError(f"cannot read manifest {path}: {err.strerror}") from None
    except ValueError as err:
        raise UsageError(f"manifest {path} is not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"manifest {path} must be a JSON object")
    files: dict[str, Path] = {}
    for spec in inputs:
        name, sep, local = spec.partition("=")
        if not sep or not name or not local:
            raise UsageError(f"--input {spec!r}: expected PATH=FILE")
        if not Path(local).is_file():
            raise UsageError(f"--input {name}: {local} is not a file")
        files[name] = Path(local)
    given = {i.get("path"): i.get("sha256") for i in doc.get("inputs", []) or []
             if isinstance(i, dict)}
    for name, file in files.items():
        given[name] = sha256_file(file)
    if given:
        doc["inputs"] = [{"path": p, "sha256": h} for p, h in sorted(given.items())]
    return Manifest.parse(doc), files


def lease(args: argparse.Namespace) -> int:
    pf = connect(args)
    _known_device(pf, args.device)
    spec: bytes | str = args.job_spec
    if args.manifest:
        spec = _manifest(args.manifest, [])[0].hash
    max_cost = pin_amount(args.max_cost, "--max-cost") if args.max_cost else None
    ls = pf.lease(args.device, _positive(args.epochs, "--epochs"), max_cost, job_spec=spec)
    _out(args, {"lease_id": ls.lease_id, "device_id": ls.device_id, "start_epoch":
                ls.start_epoch, "end_epoch": ls.end_epoch, "cost_wei": ls.cost,
                "job_spec": ls.job_spec, "tx": ls.tx_hash},
         f"lease {ls.lease_id}: device {ls.device_id}, epochs {ls.start_epoch}..{ls.end_epoch}"
         f" (exclusive), cost {format_pin(ls.cost)}, tx {ls.tx_hash}")
    return 0


# ---- jobs


def _pick_device(pf: PinFi, class_id: int) -> int:
    for dev in pf.free_devices(class_id):
        try:
            if rd.endpoint(pf.contracts, dev).current:
                return dev
        except ch.ChainError:
            continue
    raise UsageError(f"no free device of class {class_id} publishes a gateway")


class Progress:
    """Progress while a job runs: one refreshed line on a terminal, a line every 10 s else."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.t0 = time.monotonic()
        self.last = 0.0

    def show(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        line = f"[{now - self.t0:6.1f} s] {text}"
        if self.tty:
            sys.stderr.write("\r" + line.ljust(78)[:120])
            sys.stderr.flush()
        elif force or now - self.last >= 10:
            print(line, file=sys.stderr)
            self.last = now

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def wait_job(gw: GatewayClient, lease_id: int, job_id: str, timeout: float,
             stream_logs: bool, poll: float = 0.5) -> dict[str, Any]:
    """Poll the job until it finishes, showing progress (and, with ``stream_logs``, its
    output on stderr)."""
    progress = Progress()
    pos = 0
    end = time.monotonic() + timeout
    progress.show(f"job {job_id[:10]}… submitted", force=True)
    try:
        while True:
            st = gw.status(lease_id, job_id)
            new = b"".join(gw.logs(lease_id, job_id, offset=pos))
            pos += len(new)
            if stream_logs and new:
                if progress.tty:
                    sys.stderr.write("\r")
                sys.stderr.write(new.decode(errors="replace"))
                sys.stderr.flush()
            if st["state"] == "finished":
                progress.show(f"job finished: {st['end_reason']}, exit {st['exit_code']}, "
                              f"block {st['end_block']}, {pos} log bytes", force=True)
                return st
            if time.monotonic() > end:
                from pinfi.delivery.client import GatewayError

                raise GatewayError(f"job {job_id} still running after {timeout:.0f} s "
                                   f"(pinfi status {lease_id} {job_id})")
            stop = f", stopping: {st['stopping']}" if st.get("stopping") else ""
            progress.show(f"job running since block {st['start_block']}{stop}, "
                          f"{pos} log bytes")
            time.sleep(poll)
    finally:
        progress.done()


def receipt_path(out: Path) -> Path:
    return out.with_name(out.name + ".receipt.json")


def _fetch_and_verify(pf: PinFi, gw: GatewayClient, lease_id: int, job_id: str,
                      out: Path) -> tuple[dict[str, Path], Any, Path]:
    got = gw.fetch(lease_id, job_id, out)
    receipt = gw.receipt(lease_id, job_id)
    rpath = receipt_path(out)
    rpath.write_text(json.dumps(receipt.to_json(), indent=2) + "\n")
    outs = [OutputFile(p, sha256_file(f), f.stat().st_size) for p, f in got.items()]
    verified = pf.verify_receipt(receipt, outs)
    return got, verified, rpath


def run(args: argparse.Namespace) -> int:
    pf = connect(args)
    m, files = _manifest(args.manifest, args.input)
    epochs = _positive(args.epochs, "--epochs")
    if args.lease is not None:
        lease_id, device = args.lease, lease_device(args.lease)
        info = pf.lease_info(lease_id)
        if not info.live or info.client.lower() != pf.address.lower():
            raise UsageError(f"lease {lease_id} is not a live lease of {pf.address}")
    else:
        device = args.device if args.device is not None else _pick_device(pf, args.class_id)
        _known_device(pf, device)
    gw = pf.gateway(device, args.url)  # the gateway proves its operator key before we pay
    if args.lease is None:
        max_cost = pin_amount(args.max_cost, "--max-cost") if args.max_cost else None
        ls = pf.lease(device, epochs, max_cost, job_spec=m.hash)
        lease_id = ls.lease_id
        print(f"leased device {device}: lease {lease_id}, epochs {ls.start_epoch}.."
              f"{ls.end_epoch}, cost {format_pin(ls.cost)}", file=sys.stderr)
    for name, local in files.items():
        gw.upload(lease_id, local)
        print(f"uploaded {name} ({local.stat().st_size} bytes)", file=sys.stderr)
    sub = gw.submit(lease_id, m)
    job_id = sub["job"]["job_id"]
    print(f"job {job_id} accepted at block {sub['job']['start_block']}", file=sys.stderr)
    st = wait_job(gw, lease_id, job_id, args.timeout, args.logs)
    out = Path(args.out)
    got, v, rpath = _fetch_and_verify(pf, gw, lease_id, job_id, out)
    bound = v.job_spec == v.receipt.manifest_hash
    result = {"lease_id": lease_id, "device_id": device, "job_id": job_id,
              "end_reason": st["end_reason"], "exit_code": st["exit_code"],
              "outputs": {p: str(f) for p, f in got.items()}, "receipt": str(rpath),
              "receipt_verified": True, "operator": v.operator, "job_spec_bound": bound}
    _out(args, result,
         f"job {job_id}: {st['end_reason']}, exit {st['exit_code']}; {len(got)} output(s) in "
         f"{out}/; receipt {rpath} signed by operator {v.operator} (verified"
         f"{', manifest bound as the lease jobSpec' if bound else ''})")
    return 0 if st["end_reason"] == "exited" and st["exit_code"] == 0 else 1


def _gw(args: argparse.Namespace) -> tuple[PinFi, GatewayClient]:
    pf = connect(args)
    return pf, pf.gateway(lease_device(args.lease), args.url, check_identity=False)


def status(args: argparse.Namespace) -> int:
    _, gw = _gw(args)
    st = gw.status(args.lease, args.job)
    _out(args, st, "\n".join(f"{k}: {v}" for k, v in st.items()))
    return 0


def logs(args: argparse.Namespace) -> int:
    _, gw = _gw(args)
    for chunk in gw.logs(args.lease, args.job, follow=args.follow):
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    return 0


def fetch(args: argparse.Namespace) -> int:
    pf, gw = _gw(args)
    out = Path(args.out)
    got, v, rpath = _fetch_and_verify(pf, gw, args.lease, args.job, out)
    _out(args, {"outputs": {p: str(f) for p, f in got.items()}, "receipt": str(rpath),
                "receipt_verified": True},
         "\n".join([*(f"{p} -> {f}" for p, f in got.items()),
                    f"receipt {rpath} (verified: operator {v.operator})"]))
    return 0


def _outputs_in(folder: Path) -> list[OutputFile]:
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    return [OutputFile(p.relative_to(folder).as_posix(), sha256_file(p), p.stat().st_size)
            for p in sorted(folder.rglob("*")) if p.is_file()]


def verify_receipt(args: argparse.Namespace) -> int:
    pf = connect(args, account=False)
    try:
        raw = json.loads(Path(args.receipt).read_text())
        r = Receipt.from_json(raw)
    except OSError as err:
        raise UsageError(f"cannot read {args.receipt}: {err.strerror}") from None
    except (ValueError, KeyError, TypeError) as err:
        raise UsageError(f"{args.receipt} is not a job receipt: {one_line(err)}") from None
    outs = _outputs_in(Path(args.outputs)) if args.outputs else None
    v = pf.verify_receipt(r, outs)
    bound = v.job_spec == r.manifest_hash
    _out(args, {"valid": True, "operator": v.operator, "lease_id": r.lease_id,
                "phase": r.phase.name, "end_reason": r.end_reason.label,
                "exit_code": r.exit_code, "outputs_checked": outs is not None,
                "job_spec_bound": bound},
         f"valid: lease {r.lease_id}, {r.phase.name} receipt signed by device "
         f"{r.device_id}'s operator {v.operator}; end {r.end_reason.label}, exit "
         f"{r.exit_code}; outputs {'match' if outs is not None else 'not checked'}; "
         f"manifest {'is' if bound else 'is not'} the lease's jobSpec")
    return 0


# ---- accounts and funding


def fund(args: argparse.Namespace) -> int:
    pf = connect(args, account=False)
    funder = None
    if args.from_keystore:
        funder = keys.load(args.from_keystore, args.password_file)
    acct = fund_mod.funder_account(pf.chain_id, funder)
    done = fund_mod.fund(pf.contracts, acct, args.to, pin_amount(args.pin, "--pin"),
                         pin_amount(args.eth, "--eth"))
    _out(args, {"to": done.to, "pin_wei": done.pin_wei, "eth_wei": done.eth_wei,
                "from": acct.address, "txs": done.txs},
         f"sent {format_pin(done.pin_wei)} and {Decimal(done.eth_wei) / UNIT:f} ETH from "
         f"{acct.address} to {done.to}")
    return 0


def account(args: argparse.Namespace) -> int:
    if args.action == "new":
        if not args.keystore:
            raise UsageError("account new needs --keystore FILE (where to write it)")
        pw = os.environ.get("PINFI_PASSWORD")
        if args.password_file:
            pw = Path(args.password_file).read_text().rstrip("\r\n")
        if not pw:
            raise UsageError("account new needs a password: --password-file or $PINFI_PASSWORD")
        acct = keys.create(Path(args.keystore), pw)
        _out(args, {"address": acct.address, "keystore": args.keystore},
             f"{acct.address} (keystore {args.keystore}); fund it: pinfi fund --to "
             f"{acct.address} --pin 1000 --eth 1")
        return 0
    pf = connect(args, account=args.address is None)
    who = args.address or pf.address
    eth = int(ch.with_retry(lambda: pf.w3.eth.get_balance(to_checksum_address(who)),
                            what="eth_getBalance"))
    pin = pf.balance(who)
    _out(args, {"address": who, "pin_wei": pin, "eth_wei": eth},
         f"{who}: {format_pin(pin)}, {Decimal(eth) / UNIT:f} ETH")
    return 0
