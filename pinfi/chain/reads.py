"""Typed reads of the contracts: dataclasses with :mod:`pinfi.types` enums, never bare tuples.

Each function takes the bound :class:`~pinfi.chain.deployment.Contracts` and optionally a block;
reverts raise :class:`~pinfi.chain.errors.TxReverted` with the decoded error, RPC trouble
:class:`~pinfi.chain.errors.RpcUnavailable` (after retries). Class parameters come back as the
views of :mod:`pinfi.params` (one schema for the file, the contracts and every reader).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3.contract import Contract
from web3.types import BlockIdentifier

from pinfi.params.schema import ClassParams, PoolPricing, ProofParams, StakingParams
from pinfi.types import ChallengeMode, DeviceState, ProofStatus, lease_id

from .deployment import Contracts
from .errors import ChainError
from .rpc import call

Block = BlockIdentifier


@dataclass(frozen=True)
class Device:
    """``Staking.getDevice``: one device's registration, state and bond."""

    id: int
    owner: str
    class_id: int
    state: DeviceState
    since: int
    state_epoch: int
    operator: str
    maint_until: int
    unbond_at: int
    bond: int
    rewards: int  # final per-proof credits not yet claimed (docs/protocol.md#vesting)
    weight: int  # the class weight at the device's last activation
    fingerprint: bytes


@dataclass(frozen=True)
class DeviceSummary:
    """``Staking.deviceSummary``: the cheap read (owner, class, state)."""

    id: int
    owner: str
    class_id: int
    state: DeviceState


@dataclass(frozen=True)
class ChallengeInfo:
    """``Staking.challengeInfo(deviceId, epoch)``: who answers a challenge and how the device
    stands towards it."""

    owner: str
    operator: str
    class_id: int
    mode: ChallengeMode


@dataclass(frozen=True)
class ProofParamsOnChain:
    """``PoCPSVerifier.classParams``: the proof slice plus what the contract derives."""

    params: ProofParams
    log_leaves: int
    log_stratum: int
    exists: bool


@dataclass(frozen=True)
class StakingClass:
    """``Staking.classes``: the staking slice plus the class's Active count."""

    params: StakingParams
    active: int
    exists: bool


@dataclass(frozen=True)
class ClassMarket:
    """``DissipativePool.classState``: leased (``demand``) and Active (``supply``) devices."""

    demand: int
    supply: int
    synced_epoch: int

    @property
    def utilization(self) -> float:
        return self.demand / self.supply if self.supply else 0.0


@dataclass(frozen=True)
class LeaseState:
    """``DissipativePool.leaseOf(deviceId)``: the device's latest lease (``nonce`` 0: none)."""

    device_id: int
    client: str
    start_epoch: int
    end_epoch: int  # first epoch not leased (the termination epoch once terminated)
    per_epoch: int  # while live: escrow per leased epoch (the owner's share)
    nonce: int
    live: bool

    @property
    def lease_id(self) -> int:
        return lease_id(self.device_id, self.nonce) if self.nonce else 0


@dataclass(frozen=True)
class Escrow:
    """``DissipativePool.escrowOf(deviceId)``; ``forced_epoch`` 0: no pending down report."""

    locked: int
    locked_until: int
    owed: int
    claimable_now: int
    forced_epoch: int
    down_bond: int


@dataclass(frozen=True)
class ProofRecord:
    """``PoCPSVerifier.record(deviceId, epoch)`` (a ring slot: check ``epoch``)."""

    root: bytes
    epoch: int
    commit_block: int
    open_block: int
    status: ProofStatus
    prev_pass_plus_one: int = 0  # the latest passed epoch + 1 the slot carried over


def _pool(c: Contracts) -> Contract:
    if c.pool is None:
        raise ChainError("the deployment has no DissipativePool")
    return c.pool


def _struct_names(contract: Contract, fn_name: str) -> list[str]:
    """The component names of ``fn_name``'s single struct output in the bound ABI (the struct's
    layout changes between contract versions; reading it by name keeps every reader right)."""
    abi: list[dict[str, Any]] = list(contract.abi)  # type: ignore[arg-type]
    for item in abi:
        if item.get("type") == "function" and item.get("name") == fn_name:
            out: list[Any] = list(item.get("outputs", []))
            comps = out[0].get("components") if len(out) == 1 else None
            return [str(x["name"]) for x in (comps or out)]
    raise ChainError(f"{fn_name} not in the ABI")


def device(c: Contracts, device_id: int, block: Block = "latest") -> Device:
    raw = call(c.staking.functions.getDevice(device_id), block)
    d = dict(zip(_struct_names(c.staking, "getDevice"), raw, strict=False))
    return Device(device_id, str(d["owner"]), int(d["classId"]), DeviceState(int(d["state"])),
                  int(d["since"]), int(d["stateEpoch"]), str(d["operator"]),
                  int(d["maintUntil"]), int(d["unbondAt"]), int(d["bond"]), int(d["rewards"]),
                  int(d.get("weight", 0)), bytes(d["fingerprint"]))


def device_summary(c: Contracts, device_id: int, block: Block = "latest") -> DeviceSummary:
    owner, class_id, state = call(c.staking.functions.deviceSummary(device_id), block)
    return DeviceSummary(device_id, str(owner), int(class_id), DeviceState(int(state)))


def device_count(c: Contracts, block: Block = "latest") -> int:
    return int(call(c.staking.functions.deviceCount(), block))


def challenge_info(c: Contracts, device_id: int, epoch: int,
                   block: Block = "latest") -> ChallengeInfo:
    owner, operator, class_id, mode = call(c.staking.functions.challengeInfo(device_id, epoch),
                                           block)
    return ChallengeInfo(str(owner), str(operator), int(class_id), ChallengeMode(int(mode)))


def _proof_view(raw: Any) -> ProofParamsOnChain:
    return ProofParamsOnChain(ProofParams.from_contract(raw), int(raw[4]), int(raw[5]),
                              bool(raw[-1]))


def proof_params(c: Contracts, class_id: int, block: Block = "latest") -> ProofParamsOnChain:
    """``PoCPSVerifier.classParams``: the version in force in the current epoch."""
    return _proof_view(call(c.verifier.functions.classParams(class_id), block))


def proof_params_at(c: Contracts, class_id: int, epoch: int,
                    block: Block = "latest") -> ProofParamsOnChain:
    """``PoCPSVerifier.paramsAt(classId, epoch)``: the version that judges every commit, open,
    dispute and miss of ``epoch`` (a change takes effect two epochs after ``setClass``;
    docs/protocol.md#class-parameters). ``exists`` False: unknown class."""
    return _proof_view(call(c.verifier.functions.paramsAt(class_id, epoch), block))


@dataclass(frozen=True)
class ScheduledClass:
    """``PoCPSVerifier.scheduledClass``: a change of a class not yet in force (``from_epoch``
    0: none scheduled)."""

    params: ProofParams | None
    from_epoch: int


def scheduled_class(c: Contracts, class_id: int, block: Block = "latest") -> ScheduledClass:
    raw, from_epoch = call(c.verifier.functions.scheduledClass(class_id), block)
    return ScheduledClass(ProofParams.from_contract(raw) if int(from_epoch) else None,
                          int(from_epoch))


def staking_class(c: Contracts, class_id: int, block: Block = "latest") -> StakingClass:
    raw = call(c.staking.functions.classes(class_id), block)
    return StakingClass(StakingParams.from_contract(raw), int(raw[2]), bool(raw[3]))


def pricing(c: Contracts, class_id: int, block: Block = "latest") -> PoolPricing:
    """The pool's pricing of a class (``configured`` False: unknown to the pool)."""
    return PoolPricing.from_contract(call(_pool(c).functions.classParams(class_id), block))


def class_params(c: Contracts, class_id: int, block: Block = "latest",
                 epoch: int | None = None) -> ClassParams | None:
    """The whole class as the three contracts hold it (named from the deployment's parameters);
    None when the class is configured in none of them. ``epoch``: the PoCPS slice in force for
    that epoch (``paramsAt``) instead of the current one."""
    proof = (proof_params(c, class_id, block) if epoch is None
             else proof_params_at(c, class_id, epoch, block))
    stake = staking_class(c, class_id, block)
    price = pricing(c, class_id, block) if c.pool is not None else None
    if not proof.exists and not stake.exists and (price is None or not price.configured):
        return None
    price = price or PoolPricing(0, 0, 0, 0, 0, 0, 0)
    return ClassParams.from_views(class_id, c.deployment.class_name(class_id), proof.params,
                                  stake.params, price)


def class_market(c: Contracts, class_id: int, block: Block = "latest") -> ClassMarket:
    demand, supply, synced = call(_pool(c).functions.classState(class_id), block)
    return ClassMarket(int(demand), int(supply), int(synced))


def lease(c: Contracts, device_id: int, block: Block = "latest") -> LeaseState:
    client, start, end, per_epoch, nonce, live = call(
        _pool(c).functions.leaseOf(device_id), block)
    return LeaseState(device_id, str(client), int(start), int(end), int(per_epoch), int(nonce),
                      bool(live))


def escrow(c: Contracts, device_id: int, block: Block = "latest") -> Escrow:
    raw = call(_pool(c).functions.escrowOf(device_id), block)
    return Escrow(*(int(x) for x in raw))


def proof_status(c: Contracts, device_id: int, epoch: int, block: Block = "latest") -> ProofStatus:
    return ProofStatus(int(call(c.verifier.functions.proofStatus(device_id, epoch), block)))


def proof_record(c: Contracts, device_id: int, epoch: int, block: Block = "latest") -> ProofRecord:
    root, e, commit_block, open_block, status, prev_pass = call(
        c.verifier.functions.record(device_id, epoch), block)
    return ProofRecord(bytes(root), int(e), int(commit_block), int(open_block),
                       ProofStatus(int(status)), int(prev_pass))


@dataclass(frozen=True)
class EpochDuty:
    """What the verifier says a device owes for one epoch (docs/protocol.md#selection):
    ``must_commit`` (``mustCommit``: not Exempt, known class, seed stored) and ``must_open``
    (``mustOpen``: Always, forced, owed after a grace miss, or drawn from the hash of the commit
    deadline block; a Sampled device reads False until the head is past the deadline), with the
    forced/owed flags that explain it."""

    must_commit: bool
    must_open: bool
    forced: bool
    owed: bool


def epoch_duty(c: Contracts, device_id: int, epoch: int, block: Block = "latest") -> EpochDuty:
    v = c.verifier.functions
    return EpochDuty(bool(call(v.mustCommit(device_id, epoch), block)),
                     bool(call(v.mustOpen(device_id, epoch), block)),
                     int(call(v.forcedEpochPlusOne(device_id), block)) == epoch + 1,
                     int(call(v.owedEpochPlusOne(device_id), block)) == epoch + 1)


def open_odds(c: Contracts, device_id: int, epoch: int, block: Block = "latest") -> int:
    """``PoCPSVerifier.openOdds``: BPS when the opening is owed whatever the draw, the class's
    ``challengeBps`` when drawn, 0 when not drawn (a voluntary opening earns nothing); the
    reward of a passed opening is scaled by ``BPS / odds`` (docs/protocol.md#vesting)."""
    return int(call(c.verifier.functions.openOdds(device_id, epoch), block))


def must_open(c: Contracts, device_id: int, epoch: int, block: Block = "latest") -> bool:
    """``PoCPSVerifier.mustOpen(deviceId, epoch)`` (see :class:`EpochDuty`)."""
    return bool(call(c.verifier.functions.mustOpen(device_id, epoch), block))


def checked_strata(c: Contracts, class_id: int, epoch: int, sample_seed: bytes,
                   block: Block = "latest") -> list[int]:
    """``PoCPSVerifier.checkedStrata``: the strata ``open`` recomputes, in check order."""
    return [int(q) for q in call(c.verifier.functions.checkedStrata(class_id, epoch,
                                                                     sample_seed), block)]


@dataclass(frozen=True)
class Endpoint:
    """``EndpointRegistry.endpointOf``: a device's published gateway (docs/delivery.md#discovery).

    ``current`` is False when whoever published it is no longer the device's owner (the entry is
    stale and a client ignores it); ``url`` is ``""`` when none was published."""

    device_id: int
    url: str
    set_by: str
    updated_block: int
    current: bool


def registry(c: Contracts) -> Contract:
    """The deployment's EndpointRegistry (``ChainError`` when it has none)."""
    from .abi import REGISTRY_NAME
    from .deployment import contract

    addr = c.deployment.contracts.get(REGISTRY_NAME)
    if not addr:
        raise ChainError(f"deployment of chain {c.deployment.chain_id} has no {REGISTRY_NAME} "
                         "(ape run deploy adds it)")
    return contract(c.w3, REGISTRY_NAME, addr)


def endpoint(c: Contracts, device_id: int, block: Block = "latest") -> Endpoint:
    url, set_by, updated = call(registry(c).functions.endpointOf(device_id), block)
    owner = device_summary(c, device_id, block).owner
    current = bool(url) and str(set_by).lower() == str(owner).lower()
    return Endpoint(device_id, str(url), str(set_by), int(updated), current)
