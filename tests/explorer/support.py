"""Helpers of the explorer tests: a comparable dump of an index."""

from __future__ import annotations

from typing import Any

from pinfi.explorer.db import Database


def dump(db: Database) -> dict[str, Any]:
    """Everything an index holds that must not depend on how it was synced."""
    out: dict[str, Any] = {}
    for table, order in (("events", "block_number, log_index"), ("class_epochs", "class_id, epoch"),
                         ("device_views", "device_id"), ("class_views", "class_id")):
        out[table] = [tuple(str(x) for x in r.values())
                      for r in db.query(f"SELECT * FROM {table} ORDER BY {order}")]
    out["cursor"] = db.get("cursor")
    return out
