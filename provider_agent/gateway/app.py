"""The gateway's HTTP API (FastAPI; the OpenAPI document is at ``/openapi.json``).

=======  =====================================  ==============================================
GET      /v1/info                               chain, pool, operator, sandbox, limits (public)
GET      /v1/identity?challenge=0x..            the operator key signs the challenge (public)
PUT      /v1/blobs/{sha256}                     upload an input file (live lease)
POST     /v1/jobs                               submit a manifest (live lease) -> accepted receipt
GET      /v1/jobs/{job_id}                      status
GET      /v1/jobs/{job_id}/logs                 log bytes from ``offset``; ``follow`` streams
POST     /v1/jobs/{job_id}/cancel               stop the job (client)
GET      /v1/jobs/{job_id}/outputs              output files with sha256 and size
GET      /v1/jobs/{job_id}/outputs/{name}       one output file (``X-Content-SHA256``)
GET      /v1/jobs/{job_id}/receipt              the operator-signed FINISHED receipt
*        /v1/service/{path}                     reverse proxy to the job's service port
=======  =====================================  ==============================================

Errors are ``{"error": "<one line>"}`` with a 4xx status; docs/delivery.md#api has the details.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import stat
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pinfi.delivery import auth as da
from pinfi.delivery.manifest import (
    MAX_MANIFEST_BYTES,
    Manifest,
    ManifestError,
    check_rel_path,
)
from pinfi.delivery.receipt import EndReason
from pinfi.types import lease_device

from .auth import Authenticator, Refused
from .chainview import ChainView
from .runner import JobError, Runner
from .settings import GatewaySettings
from .storage import RUNNING, Job, Store
from .transfer import ClientGone, OutputFile, receive_hashed

log = logging.getLogger("provider_agent.gateway.app")

VERSION = "1"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_JOB_ID = re.compile(r"^0x[0-9a-f]{64}$")
_CHALLENGE = re.compile(r"^0x[0-9a-fA-F]{64}$")
_HOP_HEADERS = {"host", "connection", "keep-alive", "transfer-encoding", "te", "trailer",
                "upgrade", "proxy-authorization", "proxy-authenticate", "content-length",
                *(h.lower() for h in da.HEADERS)}

AUTH_HEADERS = [{"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
                for h in da.HEADERS]
ERROR = {"content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, **ERROR} for code, text in (
        (400, "bad request"), (401, "unsigned, expired, badly signed or replayed request"),
        (403, "not this lease's client, lease ended or other device"), (404, "unknown job"),
        (409, "busy or not finished"), (413, "too large"), (422, "malformed input"))}
MANIFEST_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["runtime"], "additionalProperties": False,
    "properties": {
        "version": {"type": "integer", "enum": [1]},
        "runtime": {"type": "string", "enum": ["process", "docker"]},
        "command": {"type": "array", "items": {"type": "string"}},
        "image": {"type": ["string", "null"]},
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
        "inputs": {"type": "array", "items": {
            "type": "object", "required": ["path", "sha256"],
            "properties": {"path": {"type": "string"},
                           "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}}},
        "outputs": {"type": "array", "items": {"type": "string"}},
        "limits": {"type": "object", "properties": {
            k: {"type": ["integer", "null"]} for k in
            ("wall_seconds", "cpu_seconds", "memory_mb", "output_mb", "gpus")}},
        "service": {"type": ["object", "null"],
                    "properties": {"port": {"type": "integer"}}}}}


class Gateway:
    """The state behind the routes (built once per process by :func:`create_app`)."""

    def __init__(self, settings: GatewaySettings, chain: ChainView, operator: LocalAccount,
                 store: Store | None = None) -> None:
        self.s = settings
        self.chain = chain
        self.operator = operator
        self.store = store or Store(settings.data_dir)
        self.runner = Runner(settings, self.store, chain, operator)
        self.auth = Authenticator(chain, self.store, operator.address)
        self.proxy = httpx.AsyncClient(timeout=httpx.Timeout(300.0, connect=5.0))
        self._ports: dict[tuple[int, int], tuple[float, int]] = {}

    def service_port(self, device_id: int, lease_id: int) -> int:
        """The service port of the job running under ``lease_id`` (0: none), from the store at
        most a poll interval ago (the proxy's hot path skips a database read per request)."""
        now = time.monotonic()
        hit = self._ports.get((device_id, lease_id))
        if hit and now - hit[0] < self.s.poll_interval:
            return hit[1]
        port = next((j.service_port for j in self.store.running(device_id)
                     if j.lease_int == lease_id and j.service_port), 0)
        self._ports[(device_id, lease_id)] = (now, port)
        return port


def _err(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message.splitlines()[0] if message else "error"},
                        status_code=status)


def _signed_path(request: Request) -> str:
    path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    q = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{q}" if q else path


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"body larger than {limit} bytes")
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise Refused(413, f"body larger than {limit} bytes")
    return bytes(buf)


def _job_id(job_id: str) -> str:
    if not _JOB_ID.match(job_id):
        raise Refused(400, "job id must be 0x and 64 lowercase hex digits")
    return job_id


def status_of(job: Job) -> dict[str, Any]:
    out: dict[str, Any] = {
        "job_id": job.job_id, "lease_id": job.lease_id, "device_id": job.device_id,
        "client": job.client, "state": job.state, "manifest_hash": job.manifest_hash,
        "inputs_hash": job.inputs_hash, "start_block": job.start_block,
        "created_at": job.created_at, "service": bool(job.service_port)}
    if job.stop_reason and job.state == RUNNING:
        out["stopping"] = EndReason(job.stop_reason).label
    if job.state != RUNNING:
        out.update(end_reason=EndReason(job.end_reason).label, exit_code=job.exit_code,
                   end_block=job.end_block, ended_at=job.ended_at,
                   outputs_hash=job.outputs_hash)
    return out


def create_app(gw: Gateway) -> FastAPI:
    app = FastAPI(title="PinFi lease gateway", version=VERSION,
                  description="Run a job on a leased PinFi device (docs/delivery.md). Requests "
                              "are signed per request with EIP-712 by the lease's client.")
    app.state.gateway = gw

    @app.exception_handler(Refused)
    async def _refused(_r: Request, exc: Refused) -> JSONResponse:
        return _err(exc.status, str(exc))

    @app.exception_handler(JobError)
    async def _job_error(_r: Request, exc: JobError) -> JSONResponse:
        return _err(exc.status, str(exc))

    @app.exception_handler(ManifestError)
    async def _manifest_error(_r: Request, exc: ManifestError) -> JSONResponse:
        return _err(422, f"malformed manifest: {exc}")

    @app.exception_handler(RequestValidationError)
    async def _validation(_r: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        first = errs[0] if errs else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return _err(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _err(exc.status_code, str(exc.detail))

    async def authed(request: Request, *, live: bool, body: bytes = b"",
                     body_hash: bytes | None = None, max_age: float = 0.0) -> Any:
        req, signer = gw.auth.signed(request.headers, request.method, _signed_path(request),
                                     body, body_hash)
        if not live:
            caller = None
        elif max_age > 0 and gw.chain.cached(lease_device(req.lease_id), max_age):
            caller = gw.auth.live(req, signer, max_age)  # no read: no thread hop either
        else:
            caller = await run_in_threadpool(gw.auth.live, req, signer, max_age)
        return req, signer, caller

    async def job_for(request: Request, job_id: str, body: bytes = b"") -> Job:
        _job_id(job_id)
        req, signer, _ = await authed(request, live=False, body=body)
        job = gw.auth.for_job(req, signer, gw.store.get(job_id), job_id)
        gw.auth.consume(req)
        return job

    # ---- public

    @app.get("/v1/info", summary="What this gateway serves")
    def info() -> dict[str, Any]:
        return {"version": VERSION, "chain_id": gw.chain.chain_id, "pool": gw.chain.pool_address,
                "operator": gw.operator.address, "public_url": gw.s.public_url,
                "sandbox": gw.runner.sandbox, "docker": gw.runner.docker,
                "retention_s": gw.s.retention_s, "max_upload_bytes": gw.s.max_upload_bytes,
                "max_request_validity_s": da.MAX_VALIDITY_S, "stop_grace_s": gw.s.stop_grace_s}

    @app.get("/v1/identity", summary="The operator key signs a client's challenge",
             responses={400: ERRORS[400]})
    def identity(challenge: str) -> dict[str, Any]:
        if not _CHALLENGE.match(challenge):
            raise Refused(400, "challenge must be 0x and 64 hex digits")
        text = da.identity_text(gw.chain.chain_id, gw.chain.pool_address, challenge)
        sig = gw.operator.sign_message(encode_defunct(text=text)).signature
        return {"operator": gw.operator.address, "message": text,
                "signature": "0x" + bytes(sig).hex()}

    # ---- uploads and jobs

    @app.put("/v1/blobs/{sha256}", status_code=201, summary="Upload an input file",
             responses={k: ERRORS[k] for k in (400, 401, 403, 413)},
             openapi_extra={"parameters": AUTH_HEADERS, "requestBody": {
                 "content": {"application/octet-stream": {"schema": {
                     "type": "string", "format": "binary"}}}}})
    async def upload(sha256: str, request: Request) -> dict[str, Any]:
        if not _SHA256.match(sha256):
            raise Refused(400, "blob name must be its sha256: 64 lowercase hex digits")
        req, _signer, _caller = await authed(request, live=True,
                                             body_hash=bytes.fromhex(sha256))
        dest = gw.store.blob(sha256)
        limit = gw.s.max_upload_bytes
        too_large = f"upload larger than the gateway's limit of {limit} bytes"
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise Refused(413, too_large)

        async def receive_into(f: BinaryIO) -> int:
            try:
                digest, size = await receive_hashed(request.receive, f, limit, too_large)
            except ClientGone as err:
                raise Refused(400, str(err)) from None
            if digest != sha256:
                raise Refused(400, f"content sha256 is {digest}, not {sha256}")
            return size

        if dest.is_file():
            # Stored before, under its hash, after a match: the body is checked, not rewritten
            # (renaming a new copy over it would only cost a write and a flush).
            with open(os.devnull, "wb") as sink:
                size = await receive_into(sink)
            gw.auth.consume(req)
            return {"sha256": sha256, "size": size}
        # Written once, under a temporary name in the blob folder, hashed in the same pass
        # (transfer.receive_hashed); renamed into place only when the content is the declared
        # sha256: a mismatch, a refusal or a disconnect leaves nothing behind.
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".up-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                size = await receive_into(f)
            gw.auth.consume(req)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return {"sha256": sha256, "size": size}

    @app.post("/v1/jobs", status_code=201, summary="Submit a job manifest",
              responses={k: ERRORS[k] for k in (401, 403, 409, 413, 422)},
              openapi_extra={"parameters": AUTH_HEADERS, "requestBody": {
                  "required": True,
                  "content": {"application/json": {"schema": MANIFEST_SCHEMA}}}})
    async def submit(request: Request) -> dict[str, Any]:
        body = await _body(request, MAX_MANIFEST_BYTES)
        req, signer, caller = await authed(request, live=True, body=body)
        manifest = Manifest.parse(body)
        gw.auth.consume(req)
        started = await run_in_threadpool(gw.runner.submit, req.lease_id, signer, manifest,
                                          caller.end_epoch)
        return {"job": status_of(started.job), "receipt": started.receipt.to_json()}

    @app.get("/v1/jobs/{job_id}", summary="Job status",
             responses={k: ERRORS[k] for k in (400, 401, 403, 404)},
             openapi_extra={"parameters": AUTH_HEADERS})
    async def status(job_id: str, request: Request) -> dict[str, Any]:
        return status_of(await job_for(request, job_id))

    @app.post("/v1/jobs/{job_id}/cancel", summary="Stop the job",
              responses={k: ERRORS[k] for k in (400, 401, 403, 404)},
              openapi_extra={"parameters": AUTH_HEADERS})
    async def cancel(job_id: str, request: Request) -> dict[str, Any]:
        body = await _body(request, 1024)
        job = await job_for(request, job_id, body)
        if job.state == RUNNING:
            gw.runner.stop(job, EndReason.CANCELLED)
        return status_of(job)

    @app.get("/v1/jobs/{job_id}/logs", summary="The job's output (stdout and stderr)",
             responses={k: ERRORS[k] for k in (400, 401, 403, 404)},
             openapi_extra={"parameters": AUTH_HEADERS})
    async def logs(job_id: str, request: Request, offset: int = 0,
                   follow: bool = False) -> StreamingResponse:
        job = await job_for(request, job_id)
        if offset < 0:
            raise Refused(400, "offset must be >= 0")
        path = gw.store.job_dir(job.job_id) / "log"

        async def chunks() -> AsyncIterator[bytes]:
            pos = offset
            while True:
                data = await run_in_threadpool(_read_from, path, pos)
                pos += len(data)
                if data:
                    yield data
                    continue
                if not follow:
                    return
                cur = await run_in_threadpool(gw.store.get, job.job_id)
                if cur is None or cur.state != RUNNING:
                    tail = await run_in_threadpool(_read_from, path, pos)
                    if tail:
                        yield tail
                    return
                await asyncio.sleep(0.2)

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    @app.get("/v1/jobs/{job_id}/outputs", summary="Output files with sha256 and size",
             responses={k: ERRORS[k] for k in (400, 401, 403, 404, 409)},
             openapi_extra={"parameters": AUTH_HEADERS})
    async def outputs(job_id: str, request: Request) -> dict[str, Any]:
        job = await job_for(request, job_id)
        if job.state == RUNNING:
            raise Refused(409, "job still running: outputs are collected when it ends")
        return {"outputs_hash": job.outputs_hash, "files": job.output_list()}

    @app.get("/v1/jobs/{job_id}/outputs/{name:path}", summary="Download one output file",
             responses={k: ERRORS[k] for k in (400, 401, 403, 404, 409)},
             openapi_extra={"parameters": AUTH_HEADERS})
    async def output(job_id: str, name: str, request: Request) -> Response:
        try:
            check_rel_path(name, "output name")
        except ManifestError as err:
            raise Refused(400, str(err)) from None
        job = await job_for(request, job_id)
        if job.state == RUNNING:
            raise Refused(409, "job still running: outputs are collected when it ends")
        entry = next((f for f in job.output_list() if f["path"] == name), None)
        if entry is None:
            raise Refused(404, f"no output {name!r} in job {job_id}")
        work = gw.store.job_dir(job.job_id) / "work"
        path = work / name
        try:
            st = path.lstat()
        except OSError:
            raise Refused(404, f"output {name!r} is gone (retention ended?)") from None
        if not stat.S_ISREG(st.st_mode) or not path.resolve().is_relative_to(work.resolve()):
            raise Refused(404, f"output {name!r} is not a file in the job's directory")
        if st.st_size != int(entry["size"]):
            raise Refused(409, f"output {name!r} changed since it was hashed")
        # The sha256 was taken once when the job ended (it is in the signed receipt's outputs
        # hash); the body goes out with sendfile (transfer.Sendfile) and the client checks it.
        return OutputFile(path, media_type="application/octet-stream", stat_result=st,
                          headers={"X-Content-SHA256": entry["sha256"]})

    @app.get("/v1/jobs/{job_id}/receipt", summary="The operator-signed receipt",
             responses={k: ERRORS[k] for k in (400, 401, 403, 404, 409)},
             openapi_extra={"parameters": AUTH_HEADERS})
    async def receipt(job_id: str, request: Request) -> dict[str, Any]:
        job = await job_for(request, job_id)
        if job.state == RUNNING or not job.receipt:
            raise Refused(409, "job still running: the receipt is signed when it ends")
        out: dict[str, Any] = json.loads(job.receipt)
        return out

    # ---- service proxy

    @app.api_route("/v1/service/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
                   summary="Reverse proxy to the running job's service port",
                   responses={k: ERRORS[k] for k in (401, 403, 409, 413)},
                   openapi_extra={"parameters": AUTH_HEADERS})
    async def service(path: str, request: Request) -> Response:
        # The body is read whole (bounded by max_upload_mb): its hash is signed, and nothing
        # reaches the job's service before the signature and the lease are checked. The
        # answer is streamed back as it comes (no buffering of large responses).
        body = await _body(request, gw.s.max_upload_bytes)
        req, _signer, caller = await authed(request, live=True, body=body,
                                            max_age=gw.s.poll_interval)
        port = gw.service_port(caller.device_id, req.lease_id)
        if not port:
            raise Refused(409, "no running job with a service port under this lease")
        gw.auth.consume(req)
        q = request.scope.get("query_string", b"").decode("latin-1")
        url = f"http://127.0.0.1:{port}/{path}" + (f"?{q}" if q else "")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        try:
            upstream = await gw.proxy.send(
                gw.proxy.build_request(request.method, url, content=body, headers=headers),
                stream=True)
        except httpx.HTTPError as err:
            return _err(502, f"the job's service did not answer: {type(err).__name__}")
        out_headers = {k: v for k, v in upstream.headers.items()
                       if k.lower() not in _HOP_HEADERS}
        if int(upstream.headers.get("content-length") or -1) >= 0 and \
                int(upstream.headers["content-length"]) <= 64 * 1024:
            data = await upstream.aread()  # small answer: one write, no chunked encoding
            await upstream.aclose()
            return Response(data, status_code=upstream.status_code, headers=out_headers)
        return StreamingResponse(upstream.aiter_raw(), status_code=upstream.status_code,
                                 headers=out_headers, background=BackgroundTask(upstream.aclose))

    return app


def _read_from(path: Path, pos: int, size: int = 1 << 16) -> bytes:
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            return f.read(size)
    except OSError:
        return b""
