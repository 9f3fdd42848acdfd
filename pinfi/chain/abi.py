"""The contract ABIs shipped in ``pinfi/abi`` (the runtime never compiles anything).

:func:`export_abis` writes them from Ape's compiled manifest (``python -m pinfi.chain
export-abi``); :func:`abi_hash` is what the deployments file records per contract, so a client
can tell that its shipped ABIs match the deployed contracts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from .errors import ChainError

ABI_DIR = Path(__file__).resolve().parents[1] / "abi"
CONTRACT_NAMES = ("PinToken", "Staking", "PoCPSVerifier", "DissipativePool")
#: Contracts a deployment may have besides the protocol (G1, issue 11: gateway discovery).
REGISTRY_NAME = "EndpointRegistry"
#: Every contract whose ABI ships (exported, and read by the revert decoder).
SHIPPED_NAMES = (*CONTRACT_NAMES, REGISTRY_NAME)

Abi = list[dict[str, Any]]


@cache
def load_abi(name: str) -> Abi:
    """The ABI of contract ``name`` shipped in ``pinfi/abi/<name>.json``."""
    path = ABI_DIR / f"{name}.json"
    if not path.is_file():
        raise ChainError(f"no ABI shipped for {name} ({path} missing; run python -m pinfi.chain "
                         "export-abi after ape compile)")
    data: Abi = json.loads(path.read_text())
    return data


def has_abi(name: str) -> bool:
    return (ABI_DIR / f"{name}.json").is_file()


def abi_hash(abi: Abi) -> str:
    """SHA-256 of an ABI's canonical JSON, as recorded in the deployments file's ``abiHashes``."""
    canonical = json.dumps(abi, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def compiled_abis(build_file: str | Path = ".build/__local__.json",
                  names: Iterable[str] = SHIPPED_NAMES) -> dict[str, Abi]:
    """ABIs of ``names`` from Ape's compiled manifest (those present)."""
    data = json.loads(Path(build_file).read_text())
    types = data.get("contractTypes", {})
    return {n: types[n]["abi"] for n in names if n in types}


def shipped_abi_drift(abis: dict[str, Abi]) -> list[str]:
    """Names whose shipped ABI differs from the given (compiled) one."""
    return [name for name, abi in abis.items()
            if not has_abi(name) or abi_hash(load_abi.__wrapped__(name)) != abi_hash(abi)]


def export_abis(build_file: str | Path = ".build/__local__.json", dest: str | Path = ABI_DIR,
                names: Iterable[str] = SHIPPED_NAMES) -> list[Path]:
    """Write ``dest/<name>.json`` for every compiled contract of ``names``; returns the paths."""
    from .revert import error_table

    out = []
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, abi in compiled_abis(build_file, names).items():
        path = dest / f"{name}.json"
        path.write_text(json.dumps(abi, indent=1, sort_keys=True) + "\n")
        out.append(path)
    load_abi.cache_clear()
    error_table.cache_clear()
    return out
