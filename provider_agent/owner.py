"""Owner actions on the chain layer: register, claim, unjail, exit and withdraw.

These use the owner key (``keys/owner.json``) through :class:`~provider_agent.context.Context`
and its :class:`~pinfi.chain.TxSender`; they return what happened and raise
:class:`~provider_agent.context.AgentError` (one line) on anything the operator must fix. The
command line (:mod:`provider_agent.cli`) only parses arguments and prints the results.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3.logs import DISCARD

from pinfi import chain as ch
from pinfi import params as params_mod
from pinfi import protocol
from pinfi.types import ZERO_ADDRESS, DeviceState

from .context import AgentError, Context, DeviceInfo


def hardware_identity(index: int = 0) -> str:
    """A stable identity of the local device: the GPU UUID, else the host's machine id + CPU."""
    try:
        import torch  # type: ignore[import-not-found, unused-ignore]

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(index)
            uuid = getattr(props, "uuid", None)
            return f"cuda:{props.name}:{uuid}"
    except ImportError:
        pass
    mid = ""
    for p in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            mid = Path(p).read_text().strip()
            break
        except OSError:
            continue
    return f"cpu:{platform.node()}:{mid}:{platform.processor() or platform.machine()}:{index}"


def fingerprint(identity: str) -> bytes:
    return protocol.keccak(b"pinfi-device:" + identity.encode())


def class_names(ctx_or_deployment: Any) -> dict[str, int]:
    """Class name -> id: the deployment's parameters, else the shipped class table."""
    dep = getattr(getattr(ctx_or_deployment, "cfg", None), "deployment", ctx_or_deployment)
    names = {str(c["name"]): int(c["id"]) for c in dep.class_entries()
             if c.get("name") and "id" in c}
    for c in params_mod.default_params().classes:
        names.setdefault(c.name, c.id)
    return names


def resolve_class(ctx: Context, ref: str | int) -> int:
    """A class id from an id or a name (``cpu-test``); AgentError when the chain lacks it."""
    text = str(ref).strip()
    names = class_names(ctx)
    if text.isdigit():
        class_id = int(text)
    elif text in names:
        class_id = names[text]
    else:
        known = ", ".join(f"{n} ({i})" for n, i in sorted(names.items(), key=lambda x: x[1]))
        raise AgentError(f"unknown class {text!r}: give a class id or one of {known}")
    if not ch.reads.staking_class(ctx.c, class_id).exists:
        raise AgentError(f"unknown class {text} on chain {ctx.cfg.deployment.chain_id}")
    return class_id


def gas_check(ctx: Context) -> None:
    if ctx.balance(ctx.address) == 0:
        raise AgentError(f"insufficient balance: {ctx.address} has 0 ETH for gas")


def token_balance(ctx: Context, who: str | None = None) -> int:
    return int(ch.call(ctx.c.token.functions.balanceOf(who or ctx.address)))


def approve(ctx: Context, amount: int) -> None:
    """Let Staking take ``amount`` PIN from the owner (checks the balance first)."""
    bal = token_balance(ctx)
    if bal < amount:
        raise AgentError(f"insufficient balance: owner {ctx.address} has {bal} wei of PIN, "
                         f"needs {amount}")
    allowance = int(ch.call(ctx.c.token.functions.allowance(ctx.address, ctx.c.staking.address)))
    if allowance < amount:
        ctx.sender.transact(ctx.c.token.functions.approve(ctx.c.staking.address, amount),
                            _key("approve"))


def _key(kind: str, *parts: object) -> str:
    """A journal key unique to this action (owner actions may be repeated)."""
    return ":".join([kind, *map(str, parts), str(time.time_ns())])


def owned(ctx: Context, devices: list[int]) -> Iterator[DeviceInfo]:
    """The devices, each checked to exist and to belong to the owner key."""
    for dev in devices:
        d = ctx.device(dev)
        if d.owner == ZERO_ADDRESS:
            raise AgentError(f"unknown device {dev} on chain {ctx.cfg.deployment.chain_id}")
        if d.owner.lower() != ctx.address.lower():
            raise AgentError(f"device {dev} is owned by {d.owner}, not by the owner key "
                             f"{ctx.address}")
        yield d


@dataclass(frozen=True)
class Registered:
    device_id: int
    class_id: int
    bond: int
    operator: str


def register(ctx: Context, class_ref: str | int, identity: str, operator: str) -> Registered:
    """Approve the class's minimum bond and register the device with ``operator``."""
    gas_check(ctx)
    class_id = resolve_class(ctx, class_ref)
    min_bond = ch.reads.staking_class(ctx.c, class_id).params.min_bond
    fp = fingerprint(identity)
    holder = int(ch.call(ctx.c.staking.functions.deviceOfFingerprint(fp)))
    if holder:
        raise AgentError(f"this hardware ({identity}) is already registered as device {holder}")
    approve(ctx, min_bond)
    rc = ctx.sender.transact(ctx.c.staking.functions.registerDevice(class_id, fp, operator),
                             _key("register", fp.hex()[:16]))
    events = ctx.c.staking.events.DeviceRegistered().process_receipt(rc, errors=DISCARD)
    return Registered(int(events[0]["args"]["deviceId"]), class_id, min_bond, operator)


@dataclass(frozen=True)
class Claimed:
    device_id: int
    source: str  # "staking" | "pool"
    amount: int


def claim(ctx: Context, devices: list[int]) -> list[Claimed]:
    """Claim maintenance rewards (Staking) and released lease escrow (pool) of each device."""
    gas_check(ctx)
    out = []
    for d in owned(ctx, devices):
        targets = [("staking", ctx.c.staking)]
        if ctx.c.pool is not None:
            targets.append(("pool", ctx.c.pool))
        for name, contract in targets:
            fn = contract.functions.claim(d.id)
            try:
                ctx.sender.estimate(fn)
            except ch.TxReverted as err:
                if err.name == "NothingToClaim":
                    continue
                raise AgentError(f"claim {name} device {d.id}: {err.message}") from None
            before = token_balance(ctx)
            ctx.sender.transact(fn, _key(f"claim-{name}", d.id))
            out.append(Claimed(d.id, name, token_balance(ctx) - before))
    return out


def unjail(ctx: Context, devices: list[int]) -> list[tuple[int, int]]:
    """Top each jailed device's bond up to its class minimum and bring it back (Pending);
    returns ``(device, top-up)`` pairs."""
    gas_check(ctx)
    out = []
    for d in owned(ctx, devices):
        if d.state != DeviceState.JAILED:
            raise AgentError(f"device {d.id} is {d.state.label}, not Jailed")
        min_bond = ch.reads.staking_class(ctx.c, d.class_id).params.min_bond
        top_up = max(0, min_bond - d.bond)
        if top_up:
            approve(ctx, top_up)
        ctx.sender.transact(ctx.c.staking.functions.unjail(d.id), _key("unjail", d.id))
        out.append((d.id, top_up))
    return out


def exit_devices(ctx: Context, devices: list[int]) -> list[tuple[int, int]]:
    """Deregister each device (unbonding starts); returns ``(device, unbondAt block)``."""
    gas_check(ctx)
    out = []
    for d in owned(ctx, devices):
        if d.state in (DeviceState.EXITING, DeviceState.WITHDRAWN):
            raise AgentError(f"device {d.id} is already {d.state.label}")
        rc = ctx.sender.transact(ctx.c.staking.functions.deregister(d.id), _key("exit", d.id))
        ev = ctx.c.staking.events.DeviceExiting().process_receipt(rc, errors=DISCARD)
        out.append((d.id, int(ev[0]["args"]["unbondAt"]) if ev else 0))
    return out


def withdraw(ctx: Context, devices: list[int]) -> list[tuple[int, int]]:
    """Withdraw the bond of each device whose unbonding is over; ``(device, amount)``."""
    gas_check(ctx)
    out = []
    for d in owned(ctx, devices):
        if d.state != DeviceState.EXITING:
            raise AgentError(f"device {d.id} is {d.state.label}; run exit without --withdraw "
                             "first")
        head = ctx.head()
        if head + 1 < d.unbond_at:
            raise AgentError(f"device {d.id} is unbonding until block {d.unbond_at} "
                             f"(head {head})")
        ctx.sender.transact(ctx.c.staking.functions.withdraw(d.id), _key("withdraw", d.id))
        out.append((d.id, d.bond))
    return out
