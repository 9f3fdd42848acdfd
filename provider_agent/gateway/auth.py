"""Who may do what: the EIP-712 request check against the chain (docs/delivery.md#auth).

Every refusal is a :class:`Refused` with an HTTP status and one line, raised before anything is
written (the nonce is recorded last, only for an accepted request):

* 401: unsigned or malformed headers, a bad signature, an expired request or one valid too far
  ahead, a replayed nonce;
* 403: the lease is for a device this gateway's operator key does not serve, the signer is not
  the lease's client, the lease ended, was terminated or superseded, the device is not Active.

``live`` checks (submit, upload, cancel, service) need the lease to be live now; job reads need
only the signer to be the client recorded with the job under that lease (the client fetches its
results after the lease ended, for the retention period).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pinfi.delivery import auth as da
from pinfi.types import DeviceState, format_lease_id, lease_device, lease_nonce

from .chainview import ChainView
from .storage import Job, Store


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the signer and the lease it acts under."""

    address: str
    lease_id: int
    end_epoch: int = 0

    @property
    def device_id(self) -> int:
        return lease_device(self.lease_id)


class Authenticator:
    def __init__(self, chain: ChainView, store: Store, operator: str) -> None:
        self.chain = chain
        self.store = store
        self.operator = operator.lower()

    def signed(self, headers: Any, method: str, path: str, body: bytes = b"",
               body_hash: bytes | None = None, now: float | None = None
               ) -> tuple[da.SignedRequest, str]:
        t = time.time() if now is None else now
        try:
            req = da.from_headers(headers, method, path, body, body_hash)
        except da.AuthError as err:
            raise Refused(401, str(err)) from None
        if req.expiry < t - da.CLOCK_SKEW_S:
            raise Refused(401, "request expired (sign it again)")
        if req.expiry > t + da.MAX_VALIDITY_S + da.CLOCK_SKEW_S:
            raise Refused(401, f"request expiry is more than {da.MAX_VALIDITY_S} s ahead")
        try:
            signer = req.signer(self.chain.chain_id, self.chain.pool_address)
        except da.AuthError as err:
            raise Refused(401, str(err)) from None
        return req, signer

    def serves(self, device_id: int) -> bool:
        return self.chain.operator(device_id).lower() == self.operator

    def live(self, req: da.SignedRequest, signer: str, max_age: float = 0.0) -> Caller:
        """The signer holds ``req.lease_id`` now, on a device this gateway serves. With
        ``max_age`` > 0 (the service proxy), the lease and device state may be read up to that
        many seconds ago."""
        lid = req.lease_id
        device = lease_device(lid)
        name = format_lease_id(lid)
        if not self.serves(device):
            raise Refused(403, f"lease {name} is for device {device}, which this gateway "
                               "(operator " f"{self.operator}) does not serve")
        lease = (self.chain.lease_recent(device, max_age) if max_age > 0
                 else self.chain.lease(device))
        if lease.client.lower() != signer.lower() and lease.nonce == lease_nonce(lid):
            raise Refused(403, f"signer {signer} is not the client of lease {name}")
        if lease.nonce != lease_nonce(lid):
            raise Refused(403, f"lease {name} has ended (device {device} is on lease "
                               f"{device}:{lease.nonce})")
        if not lease.live:
            raise Refused(403, f"lease {name} has ended (last epoch {lease.end_epoch - 1})")
        state = (self.chain.summary_recent(device, max_age) if max_age > 0
                 else self.chain.summary(device)).state
        if state != DeviceState.ACTIVE:
            raise Refused(403, f"device {device} is {state.label}, not Active")
        return Caller(signer, lid, lease.end_epoch)

    def for_job(self, req: da.SignedRequest, signer: str, job: Job | None,
                job_id: str) -> Job:
        """The signer is the client of ``job``, which runs under the signed lease."""
        if job is None or job.lease_int != req.lease_id:
            raise Refused(404, f"no job {job_id} under lease {format_lease_id(req.lease_id)}")
        if job.client.lower() != signer.lower():
            raise Refused(403, f"signer {signer} is not the client of job {job_id}")
        return job

    def consume(self, req: da.SignedRequest) -> None:
        if not self.store.use_nonce(req.nonce, req.expiry):
            raise Refused(401, "replayed request: this nonce was already used")
