"""Large bodies between a client and a gateway at close to the machine's copy rate.

:class:`~pinfi.delivery.client.GatewayClient` sends its small signed requests with httpx, but
its file transfers go through the standard library's ``http.client``, which lets them skip the
per-piece costs that bound them (bench/gateway_bench.py):

* an upload's body leaves with ``socket.sendfile`` (page cache to socket in the kernel, no pass
  through Python); the request's signature covers the file's sha256, taken before;
* a download's body is read with ``readinto`` into two ``BLOCK`` buffers in turn: while one is
  filled from the socket, a worker thread hashes and writes the other (``hashlib`` and file
  writes release the GIL; one worker, not one per task: two measured no faster on 2 cores).
  The body goes to a temporary file next to the target, renamed into place only when its
  length and sha256 are the expected ones: a bad download leaves nothing behind.

Both keep the request exactly as signed (method, raw path, headers). Where httpx would go
through a proxy (``HTTP(S)_PROXY``), :func:`direct` is False and the client keeps httpx.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.request
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

#: Bytes per buffer of a download (two of them per transfer).
BLOCK = 4 << 20


class TransferError(Exception):
    """A transfer that failed; ``status`` is the HTTP status (0: no answer or a bad body)."""

    def __init__(self, message: str, status: int = 0, body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def direct(url: httpx.URL) -> bool:
    """True when ``url`` is reached without a proxy (what httpx decides from the environment)."""
    if url.scheme not in ("http", "https"):
        return False
    proxies = urllib.request.getproxies()
    host = url.host or ""
    return not (proxies.get(url.scheme) or proxies.get("all")) or bool(
        urllib.request.proxy_bypass(host))


def _connect(url: httpx.URL, timeout: float) -> http.client.HTTPConnection:
    host = url.host or "localhost"
    if url.scheme == "https":
        return http.client.HTTPSConnection(host, url.port, timeout=timeout)
    return http.client.HTTPConnection(host, url.port, timeout=timeout)


def _start(conn: http.client.HTTPConnection, method: str, url: httpx.URL,
           headers: Mapping[str, str]) -> None:
    conn.putrequest(method, url.raw_path.decode("latin-1"), skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders()


def _answer(conn: http.client.HTTPConnection) -> tuple[int, bytes]:
    resp = conn.getresponse()
    return resp.status, resp.read()


def put_file(url: httpx.URL, headers: Mapping[str, str], src: Path, size: int,
             timeout: float) -> tuple[int, bytes]:
    """PUT ``size`` bytes of ``src`` -> (status, body). A gateway that refuses early (413 on the
    declared length) may close before the body is sent: its answer is still read."""
    conn = _connect(url, timeout)
    try:
        try:
            _start(conn, "PUT", url, {**headers, "content-length": str(size)})
            if conn.sock is None:
                raise TransferError(f"no connection to {url.host}")
            with open(src, "rb") as f:
                sent = conn.sock.sendfile(f, 0, size) if size else 0
            if sent != size:
                raise TransferError(f"{src} changed while it was sent ({sent} of {size} bytes)")
        except OSError as err:
            try:
                return _answer(conn)  # the refusal that closed the connection, if it came
            except (OSError, http.client.HTTPException):
                raise TransferError(f"upload to {url.host} failed: {err}") from None
        try:
            return _answer(conn)
        except (OSError, http.client.HTTPException) as err:
            raise TransferError(f"upload to {url.host} failed: {err}") from None
    finally:
        conn.close()


def get_file(url: httpx.URL, headers: Mapping[str, str], target: Path, size: int,
             sha256: str, timeout: float) -> None:
    """GET a file of ``size`` bytes whose sha256 must be ``sha256`` into ``target``. Raises
    :class:`TransferError` (with the status and body of a refusal); nothing is left at
    ``target`` then."""
    conn = _connect(url, timeout)
    try:
        try:
            _start(conn, "GET", url, headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as err:
            raise TransferError(f"gateway {url.host} unreachable: {err}") from None
        if resp.status >= 400:
            raise TransferError(f"HTTP {resp.status}", resp.status, resp.read())
        if resp.length != size:
            raise TransferError(f"{target.name}: the gateway sends {resp.length} bytes, the "
                                f"listing says {size}", resp.status)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                digest = _receive(resp, f, size, target.name)
            if digest != sha256:
                raise TransferError(f"{target.name}: sha256 differs from the listing")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        conn.close()


def _consume(h: Any, f: Any, block: memoryview) -> None:
    h.update(block)
    f.write(block)


def _fill(resp: http.client.HTTPResponse, view: memoryview) -> int:
    n = 0
    while n < len(view):
        k = resp.readinto(view[n:])
        if not k:
            break
        n += k
    return n


def _receive(resp: http.client.HTTPResponse, f: Any, size: int, name: str) -> str:
    h = hashlib.sha256()
    bufs = [memoryview(bytearray(BLOCK)), memoryview(bytearray(BLOCK))]
    pending: Future[Any] | None = None
    got, i = 0, 0
    # Leaving the block waits for the worker: it no longer touches f once this returns/raises.
    with ThreadPoolExecutor(1, thread_name_prefix="pinfi-fetch") as pool:
        while got < size:
            try:
                n = _fill(resp, bufs[i][:min(BLOCK, size - got)])
            except (OSError, http.client.HTTPException) as err:
                raise TransferError(f"{name}: download failed: {err}") from None
            if n == 0:
                raise TransferError(f"{name}: the body ended after {got} of {size} bytes")
            if pending is not None:
                pending.result()  # the other buffer is free again
            pending = pool.submit(_consume, h, f, bufs[i][:n])
            got += n
            i ^= 1
        if pending is not None:
            pending.result()
    return h.hexdigest()
