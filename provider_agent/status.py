"""What ``provider-agent status`` reports: per device its state, bond, rewards, lease, next
commit window, the chain's proof status of the last two epochs (``ProofStatus``, with whether the
commitment was drawn for opening), why it is jailed, and whether the running daemon serves it.

Token amounts are integers in wei (the CLI prints them as PIN, ``--json`` as decimal strings).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from pinfi import chain as ch
from pinfi.types import DeviceState, ProofStatus, format_lease_id

from . import keystore
from . import state as st
from .config import Config
from .context import ChainView
from .prover import HEARTBEAT_KEY
from .state import Journal

#: A daemon whose heartbeat is older than this does not count as running.
HEARTBEAT_STALE_S = 60.0


@dataclass(frozen=True)
class Served:
    """Whether a running daemon (of this config's journal) proves the device."""

    running: bool
    served: bool
    why: str


def daemon_heartbeat(journal: Journal) -> dict[str, Any] | None:
    """The running daemon's last heartbeat (None when no live daemon wrote one)."""
    raw = journal.get(HEARTBEAT_KEY)
    if not raw:
        return None
    beat = json.loads(raw)
    if beat.get("stopped") or time.time() - float(beat.get("time", 0)) > HEARTBEAT_STALE_S:
        return None
    pid = int(beat.get("pid", 0))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return beat


def served(beat: dict[str, Any] | None, device_id: int) -> Served:
    if beat is None:
        return Served(False, False, "no daemon running (provider-agent run)")
    if device_id in beat.get("devices", []):
        return Served(True, True, f"served by pid {beat['pid']}")
    return Served(True, False, f"not served: the daemon (pid {beat['pid']}) does not list it "
                  "yet (it re-reads the config and the chain each block)")


def jail_reason(view: ChainView, device_id: int, since_block: int) -> str:
    """The latest fault on chain that explains a jailing."""
    v = view.c.verifier.events
    first = max(view.cfg.deployment.deployment_block, since_block)
    found: list[tuple[int, str]] = []
    for ev, text in ((v.MissReported, "missed the challenge of epoch {epoch} (a second miss "
                      "within the grace period)"),
                     (v.FraudProven, "fraud proven for epoch {epoch} (entry {entry} claimed "
                      "{claimed}, expected {expected})")):
        logs: list[Any] = ch.with_retry(partial(ev.get_logs, from_block=first,
                                                argument_filters={"deviceId": device_id}),
                                        what="eth_getLogs jail reason")
        for lg in logs:
            a = dict(lg["args"])
            found.append((int(lg["blockNumber"]), text.format(**a)
                          + f"; slashed {int(a['slashed'])} wei; reported by {a['reporter']}"))
    return max(found)[1] if found else "jailed (no fault event found since the deployment)"


def gather(cfg: Config) -> dict[str, Any]:
    """The whole status report as plain data (JSON-ready except the int amounts)."""
    w3 = ch.connect(cfg.rpc_url, cfg.deployment.chain_id)
    view = ChainView(cfg, w3, ch.load_contracts(w3, cfg.deployment))
    operator = keystore.address_of(cfg.operator_keystore)
    journal = Journal(cfg.data_dir / "agent.db")
    head = view.head()
    epoch = view.epoch_of(head)
    beat = daemon_heartbeat(journal)
    devices = sorted(set(cfg.devices) | set(beat.get("devices", []) if beat else []))
    rows = []
    for dev in devices:
        d = view.device(dev)
        if not d.owner or int(d.owner, 16) == 0:
            rows.append({"device": dev, "state": "unknown"})
            continue
        pc = view.class_params(d.class_id, epoch)
        earned = int(ch.call(view.c.staking.functions.earned(dev)))
        # Rewards per proof: a passed drawn or owed opening's credit, final once its epoch is
        # over (docs/protocol.md#vesting); 0 on a Staking without the view.
        pending = (int(ch.call(view.c.staking.functions.pendingReward(dev)))
                   if hasattr(view.c.staking.functions, "pendingReward") else 0)
        pool = int(ch.call(view.c.pool.functions.claimable(dev))) if view.c.pool else 0
        counts = journal.count_states(dev)
        recent = journal.recent_proofs(dev, 1)
        row: dict[str, Any] = {
            "device": dev, "class": d.class_id, "className": view.cfg.deployment.class_name(
                d.class_id), "state": d.state.label, "bond": d.bond, "earned": earned,
            "pendingReward": pending, "pool": pool,
            "passed": counts.get(st.DONE, 0) + counts.get(st.OPENED, 0),
            "present": counts.get(st.NOT_DRAWN, 0),
            "failed": counts.get(st.FAILED, 0) + counts.get(st.MISSED, 0),
            "last": f"e{recent[0].epoch} {recent[0].state}" if recent else "-",
            "operatorOk": d.operator.lower() == operator.lower(),
        }
        row["commitWindow"] = _next_window(view, journal, dev, epoch, head, pc.commit_window,
                                           d.state)
        row["proofs"] = [_proof(view, dev, e, head) for e in (epoch - 1, epoch) if e >= 0]
        row["jailed"] = (jail_reason(view, dev, view.epoch_start(max(0, d.state_epoch - 2)))
                         if d.state == DeviceState.JAILED else None)
        row["lease"] = _lease(view, journal, dev, epoch) if view.c.pool else None
        srv = served(beat, dev)
        row["served"] = srv.served
        row["servedWhy"] = srv.why
        rows.append(row)
    return {"chainId": cfg.deployment.chain_id, "head": head, "epoch": epoch,
            "operator": operator, "operatorBalance": view.balance(operator),
            "daemon": {"running": beat is not None, "pid": beat["pid"] if beat else None,
                       "head": beat["head"] if beat else None},
            "devices": rows}


def _proof(view: ChainView, dev: int, epoch: int, head: int) -> dict[str, Any]:
    """The chain's view of one epoch: ``ProofStatus`` (``Missed`` = a grace miss) and whether
    the commitment must be opened (``mustOpen``; None before the commit deadline is final)."""
    status = view.proof_status(dev, epoch)
    info = view.challenge_info(dev, epoch)
    must: bool | None = None
    if info.class_id:
        deadline = view.epoch_start(epoch) + view.class_params(info.class_id, epoch).commit_window
        if head > deadline:
            must = view.must_open(dev, epoch)
    return {"epoch": epoch, "status": status.label, "mode": info.mode.label, "mustOpen": must,
            "missed": status == ProofStatus.MISSED}


def _next_window(view: ChainView, journal: Journal, dev: int, epoch: int, head: int,
                 window: int, state: DeviceState) -> dict[str, Any] | None:
    """This epoch's commit window while it is open and the device owes (or may owe) a commit,
    else the next epoch's. ``due``: True when the daemon has the commit under way, None when not
    known yet (every device that is not Exempt commits every epoch, PoCPS v2)."""
    if state in (DeviceState.NONE, DeviceState.EXITING, DeviceState.WITHDRAWN):
        return None
    start = view.epoch_start(epoch)
    row = journal.get_proof(dev, epoch)
    if head + 1 < start + window and (row is None or row.state in (st.SELECTED, st.COMPUTED,
                                                                   st.COMMIT_SENT)):
        due = None if row is None else True
        return {"epoch": epoch, "from": start, "until": start + window - 1, "due": due}
    nxt = view.epoch_start(epoch + 1)
    return {"epoch": epoch + 1, "from": nxt, "until": nxt + window - 1, "due": None}


def _lease(view: ChainView, journal: Journal, dev: int, epoch: int) -> dict[str, Any] | None:
    lease = view.lease(dev)
    if not lease.nonce:
        return None
    row = journal.get_lease(str(lease.lease_id))
    return {"id": str(lease.lease_id), "label": format_lease_id(lease.lease_id),
            "client": lease.client, "startEpoch": lease.start_epoch, "endEpoch": lease.end_epoch,
            "live": lease.live and epoch < lease.end_epoch,
            "job": row.state if row is not None else "not seen by the daemon"}
