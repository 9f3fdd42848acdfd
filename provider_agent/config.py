"""Agent configuration: one TOML file, no private key ever in it.

Example (``provider-agent init`` writes one)::

    rpc_url = "http://127.0.0.1:8545"
    deployment = "deployments/31337.json"   # or a [contracts] table + chain_id
    data_dir = "data"                         # SQLite journal, saved trees, job logs
    devices = [1, 2]
    backend = "auto"                          # auto | cpu | cuda | torch-cpu
    torch_mode = "int8"                       # int8 | fp16 | bf16 | fp32 (cuda backend)
    confirmations = 2
    poll_interval = 1.0
    safety_margin_blocks = 2
    metrics_port = 9464                       # run's /metrics (0: none); init picks a free one
    verify_metrics_port = 0                   # verify's /metrics (0: none)
    discover_devices = true                   # also prove chain devices whose operator is our key
    prove_workers = 0                         # challenges computed at once per backend (0: auto)

    [keys]
    owner_keystore = "keys/owner.json"
    operator_keystore = "keys/operator.json"
    operator_password_file = "keys/operator.pass"   # or env PINFI_OPERATOR_PASSWORD

    [jobs]
    command = "docker run --rm --gpus device={gpu} myjob:latest {job_spec}"
    stop_grace_s = 10                         # SIGTERM, then SIGKILL after this many seconds

    [cuda_devices]                            # PinFi device id -> CUDA index
    "1" = 0

Relative paths are relative to the config file. ``cheat_fraction`` (TEST ONLY) corrupts that
fraction of C's rows before committing; never set it on a real deployment.
"""

from __future__ import annotations

import difflib
import re
import shlex
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pinfi.chain import ChainError, Deployment

_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_FORBIDDEN = ("private_key", "privatekey", "privkey", "secret_key", "mnemonic", "seed_phrase")


class ConfigError(ValueError):
    """A bad configuration; the message is one line for the operator."""


#: The ``{placeholders}`` of ``[jobs] command`` (see provider_agent.leases).
JOB_PLACEHOLDERS = ("lease_id", "device_id", "client", "class_id", "start_epoch", "end_epoch",
                    "job_spec", "cost", "gpu")


def check_job_command(cmd: str, where: str = "[jobs] command") -> None:
    """Reject a job command template that cannot be filled for every lease: an unknown
    ``{placeholder}`` (a typo such as ``{leaseid}``), a positional ``{}``, unbalanced braces or
    an unsplittable line. Checked when the config loads, never at a lease's start."""
    try:
        parts = shlex.split(cmd)
    except ValueError as err:
        raise ConfigError(f"{where} cannot be split into arguments: {err}") from None
    if not parts:
        raise ConfigError(f"{where} is empty")
    known = ", ".join("{" + p + "}" for p in JOB_PLACEHOLDERS)
    for part in parts:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(part) if f is not None]
        except ValueError as err:
            raise ConfigError(f"{where}: bad braces in {part!r} ({err}; write {{{{ and }}}} for "
                              "literal braces)") from None
        for f in fields:
            name = re.split(r"[.\[!:]", f, maxsplit=1)[0]
            if name in JOB_PLACEHOLDERS and name == f:
                continue
            if name in JOB_PLACEHOLDERS:
                raise ConfigError(f"{where}: placeholder {{{f}}} takes no attribute, index or "
                                  f"format (write {{{name}}})")
            hint = difflib.get_close_matches(name, JOB_PLACEHOLDERS, n=1)
            did = f"did you mean {{{hint[0]}}}? " if hint else ""
            shown = "{" + f + "}" if f else "{}"
            raise ConfigError(f"{where} has unknown placeholder {shown}: {did}known: {known}")


@dataclass
class Config:
    path: Path
    rpc_url: str
    deployment: Deployment
    data_dir: Path
    devices: list[int]
    operator_keystore: Path
    owner_keystore: Path | None = None
    operator_password_file: Path | None = None
    owner_password_file: Path | None = None
    verifier_keystore: Path | None = None
    verifier_password_file: Path | None = None
    backend: str = "auto"
    torch_mode: str = "int8"
    cuda_devices: dict[int, int] = field(default_factory=dict)
    confirmations: int = 2
    poll_interval: float = 1.0
    safety_margin_blocks: int = 2
    checkpoint: bool = True
    spot_checks: int = 4
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    verify_metrics_port: int = 0
    discover_devices: bool = True
    prove_workers: int = 0
    priority_fee_gwei: float | None = None
    max_fee_gwei: float | None = None
    replace_after_blocks: int = 3
    bump_percent: int = 15
    min_operator_balance_eth: float = 0.0
    job_command: str | None = None
    job_stop_grace_s: float = 10.0
    keep_trees: int = 4
    log_format: str = "text"
    cheat_fraction: float = 0.0  # TEST ONLY


def _check_no_keys(obj: Any, where: str = "") -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            name = f"{where}.{k}" if where else str(k)
            if str(k).lower() in _FORBIDDEN:
                raise ConfigError(f"config key {name!r} would hold a secret: keep keys in "
                                  "encrypted keystores (provider-agent init)")
            _check_no_keys(v, name)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_no_keys(v, f"{where}[{i}]")
    elif isinstance(obj, str) and _HEX_KEY.match(obj.strip()):
        raise ConfigError(f"config value {where!r} looks like a private key: keep keys in "
                          "encrypted keystores (provider-agent init)")


def _path(base: Path, value: Any) -> Path | None:
    if value in (None, ""):
        return None
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else (base / p)


def load(path: str | Path) -> Config:
    """Read and validate a config file."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {p} not found (create one with provider-agent "
                          "init)") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {p} is not valid TOML: {err}") from None
    _check_no_keys(raw)
    base = p.resolve().parent
    keys = raw.get("keys", {})
    jobs = raw.get("jobs", {})
    test = raw.get("test", {})
    fees = raw.get("fees", {})
    try:
        if "deployment" in raw:
            dep_path = _path(base, raw["deployment"])
            assert dep_path is not None
            deployment = Deployment.load(dep_path)
        elif "contracts" in raw:
            deployment = Deployment.from_dict({"chainId": raw.get("chain_id"),
                                               "contracts": raw["contracts"],
                                               "deploymentBlock": raw.get("deployment_block", 0)},
                                              str(p))
        else:
            raise ConfigError(f"{p}: set deployment = \"deployments/<chainId>.json\" or a "
                              "[contracts] table")
    except ChainError as err:
        raise ConfigError(str(err)) from None
    if "rpc_url" not in raw:
        raise ConfigError(f"{p}: rpc_url is missing")
    op_ks = _path(base, keys.get("operator_keystore"))
    if op_ks is None:
        raise ConfigError(f"{p}: [keys] operator_keystore is missing")
    try:
        cfg = Config(
            path=p,
            rpc_url=str(raw["rpc_url"]),
            deployment=deployment,
            data_dir=_path(base, raw.get("data_dir", "data")) or base / "data",
            devices=[int(d) for d in raw.get("devices", [])],
            operator_keystore=op_ks,
            owner_keystore=_path(base, keys.get("owner_keystore")),
            operator_password_file=_path(base, keys.get("operator_password_file")),
            owner_password_file=_path(base, keys.get("owner_password_file")),
            verifier_keystore=_path(base, keys.get("verifier_keystore")),
            verifier_password_file=_path(base, keys.get("verifier_password_file")),
            backend=str(raw.get("backend", "auto")),
            torch_mode=str(raw.get("torch_mode", "int8")),
            cuda_devices={int(k): int(v) for k, v in raw.get("cuda_devices", {}).items()},
            confirmations=int(raw.get("confirmations", 2)),
            poll_interval=float(raw.get("poll_interval", 1.0)),
            safety_margin_blocks=int(raw.get("safety_margin_blocks", 2)),
            checkpoint=bool(raw.get("checkpoint", True)),
            spot_checks=int(raw.get("spot_checks", 4)),
            metrics_port=int(raw.get("metrics_port", 0)),
            metrics_host=str(raw.get("metrics_host", "127.0.0.1")),
            verify_metrics_port=int(raw.get("verify_metrics_port", 0)),
            discover_devices=bool(raw.get("discover_devices", True)),
            prove_workers=int(raw.get("prove_workers", 0)),
            priority_fee_gwei=(float(fees["priority_fee_gwei"])
                               if "priority_fee_gwei" in fees else None),
            max_fee_gwei=float(fees["max_fee_gwei"]) if "max_fee_gwei" in fees else None,
            replace_after_blocks=int(fees.get("replace_after_blocks", 3)),
            bump_percent=int(fees.get("bump_percent", 15)),
            min_operator_balance_eth=float(raw.get("min_operator_balance_eth", 0.0)),
            job_command=jobs.get("command"),
            job_stop_grace_s=float(jobs.get("stop_grace_s", 10.0)),
            keep_trees=int(raw.get("keep_trees", 4)),
            log_format=str(raw.get("log_format", "text")),
            cheat_fraction=float(test.get("cheat_fraction", raw.get("cheat_fraction", 0.0))),
        )
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{p}: bad value ({err})") from None
    if not 0.0 <= cfg.cheat_fraction <= 1.0:
        raise ConfigError(f"{p}: cheat_fraction must be in [0, 1]")
    if cfg.confirmations < 0 or cfg.safety_margin_blocks < 0:
        raise ConfigError(f"{p}: confirmations and safety_margin_blocks must be >= 0")
    for name in ("metrics_port", "verify_metrics_port"):
        port = getattr(cfg, name)
        if not 0 <= port <= 65535:
            raise ConfigError(f"{p}: {name} must be 0 (none) or a TCP port, got {port}")
    if cfg.metrics_port and cfg.metrics_port == cfg.verify_metrics_port:
        raise ConfigError(f"{p}: metrics_port and verify_metrics_port are both {cfg.metrics_port}"
                          ": run and verify would clash (pick two ports, or 0)")
    if cfg.prove_workers < 0 or cfg.job_stop_grace_s < 0:
        raise ConfigError(f"{p}: prove_workers and [jobs] stop_grace_s must be >= 0")
    if cfg.job_command is not None:
        if not isinstance(cfg.job_command, str):
            raise ConfigError(f"{p}: [jobs] command must be a string")
        check_job_command(cfg.job_command, f"{p}: [jobs] command")
    return cfg


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dump(data: dict[str, Any]) -> str:
    """Write a flat TOML document: top-level values, then one level of tables."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items()
             if not isinstance(v, dict) and v is not None]
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append("")
            lines.append(f"[{k}]")
            for kk, vv in v.items():
                if vv is not None:
                    key = kk if re.match(r"^[A-Za-z_][A-Za-z0-9_-]*$", str(kk)) else f'"{kk}"'
                    lines.append(f"{key} = {_toml_value(vv)}")
    return "\n".join(lines) + "\n"


def write(path: str | Path, data: dict[str, Any]) -> None:
    _check_no_keys(data)
    Path(path).write_text(dump(data))


def set_devices(path: str | Path, devices: list[int]) -> None:
    """Rewrite the ``devices = [...]`` line of a config file (keeps everything else)."""
    p = Path(path)
    text = p.read_text()
    line = f"devices = {_toml_value(sorted(set(devices)))}"
    if re.search(r"(?m)^devices\s*=.*$", text):
        text = re.sub(r"(?m)^devices\s*=.*$", line, text, count=1)
    else:
        text = line + "\n" + text
    p.write_text(text)
