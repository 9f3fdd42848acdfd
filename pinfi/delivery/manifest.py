"""The job manifest: what a client asks a leased device to run (docs/delivery.md#manifest).

A manifest is a JSON object. :func:`Manifest.parse` checks it field by field (one-line
:class:`ManifestError` naming the field); :meth:`Manifest.to_json` is its normal form (every
field present, inputs and outputs sorted) and :func:`manifest_hash` the keccak-256 of that normal
form's canonical JSON: the 32 bytes a client binds as the lease's ``jobSpec``. The gateway and
the client compute it with this same code, so they agree byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import keccak

VERSION = 1
RUNTIMES = ("process", "docker")
#: Bounds of a manifest (a gateway refuses anything larger before parsing further).
MAX_MANIFEST_BYTES = 64 * 1024
MAX_ARGS = 64
MAX_ARG_CHARS = 4096
MAX_ENV = 64
MAX_INPUTS = 256
MAX_OUTPUTS = 64
MAX_PATH_CHARS = 255
DEFAULT_OUTPUT_MB = 1024

_PATH_PART = re.compile(r"^[A-Za-z0-9._-]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$")
_LIMITS = ("wall_seconds", "cpu_seconds", "memory_mb", "output_mb", "gpus")
_FIELDS = ("version", "runtime", "command", "image", "env", "inputs", "outputs", "limits",
           "service")


class ManifestError(ValueError):
    """A malformed manifest; ``str(err)`` is one line naming the field."""


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes every hash of this package is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def keccak_json(value: Any) -> bytes:
    return bytes(keccak(canonical_json(value)))


def check_rel_path(path: Any, what: str = "path") -> str:
    """A relative POSIX path inside the job's directory: no ``..``, ``.``, empty or absolute
    parts, only ``[A-Za-z0-9._-]`` in each part (no escape from the working directory, no
    surprises on any filesystem)."""
    if not isinstance(path, str) or not path:
        raise ManifestError(f"{what} must be a non-empty string")
    if len(path) > MAX_PATH_CHARS:
        raise ManifestError(f"{what} is longer than {MAX_PATH_CHARS} characters")
    if path.startswith("/"):
        raise ManifestError(f"{what} {path!r} is absolute (paths are relative to the job "
                            "directory)")
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise ManifestError(f"{what} {path!r} has an empty, '.' or '..' part")
        if not _PATH_PART.match(part):
            raise ManifestError(f"{what} {path!r} has characters outside [A-Za-z0-9._-/]")
    return path


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _int(v: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ManifestError(f"{what} must be an integer")
    if not lo <= v <= hi:
        raise ManifestError(f"{what} must be in [{lo}, {hi}], got {v}")
    return v


@dataclass(frozen=True)
class Input:
    """An input file: placed at ``path`` in the job directory, content addressed by SHA-256."""

    path: str
    sha256: str


@dataclass(frozen=True)
class Limits:
    """Resource limits (None: the gateway's default). ``gpus``: GPUs mapped (docker)."""

    wall_seconds: int | None = None
    cpu_seconds: int | None = None
    memory_mb: int | None = None
    output_mb: int = DEFAULT_OUTPUT_MB
    gpus: int = 0


@dataclass(frozen=True)
class Manifest:
    """A checked job manifest (build it with :meth:`parse` or :meth:`build`)."""

    runtime: str
    command: tuple[str, ...] = ()
    image: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[Input, ...] = ()
    outputs: tuple[str, ...] = ()
    limits: Limits = Limits()
    service_port: int | None = None

    # ---- construction

    @classmethod
    def build(cls, runtime: str = "process", command: Iterable[str] = (), *,
              image: str | None = None, env: Mapping[str, str] | None = None,
              inputs: Mapping[str, str] | None = None, outputs: Iterable[str] = (),
              limits: Mapping[str, Any] | None = None, service_port: int | None = None
              ) -> Manifest:
        """A manifest from Python values (``inputs``: path -> sha256), checked like JSON."""
        doc: dict[str, Any] = {"version": VERSION, "runtime": runtime, "command": list(command),
                               "image": image, "env": dict(env or {}),
                               "inputs": [{"path": p, "sha256": h}
                                          for p, h in (inputs or {}).items()],
                               "outputs": list(outputs), "limits": dict(limits or {}),
                               "service": {"port": service_port} if service_port else None}
        return cls.parse(doc)

    @classmethod
    def parse(cls, doc: Any) -> Manifest:
        """Check a manifest (a parsed JSON object, JSON text or bytes)."""
        if isinstance(doc, bytes | str):
            raw = doc.encode() if isinstance(doc, str) else doc
            if len(raw) > MAX_MANIFEST_BYTES:
                raise ManifestError(f"manifest is larger than {MAX_MANIFEST_BYTES} bytes")
            try:
                doc = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as err:
                raise ManifestError(f"manifest is not valid JSON: {err}") from None
        if not isinstance(doc, dict):
            raise ManifestError("manifest must be a JSON object")
        unknown = sorted(set(doc) - set(_FIELDS))
        if unknown:
            raise ManifestError(f"unknown manifest field {unknown[0]!r} (known: "
                                f"{', '.join(_FIELDS)})")
        if doc.get("version", VERSION) != VERSION:
            raise ManifestError(f"version must be {VERSION}")
        runtime = doc.get("runtime")
        if runtime not in RUNTIMES:
            raise ManifestError(f"runtime must be one of {', '.join(RUNTIMES)}")
        command = cls._command(doc.get("command"))
        image = doc.get("image")
        if runtime == "process":
            if image is not None:
                raise ManifestError("image is only for the docker runtime")
            if not command:
                raise ManifestError("command must name the program to run (process runtime)")
        else:
            if not isinstance(image, str) or not _IMAGE.match(image):
                raise ManifestError("image must be a Docker image reference (docker runtime)")
        env = cls._env(doc.get("env"))
        inputs = cls._inputs(doc.get("inputs"))
        outputs = cls._outputs(doc.get("outputs"))
        limits = cls._limits(doc.get("limits"))
        port = cls._service(doc.get("service"))
        return cls(runtime, command, image, env, inputs, outputs, limits, port)

    @staticmethod
    def _command(v: Any) -> tuple[str, ...]:
        if v is None:
            return ()
        if not isinstance(v, list) or not all(isinstance(a, str) for a in v):
            raise ManifestError("command must be a list of strings (argv, no shell)")
        if len(v) > MAX_ARGS or any(len(a) > MAX_ARG_CHARS or "\0" in a for a in v):
            raise ManifestError(f"command: at most {MAX_ARGS} arguments of {MAX_ARG_CHARS} "
                                "characters, no NUL")
        return tuple(v)

    @staticmethod
    def _env(v: Any) -> dict[str, str]:
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise ManifestError("env must be an object of NAME: value strings")
        if len(v) > MAX_ENV:
            raise ManifestError(f"env: at most {MAX_ENV} variables")
        for k, val in v.items():
            if not _ENV_NAME.match(k):
                raise ManifestError(f"env name {k!r} must match [A-Za-z_][A-Za-z0-9_]*")
            if k.upper().startswith("PINFI_"):
                raise ManifestError(f"env name {k!r}: PINFI_* is set by the gateway")
            if not isinstance(val, str) or len(val) > MAX_ARG_CHARS or "\0" in val:
                raise ManifestError(f"env {k}: value must be a string of at most "
                                    f"{MAX_ARG_CHARS} characters")
        return dict(sorted(v.items()))

    @staticmethod
    def _inputs(v: Any) -> tuple[Input, ...]:
        if v is None:
            return ()
        if not isinstance(v, list) or len(v) > MAX_INPUTS:
            raise ManifestError(f"inputs must be a list of at most {MAX_INPUTS} "
                                "{path, sha256} objects")
        out: dict[str, Input] = {}
        for i, item in enumerate(v):
            if not isinstance(item, dict) or set(item) != {"path", "sha256"}:
                raise ManifestError(f"inputs[{i}] must be an object with path and sha256")
            p = check_rel_path(item["path"], f"inputs[{i}].path")
            h = item["sha256"]
            if not isinstance(h, str) or not _SHA256.match(h):
                raise ManifestError(f"inputs[{i}].sha256 must be 64 lowercase hex digits")
            if p in out:
                raise ManifestError(f"inputs: path {p!r} given twice")
            out[p] = Input(p, h)
        paths = sorted(out)
        for p in paths:
            parts = p.split("/")
            for k in range(1, len(parts)):
                if (parent := "/".join(parts[:k])) in out:
                    raise ManifestError(f"inputs: {parent!r} is a file and a directory of {p!r}")
        return tuple(out[p] for p in paths)

    @staticmethod
    def _outputs(v: Any) -> tuple[str, ...]:
        if v is None:
            return ()
        if not isinstance(v, list) or len(v) > MAX_OUTPUTS:
            raise ManifestError(f"outputs must be a list of at most {MAX_OUTPUTS} paths")
        paths = {check_rel_path(p, f"outputs[{i}]") for i, p in enumerate(v)}
        return tuple(sorted(paths))

    @staticmethod
    def _limits(v: Any) -> Limits:
        if v is None:
            return Limits()
        if not isinstance(v, dict):
            raise ManifestError("limits must be an object")
        unknown = sorted(set(v) - set(_LIMITS))
        if unknown:
            raise ManifestError(f"unknown limit {unknown[0]!r} (known: {', '.join(_LIMITS)})")

        def opt(name: str, lo: int, hi: int) -> int | None:
            x = v.get(name)
            return None if x is None else _int(x, f"limits.{name}", lo, hi)

        return Limits(opt("wall_seconds", 1, 366 * 86400), opt("cpu_seconds", 1, 366 * 86400),
                      opt("memory_mb", 16, 1 << 24),
                      _int(v.get("output_mb", DEFAULT_OUTPUT_MB), "limits.output_mb", 1, 1 << 24),
                      _int(v.get("gpus", 0), "limits.gpus", 0, 64))

    @staticmethod
    def _service(v: Any) -> int | None:
        if v is None:
            return None
        if not isinstance(v, dict) or set(v) != {"port"}:
            raise ManifestError("service must be an object {\"port\": N}")
        return _int(v["port"], "service.port", 1024, 65535)

    # ---- normal form and hashes

    def to_json(self) -> dict[str, Any]:
        """The normal form (every field, sorted inputs/outputs): what is hashed."""
        lim = self.limits
        return {"version": VERSION, "runtime": self.runtime, "command": list(self.command),
                "image": self.image, "env": dict(self.env),
                "inputs": [{"path": i.path, "sha256": i.sha256} for i in self.inputs],
                "outputs": list(self.outputs),
                "limits": {"wall_seconds": lim.wall_seconds, "cpu_seconds": lim.cpu_seconds,
                           "memory_mb": lim.memory_mb, "output_mb": lim.output_mb,
                           "gpus": lim.gpus},
                "service": {"port": self.service_port} if self.service_port else None}

    def canonical(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def hash(self) -> bytes:
        """keccak-256 of the canonical normal form: bind it as the lease's ``jobSpec``."""
        return bytes(keccak(self.canonical()))

    @property
    def hash_hex(self) -> str:
        return "0x" + self.hash.hex()

    @property
    def inputs_hash(self) -> bytes:
        return inputs_hash(self.inputs)


def manifest_hash(doc: Any) -> bytes:
    """The ``jobSpec`` of a manifest given as JSON text, bytes, a dict or a :class:`Manifest`."""
    m = doc if isinstance(doc, Manifest) else Manifest.parse(doc)
    return m.hash


def inputs_hash(inputs: Iterable[Input]) -> bytes:
    """keccak-256 of the canonical JSON ``[[path, sha256], ...]`` sorted by path."""
    return keccak_json(sorted([i.path, i.sha256] for i in inputs))


@dataclass(frozen=True)
class OutputFile:
    """One collected output file: its path in the job directory, SHA-256 and size."""

    path: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


def outputs_hash(files: Iterable[OutputFile]) -> bytes:
    """keccak-256 of the canonical JSON ``[{path, sha256, size}, ...]`` sorted by path."""
    return keccak_json(sorted((f.to_json() for f in files), key=lambda d: d["path"]))
