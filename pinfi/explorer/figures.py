"""The explorer's figures: SQL over the indexed events plus the view snapshots.

This is the one module that names events, so a contract upgrade that renames one changes the
sets below (e.g. PoCPS v2's ``GraceMiss`` counts as a miss). Amounts are uint256 decimal text
in the database and Python ints here; the API turns them into strings (JSON numbers lose
precision past 2^53).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from pinfi.types import UNIT, DeviceState, ProofStatus, lease_device

from .db import Database

#: Events that set a device-epoch's proof status, and to what (later events win).
PROOF_EVENTS: dict[str, ProofStatus] = {
    "Committed": ProofStatus.COMMITTED,
    "Opened": ProofStatus.OPENED,
    "MissReported": ProofStatus.SLASHED,
    "FraudProven": ProofStatus.SLASHED,
    # PoCPS v2: a grace miss records the epoch as Missed (no slash); SLASHED before v2's enum
    "GraceMiss": getattr(ProofStatus, "MISSED", ProofStatus.SLASHED),
}
#: Events counted as a missed proof (v2 adds a grace miss that slashes nothing).
MISS_EVENTS = ("MissReported", "GraceMiss")
FRAUD_EVENTS = ("FraudProven",)
FORFEIT_EVENT = "RewardsForfeited"
LEASE_EVENTS = ("LeaseOpened", "LeaseExtended", "LeaseTerminated", "LeaseEndedByProvider",
                "DownReported", "DownResolved")
ZERO = "0x0000000000000000000000000000000000000000"
#: Uptime is over this many epochs unless asked otherwise.
UPTIME_EPOCHS = 20


def _in(names: tuple[str, ...] | list[str]) -> str:
    return "(" + ", ".join(f"'{n}'" for n in names) + ")"


def _args(row: dict[str, Any]) -> dict[str, Any]:
    a: dict[str, Any] = json.loads(row["args"])
    return a


def meta(db: Database) -> dict[str, int]:
    def num(k: str, default: int = 0) -> int:
        v = db.get(k)
        return int(v) if v is not None else default

    return {"indexed_block": num("cursor", -1), "head": num("head", -1),
            "views_block": num("views_block", -1), "epoch_blocks": num("epoch_blocks", 1),
            "genesis_block": num("genesis_block", 0)}


def epoch_of(m: dict[str, int], block: int) -> int:
    if block < m["genesis_block"]:
        return -1
    return (block - m["genesis_block"]) // max(m["epoch_blocks"], 1)


def status(db: Database) -> dict[str, Any]:
    m = meta(db)
    events = int(db.scalar("SELECT COUNT(*) FROM events") or 0)
    return {**m, "lag": max(0, m["head"] - m["indexed_block"]), "events": events,
            "epoch": epoch_of(m, m["indexed_block"]),
            "deployment": db.get("deployment"), "backend": "postgresql" if db.postgres else
            "sqlite"}


# ---- devices


def proof_statuses(db: Database, device_id: int | None = None) -> dict[int, dict[int, int]]:
    """{device: {epoch: ProofStatus}} folded from the proof events in chain order."""
    where = f"event IN {_in(list(PROOF_EVENTS))}"
    params: tuple[Any, ...] = ()
    if device_id is not None:
        where += " AND device_id = ?"
        params = (device_id,)
    out: dict[int, dict[int, int]] = defaultdict(dict)
    for r in db.query(f"SELECT device_id, epoch, event FROM events WHERE {where} "
                      "ORDER BY block_number, log_index", params):
        out[int(r["device_id"])][int(r["epoch"])] = int(PROOF_EVENTS[r["event"]])
    return out


def _counts(db: Database, events: tuple[str, ...]) -> dict[int, int]:
    return {int(r["device_id"]): int(r["n"]) for r in db.query(
        f"SELECT device_id, COUNT(*) AS n FROM events WHERE event IN {_in(events)} "
        "GROUP BY device_id")}


def _sums(db: Database, event: str, field: str, key: str = "device_id") -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for r in db.query(f"SELECT {key}, args FROM events WHERE event = ?", (event,)):
        out[int(r[key])] += int(_args(r)[field])
    return out


def _uptime(statuses: dict[int, int], misses: set[int], now: int, n: int) -> dict[str, Any]:
    """Passed over resolved proofs in the last ``n`` epochs (epochs still open excluded)."""
    lo = now - n + 1
    passed = sum(1 for e, s in statuses.items() if lo <= e <= now and s == ProofStatus.OPENED)
    bad = {int(s) for name, s in PROOF_EVENTS.items() if name in (*MISS_EVENTS, *FRAUD_EVENTS)}
    failed = sum(1 for e, s in statuses.items() if lo <= e <= now and s in bad)
    failed += sum(1 for e in misses if lo <= e <= now and statuses.get(e) not in bad)
    total = passed + failed
    return {"epochs": n, "passed": passed, "failed": failed,
            "uptime": round(passed / total, 4) if total else None}


def devices(db: Database, uptime_epochs: int = UPTIME_EPOCHS) -> list[dict[str, Any]]:
    """Every registered device with its standing (views at the indexed block + event counts)."""
    m = meta(db)
    now = epoch_of(m, m["indexed_block"])
    views = {int(r["device_id"]): r for r in db.query("SELECT * FROM device_views")}
    statuses = proof_statuses(db)
    miss_epochs: dict[int, set[int]] = defaultdict(set)
    for r in db.query(f"SELECT device_id, epoch FROM events WHERE event IN {_in(MISS_EVENTS)}"):
        miss_epochs[int(r["device_id"])].add(int(r["epoch"]))
    missed = _counts(db, MISS_EVENTS)
    frauds = _counts(db, FRAUD_EVENTS)
    slashes = _counts(db, ("DeviceSlashed",))
    slashed = _sums(db, "DeviceSlashed", "slashed")
    forfeited = _sums(db, FORFEIT_EVENT, "amount")  # PoCPS v2: unvested rewards forfeited
    leases = {int(r["device_id"]): int(r["n"]) for r in db.query(
        "SELECT device_id, COUNT(DISTINCT lease_id) AS n FROM events WHERE event = "
        "'LeaseOpened' GROUP BY device_id")}
    out = []
    for r in db.query("SELECT device_id, block_number, args FROM events WHERE event = "
                      "'DeviceRegistered' ORDER BY device_id"):
        d = int(r["device_id"])
        a = _args(r)
        v = views.get(d)
        st = statuses.get(d, {})
        state = DeviceState(int(v["state"])) if v else DeviceState.NONE
        out.append({
            "device_id": d, "owner": v["owner"] if v else a["owner"],
            "class_id": int(v["class_id"]) if v else int(a["classId"]),
            "state": state.label, "operator": v["operator"] if v else a["operator"],
            "bond": v["bond"] if v else a["bond"], "earned": v["earned"] if v else "0",
            "claimable": v["claimable"] if v else "0", "endpoint": v["endpoint"] if v else "",
            "registered_block": int(r["block_number"]),
            "proofs_passed": sum(1 for s in st.values() if s == ProofStatus.OPENED),
            "proofs_missed": missed.get(d, 0), "frauds": frauds.get(d, 0),
            "slashes": slashes.get(d, 0), "slashed": str(slashed.get(d, 0)),
            "forfeited": str(forfeited.get(d, 0)),
            "leases_served": leases.get(d, 0),
            "reliability": _uptime(st, miss_epochs.get(d, set()), now, uptime_epochs),
        })
    return out


def device(db: Database, device_id: int, uptime_epochs: int = UPTIME_EPOCHS) -> dict[str, Any]:
    """One device: its row, proof history per epoch, leases, slashes and claims."""
    row = next((d for d in devices(db, uptime_epochs) if d["device_id"] == device_id), None)
    if row is None:
        raise KeyError(device_id)
    statuses = proof_statuses(db, device_id).get(device_id, {})
    history = [{"epoch": e, "status": ProofStatus(s).label} for e, s in sorted(statuses.items())]
    events = [_event(r) for r in db.query(
        "SELECT * FROM events WHERE device_id = ? ORDER BY block_number, log_index",
        (device_id,))]
    slashes = [e for e in events
               if e["event"] in ("DeviceSlashed", *MISS_EVENTS, *FRAUD_EVENTS, FORFEIT_EVENT)]
    claims = [e for e in events if e["event"] in ("Claimed", "RewardsClaimed")]
    return {**row, "proof_history": history, "leases": leases(db, device_id),
            "slash_events": slashes, "claims": claims, "events": len(events)}


def _event(r: dict[str, Any]) -> dict[str, Any]:
    return {"block": int(r["block_number"]), "log_index": int(r["log_index"]),
            "tx": r["tx_hash"], "contract": r["contract"], "event": r["event"],
            "args": _args(r)}


# ---- leases


def _fold_lease(evs: list[dict[str, Any]], now: int) -> dict[str, Any]:
    lease: dict[str, Any] = {"extensions": 0, "cost": 0, "burned": 0, "refunded": 0, "fee": 0,
                             "ended": None, "down_reports": 0}
    for e in evs:
        a = e["args"]
        name = e["event"]
        if name == "LeaseOpened":
            lease.update(lease_id=a["leaseId"], device_id=int(a["deviceId"]), client=a["client"],
                         class_id=int(a["classId"]), start_epoch=int(a["startEpoch"]),
                         end_epoch=int(a["endEpoch"]), job_spec=a.get("jobSpec"),
                         opened_block=e["block"])
            lease["cost"] += int(a["cost"])
            lease["burned"] += int(a["burned"])
        elif name == "LeaseExtended":
            lease["extensions"] += 1
            lease["end_epoch"] = int(a["endEpoch"])
            lease["cost"] += int(a["cost"])
            lease["burned"] += int(a["burned"])
        elif name in ("LeaseTerminated", "LeaseEndedByProvider"):
            lease["end_epoch"] = int(a["epoch"])
            lease["refunded"] += int(a["refunded"])
            lease["fee"] += int(a.get("fee", 0))
            lease["ended"] = "terminated" if name == "LeaseTerminated" else "ended by provider"
        elif name == "DownReported":
            lease["down_reports"] += 1
    if "lease_id" not in lease:
        return {}
    lease["live"] = lease["ended"] is None and now < lease["end_epoch"]
    lease["status"] = lease["ended"] or ("live" if lease["live"] else "expired")
    lease["epochs"] = max(0, lease["end_epoch"] - lease["start_epoch"])
    for k in ("cost", "burned", "refunded", "fee"):
        lease[k] = str(lease[k])
    lease["events"] = evs
    return lease


def leases(db: Database, device_id: int | None = None,
           limit: int | None = None) -> list[dict[str, Any]]:
    m = meta(db)
    now = epoch_of(m, m["indexed_block"])
    where = f"event IN {_in(LEASE_EVENTS)} AND lease_id IS NOT NULL"
    params: tuple[Any, ...] = ()
    if device_id is not None:
        where += " AND device_id = ?"
        params = (device_id,)
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in db.query(f"SELECT * FROM events WHERE {where} ORDER BY block_number, log_index",
                      params):
        by_id[r["lease_id"]].append(_event(r))
    out = [f for f in (_fold_lease(v, now) for v in by_id.values()) if f]
    out.sort(key=lambda x: (x["opened_block"], int(x["lease_id"])), reverse=True)
    return out[:limit] if limit else out


def lease(db: Database, lease_id: int) -> dict[str, Any]:
    m = meta(db)
    evs = [_event(r) for r in db.query("SELECT * FROM events WHERE lease_id = ? ORDER BY "
                                       "block_number, log_index", (str(lease_id),))]
    f = _fold_lease(evs, epoch_of(m, m["indexed_block"]))
    if not f:
        raise KeyError(lease_id)
    f["device_id"] = lease_device(lease_id)
    return f


# ---- network


def classes(db: Database) -> list[dict[str, Any]]:
    """Per class now: R (supply), D (demand), utilization, marginal price, quote; devices."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in db.query("SELECT class_id, state, COUNT(*) AS n FROM device_views "
                      "GROUP BY class_id, state"):
        counts[int(r["class_id"])][DeviceState(int(r["state"])).label] = int(r["n"])
    out = []
    for r in db.query("SELECT * FROM class_views ORDER BY class_id"):
        cid = int(r["class_id"])
        out.append({"class_id": cid, "epoch": int(r["epoch"]), "block": int(r["block_number"]),
                    "supply": r["supply"],
                    "demand": r["demand"], "utilization": int(r["utilization"]) / UNIT,
                    "utilization_wad": r["utilization"], "price": r["price"],
                    "quote": r["quote"], "quote_epochs": int(r["quote_epochs"]),
                    "active": int(r["active"]), "devices": dict(counts.get(cid, {}))})
    return out


def class_epochs(db: Database, class_id: int) -> list[dict[str, Any]]:
    """R, D, utilization and the marginal price at each epoch's last block."""
    return [{"epoch": int(r["epoch"]), "block": int(r["block_number"]), "supply": r["supply"],
             "demand": r["demand"], "utilization_wad": r["utilization"],
             "utilization": int(r["utilization"]) / UNIT,
             "price": r["price"]}
            for r in db.query("SELECT * FROM class_epochs WHERE class_id = ? ORDER BY epoch",
                              (class_id,))]


def burn_emission(db: Database) -> dict[str, Any]:
    """PIN minted (emission; genesis supply apart) and burned per epoch, from the token's
    Transfer events from/to the zero address."""
    m = meta(db)
    per: dict[int, dict[str, int]] = defaultdict(lambda: {"minted": 0, "burned": 0})
    genesis = 0
    for r in db.query("SELECT block_number, args FROM events WHERE contract = 'PinToken' AND "
                      "event = 'Transfer' ORDER BY block_number, log_index"):
        a = _args(r)
        e = epoch_of(m, int(r["block_number"]))
        if a["from"] == ZERO:
            if e < 0:
                genesis += int(a["value"])
            else:
                per[e]["minted"] += int(a["value"])
        elif a["to"] == ZERO:
            per[max(e, 0)]["burned"] += int(a["value"])
    epochs = [{"epoch": e, "minted": str(v["minted"]), "burned": str(v["burned"])}
              for e, v in sorted(per.items())]
    minted = sum(v["minted"] for v in per.values())
    burned = sum(v["burned"] for v in per.values())
    return {"genesis": str(genesis), "minted": str(minted), "burned": str(burned),
            "supply": str(genesis + minted - burned), "epochs": epochs}


def overview(db: Database) -> dict[str, Any]:
    be = burn_emission(db)
    counts = {r["state"]: int(r["n"]) for r in db.query(
        "SELECT state, COUNT(*) AS n FROM device_views GROUP BY state")}
    return {"status": status(db), "classes": classes(db),
            "devices": {DeviceState(int(k)).label: v for k, v in counts.items()},
            "leases": int(db.scalar("SELECT COUNT(*) FROM events WHERE event = 'LeaseOpened'")
                          or 0),
            "burn_emission": {k: v for k, v in be.items() if k != "epochs"}}
