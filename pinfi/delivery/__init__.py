"""Delivery of leased compute: what the lease gateway and its clients share.

* :mod:`~pinfi.delivery.manifest`: the job manifest schema and its canonical hash (the lease's
  ``jobSpec``), input and output hashes, safe relative paths.
* :mod:`~pinfi.delivery.auth`: EIP-712 signed requests (who holds the lease).
* :mod:`~pinfi.delivery.receipt`: operator-signed job receipts, verifiable against the chain.
* :mod:`~pinfi.delivery.client`: the HTTP client of a device's gateway (used by ``pinfi.sdk``).

docs/delivery.md is the specification; this package has no server code and no dev dependency.
"""

from __future__ import annotations

from .manifest import Manifest, ManifestError, canonical_json, manifest_hash
from .receipt import EndReason, Phase, Receipt

__all__ = ["EndReason", "Manifest", "ManifestError", "Phase", "Receipt", "canonical_json",
           "manifest_hash"]
