"""PinFi economics simulation: the LooPIN analysis framework (section 8) as experiments.

``python -m pinfi_dev.sim`` (or ``make sim``) runs an agent-based, seeded model of the markets
(:mod:`pinfi_dev.sim.model`), the five experiments of the analysis and the ghost/Sybil study of
PoCPS v2 (:mod:`pinfi_dev.sim.experiments`, :mod:`pinfi_dev.sim.attacks`) and writes PNG figures,
``results.json`` and ``report.md`` under ``out/sim/``. A developer tool: nothing under ``pinfi/``
or ``provider_agent/`` imports it. Lease prices come from
:mod:`pinfi.protocol` (the contract mirror) through :mod:`pinfi_dev.sim.pricing`; the protocol
parameters from ``pinfi/params/classes.json`` through :mod:`pinfi.params`.
"""

from __future__ import annotations

__all__ = ["run_all"]


def run_all(*args: object, **kwargs: object) -> object:
    """Run the full study (see :func:`pinfi_dev.sim.pipeline.run_all`)."""
    from pinfi_dev.sim.pipeline import run_all as _run_all

    return _run_all(*args, **kwargs)  # type: ignore[arg-type]
