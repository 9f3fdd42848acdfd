"""The gateway is runtime code: it loads no developer tool (uvicorn brings click, allowed)."""

from __future__ import annotations

import sys

from tests.support.imports import DEV_MODULES, forbidden_loaded

# L1: the shared check of tests/support/imports.py (also used by tests/deploy).
FORBIDDEN = (*(m for m in DEV_MODULES if m != "click"), "schemathesis")
GATEWAY = ("provider_agent.gateway.__main__", "provider_agent.gateway.app",
           "pinfi.delivery.client")


def test_gateway_imports_no_dev_module(tmp_path):
    assert forbidden_loaded(sys.executable, GATEWAY, tmp_path, FORBIDDEN) == []
