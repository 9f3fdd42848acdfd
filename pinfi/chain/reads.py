"""Typed reads of the contracts: dataclasses with :mod:`pinfi.types` enums, never bare tuples.

Each function takes the bound :class:`~pinfi.chain.deployment.Contracts` and optionally a block;
reverts raise :class:`~pinfi.chain.errors.TxReverted` with the decoded error, RPC trouble
:class:`~pinfi.chain.errors.RpcUnavailable` (after retries). Class parameters come back as the
views of :mod:`pinfi.params` (one schema for the file, the contracts and every reader).
"""

from __future__ import annotations

from dataclasses import dataclass

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
    rewards: int
    reward_per_weight_paid: int
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


def _pool(c: Contracts) -> Contract:
    if c.pool is None:
        raise ChainError("the deployment has no DissipativePool")
    return c.pool


def device(c: Contracts, device_id: int, block: Block = "latest") -> Device:
    d = call(c.staking.functions.getDevice(device_id), block)
    return Device(device_id, str(d[0]), int(d[1]), DeviceState(int(d[2])), int(d[3]), int(d[4]),
                  str(d[5]), int(d[6]), int(d[7]), int(d[8]), int(d[9]), int(d[10]), bytes(d[11]))


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


def proof_params(c: Contracts, class_id: int, block: Block = "latest") -> ProofParamsOnChain:
    raw = call(c.verifier.functions.classParams(class_id), block)
    return ProofParamsOnChain(ProofParams.from_contract(raw), int(raw[4]), int(raw[5]),
                              bool(raw[-1]))


def staking_class(c: Contracts, class_id: int, block: Block = "latest") -> StakingClass:
    raw = call(c.staking.functions.classes(class_id), block)
    return StakingClass(StakingParams.from_contract(raw), int(raw[2]), bool(raw[3]))


def pricing(c: Contracts, class_id: int, block: Block = "latest") -> PoolPricing:
    """The pool's pricing of a class (``configured`` False: unknown to the pool)."""
    return PoolPricing.from_contract(call(_pool(c).functions.classParams(class_id), block))


def class_params(c: Contracts, class_id: int, block: Block = "latest") -> ClassParams | None:
    """The whole class as the three contracts hold it (named from the deployment's parameters);
    None when the class is configured in none of them."""
    proof = proof_params(c, class_id, block)
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
    root, e, commit_block, open_block, status = call(
        c.verifier.functions.record(device_id, epoch), block)
    return ProofRecord(bytes(root), int(e), int(commit_block), int(open_block),
                       ProofStatus(int(status)))


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
