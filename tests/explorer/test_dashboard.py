"""The dashboard in headless Chromium (Debian's chromium + chromium-driver, through Selenium):
pages render, their numbers equal the API's, a device is found by id; screenshots go to
out/explorer/."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import httpx
import pytest

from pinfi.explorer.app import create_app
from pinfi.explorer.db import open_db
from pinfi.explorer.indexer import Indexer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
         "--window-size=1280,1600")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(w3, scenario, tmp_path_factory):
    import uvicorn

    db = open_db(tmp_path_factory.mktemp("dash") / "explorer.sqlite")
    Indexer(w3, scenario.deployment, db).sync()
    port = _port()
    srv = uvicorn.Server(uvicorn.Config(create_app(db), host="127.0.0.1", port=port,
                                        log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not srv.started:
        assert time.monotonic() < deadline, "explorer did not start"
        time.sleep(0.05)
    yield url
    srv.should_exit = True
    t.join(timeout=10)
    db.close()


@pytest.fixture(scope="module")
def browser():
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("chromium / chromium-driver not installed (make test installs them as root)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for f in FLAGS:
        opts.add_argument(f)
    drv = webdriver.Chrome(options=opts, service=Service(executable_path=DRIVER))
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def values(drv, scope: str = "main") -> dict[str, list[str]]:
    """data-k -> [data-v, ...] of every figure on the page (in order)."""
    from selenium.webdriver.common.by import By

    out: dict[str, list[str]] = {}
    for el in drv.find_elements(By.CSS_SELECTOR, f"{scope} [data-k]"):
        out.setdefault(el.get_attribute("data-k"), []).append(el.get_attribute("data-v") or "")
    return out


def test_pages_match_api(server, browser, scenario, out_dir):
    from selenium.webdriver.common.by import By

    api = httpx.Client(base_url=server, timeout=30)
    browser.get(server + "/")
    assert "PinFi explorer" in browser.title
    classes = api.get("/api/classes").json()
    v = values(browser)
    assert v["class_id"] == [str(c["class_id"]) for c in classes]
    assert v["supply"] == [c["supply"] for c in classes]
    assert v["demand"] == [c["demand"] for c in classes]
    assert v["price"] == [c["price"] or "" for c in classes]
    totals = api.get("/api/burn-emission").json()
    for k in ("minted", "burned", "genesis"):
        assert v[k] == [totals[k]]
    assert v["token_supply"] == [totals["supply"]]
    for fig in ("chart-burn", "chart-price-1", "chart-util-1"):
        assert browser.find_element(By.ID, fig).find_elements(By.TAG_NAME, "polyline")
    status = api.get("/api/status").json()
    assert values(browser, "header")["lag"] == [str(status["lag"])]
    browser.save_screenshot(str(out_dir / "overview.png"))

    browser.get(server + "/devices")
    devices = api.get("/api/devices").json()
    v = values(browser)
    assert v["device_id"] == [str(d["device_id"]) for d in devices]
    for k in ("state", "proofs_passed", "proofs_missed", "frauds", "slashes", "leases_served"):
        assert v[k] == [str(d[k]) for d in devices], k
    browser.save_screenshot(str(out_dir / "devices.png"))

    # find a device by id through the search box
    target = scenario.fraud
    box = browser.find_element(By.ID, "q")
    box.send_keys(str(target))
    box.submit()
    deadline = time.monotonic() + 30
    while not browser.current_url.endswith(f"/devices/{target}"):
        assert time.monotonic() < deadline, browser.current_url
        time.sleep(0.1)
    d = api.get(f"/api/devices/{target}").json()
    v = values(browser, "#device")
    for k in ("state", "owner", "bond", "proofs_passed", "frauds", "slashes", "slashed"):
        assert v[k] == [str(d[k])], k
    assert browser.find_element(By.ID, "proofs").text
    browser.save_screenshot(str(out_dir / "device.png"))

    lease_id = scenario.leases[1]
    browser.get(f"{server}/leases/{lease_id}")
    lease = api.get(f"/api/leases/{lease_id}").json()
    v = values(browser, "#lease")
    for k in ("client", "start_epoch", "end_epoch", "status", "cost", "burned", "fee"):
        assert v[k] == [str(lease[k])], k
    browser.save_screenshot(str(out_dir / "lease.png"))
    assert (out_dir / "lease.png").stat().st_size > 1000


def test_api_errors_and_openapi(server):
    api = httpx.Client(base_url=server, timeout=30)
    assert api.get("/api/devices/999999").status_code == 404
    assert api.get("/api/leases/5").status_code == 404
    assert api.get("/search", params={"q": "abc"}).status_code == 400
    doc = api.get("/openapi.json").json()
    assert "/api/devices/{device_id}" in doc["paths"]
    assert api.get("/static/explorer.css").status_code == 200
