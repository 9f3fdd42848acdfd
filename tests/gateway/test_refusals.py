"""Auth and bad input: each a 4xx with a one-line reason, and nothing changed on the gateway
(no job row, no blob, the nonce not spent); a schemathesis run over the OpenAPI document."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from pinfi.delivery import auth
from pinfi.delivery.manifest import Manifest
from tests.gateway.conftest import jobs_and_blobs, refused

OK = Manifest.build("process", ["true"])


def test_refusals_change_nothing(stage, bob, keeper, lease):
    before = jobs_and_blobs(stage)
    gw = stage.client(bob)
    # unsigned
    r = httpx.post(f"{stage.url}/v1/jobs", content=OK.canonical())
    assert r.status_code == 401 and "unsigned" in r.json()["error"]
    # wrong signer: keeper signs for bob's lease
    refused(403, stage.client(keeper).submit, lease, OK, match="not the client")
    # another device's lease (served by another operator)
    other = stage.lease(keeper, device=stage.other_device)
    refused(403, stage.client(keeper).submit, other, OK, match="does not serve")
    # replay: the same signed request twice
    body = OK.canonical()
    headers = {**auth.sign_request(gw.account, gw.chain_id, gw.pool, lease, "POST",
                                   "/v1/blobs/" + hashlib.sha256(body).hexdigest(), body)}
    path = "/v1/blobs/" + hashlib.sha256(body).hexdigest()
    headers = auth.sign_request(gw.account, gw.chain_id, gw.pool, lease, "PUT", path, body)
    assert httpx.put(stage.url + path, content=body, headers=headers).status_code == 201
    r = httpx.put(stage.url + path, content=body, headers=headers)
    assert r.status_code == 401 and "replayed" in r.json()["error"]
    # a request signed for another path does not pass for this one
    r = httpx.put(stage.url + path.replace("/blobs/", "/blobs/0"), content=body, headers=headers)
    assert r.status_code in (400, 401)
    # malformed manifests
    for bad in (b"{", b"[]", b'{"runtime": "vm"}', b'{"runtime": "process"}',
                b'{"runtime": "process", "command": ["x"], "outputs": ["../escape"]}',
                b'{"runtime": "process", "command": ["x"], "outputs": ["/etc/passwd"]}',
                b'{"runtime": "process", "command": ["x"], "env": {"PINFI_LEASE_ID": "1"}}'):
        resp = gw.http.send(_signed(gw, lease, "POST", "/v1/jobs", bad))
        assert resp.status_code == 422, (bad, resp.text)
        assert resp.json()["error"].startswith("malformed manifest")
    # an input that was never uploaded
    refused(422, gw.submit, lease, Manifest.build("process", ["true"],
                                                  inputs={"a.txt": "1" * 64}),
            match="not uploaded")
    # oversized upload (the stage's limit is 1 MiB)
    refused(413, gw.upload, lease, b"x" * (1024 * 1024 + 1), match="larger")
    # path traversal when downloading
    resp = gw.http.send(_signed(gw, lease, "GET", "/v1/jobs/0x" + "ab" * 32 +
                                "/outputs/a/..%2F..%2Fetc%2Fpasswd", b""))
    assert 400 <= resp.status_code < 500
    after = jobs_and_blobs(stage)
    assert after[0] == before[0] and after[1] == before[1] + 1  # only the one good upload
    stage.system.pool.terminate(other, sender=keeper)


def test_ended_or_terminated_lease_is_refused(stage, bob, lease):
    gw = stage.client(bob)
    stage.system.pool.terminate(lease, sender=bob)
    refused(403, gw.submit, lease, OK, match="has ended")
    refused(403, gw.upload, lease, b"late", match="has ended")


def _signed(gw, lease: int, method: str, path: str, body: bytes) -> httpx.Request:
    req = gw.http.build_request(method, path, content=body,
                                headers={"content-type": "application/json"})
    req.headers.update(auth.sign_request(gw.account, gw.chain_id, gw.pool, lease, method,
                                         req.url.raw_path.decode(), body))
    return req


def test_openapi_has_no_server_errors(stage):
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_url(f"{stage.url}/openapi.json")
    failures: list[str] = []

    @settings(max_examples=15, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=schema.as_strategy())
    def check(case):
        resp = case.call(base_url=stage.url, timeout=30)
        if resp.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path}: {resp.status_code} "
                            f"{resp.text[:200]}")

    check()
    assert not failures, failures[:5]
