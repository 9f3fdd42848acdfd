"""The typed parameters of the network and of a device class, and the views the contracts take.

The names are written once: every attribute is snake_case and its JSON / contract name is its
camelCase form (:func:`camel`), so ``commit_window`` is ``commitWindow`` in
``pinfi/params/classes.json``, in the deployments file and in the contracts' ABIs. Token amounts
are integers in wei (18 decimals), ``alpha`` is a UD60x18 integer (``10**18`` = 1.0), windows and
epochs are in blocks. The file may hold big integers as decimal strings (JSON numbers lose
precision above 2**53); :meth:`ClassParams.from_json` accepts both.

Each contract keeps one slice of a class; the views carry exactly that slice and convert it to
the setter's arguments and back from the getter's output:

* :class:`ProofParams`: ``PoCPSVerifier.setClass(classId, p)`` / ``classParams(classId)``;
* :class:`StakingParams`: ``Staking.setClass(classId, minBond, weight)`` / ``classes(classId)``;
* :class:`PoolPricing`: ``DissipativePool.setClass(classId, ...)`` / ``classParams(classId)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, Self, TypeVar

from pinfi.types import BPS, UNIT

BLOCK_SECONDS = 12.0
"""Mainnet-like block time (seconds) the default windows and epochs assume
(docs/protocol.md#parameters-bounds-and-defaults)."""

_JSON_SAFE = 2**53
"""Integers at or above this are written as decimal strings (JSON doubles lose precision)."""

T = TypeVar("T")


class ParamsError(ValueError):
    """A parameters file or value is missing, malformed or out of the contracts' bounds.

    ``str(err)`` is one line, fit for an operator.
    """


def camel(name: str) -> str:
    """The JSON / contract name of an attribute: ``max_lease_epochs`` -> ``maxLeaseEpochs``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _snake_keys(cls: type, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` keyed by ``cls``'s attributes (camelCase keys mapped), values as ints."""
    by_camel = {camel(f): f for f in _field_names(cls)}
    out: dict[str, Any] = {}
    for key, value in changes.items():
        attr = key if key in by_camel.values() else by_camel.get(key)
        if attr is None:
            raise ParamsError(f"{cls.__name__} has no parameter {key!r}")
        out[attr] = str(value) if attr == "name" else _int(value, camel(attr))
    return out


def _int(value: Any, key: str) -> int:
    """An integer from an int or a decimal string (never a float: it would lose wei)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ParamsError(f"{key} must be an integer or a decimal string, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ParamsError(f"{key} must be an integer, got {value!r}") from None


#: Parameters a file may leave out, with the value they take (from the mapping's other keys):
#: a report's flat bounty cap defaults to a tenth of the class bond; a device's first miss in
#: 30 epochs is a grace miss (docs/protocol.md#pocps-transactions).
DEFAULTS: dict[str, Callable[[Mapping[str, Any]], int]] = {
    "maxBounty": lambda d: _int(d["minBond"], "minBond") // 10,
    "graceEpochs": lambda d: 30,
}


def _from_mapping(cls: type[T], d: Mapping[str, Any], **given: Any) -> T:
    """Build a dataclass of int fields from a camelCase mapping (``given``: fields not read)."""
    kwargs: dict[str, Any] = dict(given)
    missing = []
    for name in _field_names(cls):
        if name in given:
            continue
        key = camel(name)
        if key not in d and key in DEFAULTS:
            try:
                kwargs[name] = DEFAULTS[key](d)
                continue
            except KeyError:
                pass
        if key not in d:
            missing.append(key)
            continue
        kwargs[name] = _int(d[key], key)
    if missing:
        raise ParamsError(f"missing {', '.join(missing)}")
    return cls(**kwargs)


def _from_struct(cls: type[T], raw: Any, layout: tuple[str, ...]) -> T:
    """Build a view from a contract getter's output (an Ape struct with attributes, or the plain
    tuple web3 returns, laid out as ``layout``, the ABI's output names)."""
    kwargs: dict[str, int] = {}
    for name in _field_names(cls):
        key = camel(name)
        value = getattr(raw, key, None)
        if value is None:
            value = raw[layout.index(key)]
        kwargs[name] = int(value)
    return cls(**kwargs)


def _to_dict(obj: Any) -> dict[str, Any]:
    """camelCase dict of a dataclass (plain ints), in field order."""
    return {camel(f.name): getattr(obj, f.name) for f in fields(obj)}


def _json_safe(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, int) and v >= _JSON_SAFE else v for k, v in d.items()}


# ---------------------------------------------------------------------------------------------
# Views: one slice of a class per contract
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Record:
    """What every parameters record does: its camelCase dict, file form and edited copies."""

    def to_dict(self) -> dict[str, Any]:
        """camelCase dict with plain ints (the contracts' names; what tests and records use)."""
        return _to_dict(self)

    def to_json(self) -> dict[str, Any]:
        """The parameters file's form: like :meth:`to_dict`, big amounts as decimal strings."""
        return _json_safe(self.to_dict())

    def with_(self, **changes: Any) -> Self:
        """A copy with some fields changed (snake_case or camelCase keys)."""
        return replace(self, **_snake_keys(type(self), changes))


@dataclass(frozen=True)
class _View(_Record):
    """One contract's slice of a class: read from a file or the contract's getter (laid out as
    ``LAYOUT``, the getter's ABI output names), written as the setter's arguments."""

    LAYOUT: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Self:
        """From a camelCase mapping (a whole class entry or only this slice's keys)."""
        return _from_mapping(cls, d)

    @classmethod
    def from_contract(cls, raw: Any) -> Self:
        """From the contract's getter (fields the view does not hold are dropped)."""
        return _from_struct(cls, raw, cls.LAYOUT)

    def to_contract(self) -> tuple[int, ...]:
        """The setter's arguments after the class id, in field order."""
        return dataclasses.astuple(self)


# Each slice's fields are declared once, in the setter's order; a view adds its contract's
# plumbing and ClassParams is their union (adding a class parameter is one edit here).
@dataclass(frozen=True)
class _ProofFields:
    n: int
    leaf: int
    k: int
    c: int
    commit_window: int
    open_window: int
    dispute_window: int
    challenge_bps: int
    miss_slash_bps: int
    fraud_slash_bps: int


@dataclass(frozen=True)
class _StakingFields:
    min_bond: int
    weight: int
    max_bounty: int


@dataclass(frozen=True)
class _PoolFields:
    p_floor: int
    p0: int
    alpha: int
    beta_bps: int
    max_lease_epochs: int
    terminate_fee_bps: int
    down_bond: int


@dataclass(frozen=True)
class _ClassIdentity:
    id: int
    name: str


@dataclass(frozen=True)
class ProofParams(_View, _ProofFields):
    """The PoCPS slice of a class: ``PoCPSVerifier.ProofParams``; ``setClass(classId, p)`` takes
    :meth:`to_contract` as ``p``, ``classParams(classId)`` adds derived fields and ``exists``.

    Bounds: docs/protocol.md#class-parameters.
    """

    LAYOUT: ClassVar[tuple[str, ...]] = (
        "n", "leaf", "k", "c", "logLeaves", "logStratum", "commitWindow", "openWindow",
        "disputeWindow", "challengeBps", "missSlashBps", "fraudSlashBps", "exists")

    @property
    def n_leaves(self) -> int:
        """Leaves of the commitment: ``n*n / leaf``."""
        return self.n * self.n // self.leaf

    @property
    def log_leaves(self) -> int:
        return self.n_leaves.bit_length() - 1

    @property
    def stratum(self) -> int:
        """Leaves per sampling stratum: ``N / k``."""
        return self.n_leaves // self.k

    @property
    def log_stratum(self) -> int:
        return self.stratum.bit_length() - 1


@dataclass(frozen=True)
class StakingParams(_View, _StakingFields):
    """The Staking slice of a class: the bond a device locks and its share of emission;
    ``Staking.setClass(classId, StakeParams(minBond, weight, maxBounty))``; ``classes(classId)``
    adds ``active`` and ``exists``. ``maxBounty`` is the flat cap of one report's bounty."""

    LAYOUT: ClassVar[tuple[str, ...]] = ("minBond", "weight", "active", "exists", "maxBounty")


@dataclass(frozen=True)
class PoolPricing(_View, _PoolFields):
    """The pool slice of a class: the price curve and lease terms (docs/protocol.md#price);
    ``DissipativePool.setClass(classId, ...)`` / ``classParams(classId)``."""

    LAYOUT: ClassVar[tuple[str, ...]] = (
        "pFloor", "p0", "alpha", "betaBps", "maxLeaseEpochs", "terminateFeeBps", "downBond")

    @property
    def configured(self) -> bool:
        """False for the all-zero record the pool returns for an unknown class."""
        return self.max_lease_epochs != 0

    def per_epoch_price(self, demand: int, supply: int) -> int:
        """The contract's price of one more device for one epoch (``pinfi.protocol`` mirror)."""
        from pinfi.protocol.pricing import per_epoch_price

        return per_epoch_price(self.p_floor, self.p0, self.alpha, demand, supply)

    def lease_cost(self, demand: int, supply: int, epochs: int) -> int:
        """The contract's quote for ``epochs`` epochs at demand ``demand`` of ``supply``."""
        from pinfi.protocol.pricing import lease_cost

        return lease_cost(self.p_floor, self.p0, self.alpha, demand, supply, epochs)

    def split(self, cost: int) -> tuple[int, int]:
        """``(burn, escrow)`` of a payment of ``cost``."""
        from pinfi.protocol.pricing import split_payment

        return split_payment(cost, self.beta_bps)


# ---------------------------------------------------------------------------------------------
# A device class and the network
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassParams(_Record, _PoolFields, _StakingFields, _ProofFields, _ClassIdentity):
    """All parameters of one device class (one entry of ``classes`` in the parameters file):
    ``id``, ``name``, then the proof, staking and pool slices' fields in that order."""

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ClassParams:
        """From one entry of ``classes`` (camelCase keys, ints or decimal strings)."""
        where = f"class {d.get('name', d.get('id', '?'))}"
        if "name" not in d:
            raise ParamsError(f"{where}: missing name")
        try:
            return _from_mapping(cls, d, name=str(d["name"]))
        except ParamsError as err:
            raise ParamsError(f"{where}: {err}") from None

    @classmethod
    def from_views(cls, id: int, name: str, proof: ProofParams, staking: StakingParams,
                   pricing: PoolPricing) -> ClassParams:
        """Reassemble a class from the three contracts' slices (e.g. read from the chain)."""
        return cls(id=id, name=name, **dataclasses.asdict(proof), **dataclasses.asdict(staking),
                   **dataclasses.asdict(pricing))

    def derive(self, name: str, **changes: Any) -> ClassParams:
        """A named variant of this class (a test, bench or demo class): see :func:`derive`."""
        return self.with_(name=name, **changes)

    # The contracts' slices ---------------------------------------------------------------------
    @property
    def proof(self) -> ProofParams:
        return _view(ProofParams, self)

    @property
    def staking(self) -> StakingParams:
        return _view(StakingParams, self)

    @property
    def pricing(self) -> PoolPricing:
        return _view(PoolPricing, self)

    # Natural units (floats) for models and reports ----------------------------------------------
    @property
    def challenge_p(self) -> float:
        """Per-epoch selection probability of a provider's devices of this class."""
        return self.challenge_bps / BPS

    @property
    def miss_slash(self) -> float:
        return self.miss_slash_bps / BPS

    @property
    def beta(self) -> float:
        return self.beta_bps / BPS

    @property
    def min_bond_pin(self) -> float:
        return self.min_bond / UNIT


def _view(view: type[T], cls: ClassParams) -> T:
    return view(**{name: getattr(cls, name) for name in _field_names(view)})


@dataclass(frozen=True)
class NetworkParams(_Record):
    """Network-wide parameters (``network`` in the parameters file); fixed at deployment."""

    epoch_blocks: int
    unbonding_blocks: int
    reward_per_block: int
    halving_blocks: int
    max_supply: int
    genesis_supply: int
    max_emission: int
    bounty_bps: int
    grace_epochs: int

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> NetworkParams:
        """From ``network`` (``maxEmission`` defaults to ``maxSupply - genesisSupply``)."""
        if "maxEmission" not in d and "maxSupply" in d and "genesisSupply" in d:
            d = {**d, "maxEmission": _int(d["maxSupply"], "maxSupply")
                 - _int(d["genesisSupply"], "genesisSupply")}
        try:
            return _from_mapping(cls, d)
        except ParamsError as err:
            raise ParamsError(f"network: {err}") from None

    def token_args(self) -> tuple[int, int]:
        """``(maxSupply, genesisSupply)`` of the ``PinToken`` constructor."""
        return self.max_supply, self.genesis_supply

    def staking_args(self) -> tuple[int, ...]:
        """The ``Staking`` constructor's arguments between ``genesisBlock`` and ``admin``."""
        return (self.epoch_blocks, self.unbonding_blocks, self.reward_per_block,
                self.halving_blocks, self.max_emission, self.bounty_bps)

    @property
    def epoch_hours(self) -> float:
        return self.epoch_blocks * BLOCK_SECONDS / 3600.0

    @property
    def unbonding_epochs(self) -> int:
        return -(-self.unbonding_blocks // self.epoch_blocks)

    def emitted_until(self, blocks: int) -> int:
        """See :func:`emitted_until`."""
        return emitted_until(self, blocks)


def emitted_until(network: NetworkParams, blocks: int) -> int:
    """Tokens emitted after ``blocks`` blocks since genesis (mirror of ``Staking._emittedUntil``).

    ``rewardPerBlock`` halves every ``halvingBlocks``; the total is capped at ``maxEmission``.
    """
    total, elapsed, rate = 0, max(0, blocks), network.reward_per_block
    for _ in range(64):
        if rate == 0:
            break
        if elapsed <= network.halving_blocks:
            total += elapsed * rate
            break
        total += network.halving_blocks * rate
        elapsed -= network.halving_blocks
        rate >>= 1
    return min(total, network.max_emission)


def as_class(cls: ClassParams | Mapping[str, Any]) -> ClassParams:
    """A :class:`ClassParams` from itself or from a camelCase mapping (a file entry; a mapping
    without ``name`` is called ``class-<id>``)."""
    if isinstance(cls, ClassParams):
        return cls
    if "name" not in cls and "id" in cls:
        cls = {**cls, "name": f"class-{cls['id']}"}
    return ClassParams.from_json(cls)


def as_network(network: NetworkParams | Mapping[str, Any]) -> NetworkParams:
    """A :class:`NetworkParams` from itself or from a camelCase mapping."""
    return network if isinstance(network, NetworkParams) else NetworkParams.from_json(network)


def as_proof(p: ProofParams | ClassParams | Mapping[str, Any]) -> ProofParams:
    """The proof slice of a class, a proof view, or a camelCase mapping holding its keys."""
    if isinstance(p, ProofParams):
        return p
    if isinstance(p, ClassParams):
        return p.proof
    return ProofParams.from_json(p)


#: camelCase keys of each slice, in the setters' order (for code that still speaks dicts).
PROOF_KEYS: tuple[str, ...] = tuple(camel(f) for f in _field_names(ProofParams))
STAKING_KEYS: tuple[str, ...] = tuple(camel(f) for f in _field_names(StakingParams))
POOL_KEYS: tuple[str, ...] = tuple(camel(f) for f in _field_names(PoolPricing))
CLASS_KEYS: tuple[str, ...] = tuple(camel(f) for f in _field_names(ClassParams))
NETWORK_KEYS: tuple[str, ...] = tuple(camel(f) for f in _field_names(NetworkParams))
