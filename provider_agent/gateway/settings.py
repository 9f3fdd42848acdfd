"""Gateway settings: the ``[gateway]`` table of the agent's config file (docs/delivery.md#gateway).

::

    [gateway]
    enabled = true              # provider-agent run starts the gateway process
    host = "0.0.0.0"
    port = 8470
    public_url = "https://gw.example.org:8470"   # what `provider-agent` publishes on-chain
    retention_s = 604800        # finished jobs' outputs, logs and receipts are kept this long
    max_upload_mb = 1024        # largest input file
    stop_grace_s = 10           # SIGTERM, then SIGKILL after this many seconds
    sandbox = "auto"            # auto (bubblewrap when installed) | bwrap | none
    ro_binds = []               # extra host paths read-only in the sandbox: "PATH" (same
                                # place) or "HOST:SANDBOX" (e.g. a venv under /work elsewhere)
    job_network = false         # network inside a job (bwrap or docker; a service port implies it)
    default_wall_s = 0          # wall-clock limit when the manifest sets none (0: the lease)
    poll_interval = 0.5         # how often jobs and leases are checked

Everything else (RPC, deployment, operator key, data_dir) comes from the agent config itself.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provider_agent.config import Config, ConfigError
from provider_agent.config import load as load_agent_config

SANDBOXES = ("auto", "bwrap", "none")


@dataclass
class GatewaySettings:
    agent: Config
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8470
    public_url: str = ""
    data_dir: Path = Path("gateway")
    retention_s: int = 7 * 86400
    max_upload_mb: float = 1024.0
    stop_grace_s: float = 10.0
    sandbox: str = "auto"
    ro_binds: list[str] = field(default_factory=list)
    job_network: bool = False
    default_wall_s: int = 0
    poll_interval: float = 0.5

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def ro_bind_pairs(self) -> list[tuple[str, str]]:
        """``ro_binds`` as (host path, sandbox path): ``"PATH"`` or ``"HOST:SANDBOX"``."""
        out = []
        for entry in self.ro_binds:
            src, sep, dest = entry.partition(":")
            out.append((src, dest if sep else src))
        return out


def load(path: str | Path) -> GatewaySettings:
    """The agent config and its ``[gateway]`` table (``ConfigError``, one line, when bad)."""
    agent = load_agent_config(path)
    raw: dict[str, Any] = tomllib.loads(Path(path).read_text()).get("gateway", {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [gateway] must be a table")
    known = set(GatewaySettings.__dataclass_fields__) - {"agent"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown [gateway] key {unknown[0]!r} (known: "
                          f"{', '.join(sorted(known))})")
    s = GatewaySettings(agent, data_dir=agent.data_dir / "gateway")
    try:
        for k, v in raw.items():
            default = getattr(s, k)
            if k == "data_dir":
                v = Path(v) if Path(v).is_absolute() else agent.path.parent / v
            elif isinstance(default, bool):
                if not isinstance(v, bool):
                    raise ValueError(f"{k} must be true or false")
            elif isinstance(default, int | float) and not isinstance(v, int | float):
                raise ValueError(f"{k} must be a number")
            elif isinstance(default, str) and not isinstance(v, str):
                raise ValueError(f"{k} must be a string")
            elif isinstance(default, list) and not (
                    isinstance(v, list) and all(isinstance(x, str) for x in v)):
                raise ValueError(f"{k} must be a list of strings")
            setattr(s, k, type(default)(v) if isinstance(default, int | float) and
                    not isinstance(default, bool) else v)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path}: [gateway] {err}") from None
    for src, dest in s.ro_bind_pairs():
        if not (src.startswith("/") and dest.startswith("/")):
            raise ConfigError(f"{path}: [gateway] ro_binds entry {src!r}: absolute paths only")
        if dest == "/work" or dest.startswith("/work/"):
            raise ConfigError(f"{path}: [gateway] ro_binds entry {dest!r}: the job directory is "
                              "mounted at /work in the sandbox; bind it elsewhere with "
                              "\"HOST:SANDBOX\" (e.g. \"/work/venv:/opt/venv\")")
    if s.sandbox not in SANDBOXES:
        raise ConfigError(f"{path}: [gateway] sandbox must be one of {', '.join(SANDBOXES)}")
    if not 0 < s.port < 65536 or s.retention_s < 0 or s.stop_grace_s < 0 or s.max_upload_mb <= 0:
        raise ConfigError(f"{path}: [gateway] port, retention_s, stop_grace_s or max_upload_mb "
                          "out of range")
    return s
