"""The service proxy: a job's port answers the lease's client only, through the gateway, with
small answers in one piece and large ones streamed; nobody else and no ended lease gets in."""

from __future__ import annotations

import hashlib
import time

import pytest

from pinfi.delivery.client import GatewayError
from pinfi.delivery.manifest import Manifest
from tests.gateway.conftest import TIMEOUT
from tests.support import agent as ah

BIG = 3 * 1024 * 1024
SERVICE_PY = """\
import asyncio, sys
BIG = bytes(range(256)) * (int(sys.argv[2]) // 256)
async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            first = head.split(b"\\r\\n")[0].split()
            n = 0
            for line in head.split(b"\\r\\n"):
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":")[1])
            body = await reader.readexactly(n) if n else b""
            out = {b"/ping": b"pong", b"/echo": body, b"/big": BIG}.get(first[1], b"?")
            writer.write(b"HTTP/1.1 200 OK\\r\\ncontent-type: application/octet-stream\\r\\n"
                         b"content-length: " + str(len(out)).encode() + b"\\r\\n\\r\\n" + out)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


def test_service_port_is_proxied_to_the_lease_client_only(stage, bob, keeper):
    gw = stage.client(bob)
    port = ah.free_port()
    script = SERVICE_PY.encode()
    m = Manifest.build("process", ["/usr/bin/python3", "serve.py", str(port), str(BIG)],
                       inputs={"serve.py": hashlib.sha256(script).hexdigest()},
                       service_port=port)
    lease_id = stage.lease(bob, epochs=3, job_spec=m.hash)
    job_id = gw.submit(lease_id, m, {"serve.py": script})["job"]["job_id"]
    end = time.monotonic() + TIMEOUT
    while True:
        try:
            r = gw.service(lease_id, "GET", "ping")
            break
        except GatewayError as err:
            # 409: the job is not running yet (a loaded machine starts it later); 502: it runs
            # but its service does not listen yet
            if err.status not in (409, 502) or time.monotonic() > end:
                raise
            time.sleep(0.3)
    assert r.status_code == 200 and r.content == b"pong"
    body = bytes(range(256)) * 1000
    assert gw.service(lease_id, "POST", "echo", body).content == body
    big = gw.service(lease_id, "GET", "big")  # streamed (over 64 KiB)
    assert len(big.content) == BIG and big.content[:256] == bytes(range(256))
    # another account signing for this lease is refused, and nothing reaches the service
    with pytest.raises(GatewayError) as err:
        stage.client(keeper).service(lease_id, "GET", "ping")
    assert err.value.status == 403 and "not the client" in str(err.value)
    # once the lease is terminated the proxy refuses within a poll interval (0.2 s here)
    stage.system.pool.terminate(lease_id, sender=bob)
    time.sleep(1.0)
    with pytest.raises(GatewayError) as err:
        gw.service(lease_id, "GET", "ping")
    assert err.value.status in (403, 409), err.value
    gw.wait(lease_id, job_id, TIMEOUT, 0.2)
