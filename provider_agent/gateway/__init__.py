"""The lease gateway: the HTTP API through which a lease's client runs its job on the device.

Served by ``python -m provider_agent.gateway --config agent.toml`` (its own process; the daemon
starts it when ``[gateway] enabled = true``, see :mod:`.service`), so no request can delay a
proof. docs/delivery.md is the specification.

* :mod:`.settings`  the ``[gateway]`` table of the agent config
* :mod:`.storage`   SQLite job table and nonce store, content-addressed blobs, job directories
* :mod:`.supervise` the per-job supervisor process (sandbox, limits, stop with grace)
* :mod:`.runner`    starts, watches, stops and finalizes jobs; signs receipts
* :mod:`.auth`      the EIP-712 request check against the chain
* :mod:`.app`       the FastAPI application
"""
