"""Read and check ``pinfi/params/classes.json``; named network overrides and derived classes.

The file holds the mainnet-like ``network``, the device ``classes`` and named network overrides
under ``networks`` (``local``: the short epochs and small economy of tests and demos). Every
other parameter set in the repository is *derived* from it by name, never written out again::

    from pinfi import params
    test = params.derive("cpu-test", name="test", weight=10)        # a class variant
    local = params.network_params("local")                          # a network override
    fast = params.network_params("local", epoch_blocks=24)          # ... patched further
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from pinfi.params.schema import ClassParams, NetworkParams, ParamsError
from pinfi.types import BPS, UNIT

PARAMS_PATH = Path(__file__).resolve().parent / "classes.json"
"""The shipped parameters file (package data)."""

MAX_CLASS_ID = 2**16 - 1


@dataclass(frozen=True)
class Params:
    """A parsed parameters file: the network, its classes and its named network overrides."""

    network: NetworkParams
    classes: tuple[ClassParams, ...]
    networks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: Path | None = None

    @property
    def by_name(self) -> dict[str, ClassParams]:
        return {c.name: c for c in self.classes}

    def cls(self, key: str | int) -> ClassParams:
        """The class named ``key`` or with id ``key`` (``"cpu-test"``, ``1`` or ``"1"``)."""
        for c in self.classes:
            if c.name == str(key) or str(c.id) == str(key):
                return c
        known = ", ".join(f"{c.id} ({c.name})" for c in self.classes)
        raise ParamsError(f"no class {key!r} in {self._where()} (known: {known})")

    def derive(self, base: str | int | ClassParams, name: str, **changes: Any) -> ClassParams:
        """A named variant of class ``base`` (a name, an id or a class) with ``changes``."""
        cls = base if isinstance(base, ClassParams) else self.cls(base)
        return cls.derive(name, **changes)

    def network_params(self, override: str | None = None, **changes: Any) -> NetworkParams:
        """The network, with the named override ``override`` (e.g. ``"local"``) and ``changes``."""
        net = self.network
        if override is not None:
            if override not in self.networks:
                known = ", ".join(sorted(self.networks)) or "none"
                raise ParamsError(
                    f"no network override {override!r} in {self._where()} (known: {known})")
            net = net.with_(**self.networks[override])
        return net.with_(**changes) if changes else net

    def only(self, keys: Iterable[str | int]) -> Params:
        """The same file restricted to the classes named (or numbered) in ``keys``."""
        picked = [self.cls(k) for k in keys]
        return replace(self, classes=tuple(dict.fromkeys(picked)))

    def with_network(self, override: str | None = None, **changes: Any) -> Params:
        """The same classes on :meth:`network_params` ``(override, **changes)``."""
        return replace(self, network=self.network_params(override, **changes))

    def check(self) -> Params:
        """Raise :class:`ParamsError` (first violation, one line) unless all bounds hold."""
        errors = validate(self.network, self.classes)
        if errors:
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            raise ParamsError(f"{self._where()}: {errors[0]}{more}")
        return self

    def to_json(self) -> dict[str, Any]:
        """The file's form (what a deployments record stores under ``params``)."""
        out: dict[str, Any] = {"network": self.network.to_json(),
                               "classes": [c.to_json() for c in self.classes]}
        if self.networks:
            out["networks"] = {k: dict(v) for k, v in self.networks.items()}
        return out

    def _where(self) -> str:
        return str(self.source) if self.source is not None else "the parameters"


def load_raw(path: str | Path = PARAMS_PATH) -> dict[str, Any]:
    """The parameters file as parsed JSON (:class:`ParamsError` if missing or not JSON)."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except FileNotFoundError:
        raise ParamsError(f"parameters file {p} not found") from None
    except json.JSONDecodeError as err:
        raise ParamsError(f"parameters file {p} is not valid JSON: {err}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("network"), dict) \
            or not isinstance(raw.get("classes"), list):
        raise ParamsError(f"parameters file {p} needs a 'network' object and a 'classes' list")
    return raw


def parse(raw: Mapping[str, Any], source: Path | None = None) -> Params:
    """A :class:`Params` from the file's JSON (types only; :meth:`Params.check` for bounds)."""
    where = str(source) if source is not None else "parameters"
    try:
        network = NetworkParams.from_json(raw["network"])
        classes = tuple(ClassParams.from_json(c) for c in raw["classes"])
    except ParamsError as err:
        raise ParamsError(f"{where}: {err}") from None
    networks = raw.get("networks", {})
    if not isinstance(networks, dict) or not all(isinstance(v, dict) for v in networks.values()):
        raise ParamsError(f"{where}: 'networks' must map names to network overrides")
    params = Params(network, classes, networks, source)
    for name in networks:
        try:
            params.network_params(name)
        except ParamsError as err:
            raise ParamsError(f"{where}: network override {name!r}: {err}") from None
    return params


def load(path: str | Path = PARAMS_PATH, *, network: str | None = None,
         epoch_blocks: int | None = None, only: Iterable[str | int] | None = None,
         check: bool = True) -> Params:
    """Read, select and check a parameters file.

    ``network`` applies a named network override (``"local"``); ``epoch_blocks`` then overrides
    ``epochBlocks``; ``only`` keeps the classes of those names or ids. With ``check`` the result
    must satisfy :func:`validate` (else :class:`ParamsError`, one line).
    """
    p = Path(path)
    params = parse(load_raw(p), p)
    if epoch_blocks is not None and epoch_blocks <= 0:
        raise ParamsError("epochBlocks must be positive")
    changes = {} if epoch_blocks is None else {"epoch_blocks": epoch_blocks}
    if network is not None or changes:
        params = params.with_network(network, **changes)
    if only:
        params = params.only(only)
    return params.check() if check else params


@lru_cache(maxsize=1)
def default_params() -> Params:
    """The shipped file, parsed and checked once per process."""
    return load()


def network_params(override: str | None = None, **changes: Any) -> NetworkParams:
    """The shipped network, with a named override (``"local"``) and field ``changes``."""
    return default_params().network_params(override, **changes)


def class_params(key: str | int) -> ClassParams:
    """A class of the shipped file by name or id."""
    return default_params().cls(key)


def derive(base: str | int | ClassParams, name: str, **changes: Any) -> ClassParams:
    """A named variant of a shipped class: ``derive("cpu-test", name="bench", n=1024, leaf=32)``.

    ``changes`` take snake_case or camelCase keys; the id stays the base's unless changed.
    """
    return default_params().derive(base, name, **changes)


def load_params(path: str | Path = PARAMS_PATH) -> tuple[NetworkParams, dict[str, ClassParams]]:
    """Network parameters and the classes by name (unchecked; the simulation's entry point)."""
    params = parse(load_raw(path), Path(path))
    return params.network, params.by_name


def validate(network: NetworkParams,
             classes: Mapping[str, ClassParams] | Iterable[ClassParams]) -> list[str]:
    """Violations of the contracts' bounds and of the design rules (empty when all hold).

    The bounds are those of docs/protocol.md#parameters-bounds-and-defaults.
    """
    errors: list[str] = []
    items = list(classes.values()) if isinstance(classes, Mapping) else list(classes)
    ids: set[int] = set()
    for c in items:
        where = f"{c.name}:"
        if not 0 < c.id <= MAX_CLASS_ID or c.id in ids:
            errors.append(f"{where} id {c.id} must be unique and in [1, {MAX_CLASS_ID}]")
        ids.add(c.id)
        if not (16 <= c.n <= 65_536 and c.n & (c.n - 1) == 0):
            errors.append(f"{where} n must be a power of two in [16, 65536]")
        if not (0 < c.leaf <= min(1024, c.n) and c.leaf & (c.leaf - 1) == 0):
            errors.append(f"{where} leaf must be a power of two <= min(n, 1024)")
        if not (0 < c.k <= 64 and c.k & (c.k - 1) == 0 and c.k <= c.n * c.n // max(1, c.leaf)):
            errors.append(f"{where} k must be a power of two in [1, 64] and <= leaves")
        if not 0 <= c.c <= c.k:
            errors.append(f"{where} c must be <= k")
        if min(c.commit_window, c.open_window, c.dispute_window) <= 0:
            errors.append(f"{where} windows must be positive")
        if c.commit_window + c.open_window + c.dispute_window > network.epoch_blocks:
            errors.append(f"{where} commit+open+dispute must be <= epochBlocks")
        if c.open_window + c.dispute_window >= 200:
            errors.append(f"{where} open+dispute must be < 200 (blockhash horizon)")
        if not 0 <= c.challenge_bps <= BPS:
            errors.append(f"{where} challengeBps out of range")
        if not 0 < c.miss_slash_bps <= c.fraud_slash_bps <= BPS:
            errors.append(f"{where} need 0 < missSlashBps <= fraudSlashBps <= 10000")
        if not 0 < c.alpha <= 4 * UNIT:
            errors.append(f"{where} alpha must be in (0, 4e18]")
        if not 0 <= c.beta_bps <= BPS or not 0 <= c.terminate_fee_bps <= BPS:
            errors.append(f"{where} bps fields out of range")
        if c.min_bond <= 0 or not 1 <= c.weight <= 1_000_000:
            errors.append(f"{where} minBond > 0 and weight in [1, 1e6] required")
        if c.max_lease_epochs <= 0:
            errors.append(f"{where} maxLeaseEpochs must be positive")
    if network.epoch_blocks <= 0:
        errors.append("network: epochBlocks must be positive")
    elif network.unbonding_blocks < 2 * network.epoch_blocks:
        errors.append("network: unbondingBlocks must be >= 2 * epochBlocks")
    if network.genesis_supply + network.max_emission > network.max_supply:
        errors.append("network: genesisSupply + maxEmission exceeds maxSupply")
    return errors
