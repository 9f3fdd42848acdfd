"""Moving large bodies through the gateway at close to the machine's copy rate.

Uploads (``receive_hashed``): the request body is hashed and written once, as it arrives, but
not on the event loop: the loop collects the pieces uvicorn hands it (64-256 KiB) into groups
of ``GROUP`` bytes and hands each group to a worker thread that hashes it (``hashlib`` releases
the GIL on large buffers) and writes it, while the loop already receives the next group (one
thread more, not two: a hashing and a writing thread measured no faster on 2 shared cores).
One group at a time is in flight, so memory stays bounded at about two groups. The size limit
is checked on every piece as it arrives, before anything past it is written.

Downloads (:class:`Sendfile`): Starlette's ``FileResponse`` sends an
``http.response.pathsend`` message (the ASGI path-send extension) where the server offers it;
this middleware offers it on uvicorn's httptools protocol and serves it with ``os.sendfile``
(``loop.sendfile``): the file goes from the page cache to the socket in the kernel, without a
pass through Python. Elsewhere (another server, the test client) the extension is not offered
and ``FileResponse`` falls back to reading ``FILE_BLOCK`` blocks itself.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, BinaryIO

from starlette.responses import FileResponse

from .auth import Refused

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Bytes per hand-off to the hashing and writing thread: large enough that the per-group costs (a
#: thread hop, a future) vanish, small enough to keep two groups in memory per upload.
GROUP = 4 << 20
#: Read block of the ``FileResponse`` fallback (Starlette's default 64 KiB costs a thread hop
#: per block).
FILE_BLOCK = 1 << 20
PATHSEND = "http.response.pathsend"
#: Freed heap the gateway process keeps for reuse, and the size from which blocks are mmapped.
HEAP_KEEP = 64 << 20
HEAP_MMAP = 16 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


class ClientGone(Exception):
    """The client disconnected before the whole body arrived."""


def _consume(h: Any, f: BinaryIO, group: list[bytes]) -> None:
    for piece in group:
        h.update(piece)
        f.write(piece)


async def receive_hashed(receive: Receive, f: BinaryIO, limit: int,
                         too_large: str) -> tuple[str, int]:
    """Stream the request body into ``f`` -> (sha256 hex, size). Raises :class:`Refused` (413,
    ``too_large``) as soon as more than ``limit`` bytes arrived, :class:`ClientGone` on a
    disconnect; either way the worker thread no longer touches ``f`` when it returns."""
    loop = asyncio.get_running_loop()
    h = hashlib.sha256()
    size = 0
    group: list[bytes] = []
    grouped = 0
    pending: asyncio.Future[None] | None = None
    try:
        more = True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                raise ClientGone("the client disconnected during the upload")
            piece = msg.get("body", b"")
            more = bool(msg.get("more_body", False))
            if piece:
                size += len(piece)
                if size > limit:
                    raise Refused(413, too_large)
                group.append(piece)
                grouped += len(piece)
            if group and (grouped >= GROUP or not more):
                # One group in flight (so the hash sees the pieces in order), hashed and
                # written by a worker thread while this loop receives the next one.
                if pending is not None:
                    await pending
                pending = loop.run_in_executor(None, _consume, h, f, group)
                group, grouped = [], 0
        if pending is not None:
            await pending
            pending = None
    finally:
        if pending is not None:
            # A refusal or a failed write while a group is in flight: let the thread finish
            # before the caller closes and removes the file.
            await asyncio.wait([pending])
    return h.hexdigest(), size


def keep_freed_memory(trim: int = HEAP_KEEP, mmap_below: int = HEAP_MMAP) -> bool:
    """Ask glibc's allocator to keep up to ``trim`` bytes of freed heap instead of returning it to
    the kernel at once, and to serve blocks under ``mmap_below`` from the heap. An upload frees
    and allocates its 64-256 KiB pieces all the time; by default each group freed is trimmed and
    the next one faulted in as fresh zeroed pages, which measured about a fifth of an upload's
    time (bench/gateway_bench.py). False where the C library has no ``mallopt`` (not glibc)."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_TRIM_THRESHOLD, trim)) and bool(mallopt(_M_MMAP_THRESHOLD,
                                                                   mmap_below))


class OutputFile(FileResponse):
    """A job's output file (``X-Content-SHA256`` set by the caller): sent by :class:`Sendfile`
    under uvicorn, else read in ``FILE_BLOCK`` blocks."""

    chunk_size = FILE_BLOCK


def _uvicorn_cycle(send: Send) -> Any:
    """The uvicorn httptools request cycle behind ``send`` (None: another server). Only there
    do we know how to write to the socket and keep the server's own length accounting."""
    cycle = getattr(send, "__self__", None)
    if type(cycle).__module__ != "uvicorn.protocols.http.httptools_impl":
        return None
    transport = getattr(cycle, "transport", None)
    if not isinstance(getattr(cycle, "expected_content_length", None), int) or not isinstance(
            transport, asyncio.Transport) or transport.get_extra_info("sslcontext") is not None:
        return None
    return cycle


class Sendfile:
    """ASGI middleware: offers ``http.response.pathsend`` on uvicorn's httptools protocol and
    serves it with ``os.sendfile`` (zero-copy). Wraps the whole app, outermost."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cycle = _uvicorn_cycle(send) if scope["type"] == "http" else None
        if cycle is None or PATHSEND in (scope.get("extensions") or {}):
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        scope["extensions"] = {**(scope.get("extensions") or {}), PATHSEND: {}}

        async def _send(message: Message) -> None:
            if message["type"] != PATHSEND:
                await send(message)
                return
            await _sendfile(cycle, send, message["path"])

        await self.app(scope, receive, _send)


async def _sendfile(cycle: Any, send: Send, path: str) -> None:
    """Send the body of a response whose start (with its content-length) went out already."""
    count = int(cycle.expected_content_length)
    transport: asyncio.Transport = cycle.transport
    sent = 0
    try:
        with open(path, "rb") as f:
            if count > 0 and not transport.is_closing():
                sent = await asyncio.get_running_loop().sendfile(transport, f, 0, count)
    except (OSError, RuntimeError):  # RuntimeError: asyncio's "transport is closing"
        sent = -1
    if sent != count:
        # The file shrank, vanished or the client left: the promised length cannot be met, so
        # the connection is closed rather than the response left short or padded.
        transport.close()
        return
    cycle.expected_content_length = 0  # the server's accounting: the body went out
    await send({"type": "http.response.body", "body": b"", "more_body": False})
