"""Explorer tests: one scripted scenario on Anvil (registrations, proofs, a miss, a fraud,
leases, an extension, a termination, claims, an endpoint) that every test indexes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from pinfi import chain as ch
from tests.support import pocps
from tests.support.constants import CLASS_ID, System
from tests.support.pool import FAR, activate_many, whole_cost

UNIT = 10**18
JOB = b"\x22" * 32
OUT = Path(__file__).resolve().parents[2] / "out" / "explorer"


@dataclass
class Scenario:
    system: System
    deployment: ch.Deployment
    active: list[int]
    missed: int
    fraud: int
    leases: list[int]


def lease(system: System, device: int, epochs: int, client):
    cost = whole_cost(system.pool, CLASS_ID, epochs)
    return system.pool.lease(device, epochs, cost, FAR, JOB, sender=client)


@pytest.fixture(scope="module")
def scenario(chain, system, alice, bob, operator, keeper) -> Scenario:
    pool, verifier = system.pool, system.verifier
    active = activate_many(chain, system, alice, operator, 3)
    system.registry.setEndpoint(active[0], "http://127.0.0.1:9100", sender=alice)
    system.token.transfer(bob, 1_000_000 * UNIT, sender=system.admin)
    system.token.approve(pool, 10**30, sender=bob)
    pocps.next_epoch(chain, system)
    l0 = lease(system, active[0], 3, bob).return_value
    l1 = lease(system, active[1], 4, bob).return_value
    pool.extend(l0, 2, 10**30, FAR, sender=bob)
    # a miss: a Pending device that never answers its first challenge
    missed = pocps.register(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    verifier.checkpoint(sender=keeper)
    pool.terminate(l1, sender=bob)
    # a fraud: a wrong product opened
    fraud = pocps.register(system, alice, operator)
    pocps.next_epoch(chain, system)
    verifier.reportMissed(missed, e, sender=keeper)

    def tamper(c):
        c[:, :] += 1

    pocps.prove(chain, system, fraud, operator, tamper=tamper)
    l2 = lease(system, active[2], 1, bob).return_value
    pocps.next_epoch(chain, system)
    pocps.next_epoch(chain, system)
    pool.claim(active[1], sender=alice)
    system.staking.claim(active[0], sender=alice)
    chain.mine(3)
    genesis = int(system.staking.genesisBlock())
    dep = ch.Deployment(int(chain.chain_id), system.addresses(), deployment_block=genesis - 1)
    return Scenario(system, dep, active, missed, fraud, [int(l0), int(l1), int(l2)])


@pytest.fixture(scope="module")
def w3(chain):
    return chain.provider.web3


@pytest.fixture(scope="session")
def out_dir() -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    return OUT


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server started for these tests (skipped only where none can run)."""
    from tests.explorer import pgserver

    why = pgserver.available()
    if why:
        pytest.skip(why)
    server = pgserver.PgServer()
    server.start()
    yield server
    server.stop()
