"""``provider-agent``: the PinFi miner's command line.

Subcommands: init, bench, register, run, status, claim, unjail, exit, verify, challenge.
Every failure the operator can fix prints one ``error: ...`` line and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from web3.logs import DISCARD

from pinfi import chain as ch
from pinfi import protocol

from . import config as config_mod
from . import keystore
from .backends import BACKENDS, TORCH_MODES, BackendError, make_backend
from .config import Config, ConfigError
from .context import DEVICE_STATES, ZERO_ADDRESS, AgentError, open_context
from .keystore import KeystoreError
from .state import Journal

log = logging.getLogger("provider_agent")

EXIT_ERROR = 2
CHEAT_HELP = ("TEST ONLY (fault injection): corrupt this fraction of C's rows before committing, "
              "to demonstrate that the contract and verifiers slash a lazy prover. Never use on a "
              "real deployment: the device WILL be slashed.")


# ---------------------------------------------------------------------------------------------
# logging
# ---------------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name,
               "msg": record.getMessage()}
        for part in out["msg"].split():
            if "=" in part:
                k, _, v = part.partition("=")
                if k.isidentifier() and k not in out:
                    out[k] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def setup_logging(verbose: int = 0, fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    for noisy in ("web3", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _tokens(x: int) -> str:
    return f"{x / 1e18:,.4f}"


def _load(args: argparse.Namespace) -> Config:
    cfg = config_mod.load(args.config)
    if getattr(args, "backend", None):
        cfg.backend = args.backend
    if getattr(args, "torch_mode", None):
        cfg.torch_mode = args.torch_mode
    return cfg


def _devices(cfg: Config, args: argparse.Namespace) -> list[int]:
    devs = [args.device] if getattr(args, "device", None) is not None else cfg.devices
    if not devs:
        raise AgentError(f"no devices in {cfg.path} and no --device given")
    return devs


def _check_device(ctx: Any, dev: int, owner: str | None = None) -> dict[str, Any]:
    d = ctx.device(dev)
    if d["owner"] == ZERO_ADDRESS:
        raise AgentError(f"unknown device {dev} on chain {ctx.cfg.deployment.chain_id}")
    if owner is not None and str(d["owner"]).lower() != owner.lower():
        raise AgentError(f"device {dev} is owned by {d['owner']}, not by the owner key {owner}")
    return d


def hardware_identity(index: int = 0) -> str:
    """A stable identity of the local device: the GPU UUID, else the host's machine id + CPU."""
    try:
        import torch

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(index)
            uuid = getattr(props, "uuid", None)
            return f"cuda:{props.name}:{uuid}"
    except ImportError:
        pass
    mid = ""
    for p in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            mid = Path(p).read_text().strip()
            break
        except OSError:
            continue
    return f"cpu:{platform.node()}:{mid}:{platform.processor() or platform.machine()}:{index}"


def fingerprint(identity: str) -> bytes:
    return protocol.keccak(b"pinfi-device:" + identity.encode())


def _approve(ctx: Any, amount: int) -> None:
    token = ctx.c.token
    bal = int(ch.call(token.functions.balanceOf(ctx.address)))
    if bal < amount:
        raise AgentError(f"insufficient balance: owner {ctx.address} has {_tokens(bal)} PIN, "
                         f"needs {_tokens(amount)} PIN")
    allowance = int(ch.call(token.functions.allowance(ctx.address, ctx.c.staking.address)))
    if allowance < amount:
        ctx.sender.transact(token.functions.approve(ctx.c.staking.address, amount),
                            f"approve:{int(time.time() * 1000)}")


def _gas_check(ctx: Any) -> None:
    bal = ch.with_retry(lambda: ctx.w3.eth.get_balance(ctx.address), what="eth_getBalance")
    if bal == 0:
        raise AgentError(f"insufficient balance: {ctx.address} has 0 ETH for gas")


# ---------------------------------------------------------------------------------------------
# subcommands
# ---------------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    d = Path(args.dir)
    cfg_path = d / "agent.toml"
    if cfg_path.exists() and not args.force:
        raise AgentError(f"{cfg_path} exists (use --force to overwrite the config; keystores are "
                         "never overwritten)")
    d.mkdir(parents=True, exist_ok=True)
    keys = d / "keys"
    out: dict[str, str] = {}
    for role in ("owner", "operator"):
        path = keys / f"{role}.json"
        pw_file = getattr(args, f"{role}_password_file")
        if path.exists():
            out[role] = keystore.address_of(path)
            continue
        pw = keystore.password(role, Path(pw_file) if pw_file else None)
        key_file = getattr(args, f"import_{role}_key")
        key = Path(key_file).read_text().strip() if key_file else None
        out[role] = keystore.create(path, pw, key, iterations=args.scrypt_n)
    data: dict[str, Any] = {
        "rpc_url": args.rpc_url,
        "deployment": str(Path(args.deployment).resolve()) if args.deployment else
        "deployments/31337.json",
        "data_dir": "data",
        "devices": [],
        "backend": args.backend or "auto",
        "torch_mode": "int8",
        "confirmations": args.confirmations,
        "poll_interval": 1.0,
        "safety_margin_blocks": 2,
        "metrics_port": args.metrics_port,
        "keys": {
            "owner_keystore": "keys/owner.json",
            "operator_keystore": "keys/operator.json",
            "operator_password_file": (str(Path(args.operator_password_file).resolve())
                                       if args.operator_password_file else None),
        },
        "jobs": {"command": args.job_command},
    }
    config_mod.write(cfg_path, data)
    print(f"wrote {cfg_path}")
    print(f"owner    {out['owner']}  (keys/owner.json: bonds stake, claims rewards)")
    print(f"operator {out['operator']}  (keys/operator.json: commits and opens proofs)")
    print("next: fund the owner with PIN + ETH and the operator with ETH, then "
          f"provider-agent register --config {cfg_path} --class <id>")
    return 0


def cmd_challenge(args: argparse.Namespace) -> int:
    seed = bytes.fromhex(args.seed.removeprefix("0x"))
    if len(seed) != 32:
        raise AgentError("--seed must be 32 bytes (0x + 64 hex digits)")
    backend = make_backend(args.backend or "auto", args.torch_mode or "int8")
    progress = None
    if args.n >= 2048 and not args.quiet:
        def progress(frac: float) -> None:
            print(f"\r{backend.name} n={args.n}: {100 * frac:5.1f}% of rows", end="",
                  file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    res = backend.compute(seed, args.n, args.leaf, progress, spot_checks=args.spot_checks)
    wall = time.perf_counter() - t0
    if progress is not None:
        print(file=sys.stderr)
    info = {"root": "0x" + res.root.hex(), "n": args.n, "leaf": args.leaf,
            "backend": backend.describe(), **res.timings(), "wall_s": round(wall, 4),
            "gflops": round(2 * args.n**3 / max(res.product_s, 1e-9) / 1e9, 1)}
    if args.json:
        print(json.dumps(info))
    else:
        print(info["root"])
        print(f"n={args.n} L={args.leaf} backend={info['backend']} product={res.product_s:.3f}s "
              f"tree={res.tree_s:.3f}s total={wall:.3f}s ({info['gflops']} GFLOP/s)",
              file=sys.stderr)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    backend = make_backend(args.backend or "auto", args.torch_mode or "int8")
    backend.self_check()
    rows = []
    print(f"backend: {backend.describe()}")
    print(f"{'n':>6} {'leaf':>5} {'product_s':>10} {'tree_s':>8} {'total_s':>8} {'GFLOP/s':>8}")
    for n in args.sizes:
        seed = protocol.keccak(b"pinfi-agent-bench" + n.to_bytes(4, "big"))
        best = None
        for _ in range(args.repeat):
            r = backend.compute(seed, n, args.leaf)
            if best is None or r.total_s < best.total_s:
                best = r
        assert best is not None
        gf = 2 * n**3 / max(best.product_s, 1e-9) / 1e9
        rows.append({"n": n, "leaf": args.leaf, **best.timings(), "gflops": round(gf, 1)})
        print(f"{n:>6} {args.leaf:>5} {best.product_s:>10.3f} {best.tree_s:>8.3f} "
              f"{best.total_s:>8.3f} {gf:>8.1f}")
    # Suggest: sizing rule of PROTOCOL.md: pipeline time about half the commit window.
    budget = args.commit_window * args.block_time / 2
    big = rows[-1]
    flops = 2 * big["n"] ** 3 / max(big["product_s"], 1e-9)
    tree_rate = big["n"] ** 2 / max(big["tree_s"], 1e-9)
    fit = None
    for k in range(4, 17):
        n = 1 << k
        if 2 * n**3 / flops + n * n / tree_rate <= budget:
            fit = n
    suggestion: dict[str, Any] = {"effective_gflops": round(flops / 1e9, 1),
                                  "budget_s": budget, "max_n": fit}
    classes = []
    if args.config:
        cfg = config_mod.load(args.config)
        classes = list(cfg.deployment.params.get("classes", []))
    fitting = [c for c in classes if "n" in c and
               2 * int(c["n"]) ** 3 / flops + int(c["n"]) ** 2 / tree_rate
               <= int(c.get("commitWindow", args.commit_window)) * args.block_time / 2]
    if fitting:
        best_cls = max(fitting, key=lambda c: int(c["n"]))
        suggestion["class"] = best_cls.get("name", best_cls.get("id"))
    print(f"effective throughput {flops / 1e9:.1f} GFLOP/s; the largest n whose challenge fits "
          f"half of a {args.commit_window}-block window at {args.block_time:g}s blocks: {fit}")
    if "class" in suggestion:
        print(f"suggested class: {suggestion['class']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"backend": backend.describe(), "rows": rows,
                                               "suggestion": suggestion}, indent=2) + "\n")
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    cfg = _load(args)
    ctx = open_context(cfg, "owner", journal_name="owner.db")
    _gas_check(ctx)
    operator = keystore.address_of(cfg.operator_keystore)
    cls = ch.call(ctx.c.staking.functions.classes(args.class_id))
    if not cls[3]:
        raise AgentError(f"unknown class {args.class_id} on chain {cfg.deployment.chain_id}")
    min_bond = int(cls[0])
    ident = args.fingerprint or hardware_identity(args.gpu or 0)
    fp = fingerprint(ident)
    holder = int(ch.call(ctx.c.staking.functions.deviceOfFingerprint(fp)))
    if holder:
        raise AgentError(f"this hardware ({ident}) is already registered as device {holder}")
    _approve(ctx, min_bond)
    rc = ctx.sender.transact(ctx.c.staking.functions.registerDevice(args.class_id, fp, operator),
                             f"register:{fp.hex()[:16]}")
    events = ctx.c.staking.events.DeviceRegistered().process_receipt(rc, errors=DISCARD)
    dev = int(events[0]["args"]["deviceId"])
    if not args.no_update_config:
        config_mod.set_devices(cfg.path, [*cfg.devices, dev])
    print(f"registered device {dev} (class {args.class_id}, bond {_tokens(min_bond)} PIN, "
          f"operator {operator}); it is Pending until it passes its first challenge")
    print(dev)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .daemon import Daemon

    cfg = _load(args)
    if args.cheat_fraction is not None:
        cfg.cheat_fraction = args.cheat_fraction
    setup_logging(args.verbose, args.log_format or cfg.log_format)
    if cfg.cheat_fraction:
        log.warning("TEST ONLY fault injection: cheat_fraction=%.2f; this agent WILL be slashed",
                    cfg.cheat_fraction)
    daemon = Daemon.from_config(cfg)
    daemon.start()
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    daemon.run(stop)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .verifier import Keeper

    cfg = _load(args)
    setup_logging(args.verbose, args.log_format or cfg.log_format)
    ctx = open_context(cfg, "verifier", journal_name="verifier.db")
    _gas_check(ctx)
    devices = None if args.devices in (None, "all") else [int(x) for x in args.devices.split(",")]
    keeper = Keeper(ctx, devices, dispute=not args.no_dispute,
                    report_missed=not args.no_report_missed, deep=args.deep)
    keeper.start()
    ctx.metrics.serve(cfg.metrics_port, cfg.metrics_host)
    if args.once:
        return 0 if keeper.step() else EXIT_ERROR
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    keeper.run(stop)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    cfg = _load(args)
    w3 = ch.connect(cfg.rpc_url, cfg.deployment.chain_id)
    c = ch.load_contracts(w3, cfg.deployment)
    operator = keystore.address_of(cfg.operator_keystore)
    journal = Journal(cfg.data_dir / "agent.db")
    head = int(w3.eth.block_number)
    genesis = int(ch.call(c.staking.functions.genesisBlock()))
    eb = int(ch.call(c.staking.functions.epochBlocks()))
    epoch = (head - genesis) // eb if head >= genesis else -1
    bal = int(w3.eth.get_balance(operator))
    rows = []
    for dev in cfg.devices:
        d = ch.call(c.staking.functions.getDevice(dev))
        if d[0] == ZERO_ADDRESS:
            rows.append({"device": dev, "state": "unknown"})
            continue
        earned = int(ch.call(c.staking.functions.earned(dev)))
        pool_claim = int(ch.call(c.pool.functions.claimable(dev))) if c.pool is not None else 0
        counts = journal.count_states(dev)
        recent = journal.recent_proofs(dev, 1)
        last = f"e{recent[0].epoch} {recent[0].state}" if recent else "-"
        rows.append({
            "device": dev, "class": int(d[1]), "state": DEVICE_STATES[int(d[2])],
            "bond": int(d[8]) / 1e18, "earned": earned / 1e18, "pool": pool_claim / 1e18,
            "passed": counts.get("DONE", 0) + counts.get("OPENED", 0),
            "failed": counts.get("FAILED", 0) + counts.get("MISSED", 0), "last": last,
            "operator_ok": str(d[5]).lower() == operator.lower(),
        })
    if args.json:
        print(json.dumps({"chainId": cfg.deployment.chain_id, "head": head, "epoch": epoch,
                          "operator": operator, "operatorBalance": bal / 1e18, "devices": rows}))
        return 0
    print(f"chain {cfg.deployment.chain_id}  head {head}  epoch {epoch}  operator {operator} "
          f"({bal / 1e18:.4f} ETH)")
    hdr = (f"{'device':>6}  {'class':>5}  {'state':<11} {'bond PIN':>12} {'earned PIN':>12} "
           f"{'pool PIN':>10} {'passed':>6} {'failed':>6}  last")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        if r["state"] == "unknown":
            print(f"{r['device']:>6}  {'?':>5}  unknown")
            continue
        warn = "" if r["operator_ok"] else "  (operator is not this agent's key!)"
        print(f"{r['device']:>6}  {r['class']:>5}  {r['state']:<11} {r['bond']:>12,.2f} "
              f"{r['earned']:>12,.4f} {r['pool']:>10,.4f} {r['passed']:>6} {r['failed']:>6}  "
              f"{r['last']}{warn}")
    return 0


def cmd_claim(args: argparse.Namespace) -> int:
    cfg = _load(args)
    ctx = open_context(cfg, "owner", journal_name="owner.db")
    _gas_check(ctx)
    total = 0
    for dev in _devices(cfg, args):
        _check_device(ctx, dev, ctx.address)
        targets = [("staking", ctx.c.staking)]
        if ctx.c.pool is not None:
            targets.append(("pool", ctx.c.pool))
        for name, contract in targets:
            fn = contract.functions.claim(dev)
            try:
                ctx.sender.estimate(fn)
            except ch.TxReverted as err:
                if err.name == "NothingToClaim":
                    continue
                raise AgentError(f"claim {name} device {dev}: {err.error}") from None
            bal0 = int(ch.call(ctx.c.token.functions.balanceOf(ctx.address)))
            ctx.sender.transact(fn, f"claim-{name}:{dev}:{int(time.time() * 1000)}")
            got = int(ch.call(ctx.c.token.functions.balanceOf(ctx.address))) - bal0
            total += got
            print(f"device {dev}: claimed {_tokens(got)} PIN from {name}")
    print(f"total claimed {_tokens(total)} PIN")
    return 0


def cmd_unjail(args: argparse.Namespace) -> int:
    cfg = _load(args)
    ctx = open_context(cfg, "owner", journal_name="owner.db")
    _gas_check(ctx)
    for dev in _devices(cfg, args):
        d = _check_device(ctx, dev, ctx.address)
        if DEVICE_STATES[int(d["state"])] != "Jailed":
            raise AgentError(f"device {dev} is {DEVICE_STATES[int(d['state'])]}, not Jailed")
        min_bond = int(ch.call(ctx.c.staking.functions.classes(int(d["classId"])))[0])
        top_up = max(0, min_bond - int(d["bond"]))
        if top_up:
            _approve(ctx, top_up)
        ctx.sender.transact(ctx.c.staking.functions.unjail(dev), f"unjail:{dev}:{time.time()}")
        print(f"device {dev} unjailed (topped up {_tokens(top_up)} PIN); Pending until it passes "
              "a challenge")
    return 0


def cmd_exit(args: argparse.Namespace) -> int:
    cfg = _load(args)
    ctx = open_context(cfg, "owner", journal_name="owner.db")
    _gas_check(ctx)
    for dev in _devices(cfg, args):
        d = _check_device(ctx, dev, ctx.address)
        state = DEVICE_STATES[int(d["state"])]
        if args.withdraw:
            if state != "Exiting":
                raise AgentError(f"device {dev} is {state}; run exit without --withdraw first")
            head = int(ctx.w3.eth.block_number)
            if head + 1 < int(d["unbondAt"]):
                raise AgentError(f"device {dev} is unbonding until block {d['unbondAt']} "
                                 f"(head {head})")
            ctx.sender.transact(ctx.c.staking.functions.withdraw(dev), f"withdraw:{dev}")
            print(f"device {dev}: bond {_tokens(int(d['bond']))} PIN withdrawn")
            continue
        if state in ("Exiting", "Withdrawn"):
            raise AgentError(f"device {dev} is already {state}")
        rc = ctx.sender.transact(ctx.c.staking.functions.deregister(dev), f"exit:{dev}")
        ev = ctx.c.staking.events.DeviceExiting().process_receipt(rc, errors=DISCARD)
        unbond = int(ev[0]["args"]["unbondAt"]) if ev else 0
        print(f"device {dev} exiting; bond withdrawable from block {unbond} "
              f"(provider-agent exit --withdraw); keep the agent running for this epoch")
    return 0


# ---------------------------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="provider-agent",
        description="PinFi provider agent: prove your devices with PoCPS, serve leases, verify "
                    "others.")
    ap.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    ap.add_argument("--log-format", choices=("text", "json"), default=None,
                    help="log line format (default: config's log_format, text)")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", "-c", default=os.environ.get("PINFI_AGENT_CONFIG", "agent.toml"),
                       help="agent config file (default: $PINFI_AGENT_CONFIG or agent.toml)")

    def with_backend(p: argparse.ArgumentParser) -> None:
        p.add_argument("--backend", choices=BACKENDS, default=None,
                       help="workload backend (default: config, else auto = cuda if a GPU is "
                            "visible to torch, else cpu)")
        p.add_argument("--torch-mode", choices=TORCH_MODES, default=None,
                       help="cuda backend arithmetic: int8 (int32 accumulation, default), fp16 or "
                            "bf16 (fp32 accumulation), fp32 (TF32); all exact")

    p = sub.add_parser("init", help="write a config and encrypted owner/operator keystores",
                       description="Create agent.toml and keys/{owner,operator}.json (encrypted "
                                   "eth-account keystores; passwords from --*-password-file, "
                                   "$PINFI_OWNER_PASSWORD / $PINFI_OPERATOR_PASSWORD or a "
                                   "prompt). No private key is ever written to the config.")
    p.add_argument("--dir", default=".", help="directory for agent.toml and keys/")
    p.add_argument("--rpc-url", default="http://127.0.0.1:8545")
    p.add_argument("--deployment", default=None, help="deployments/<chainId>.json")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.add_argument("--confirmations", type=int, default=2)
    p.add_argument("--metrics-port", type=int, default=9464)
    p.add_argument("--job-command", default=None, help="lease job command template")
    p.add_argument("--owner-password-file", default=None)
    p.add_argument("--operator-password-file", default=None,
                   help="also referenced from the config so `run` starts unattended")
    p.add_argument("--import-owner-key", default=None, metavar="FILE",
                   help="import the owner's private key from FILE (hex) instead of creating one")
    p.add_argument("--import-operator-key", default=None, metavar="FILE")
    p.add_argument("--scrypt-n", type=int, default=None,
                   help="scrypt cost of the keystores (default eth-account's 262144)")
    p.add_argument("--force", action="store_true", help="overwrite an existing agent.toml")
    p.set_defaults(fn=cmd_init)

    p = sub.add_parser("bench", help="measure the device and suggest a class",
                       description="Time the challenge pipeline (product + Merkle tree) and "
                                   "suggest the largest n (and class, with --config) whose "
                                   "challenge fits half of the commit window.")
    with_backend(p)
    p.add_argument("--sizes", type=_sizes, default=[256, 512, 1024, 2048],
                   help="comma-separated n (default 256,512,1024,2048)")
    p.add_argument("--leaf", type=int, default=32)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--block-time", type=float, default=12.0)
    p.add_argument("--commit-window", type=int, default=100, help="blocks")
    p.add_argument("--config", default=None, help="read the deployment's classes from this config")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the results here")
    p.set_defaults(fn=cmd_bench)

    p = sub.add_parser("register", help="bond stake and register this device",
                       description="Approve the class's minimum bond and register the device "
                                   "(owner key) with this agent's operator key; adds the new "
                                   "device id to the config.")
    with_config(p)
    p.add_argument("--class", dest="class_id", type=int, required=True, help="device class id")
    p.add_argument("--fingerprint", default=None,
                   help="hardware identity string (default: GPU UUID or machine id)")
    p.add_argument("--gpu", type=int, default=None, help="CUDA index for the fingerprint")
    p.add_argument("--no-update-config", action="store_true")
    p.set_defaults(fn=cmd_register)

    p = sub.add_parser("run", help="run the daemon (prove challenges, serve leases, metrics)",
                       description="Follow new blocks; for every selected (device, epoch): "
                                   "compute, commit before the window closes, open the samples. "
                                   "Every step is journaled in <data_dir>/agent.db, so a restart "
                                   "(even after SIGKILL) resumes without double-submitting.")
    with_config(p)
    with_backend(p)
    p.add_argument("--cheat-fraction", type=float, default=None, metavar="F", help=CHEAT_HELP)
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("status", help="print the devices' state, bond, rewards and proofs")
    with_config(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_status)

    p = sub.add_parser("claim", help="claim maintenance rewards and released lease escrow")
    with_config(p)
    p.add_argument("--device", type=int, default=None, help="one device (default: all)")
    p.set_defaults(fn=cmd_claim)

    p = sub.add_parser("unjail", help="top the bond up and bring a jailed device back (Pending)")
    with_config(p)
    p.add_argument("--device", type=int, default=None, help="one device (default: all)")
    p.set_defaults(fn=cmd_unjail)

    p = sub.add_parser("exit", help="deregister (start unbonding) or --withdraw the bond")
    with_config(p)
    p.add_argument("--device", type=int, default=None, help="one device (default: all)")
    p.add_argument("--withdraw", action="store_true", help="withdraw after unbonding")
    p.set_defaults(fn=cmd_exit)

    p = sub.add_parser("verify", help="keeper mode: checkpoint, report misses, dispute frauds",
                       description="Checkpoint epochs, recompute every opening's unchecked "
                                   "samples and dispute wrong ones, report selected devices "
                                   "without a valid opening. Uses [keys] verifier_keystore "
                                   "(else the operator key: do not run it beside `run` with the "
                                   "same key).")
    with_config(p)
    p.add_argument("--devices", default=None, help="comma-separated ids (default: all devices)")
    p.add_argument("--deep", action="store_true",
                   help="recompute every entry of every opened leaf (slower)")
    p.add_argument("--no-dispute", action="store_true")
    p.add_argument("--no-report-missed", action="store_true")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.set_defaults(fn=cmd_verify)

    p = sub.add_parser("challenge", help="compute one challenge offline and print its root",
                       description="Compute C = A x B for challenge seed s (PROTOCOL.md 4.3) "
                                   "and print its Merkle root (0x hex) on stdout and the timings "
                                   "on stderr.")
    p.add_argument("--seed", required=True, help="challenge seed s, 0x + 64 hex digits")
    p.add_argument("--n", type=int, required=True, help="matrix size (power of two >= 16)")
    p.add_argument("--leaf", type=int, required=True, help="entries per leaf L")
    with_backend(p)
    p.add_argument("--spot-checks", type=int, default=0,
                   help="recompute this many random entries in O(n) as a cross-check")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(fn=cmd_challenge)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.cmd not in ("run", "verify"):
        setup_logging(args.verbose, args.log_format or "text")
        if not args.verbose:
            logging.getLogger().setLevel(logging.WARNING)
    try:
        return int(args.fn(args) or 0)
    except (AgentError, ConfigError, KeystoreError, BackendError, ch.ChainError,
            protocol.ProtocolError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
