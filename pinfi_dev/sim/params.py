"""Typed view of ``pinfi/params/classes.json``: the one parameters file of the network.

The deploy script reads the same file (``network`` + ``classes``); the simulation reads it through
:func:`load_params` and never hard-codes a protocol parameter. All token amounts are integers in
wei (18 decimals), ``alpha`` is a UD60x18 integer (1e18 = 1.0), windows are in blocks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from pinfi.protocol import UNIT

PARAMS_PATH = Path(__file__).resolve().parents[2] / "pinfi" / "params" / "classes.json"
"""Default location of the parameters file."""

BPS = 10_000
BLOCK_SECONDS = 12.0
"""Mainnet-like block time assumed by the windows and epochs (PROTOCOL.md section 2)."""


@dataclass(frozen=True)
class ClassParams:
    """All on-chain parameters of one device class (the contract units)."""

    id: int
    name: str
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
    min_bond: int
    weight: int
    p_floor: int
    p0: int
    alpha: int
    beta_bps: int
    max_lease_epochs: int
    terminate_fee_bps: int
    down_bond: int

    _JSON_KEYS: ClassVar[dict[str, str]] = {
        "commit_window": "commitWindow", "open_window": "openWindow",
        "dispute_window": "disputeWindow", "challenge_bps": "challengeBps",
        "miss_slash_bps": "missSlashBps", "fraud_slash_bps": "fraudSlashBps",
        "min_bond": "minBond", "p_floor": "pFloor", "beta_bps": "betaBps",
        "max_lease_epochs": "maxLeaseEpochs", "terminate_fee_bps": "terminateFeeBps",
        "down_bond": "downBond",
    }  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ClassParams:
        """Build from one entry of ``classes`` (camelCase keys, ints or decimal strings)."""
        kwargs: dict[str, Any] = {}
        for field in cls.__dataclass_fields__:
            if field.startswith("_"):
                continue
            key = cls._JSON_KEYS.get(field, field)
            kwargs[field] = d[key] if field == "name" else int(d[key])
        return cls(**kwargs)

    def to_json(self) -> dict[str, Any]:
        """The camelCase dict of the parameters file (alpha as a decimal string)."""
        out: dict[str, Any] = {}
        for field in self.__dataclass_fields__:
            if field.startswith("_"):
                continue
            value = getattr(self, field)
            out[self._JSON_KEYS.get(field, field)] = str(value) if field == "alpha" else value
        return out

    def with_(self, **changes: Any) -> ClassParams:
        """A copy with some fields changed."""
        return replace(self, **changes)

    # Convenience views in natural units -------------------------------------------------------
    @property
    def challenge_p(self) -> float:
        """Per-epoch selection probability of a provider's devices of this class."""
        return self.challenge_bps / BPS

    @property
    def miss_slash(self) -> float:
        return self.miss_slash_bps / BPS

    @property
    def fraud_slash(self) -> float:
        return self.fraud_slash_bps / BPS

    @property
    def beta(self) -> float:
        return self.beta_bps / BPS

    @property
    def alpha_f(self) -> float:
        return self.alpha / UNIT

    @property
    def min_bond_pin(self) -> float:
        return self.min_bond / UNIT

    @property
    def p_floor_pin(self) -> float:
        return self.p_floor / UNIT

    @property
    def p0_pin(self) -> float:
        return self.p0 / UNIT


@dataclass(frozen=True)
class NetworkParams:
    """Network-wide parameters (``network`` in the parameters file)."""

    epoch_blocks: int
    unbonding_blocks: int
    reward_per_block: int
    halving_blocks: int
    max_supply: int
    genesis_supply: int
    bounty_bps: int
    max_emission: int

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> NetworkParams:
        max_supply = int(d["maxSupply"])
        genesis = int(d["genesisSupply"])
        return cls(
            epoch_blocks=int(d["epochBlocks"]),
            unbonding_blocks=int(d["unbondingBlocks"]),
            reward_per_block=int(d["rewardPerBlock"]),
            halving_blocks=int(d["halvingBlocks"]),
            max_supply=max_supply,
            genesis_supply=genesis,
            bounty_bps=int(d["bountyBps"]),
            max_emission=int(d.get("maxEmission", max_supply - genesis)),
        )

    @property
    def epoch_hours(self) -> float:
        return self.epoch_blocks * BLOCK_SECONDS / 3600.0

    @property
    def unbonding_epochs(self) -> int:
        return -(-self.unbonding_blocks // self.epoch_blocks)


def load_raw(path: Path = PARAMS_PATH) -> dict[str, Any]:
    """The parameters file as parsed JSON."""
    return json.loads(Path(path).read_text())


def load_params(path: Path = PARAMS_PATH) -> tuple[NetworkParams, dict[str, ClassParams]]:
    """Network parameters and the classes by name."""
    raw = load_raw(path)
    network = NetworkParams.from_json(raw["network"])
    classes = {c["name"]: ClassParams.from_json(c) for c in raw["classes"]}
    return network, classes


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


def validate(network: NetworkParams, classes: dict[str, ClassParams]) -> list[str]:
    """Violations of the contracts' bounds and of the design rules (empty when all hold)."""
    errors: list[str] = []
    for c in classes.values():
        where = f"{c.name}:"
        if not (16 <= c.n <= 65_536 and c.n & (c.n - 1) == 0):
            errors.append(f"{where} n must be a power of two in [16, 65536]")
        if not (0 < c.leaf <= min(1024, c.n) and c.leaf & (c.leaf - 1) == 0):
            errors.append(f"{where} leaf must be a power of two <= min(n, 1024)")
        if not (0 < c.k <= 64 and c.k & (c.k - 1) == 0 and c.k <= c.n * c.n // c.leaf):
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
    if network.genesis_supply + network.max_emission > network.max_supply:
        errors.append("network: genesisSupply + maxEmission exceeds maxSupply")
    return errors
