"""The one deployment-file loader (``deployments/<chainId>.json``) and the contracts it binds.

``ape run deploy`` writes the file (:meth:`Deployment.save`), the agent's config points at it,
the SDK finds it by chain id (:meth:`Deployment.find`); all three read it here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract

from .abi import has_abi, load_abi
from .errors import ChainError
from .rpc import with_retry

#: Where :meth:`Deployment.find` looks, after ``$PINFI_DEPLOYMENTS`` and ``./deployments``.
REPO_DEPLOYMENTS = Path(__file__).resolve().parents[2] / "deployments"
#: The contracts every deployment has (the pool is optional for old deployments and tests).
CORE_CONTRACTS = ("PinToken", "Staking", "PoCPSVerifier")


def read_json(path: str | Path, what: str = "file") -> Any:
    """Parsed JSON of ``path``; :class:`ChainError` with one line when missing or invalid."""
    p = Path(path)
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise ChainError(f"{what} {p} not found") from None
    except json.JSONDecodeError as err:
        raise ChainError(f"{what} {p} is not valid JSON: {err}") from None


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` atomically (a reader never sees half a file)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, p)


@dataclass
class Deployment:
    """Addresses and parameters of one PinFi deployment (``deployments/<chainId>.json``).

    ``params`` is the parameters file the deployment was configured with (``network`` and
    ``classes``); ``abi_hashes`` the SHA-256 of each contract's ABI (:func:`abi_hash`);
    ``extra`` keeps fields this version does not know, so a rewrite loses nothing.
    """

    chain_id: int
    contracts: dict[str, str]
    deployment_block: int = 0
    genesis_block: int | None = None
    deployer: str | None = None
    abi_hashes: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = ("chainId", "deploymentBlock", "genesisBlock", "deployer", "contracts", "abiHashes",
              "params")

    @classmethod
    def load(cls, path: str | Path) -> Deployment:
        return cls.from_dict(read_json(path, "deployment file"), str(path))

    @classmethod
    def from_dict(cls, data: Any, where: str = "deployment") -> Deployment:
        if not isinstance(data, dict):
            raise ChainError(f"{where} is not a JSON object")
        try:
            contracts = {str(k): str(to_checksum_address(v))
                         for k, v in dict(data["contracts"]).items()}
            genesis = data.get("genesisBlock")
            return cls(int(data["chainId"]), contracts, int(data.get("deploymentBlock", 0)),
                       int(genesis) if genesis is not None else None, data.get("deployer"),
                       dict(data.get("abiHashes") or {}), dict(data.get("params") or {}),
                       {k: v for k, v in data.items() if k not in cls._KNOWN})
        except (KeyError, TypeError, ValueError) as err:
            raise ChainError(f"{where}: missing or bad field ({err})") from None

    @classmethod
    def search_dirs(cls) -> list[Path]:
        """``$PINFI_DEPLOYMENTS``, ``./deployments``, then the checkout's ``deployments``."""
        dirs = []
        if env := os.environ.get("PINFI_DEPLOYMENTS"):
            dirs.append(Path(env))
        return [*dirs, Path.cwd() / "deployments", REPO_DEPLOYMENTS]

    @classmethod
    def find(cls, chain_id: int) -> Deployment:
        """The deployment of ``chain_id`` in :meth:`search_dirs`."""
        for d in cls.search_dirs():
            path = d / f"{int(chain_id)}.json"
            if path.is_file():
                return cls.load(path)
        where = ", ".join(str(d) for d in cls.search_dirs())
        raise ChainError(f"no deployment for chain {chain_id} (looked for {chain_id}.json in "
                         f"{where}; run ape run deploy or pass deployment=PATH)")

    @classmethod
    def resolve(cls, ref: str | Path | int | dict[str, Any] | Deployment | None,
                chain_id: int | None = None) -> Deployment:
        """A deployment from a file path, a chain id (``"31337"`` too), a parsed record, or
        None (``chain_id``)."""
        if isinstance(ref, Deployment):
            return ref
        if isinstance(ref, dict):
            return cls.from_dict(ref)
        if ref is None or isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            cid = int(ref) if ref is not None else chain_id
            if cid is None:
                raise ChainError("no deployment given and no chain id to look one up")
            return cls.find(cid)
        return cls.load(ref)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"chainId": self.chain_id, "deploymentBlock": self.deployment_block}
        if self.genesis_block is not None:
            out["genesisBlock"] = self.genesis_block
        if self.deployer is not None:
            out["deployer"] = self.deployer
        out["contracts"] = dict(self.contracts)
        if self.abi_hashes:
            out["abiHashes"] = dict(self.abi_hashes)
        out["params"] = self.params
        return {**out, **self.extra}

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    def class_entries(self) -> list[dict[str, Any]]:
        """The ``classes`` of the deployment's parameters (raw entries, possibly none)."""
        classes = self.params.get("classes") or []
        return [c for c in classes if isinstance(c, dict)]

    def class_name(self, class_id: int) -> str:
        """The name the parameters give class ``class_id`` (``class-<id>`` when unnamed)."""
        for c in self.class_entries():
            if int(c.get("id", -1)) == class_id and c.get("name"):
                return str(c["name"])
        return f"class-{class_id}"


@dataclass
class Contracts:
    """web3 contract objects of one deployment (``pool`` is None when not deployed)."""

    w3: Web3
    token: Contract
    staking: Contract
    verifier: Contract
    pool: Contract | None
    deployment: Deployment


def contract(w3: Web3, name: str, address: str) -> Contract:
    return w3.eth.contract(address=to_checksum_address(address), abi=load_abi(name))


def load_contracts(w3: Web3, deployment: Deployment, check_code: bool = True) -> Contracts:
    """Bind the shipped ABIs to the deployment's addresses (checking that code is there)."""
    addrs = deployment.contracts
    for name in CORE_CONTRACTS:
        if name not in addrs:
            raise ChainError(f"deployment has no {name} address")
    if check_code:
        for name, addr in addrs.items():
            code = with_retry(partial(w3.eth.get_code, to_checksum_address(addr)),
                              what="eth_getCode")
            if len(code) == 0:
                raise ChainError(f"no contract code at {name} {addr} on chain "
                                 f"{deployment.chain_id} (wrong deployment file?)")
    pool = None
    if "DissipativePool" in addrs and has_abi("DissipativePool"):
        pool = contract(w3, "DissipativePool", addrs["DissipativePool"])
    return Contracts(w3, contract(w3, "PinToken", addrs["PinToken"]),
                     contract(w3, "Staking", addrs["Staking"]),
                     contract(w3, "PoCPSVerifier", addrs["PoCPSVerifier"]), pool, deployment)
