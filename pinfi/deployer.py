"""Deploy and wire the PinFi contracts with Ape (operators, tests, the demo and the benchmarks).

Only this module knows the wiring order; everything that deploys goes through
:func:`deploy_protocol`. It needs Ape (``eth-ape``); the agent and the SDK never import it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pinfi.params import (
    POOL_KEYS,
    PROOF_KEYS,
    ClassParams,
    NetworkParams,
    ProofParams,
    as_class,
    as_network,
    as_proof,
)

__all__ = ["POOL_KEYS", "PROOF_KEYS", "Deployed", "configure_class", "deploy_protocol",
           "proof_params"]


@dataclass
class Deployed:
    """The four contracts of one deployment (Ape contract instances)."""

    token: Any
    staking: Any
    verifier: Any
    pool: Any | None
    admin: Any

    def addresses(self) -> dict[str, str]:
        out = {"PinToken": self.token.address, "Staking": self.staking.address,
               "PoCPSVerifier": self.verifier.address}
        if self.pool is not None:
            out["DissipativePool"] = self.pool.address
        return out


def proof_params(cls: ClassParams | ProofParams | Mapping[str, Any]) -> tuple[int, ...]:
    """``PoCPSVerifier.ProofParams`` tuple of a class (typed, or a camelCase mapping)."""
    return as_proof(cls).to_contract()


def configure_class(d: Deployed, cls: ClassParams | Mapping[str, Any]) -> None:
    """Register one device class in all three contracts (staking, PoCPS, pricing)."""
    c = as_class(cls)
    sender = d.admin
    d.staking.setClass(c.id, *c.staking.to_contract(), sender=sender)
    d.verifier.setClass(c.id, c.proof.to_contract(), sender=sender)
    if d.pool is not None:
        d.pool.setClass(c.id, *c.pricing.to_contract(), sender=sender)


def deploy_protocol(project: Any, chain: Any, admin: Any,
                    network: NetworkParams | Mapping[str, Any],
                    classes: Iterable[ClassParams | Mapping[str, Any]], with_pool: bool = True,
                    genesis_block: int | None = None) -> Deployed:
    """Deploy PinToken, Staking, PoCPSVerifier and DissipativePool, grant roles, add classes.

    ``network`` and ``classes`` are :mod:`pinfi.params` types (or their camelCase mappings, as in
    the parameters file; ``maxEmission`` defaults to all of the cap left after genesis). Epoch 0
    starts at ``genesis_block`` (default: the block after the current head, i.e. right away).
    """
    net = as_network(network)
    typed = [as_class(c) for c in classes]
    token = project.PinToken.deploy(*net.token_args(), admin, admin, sender=admin)
    genesis = chain.blocks.head.number + 1 if genesis_block is None else genesis_block
    staking = project.Staking.deploy(token, genesis, *net.staking_args(), admin, sender=admin)
    verifier = project.PoCPSVerifier.deploy(staking, admin, sender=admin)
    staking.setVerifier(verifier, sender=admin)
    token.grantRole(token.MINTER_ROLE(), staking, sender=admin)
    pool = None
    if with_pool:
        pool = project.DissipativePool.deploy(token, staking, verifier, admin, sender=admin)
        verifier.setPool(pool, sender=admin)
        staking.setPool(pool, sender=admin)
    deployed = Deployed(token, staking, verifier, pool, admin)
    for cls in typed:
        configure_class(deployed, cls)
    return deployed
