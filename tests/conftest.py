"""Shared fixtures: a real Anvil (started by ape-foundry), contracts compiled by solc-js.

`system` deploys the whole protocol with a small test class (`TEST_CLASS`, 20-block epochs) the
way `scripts/deploy.py` wires it; `tests/pocps.py` drives real PoCPS challenges against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

GENESIS = 10_000_000 * 10**18
MAX_SUPPLY = 100_000_000 * 10**18
EPOCH_BLOCKS = 20
UNBONDING_BLOCKS = 40
REWARD_PER_BLOCK = 10**18
HALVING_BLOCKS = 10_000
MAX_EMISSION = 1_000_000 * 10**18
BOUNTY_BPS = 1_000
CLASS_ID = 1
MIN_BOND = 1_000 * 10**18
WEIGHT = 10
# PoCPS parameters of the test class: n, leaf, k, c, commitWindow, openWindow, disputeWindow,
# challengeBps, missSlashBps, fraudSlashBps.
TEST_CLASS: dict[str, int] = {
    "n": 64, "leaf": 16, "k": 4, "c": 1, "commitWindow": 6, "openWindow": 6, "disputeWindow": 6,
    "challengeBps": 5_000, "missSlashBps": 1_000, "fraudSlashBps": 5_000,
}
PRICING: dict[str, int] = {
    "pFloor": 10 * 10**18, "p0": 100 * 10**18, "alpha": 2 * 10**18, "betaBps": 2_000,
    "maxLeaseEpochs": 64, "terminateFeeBps": 500, "downBond": 50 * 10**18,
}


@dataclass
class System:
    """The deployed protocol."""

    token: Any
    staking: Any
    verifier: Any
    pool: Any | None
    admin: Any


def proof_params(p: dict[str, int]) -> tuple[int, ...]:
    """`PoCPSVerifier.ProofParams` tuple from a class dict."""
    keys = ("n", "leaf", "k", "c", "commitWindow", "openWindow", "disputeWindow",
            "challengeBps", "missSlashBps", "fraudSlashBps")
    return tuple(p[key] for key in keys)


@pytest.fixture(scope="session")
def deployer(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def alice(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def bob(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def operator(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def keeper(accounts):
    return accounts[4]


@pytest.fixture(scope="module")
def token(project, deployer):
    return project.PinToken.deploy(MAX_SUPPLY, GENESIS, deployer, deployer, sender=deployer)


def deploy_system(project, chain, admin, with_pool: bool = True) -> System:
    """Deploy and wire PinToken, Staking, PoCPSVerifier (and DissipativePool) for the test class."""
    token = project.PinToken.deploy(MAX_SUPPLY, GENESIS, admin, admin, sender=admin)
    genesis = chain.blocks.head.number + 1
    staking = project.Staking.deploy(
        token, genesis, EPOCH_BLOCKS, UNBONDING_BLOCKS, REWARD_PER_BLOCK, HALVING_BLOCKS,
        MAX_EMISSION, BOUNTY_BPS, admin, sender=admin,
    )
    verifier = project.PoCPSVerifier.deploy(staking, admin, sender=admin)
    staking.setVerifier(verifier, sender=admin)
    token.grantRole(token.MINTER_ROLE(), staking, sender=admin)
    staking.setClass(CLASS_ID, MIN_BOND, WEIGHT, sender=admin)
    verifier.setClass(CLASS_ID, proof_params(TEST_CLASS), sender=admin)
    pool = None
    if with_pool and hasattr(project, "DissipativePool"):
        pool = project.DissipativePool.deploy(token, staking, verifier, admin, sender=admin)
        verifier.setPool(pool, sender=admin)
        p = PRICING
        pool.setClass(CLASS_ID, p["pFloor"], p["p0"], p["alpha"], p["betaBps"],
                      p["maxLeaseEpochs"], p["terminateFeeBps"], p["downBond"], sender=admin)
    return System(token, staking, verifier, pool, admin)


@pytest.fixture(scope="module")
def system(project, chain, deployer) -> System:
    return deploy_system(project, chain, deployer)
