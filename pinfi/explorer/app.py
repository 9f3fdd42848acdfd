"""The explorer's read API (JSON, OpenAPI at /openapi.json) and its dashboard pages.

Served from the index only (no chain call per request): the indexer thread writes, requests
read. FastAPI's interactive docs are off: they load their assets from a CDN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from pinfi.types import lease_device

from . import figures as fg
from . import pages
from .db import Database

STATIC = Path(__file__).with_name("static")


def create_app(db: Database) -> FastAPI:
    app = FastAPI(title="PinFi explorer", version="1", docs_url=None, redoc_url=None,
                  description="The indexed protocol: classes, devices, leases, proofs, "
                              "burn and emission (docs/explorer.md#api).")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def _device(device_id: int, uptime_epochs: int) -> dict[str, Any]:
        try:
            return fg.device(db, device_id, uptime_epochs)
        except KeyError:
            raise HTTPException(404, f"device {device_id} is not indexed") from None

    def _lease(lease_id: int) -> dict[str, Any]:
        try:
            return fg.lease(db, lease_id)
        except KeyError:
            raise HTTPException(404, f"lease {lease_id} is not indexed") from None

    # ---- JSON

    @app.get("/api/status", tags=["api"])
    def api_status() -> dict[str, Any]:
        """Indexed block, chain head and the lag between them."""
        return fg.status(db)

    @app.get("/api/overview", tags=["api"])
    def api_overview() -> dict[str, Any]:
        return fg.overview(db)

    @app.get("/api/classes", tags=["api"])
    def api_classes() -> list[dict[str, Any]]:
        """Per class now: R, D, utilization, marginal price, quote."""
        return fg.classes(db)

    @app.get("/api/classes/{class_id}/epochs", tags=["api"])
    def api_class_epochs(class_id: int) -> list[dict[str, Any]]:
        """R, D, utilization and price at each epoch's last block."""
        return fg.class_epochs(db, class_id)

    @app.get("/api/burn-emission", tags=["api"])
    def api_burn_emission() -> dict[str, Any]:
        return fg.burn_emission(db)

    @app.get("/api/devices", tags=["api"])
    def api_devices(uptime_epochs: int = Query(fg.UPTIME_EPOCHS, ge=1, le=10_000),
                    class_id: int | None = None) -> list[dict[str, Any]]:
        rows = fg.devices(db, uptime_epochs)
        return [d for d in rows if class_id is None or d["class_id"] == class_id]

    @app.get("/api/devices/{device_id}", tags=["api"])
    def api_device(device_id: int,
                   uptime_epochs: int = Query(fg.UPTIME_EPOCHS, ge=1, le=10_000)) -> Any:
        return _device(device_id, uptime_epochs)

    @app.get("/api/leases", tags=["api"])
    def api_leases(device_id: int | None = None,
                   limit: int = Query(100, ge=1, le=10_000)) -> list[dict[str, Any]]:
        return fg.leases(db, device_id, limit)

    @app.get("/api/leases/{lease_id}", tags=["api"])
    def api_lease(lease_id: int) -> dict[str, Any]:
        return _lease(lease_id)

    # ---- pages

    def html(title: str, body: str) -> HTMLResponse:
        return HTMLResponse(pages.page(title, body, fg.status(db)))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        o = fg.overview(db)
        charts = {c["class_id"]: fg.class_epochs(db, c["class_id"]) for c in o["classes"]}
        return html("Network", pages.overview(o, charts, fg.burn_emission(db)))

    @app.get("/devices", response_class=HTMLResponse, include_in_schema=False)
    def devices_page() -> HTMLResponse:
        return html("Devices", pages.devices(fg.devices(db)))

    @app.get("/devices/{device_id}", response_class=HTMLResponse, include_in_schema=False)
    def device_page(device_id: int) -> HTMLResponse:
        return html(f"Device {device_id}", pages.device(_device(device_id, fg.UPTIME_EPOCHS)))

    @app.get("/leases", response_class=HTMLResponse, include_in_schema=False)
    def leases_page() -> HTMLResponse:
        return html("Leases", pages.leases(fg.leases(db, limit=500)))

    @app.get("/leases/{lease_id}", response_class=HTMLResponse, include_in_schema=False)
    def lease_page(lease_id: int) -> HTMLResponse:
        return html(f"Lease {lease_id}", pages.lease(_lease(lease_id)))

    @app.get("/search", include_in_schema=False)
    def search(q: str = "") -> RedirectResponse:
        """A device id goes to its page; a lease id (deviceId << 64 | nonce) to the lease."""
        q = q.strip()
        if not q.isdigit():
            raise HTTPException(400, "search by a device or lease id (a number)")
        n = int(q)
        if lease_device(n) > 0:
            return RedirectResponse(f"/leases/{n}", status_code=303)
        return RedirectResponse(f"/devices/{n}", status_code=303)

    return app
