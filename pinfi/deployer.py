"""Deploy and wire the PinFi contracts with Ape (operators, tests, the demo and the benchmarks).

Only this module knows the wiring order; everything that deploys goes through
:func:`deploy_protocol`. It needs Ape (``eth-ape``); the agent and the SDK never import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROOF_KEYS = ("n", "leaf", "k", "c", "commitWindow", "openWindow", "disputeWindow",
              "challengeBps", "missSlashBps", "fraudSlashBps")
POOL_KEYS = ("pFloor", "p0", "alpha", "betaBps", "maxLeaseEpochs", "terminateFeeBps", "downBond")


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


def proof_params(cls: dict[str, Any]) -> tuple[int, ...]:
    """``PoCPSVerifier.ProofParams`` tuple of a class."""
    return tuple(int(cls[key]) for key in PROOF_KEYS)


def stake_params(cls: dict[str, Any]) -> tuple[int, ...]:
    """``Staking.StakeParams`` tuple of a class: minBond, weight, maxBounty (default: a tenth
    of the bond, the flat cap of one report's bounty)."""
    min_bond = int(cls["minBond"])
    return (min_bond, int(cls["weight"]), int(cls.get("maxBounty", min_bond // 10)))


def pool_params(cls: dict[str, Any]) -> tuple[int, ...]:
    """``DissipativePool.PoolParams`` tuple of a class."""
    return tuple(int(cls[key]) for key in POOL_KEYS)


def configure_class(d: Deployed, cls: dict[str, Any]) -> None:
    """Register one device class in all three contracts (staking, PoCPS, pricing)."""
    sender = d.admin
    class_id = int(cls["id"])
    d.staking.setClass(class_id, stake_params(cls), sender=sender)
    d.verifier.setClass(class_id, proof_params(cls), sender=sender)
    if d.pool is not None:
        d.pool.setClass(class_id, pool_params(cls), sender=sender)


def deploy_protocol(project: Any, chain: Any, admin: Any, network: dict[str, Any],
                    classes: list[dict[str, Any]], with_pool: bool = True,
                    genesis_block: int | None = None) -> Deployed:
    """Deploy PinToken, Staking, PoCPSVerifier and DissipativePool, grant roles, add classes.

    ``network`` holds ``maxSupply``, ``genesisSupply``, ``epochBlocks``, ``unbondingBlocks``,
    ``rewardPerBlock``, ``halvingBlocks``, ``bountyBps`` and optionally ``maxEmission`` (default:
    all of the cap left after genesis) and ``graceEpochs`` (default 30). Epoch 0 starts at
    ``genesis_block`` (default: the block
    after the Staking deployment's predecessor, i.e. right away).
    """
    max_supply = int(network["maxSupply"])
    genesis_supply = int(network["genesisSupply"])
    token = project.PinToken.deploy(max_supply, genesis_supply, admin, admin, sender=admin)
    genesis = chain.blocks.head.number + 1 if genesis_block is None else genesis_block
    staking = project.Staking.deploy(
        token, genesis, int(network["epochBlocks"]), int(network["unbondingBlocks"]),
        int(network["rewardPerBlock"]), int(network["halvingBlocks"]),
        int(network.get("maxEmission", max_supply - genesis_supply)), int(network["bountyBps"]),
        admin, sender=admin,
    )
    verifier = project.PoCPSVerifier.deploy(staking, int(network.get("graceEpochs", 30)), admin,
                                             sender=admin)
    staking.setVerifier(verifier, sender=admin)
    token.grantRole(token.MINTER_ROLE(), staking, sender=admin)
    pool = None
    if with_pool:
        pool = project.DissipativePool.deploy(token, staking, verifier, admin, sender=admin)
        verifier.setPool(pool, sender=admin)
        staking.setPool(pool, sender=admin)
    deployed = Deployed(token, staking, verifier, pool, admin)
    for cls in classes:
        configure_class(deployed, cls)
    return deployed
