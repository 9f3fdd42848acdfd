"""The client of a device's lease gateway (docs/delivery.md#client); ``pinfi.sdk`` uses it.

::

    gw = GatewayClient(url, account, chain_id, pool_address)
    job = gw.submit(lease_id, manifest, files={"data.npy": Path("data.npy")})
    for chunk in gw.logs(lease_id, job["job_id"], follow=True): ...
    gw.wait(lease_id, job["job_id"])
    files = gw.fetch(lease_id, job["job_id"], Path("out"))     # sha256 checked
    receipt = gw.receipt(lease_id, job["job_id"])
    verify_receipt(contracts, receipt)                            # against the chain

Every request is signed (:mod:`.auth`). A refusal raises :class:`GatewayError` with the
gateway's one-line reason and the HTTP status.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from pinfi import chain as ch
from pinfi.chain import reads

from . import auth, transfer
from .manifest import Manifest, OutputFile, check_rel_path, outputs_hash, sha256_file
from .receipt import Receipt

FINISHED = "finished"


class GatewayError(Exception):
    """A gateway refusal or failure; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ReceiptInvalid(Exception):
    """A receipt that does not verify; ``str(err)`` says why in one line."""


@dataclass(frozen=True)
class VerifiedReceipt:
    receipt: Receipt
    operator: str
    job_spec: bytes | None  # the lease's jobSpec, when its LeaseOpened event was found


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


class GatewayClient:
    def __init__(self, url: str, account: LocalAccount, chain_id: int, pool: str,
                 timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.account = account
        self.chain_id = int(chain_id)
        self.pool = pool
        self.http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    # ---- requests

    def request(self, method: str, path: str, lease_id: int, body: bytes = b"",
                params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                stream: bool = False, content: Iterator[bytes] | None = None,
                body_hash: bytes | None = None) -> httpx.Response:
        """A signed request. ``content`` (with ``body_hash`` and a content-length header)
        streams a large body instead of ``body``."""
        req = self.http.build_request(method, path, content=body if content is None else content,
                                      params=params, headers=dict(headers or {}))
        req.headers.update(self._signature(req.url, lease_id, method, body, body_hash))
        try:
            resp = self.http.send(req, stream=stream)
        except httpx.HTTPError as err:
            raise GatewayError(f"gateway {self.url} unreachable: {err}") from None
        if resp.status_code >= 400:
            if stream:
                resp.read()
            raise GatewayError(_reason(resp), resp.status_code)
        return resp

    def _signature(self, url: httpx.URL, lease_id: int, method: str, body: bytes = b"",
                   body_hash: bytes | None = None) -> dict[str, str]:
        return auth.sign_request(self.account, self.chain_id, self.pool, lease_id, method,
                                 url.raw_path.decode("latin-1"), body, body_hash=body_hash)

    def _direct(self, method: str, path: str, lease_id: int,
                body_hash: bytes | None = None) -> tuple[httpx.URL, dict[str, str]] | None:
        """The URL and signed headers of a file transfer done by :mod:`.transfer` (None: the
        URL goes through a proxy, so httpx does it)."""
        url = self.http.build_request(method, path).url
        if not transfer.direct(url):
            return None
        return url, self._signature(url, lease_id, method, b"", body_hash)

    def _timeout(self) -> float:
        t = self.http.timeout.read
        return 60.0 if t is None else float(t)

    def info(self) -> dict[str, Any]:
        try:
            r = self.http.get("/v1/info")
        except httpx.HTTPError as err:
            raise GatewayError(f"gateway {self.url} unreachable: {err}") from None
        out: dict[str, Any] = r.json()
        return out

    def check_identity(self, expected_operator: str) -> None:
        """The gateway proves it holds ``expected_operator``'s key (a fresh challenge)."""
        challenge = "0x" + os.urandom(32).hex()
        r = self.http.get("/v1/identity", params={"challenge": challenge})
        if r.status_code != 200:
            raise GatewayError(_reason(r), r.status_code)
        d = r.json()
        text = auth.identity_text(self.chain_id, self.pool, challenge)
        signer = Account.recover_message(encode_defunct(text=text), signature=d["signature"])
        if signer.lower() != expected_operator.lower():
            raise GatewayError(f"gateway {self.url} answers for {signer}, not the device's "
                               f"operator {expected_operator}")

    def upload(self, lease_id: int, data: bytes | Path, sha256: str | None = None) -> str:
        """Upload an input (bytes, or a file sent from disk with ``sendfile``: :mod:`.transfer`)
        -> its sha256, the name the gateway stores it under. The sha256 is signed as the body
        hash; a caller that already has it (it built the manifest) passes it as ``sha256``
        instead of paying a second pass over the file. The gateway hashes what it receives and
        refuses (400) a body whose sha256 is not that one."""
        if isinstance(data, Path):
            sha, size = sha256 or sha256_file(data), data.stat().st_size
        else:
            sha, size = sha256 or hashlib.sha256(data).hexdigest(), len(data)
        path = f"/v1/blobs/{sha}"
        via = self._direct("PUT", path, lease_id, bytes.fromhex(sha)) if isinstance(
            data, Path) else None
        if via is None:
            content = _chunks(memoryview(data)) if isinstance(data, bytes) else _file_chunks(data)
            self.request("PUT", path, lease_id, content=content, body_hash=bytes.fromhex(sha),
                         headers={"content-length": str(size)})
            return sha
        assert isinstance(data, Path)
        try:
            status, body = transfer.put_file(via[0], via[1], data, size, self._timeout())
        except transfer.TransferError as err:
            raise GatewayError(f"gateway {self.url}: {err}") from None
        if status >= 400:
            raise GatewayError(_reason_of(status, body), status)
        return sha

    def submit(self, lease_id: int, manifest: Manifest | dict[str, Any],
               files: Mapping[str, Path | bytes] | None = None) -> dict[str, Any]:
        """Upload ``files`` (manifest input path -> local file or bytes; their sha256 is set in
        the manifest) and submit. Returns ``{"job": status, "receipt": accepted receipt}``."""
        m = manifest if isinstance(manifest, Manifest) else Manifest.parse(manifest)
        doc = m.to_json()
        if files:
            given = {i["path"]: i["sha256"] for i in doc["inputs"]}
            for path, src in files.items():
                check_rel_path(path, "input path")
                given[path] = self.upload(lease_id, src if isinstance(src, bytes)
                                          else Path(src))
            doc["inputs"] = [{"path": p, "sha256": h} for p, h in sorted(given.items())]
            m = Manifest.parse(doc)
        r = self.request("POST", "/v1/jobs", lease_id, m.canonical(),
                         headers={"content-type": "application/json"})
        out: dict[str, Any] = r.json()
        return out

    def status(self, lease_id: int, job_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self.request("GET", f"/v1/jobs/{job_id}", lease_id).json()
        return out

    def cancel(self, lease_id: int, job_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self.request("POST", f"/v1/jobs/{job_id}/cancel", lease_id).json()
        return out

    def logs(self, lease_id: int, job_id: str, follow: bool = False,
             offset: int = 0) -> Iterator[bytes]:
        params = {"offset": offset, "follow": "true" if follow else "false"}
        resp = self.request("GET", f"/v1/jobs/{job_id}/logs", lease_id, params=params,
                            stream=True)
        try:
            yield from resp.iter_bytes()
        finally:
            resp.close()

    def wait(self, lease_id: int, job_id: str, timeout: float = 600.0,
             poll: float = 0.5) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while True:
            st = self.status(lease_id, job_id)
            if st["state"] == FINISHED:
                return st
            if time.monotonic() > end:
                raise GatewayError(f"job {job_id} still {st['state']} after {timeout:.0f} s")
            time.sleep(poll)

    def fetch(self, lease_id: int, job_id: str, dest: Path) -> dict[str, Path]:
        """Download every output into ``dest``, checking each file's sha256 and the listing's
        outputs hash. Returns path -> local file."""
        listing = self.request("GET", f"/v1/jobs/{job_id}/outputs", lease_id).json()
        files = [OutputFile(f["path"], f["sha256"], int(f["size"])) for f in listing["files"]]
        if _hex(outputs_hash(files)) != listing["outputs_hash"]:
            raise GatewayError("the output listing does not match its outputs hash")
        out: dict[str, Path] = {}
        for f in files:
            check_rel_path(f.path, "output path")
            target = dest / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            self._fetch_one(lease_id, f"/v1/jobs/{job_id}/outputs/{f.path}", target, f)
            out[f.path] = target
        return out

    def _fetch_one(self, lease_id: int, path: str, target: Path, f: OutputFile) -> None:
        """One output into ``target``, checked against the listing's size and sha256 (which
        the receipt's outputs hash covers) before it is renamed into place."""
        via = self._direct("GET", path, lease_id)
        if via is not None:
            try:
                transfer.get_file(via[0], via[1], target, f.size, f.sha256, self._timeout())
            except transfer.TransferError as err:
                if err.status >= 400:
                    raise GatewayError(_reason_of(err.status, err.body), err.status) from None
                raise GatewayError(f"output {err}", err.status) from None
            return
        resp = self.request("GET", path, lease_id, stream=True)
        h, n = hashlib.sha256(), 0  # checked in the same pass as the write
        tmp = target.with_name(f".{target.name}.part")
        try:
            with open(tmp, "wb") as fh:
                for chunk in resp.iter_raw():
                    n += len(chunk)
                    if n > f.size:
                        raise GatewayError(f"output {f.path}: longer than the listing's "
                                           f"{f.size} bytes")
                    h.update(chunk)
                    fh.write(chunk)
            if h.hexdigest() != f.sha256 or n != f.size:
                raise GatewayError(f"output {f.path}: sha256 differs from the listing")
            os.replace(tmp, target)
        finally:
            resp.close()
            tmp.unlink(missing_ok=True)

    def receipt(self, lease_id: int, job_id: str) -> Receipt:
        return Receipt.from_json(self.request("GET", f"/v1/jobs/{job_id}/receipt",
                                              lease_id).json())

    def service(self, lease_id: int, method: str, path: str, body: bytes = b"",
                headers: Mapping[str, str] | None = None) -> httpx.Response:
        """A request to the job's service port through the gateway."""
        return self.request(method, f"/v1/service/{path.lstrip('/')}", lease_id, body,
                            headers=headers)


CHUNK = 1 << 20


def _chunks(mv: memoryview) -> Iterator[bytes]:
    for i in range(0, len(mv), CHUNK):
        yield bytes(mv[i:i + CHUNK])


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            yield block


def _reason(resp: httpx.Response) -> str:
    return _reason_of(resp.status_code, resp.content)


def _reason_of(status: int, body: bytes) -> str:
    try:
        doc = json.loads(body)
        msg = doc.get("error") if isinstance(doc, dict) else None
    except ValueError:
        msg = None
    return f"HTTP {status}: {msg or body[:200].decode('utf-8', 'replace')}"


def lease_job_spec(c: ch.Contracts, lease_id: int) -> bytes | None:
    """The ``jobSpec`` of ``lease_id``'s ``LeaseOpened`` event (None when not found)."""
    if c.pool is None:
        return None
    start = c.deployment.deployment_block
    logs = c.pool.events.LeaseOpened().get_logs(argument_filters={"leaseId": lease_id},
                                                from_block=start)
    return bytes(logs[0]["args"]["jobSpec"]) if logs else None


def verify_receipt(c: ch.Contracts, receipt: Receipt | dict[str, Any],
                   outputs: list[OutputFile] | None = None) -> VerifiedReceipt:
    """Check a receipt against the chain: bound to this deployment, signed by the device's
    operator as recorded in Staking (at the receipt's end block when the node still has that
    state, else now), and (given the downloaded ``outputs``) for these outputs. Raises
    :class:`ReceiptInvalid` (one line)."""
    r = receipt if isinstance(receipt, Receipt) else Receipt.from_json(receipt)
    if r.chain_id != c.deployment.chain_id or c.pool is None or (
            r.pool.lower() != str(c.pool.address).lower()):
        raise ReceiptInvalid("receipt is for another chain or deployment")
    try:
        signer = r.signer()
    except Exception as err:
        raise ReceiptInvalid(f"bad receipt signature: {err}") from None
    block: Any = r.end_block or r.start_block or "latest"
    try:
        operator = reads.device(c, r.device_id, block).operator
    except Exception:
        operator = reads.device(c, r.device_id).operator
    if signer.lower() != operator.lower():
        raise ReceiptInvalid(f"receipt signed by {signer}, but device {r.device_id}'s operator "
                             f"is {operator}")
    if outputs is not None and outputs_hash(outputs) != r.outputs_hash:
        raise ReceiptInvalid("the downloaded outputs do not match the receipt's outputs hash")
    return VerifiedReceipt(r, operator, lease_job_spec(c, r.lease_id))
