"""Shared fixtures: a real Anvil (started by ape-foundry), contracts compiled by solc-js."""

from __future__ import annotations

import pytest

GENESIS = 10_000_000 * 10**18
MAX_SUPPLY = 100_000_000 * 10**18


@pytest.fixture(scope="session")
def deployer(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def alice(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def bob(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def token(project, deployer):
    return project.PinToken.deploy(MAX_SUPPLY, GENESIS, deployer, deployer, sender=deployer)
