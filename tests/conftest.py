"""Fixtures shared by every area: a real Anvil (ape-foundry), contracts compiled by solc-js.

`system` deploys the whole protocol with the test class the way `scripts/deploy.py` wires it;
`tests/support/pocps.py` drives real PoCPS challenges against it.
"""

from __future__ import annotations

import pytest

from tests.support.constants import GENESIS, MAX_SUPPLY, System, deploy_system


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


@pytest.fixture(scope="module")
def system(request, project, chain, deployer) -> System:
    """The protocol with the test class; a test module that sets ``WITH_POOL = False`` gets
    Staking and the verifier only (to drive ``setPool`` / ``activate`` itself)."""
    return deploy_system(project, chain, deployer,
                         with_pool=getattr(request.module, "WITH_POOL", True))
