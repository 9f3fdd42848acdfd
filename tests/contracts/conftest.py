"""Fixtures of the contract tests (root fixtures: tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.support import pocps


@pytest.fixture(scope="module", autouse=True)
def _quiet_revert_traces():
    """These tests trigger many reverts and need only the decoded custom error: skip ape's
    per-revert call-trace printout (about a second each; see `pocps.quiet_revert_traces`)."""
    with pocps.quiet_revert_traces():
        yield


@pytest.fixture(scope="session")
def carol(accounts):
    """A third client / owner, beside alice and bob."""
    return accounts[6]
