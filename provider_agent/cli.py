"""``provider-agent``: the PinFi miner's command line.

Subcommands: init, bench, register, run, status, claim, unjail, exit, verify, challenge.
Every failure the operator can fix prints one ``error: ...`` line and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pinfi import chain as ch
from pinfi import protocol
from pinfi.types import UNIT

from . import config as config_mod
from . import keystore, owner
from .backends import BACKENDS, TORCH_MODES, BackendError, make_backend
from .config import Config, ConfigError
from .context import AgentError, open_context
from .keystore import KeystoreError
from .metrics import MetricsError

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
        msg = record.getMessage()
        out: dict[str, object] = {"ts": round(record.created, 3), "level": record.levelname,
                                  "logger": record.name, "msg": msg}
        for part in msg.split():
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
    """Wei of PIN as PIN for people (JSON output keeps the integer wei)."""
    return f"{x / UNIT:,.4f}"


#: Keys of token (and ETH) amounts in JSON output: integer wei as decimal strings, never floats.
AMOUNT_KEYS = frozenset({"bond", "earned", "pendingReward", "pool", "operatorBalance", "amount",
                         "cost"})


def _wei(obj: Any) -> Any:
    """JSON-ready copy of ``obj`` with every amount (``AMOUNT_KEYS``) as a decimal string of
    wei: JSON numbers lose precision above 2^53 and floats round."""
    if isinstance(obj, dict):
        return {k: str(v) if k in AMOUNT_KEYS and isinstance(v, int) else _wei(v)
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_wei(v) for v in obj]
    return obj


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


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


# ---------------------------------------------------------------------------------------------
# subcommands
# ---------------------------------------------------------------------------------------------


def _port(value: str, host: str = "127.0.0.1") -> int:
    """``auto``: a free port now; a number: that port (0: none)."""
    return free_port(host) if value == "auto" else int(value)


def cmd_init(args: argparse.Namespace) -> int:
    d = Path(args.dir)
    cfg_path = d / "agent.toml"
    if cfg_path.exists() and not args.force:
        raise AgentError(f"{cfg_path} exists (use --force to overwrite the config; keystores are "
                         "never overwritten)")
    dep = Path(args.deployment or "deployments/31337.json").resolve()
    if not dep.is_file():
        raise AgentError(f"deployment file {dep} not found (pass --deployment "
                         "deployments/<chainId>.json)")
    metrics_port = _port(args.metrics_port)
    verify_port = _port(args.verify_metrics_port)
    while verify_port and verify_port == metrics_port:
        verify_port = free_port()
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
        "deployment": str(dep),
        "data_dir": "data",
        "devices": [],
        "backend": args.backend or "auto",
        "torch_mode": "int8",
        "confirmations": args.confirmations,
        "poll_interval": 1.0,
        "safety_margin_blocks": 2,
        "metrics_port": metrics_port,
        "verify_metrics_port": verify_port,
        "keys": {
            "owner_keystore": "keys/owner.json",
            "operator_keystore": "keys/operator.json",
            "owner_password_file": (str(Path(args.owner_password_file).resolve())
                                    if args.owner_password_file else None),
            "operator_password_file": (str(Path(args.operator_password_file).resolve())
                                       if args.operator_password_file else None),
        },
        "jobs": {"command": args.job_command},
    }
    if args.job_command:
        config_mod.check_job_command(args.job_command, "--job-command")
    config_mod.write(cfg_path, data)
    where = cfg_path.resolve()
    print(f"wrote {where}")
    print(f"owner    {out['owner']}  (keys/owner.json: bonds stake, claims rewards)")
    print(f"operator {out['operator']}  (keys/operator.json: commits and opens proofs)")
    ports = ", ".join(f"{k} {v}" for k, v in (("run", metrics_port), ("verify", verify_port)) if v)
    print(f"/metrics ports: {ports or 'none'}")
    print("next: fund the owner with PIN + ETH and the operator with ETH, then")
    print(f"  export PINFI_AGENT_CONFIG={where}")
    print("  provider-agent bench                  # suggests a class for this device")
    print("  provider-agent register --class <name or id>")
    print("  provider-agent run")
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


def _chain_timing(cfg: Config) -> tuple[float, dict[str, int]]:
    """The deployment's block time (measured over the last blocks, else its parameters, else
    12 s) and each class's commit window in blocks (from the chain)."""
    from .context import ChainView

    w3 = ch.connect(cfg.rpc_url, cfg.deployment.chain_id)
    view = ChainView(cfg, w3, ch.load_contracts(w3, cfg.deployment))
    head = view.head()
    block_time = float(cfg.deployment.params.get("blockTime", 0) or 0)
    if head >= 20:
        t1 = int(w3.eth.get_block(head)["timestamp"])
        t0 = int(w3.eth.get_block(max(0, head - 200))["timestamp"])
        measured = (t1 - t0) / min(head, 200)
        if measured > 0:
            block_time = measured
    windows = {}
    for name, class_id in owner.class_names(cfg.deployment).items():
        pc = ch.reads.proof_params(view.c, class_id)
        if pc.exists:
            windows[name] = pc.params.commit_window
    return block_time or 12.0, windows


def cmd_bench(args: argparse.Namespace) -> int:
    cfg = config_mod.load(args.config) if args.config else None
    block_time, windows = (_chain_timing(cfg) if cfg is not None else (12.0, {}))
    if args.block_time is not None:
        block_time = args.block_time
    backend = make_backend(args.backend or (cfg.backend if cfg else "auto"),
                           args.torch_mode or (cfg.torch_mode if cfg else "int8"))
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
    # Sizing rule (docs/protocol.md#limits-and-sizing): the pipeline takes at most half the
    # commit window.
    big = rows[-1]
    flops = 2 * big["n"] ** 3 / max(big["product_s"], 1e-9)
    tree_rate = big["n"] ** 2 / max(big["tree_s"], 1e-9)

    def seconds(n: int) -> float:
        return 2 * n**3 / flops + n * n / tree_rate

    window = args.commit_window or (min(windows.values()) if windows else 100)
    budget = window * block_time / 2
    fit = max((1 << k for k in range(4, 17) if seconds(1 << k) <= budget), default=None)
    suggestion: dict[str, Any] = {"effective_gflops": round(flops / 1e9, 1), "budget_s": budget,
                                  "block_time_s": block_time, "max_n": fit}
    fitting = []
    if cfg is not None:
        params = {c.name: c for c in _class_table(cfg)}
        for name, cw in windows.items():
            if name in params and seconds(params[name].n) <= cw * block_time / 2:
                fitting.append((params[name].n, name))
    if fitting:
        suggestion["class"] = max(fitting)[1]
    src = "the deployment's" if cfg is not None else "an assumed"
    print(f"effective throughput {flops / 1e9:.1f} GFLOP/s; with {src} {block_time:g}s blocks "
          f"the largest n whose challenge fits half of a {window}-block commit window: {fit}")
    if "class" in suggestion:
        print(f"suggested class: {suggestion['class']} (provider-agent register --class "
              f"{suggestion['class']})")
    elif cfg is not None:
        print("no class of this deployment fits this device's speed")
    if args.json:
        Path(args.json).write_text(json.dumps({"backend": backend.describe(), "rows": rows,
                                               "suggestion": suggestion}, indent=2) + "\n")
    return 0


def _class_table(cfg: Config) -> list[Any]:
    """The deployment's classes as typed parameters (the shipped table fills the gaps)."""
    from pinfi import params as params_mod

    table = {c.id: c for c in params_mod.default_params().classes}
    for raw in cfg.deployment.class_entries():
        try:
            c = params_mod.as_class(raw)
        except Exception:  # an entry without the full schema: keep the shipped one
            continue
        table[c.id] = c
    names = owner.class_names(cfg.deployment)
    return [c for c in table.values() if names.get(c.name) == c.id]


def cmd_register(args: argparse.Namespace) -> int:
    cfg = _load(args)
    ctx = open_context(cfg, "owner", journal_name="owner.db")
    operator = keystore.address_of(cfg.operator_keystore)
    ident = args.fingerprint or owner.hardware_identity(args.gpu or 0)
    r = owner.register(ctx, args.class_id, ident, operator)
    if not args.no_update_config:
        config_mod.set_devices(cfg.path, [*cfg.devices, r.device_id])
    name = cfg.deployment.class_name(r.class_id)
    print(f"registered device {r.device_id} (class {name} ({r.class_id}), bond "
          f"{_tokens(r.bond)} PIN, operator {operator}); it is Pending until it passes its "
          "first challenge (a running daemon picks it up by itself)")
    print(r.device_id)
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
    owner.gas_check(ctx)
    devices = None if args.devices in (None, "all") else [int(x) for x in args.devices.split(",")]
    keeper = Keeper(ctx, devices, dispute=not args.no_dispute,
                    report_missed=not args.no_report_missed, deep=args.deep)
    keeper.start()
    try:
        ctx.metrics.serve(cfg.verify_metrics_port, cfg.metrics_host, "verify_metrics_port")
    except MetricsError as err:
        log.error("%s; verifying without /metrics", err)
    if args.once:
        return 0 if keeper.step() else EXIT_ERROR
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    keeper.run(stop)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from . import status

    cfg = _load(args)
    rep = status.gather(cfg)
    if args.json:
        print(json.dumps(_wei(rep)))
        return 0
    daemon = rep["daemon"]
    running = (f"daemon pid {daemon['pid']} at head {daemon['head']}" if daemon["running"]
               else "no daemon running")
    print(f"chain {rep['chainId']}  head {rep['head']}  epoch {rep['epoch']}  operator "
          f"{rep['operator']} ({rep['operatorBalance'] / UNIT:.4f} ETH)  {running}")
    hdr = (f"{'device':>6}  {'class':<10} {'state':<11} {'bond PIN':>12} {'earned PIN':>12} "
           f"{'pool PIN':>10} {'passed':>6} {'failed':>6}  last")
    print(hdr)
    print("-" * len(hdr))
    for r in rep["devices"]:
        if r["state"] == "unknown":
            print(f"{r['device']:>6}  {'?':<10} unknown")
            continue
        warn = "" if r["operatorOk"] else "  (operator is not this agent's key!)"
        print(f"{r['device']:>6}  {r['className']:<10} {r['state']:<11} {_tokens(r['bond']):>12} "
              f"{_tokens(r['earned']):>12} {_tokens(r['pool']):>10} {r['passed']:>6} "
              f"{r['failed']:>6}  {r['last']}{warn}")
        pad = " " * 8
        print(f"{pad}daemon: {r['servedWhy']}")
        if r.get("pendingReward"):
            print(f"{pad}pending reward: {_tokens(r['pendingReward'])} PIN (final once its "
                  "epoch is over)")
        w = r["commitWindow"]
        if w is not None:
            due = "commit under way" if w["due"] else "commit due unless exempt"
            print(f"{pad}commit window: epoch {w['epoch']}, blocks {w['from']}-{w['until']} "
                  f"({due})")
        for pr in r["proofs"]:
            drawn = {True: ", must open", False: ", not drawn", None: ""}[pr["mustOpen"]]
            print(f"{pad}epoch {pr['epoch']}: {pr['status']} ({pr['mode']}{drawn})"
                  + ("  grace miss: next epoch owed" if pr["missed"] else ""))
        if r["jailed"]:
            print(f"{pad}jailed: {r['jailed']}")
        lease = r["lease"]
        if lease is not None:
            live = "live" if lease["live"] else "ended"
            print(f"{pad}lease {lease['label']} ({live}): client {lease['client']}, epochs "
                  f"[{lease['startEpoch']}, {lease['endEpoch']}), job {lease['job']}")
    return 0


def cmd_claim(args: argparse.Namespace) -> int:
    cfg = _load(args)
    ctx = open_context(cfg, "owner", journal_name="owner.db")
    claimed = owner.claim(ctx, _devices(cfg, args))
    for c in claimed:
        print(f"device {c.device_id}: claimed {_tokens(c.amount)} PIN from {c.source}")
    print(f"total claimed {_tokens(sum(c.amount for c in claimed))} PIN")
    return 0


def cmd_unjail(args: argparse.Namespace) -> int:
    cfg = _load(args)
    ctx = open_context(cfg, "owner", journal_name="owner.db")
    for dev, top_up in owner.unjail(ctx, _devices(cfg, args)):
        print(f"device {dev} unjailed (topped up {_tokens(top_up)} PIN); Pending until it passes "
              "a challenge")
    return 0


def cmd_exit(args: argparse.Namespace) -> int:
    cfg = _load(args)
    ctx = open_context(cfg, "owner", journal_name="owner.db")
    devices = _devices(cfg, args)
    if args.withdraw:
        for dev, amount in owner.withdraw(ctx, devices):
            print(f"device {dev}: bond {_tokens(amount)} PIN withdrawn")
        return 0
    for dev, unbond in owner.exit_devices(ctx, devices):
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
    p.add_argument("--metrics-port", default="auto",
                   help="run's /metrics port: auto (a free port, default), a number, or 0 (none)")
    p.add_argument("--verify-metrics-port", default="0",
                   help="verify's /metrics port: auto, a number, or 0 (none, default)")
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
    p.add_argument("--block-time", type=float, default=None,
                   help="seconds (default: measured on the deployment's chain with --config, "
                        "else 12)")
    p.add_argument("--commit-window", type=int, default=None,
                   help="blocks (default: the deployment's smallest, else 100)")
    p.add_argument("--config", default=os.environ.get("PINFI_AGENT_CONFIG"),
                   help="read the deployment's classes, windows and block time through this "
                        "config (default: $PINFI_AGENT_CONFIG)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the results here")
    p.set_defaults(fn=cmd_bench)

    p = sub.add_parser("register", help="bond stake and register this device",
                       description="Approve the class's minimum bond and register the device "
                                   "(owner key) with this agent's operator key; adds the new "
                                   "device id to the config.")
    with_config(p)
    p.add_argument("--class", dest="class_id", required=True,
                   help="device class: a name (cpu-test, rtx4090, ...) or an id")
    p.add_argument("--fingerprint", default=None,
                   help="hardware identity string (default: GPU UUID or machine id)")
    p.add_argument("--gpu", type=int, default=None, help="CUDA index for the fingerprint")
    p.add_argument("--no-update-config", action="store_true")
    p.set_defaults(fn=cmd_register)

    p = sub.add_parser("run", help="run the daemon (prove challenges, serve leases, metrics)",
                       description="Follow new blocks; every epoch, for every device that is "
                                   "not exempt: compute, commit before the window closes, and "
                                   "after the deadline open the samples if the commitment was "
                                   "drawn (or is owed). "
                                   "Every step is journaled in <data_dir>/agent.db, so a restart "
                                   "(even after SIGKILL) resumes without double-submitting.")
    with_config(p)
    with_backend(p)
    p.add_argument("--cheat-fraction", type=float, default=None, metavar="F", help=CHEAT_HELP)
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("status", help="print the devices' state, bond, rewards, proofs, lease, "
                                      "next commit window and whether the daemon serves them")
    with_config(p)
    p.add_argument("--json", action="store_true",
                   help="one JSON object; token amounts as integer wei strings")
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
                                   "samples and dispute wrong ones, report devices that did "
                                   "not commit, or were drawn and did not open. Uses [keys] "
                                   "verifier_keystore (else the operator key: do not run it "
                                   "beside `run` with the same key).")
    with_config(p)
    p.add_argument("--devices", default=None, help="comma-separated ids (default: all devices)")
    p.add_argument("--deep", action="store_true",
                   help="recompute every entry of every opened leaf (slower)")
    p.add_argument("--no-dispute", action="store_true")
    p.add_argument("--no-report-missed", action="store_true")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.set_defaults(fn=cmd_verify)

    p = sub.add_parser("challenge", help="compute one challenge offline and print its root",
                       description="Compute C = A x B for challenge seed s "
                                   "(docs/protocol.md#the-product-c) "
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
    except (AgentError, ConfigError, KeystoreError, BackendError, ch.ChainError, MetricsError,
            protocol.ProtocolError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
