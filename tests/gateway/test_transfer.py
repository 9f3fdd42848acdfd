"""Fast transfers keep every check: an upload is stored only under its sha256 and only when the
content matches, the size limit holds on a streamed body, a download is renamed into place only
when its length and sha256 are the listing's; the streaming pieces on their own (no chain)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from pathlib import Path

import httpx
import pytest

from pinfi.delivery import auth, transfer
from pinfi.delivery.client import GatewayError
from pinfi.delivery.manifest import Manifest, sha256_file
from provider_agent.gateway.auth import Refused
from provider_agent.gateway.transfer import GROUP, ClientGone, receive_hashed
from tests.gateway.conftest import TIMEOUT, jobs_and_blobs, refused

LIMIT = 1024 * 1024  # the stage's max_upload_mb = 1


def gateway_dir(stage) -> Path:
    return Path(stage.config).parent / "data" / "gateway"


def test_uploads_store_only_matching_content_within_the_limit(stage, bob, lease, tmp_path):
    gw = stage.client(bob)
    before = jobs_and_blobs(stage)
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(LIMIT - 7))
    sha = sha256_file(src)
    # a file (sent with sendfile) declared under another sha256: refused, nothing stored
    refused(400, gw.upload, lease, src, "ab" * 32, match="content sha256 is " + sha)
    # a streamed body with no declared length, past the limit: 413 while streaming
    path = "/v1/blobs/" + "cd" * 32
    headers = auth.sign_request(gw.account, gw.chain_id, gw.pool, lease, "PUT", path, b"",
                                body_hash=bytes.fromhex("cd" * 32))

    def pieces():
        for _ in range(3):
            yield b"x" * (LIMIT // 2)

    r = httpx.put(stage.url + path, content=pieces(), headers=headers, timeout=TIMEOUT)
    assert r.status_code == 413 and r.json()["error"].startswith("upload larger than")
    # a declared length past the limit: refused before the body is read
    big = tmp_path / "big.bin"
    big.write_bytes(b"y" * (LIMIT + 1))
    refused(413, gw.upload, lease, big, match="larger")
    assert jobs_and_blobs(stage) == before
    # the good upload, with the hash the client already has, lands under its sha256
    assert gw.upload(lease, src, sha) == sha
    stored = gateway_dir(stage) / "blobs" / sha
    assert stored.read_bytes() == src.read_bytes()
    assert jobs_and_blobs(stage) == (before[0], before[1] + 1)
    # a stored blob is checked again, not rewritten; other content under its name is refused
    ino = stored.stat().st_ino
    assert gw.upload(lease, src) == sha
    other = tmp_path / "other.bin"
    other.write_bytes(os.urandom(100))
    refused(400, gw.upload, lease, other, sha, match="content sha256 is")
    assert stored.stat().st_ino == ino and stored.read_bytes() == src.read_bytes()
    assert jobs_and_blobs(stage) == (before[0], before[1] + 1)


def test_download_is_checked_and_renamed_into_place(stage, bob, lease, tmp_path):
    gw = stage.client(bob)
    size = 9 * 1024 * 1024 + 123  # more than two client buffers (transfer.BLOCK)
    m = Manifest.build("process", ["sh", "-c", f"head -c {size} /dev/urandom > big.bin"],
                       outputs=["big.bin"])
    job = gw.submit(lease, m)["job"]["job_id"]
    st = gw.wait(lease, job, timeout=TIMEOUT, poll=0.2)
    assert st["exit_code"] == 0, st
    served = gateway_dir(stage) / "jobs" / job[2:] / "work" / "big.bin"
    got = gw.fetch(lease, job, tmp_path / "a")["big.bin"]
    assert got.stat().st_size == size and sha256_file(got) == sha256_file(served)
    listing = {f["path"]: f for f in gw.request("GET", f"/v1/jobs/{job}/outputs",
                                                lease).json()["files"]}
    assert listing["big.bin"]["sha256"] == sha256_file(got)
    # the served file changed after it was hashed (same length): the client refuses it and
    # leaves nothing behind
    keep = tmp_path / "keep.bin"
    shutil.copyfile(served, keep)
    with open(served, "r+b") as f:
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 1]))
    with pytest.raises(GatewayError, match="sha256 differs"):
        gw.fetch(lease, job, tmp_path / "b")
    assert list((tmp_path / "b").iterdir()) == []
    # a different length: the gateway refuses to serve it
    with open(served, "ab") as f:
        f.write(b"z")
    with pytest.raises(GatewayError, match="changed since it was hashed") as e:
        gw.fetch(lease, job, tmp_path / "c")
    assert e.value.status == 409
    shutil.copyfile(keep, served)
    # path traversal stays refused on the zero-copy route
    r = gw.http.send(_signed(gw, lease, f"/v1/jobs/{job}/outputs/..%2F..%2Fgateway.db"))
    assert 400 <= r.status_code < 500


def _signed(gw, lease: int, path: str) -> httpx.Request:
    req = gw.http.build_request("GET", path)
    req.headers.update(auth.sign_request(gw.account, gw.chain_id, gw.pool, lease, "GET",
                                         req.url.raw_path.decode("latin-1"), b""))
    return req


# ---- the streaming pieces alone


def _receiver(pieces: list[bytes], disconnect: bool = False):
    msgs = [{"type": "http.request", "body": p, "more_body": True} for p in pieces]
    msgs.append({"type": "http.disconnect"} if disconnect else
                {"type": "http.request", "body": b"", "more_body": False})
    it = iter(msgs)

    async def receive():
        await asyncio.sleep(0)
        return next(it)

    return receive


def test_receive_hashed_keeps_order_across_groups(tmp_path):
    pieces = [os.urandom(n) for n in (1, 65536, 262144, 3 << 20, 5, 2 << 20, 262144, 7)]
    pieces = pieces * 3  # several GROUPs
    body = b"".join(pieces)
    assert len(body) > 2 * GROUP
    out = tmp_path / "blob"
    with open(out, "wb") as f:
        digest, size = asyncio.run(receive_hashed(_receiver(pieces), f, len(body), "too big"))
    assert (digest, size) == (hashlib.sha256(body).hexdigest(), len(body))
    assert out.read_bytes() == body


def test_receive_hashed_stops_at_the_limit_and_on_disconnect(tmp_path):
    pieces = [b"a" * (3 << 20)] * 4
    with open(tmp_path / "x", "wb") as f:
        with pytest.raises(Refused) as e:
            asyncio.run(receive_hashed(_receiver(pieces), f, 10 << 20, "too big"))
    assert e.value.status == 413 and str(e.value) == "too big"
    assert (tmp_path / "x").stat().st_size <= 10 << 20  # nothing past the limit written
    with open(tmp_path / "y", "wb") as f, pytest.raises(ClientGone):
        asyncio.run(receive_hashed(_receiver(pieces[:2], disconnect=True), f, 1 << 30, "x"))


def test_proxied_urls_keep_httpx(monkeypatch):
    url = httpx.URL("http://127.0.0.1:8000/v1/blobs/x")
    for k in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(k, raising=False)
    assert transfer.direct(url)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    assert not transfer.direct(url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert transfer.direct(url)
