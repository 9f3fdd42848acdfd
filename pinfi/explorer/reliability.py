"""Reliability figures of devices for a client choosing one (``pinfi classes``).

Read from an explorer: its API (``http://...``) or its database (a SQLite path or a
``postgresql://`` URL). Without one a client sees no figure (``None``), never a made-up one.
"""

from __future__ import annotations

import os
from typing import Any

ENV = "PINFI_EXPLORER"


def lookup(source: str | None = None, uptime_epochs: int = 20) -> dict[int, dict[str, Any]]:
    """{device_id: {uptime, passed, failed, epochs, proofs_passed, proofs_missed, frauds,
    slashes, leases_served}} from ``source`` (default ``$PINFI_EXPLORER``); {} when none."""
    source = source or os.environ.get(ENV)
    if not source:
        return {}
    if source.startswith(("http://", "https://")):
        import requests

        r = requests.get(source.rstrip("/") + "/api/devices",
                         params={"uptime_epochs": uptime_epochs}, timeout=10)
        r.raise_for_status()
        rows: list[dict[str, Any]] = r.json()
    else:
        from . import figures
        from .db import open_db

        db = open_db(source)
        try:
            rows = figures.devices(db, uptime_epochs)
        finally:
            db.close()
    keys = ("proofs_passed", "proofs_missed", "frauds", "slashes", "leases_served")
    return {int(d["device_id"]): {**d["reliability"], **{k: d[k] for k in keys}} for d in rows}


def text(rel: dict[str, Any] | None) -> str:
    """``98% of 40, 1 slash`` (or ``-``)."""
    if not rel or rel.get("uptime") is None:
        return "-"
    n = rel["passed"] + rel["failed"]
    s = f"{rel['uptime']:.0%} of {n}"
    if rel.get("slashes"):
        s += f", {rel['slashes']} slash{'es' if rel['slashes'] > 1 else ''}"
    return s
