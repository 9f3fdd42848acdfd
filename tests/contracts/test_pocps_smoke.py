"""End-to-end PoCPS on a real Anvil: register -> prove -> Active; cheat -> slashed."""

from __future__ import annotations

import ape

from pinfi import protocol as proto
from tests.support import pocps
from tests.support.constants import MIN_BOND, TEST_CLASS


def test_register_prove_activate(chain, system, alice, operator):
    device = pocps.register(system, alice, operator)
    assert system.staking.getDevice(device).state == 1  # Pending
    e = pocps.next_epoch(chain, system)
    _, otx, picks = pocps.prove(chain, system, device, operator)
    assert system.staking.getDevice(device).state == 2  # Active
    assert system.staking.activeCount(1) == 1
    assert system.verifier.proofStatus(device, e) == 2  # Opened
    s = proto.challenge_seed(bytes(system.verifier.epochSeed(e)), device, e)
    for li, ei in picks:
        i, j = proto.entry_coords(li, ei, TEST_CLASS["leaf"], TEST_CLASS["n"])
        n = TEST_CLASS["n"]
        assert system.verifier.entry(s, n, i, j) == proto.entry(s, n, i, j)
    print("gas open", otx.gas_used)


def test_wrong_product_is_fraud(chain, system, alice, operator):
    device = pocps.register(system, alice, operator)
    pocps.next_epoch(chain, system)
    supply = system.token.totalSupply()

    def tamper(c):
        c[:, :] += 1

    pocps.prove(chain, system, device, operator, tamper=tamper)
    d = system.staking.getDevice(device)
    assert d.state == 3  # Jailed
    assert d.bond == MIN_BOND - MIN_BOND * TEST_CLASS["fraudSlashBps"] // 10_000
    assert system.token.totalSupply() == supply - MIN_BOND * TEST_CLASS["fraudSlashBps"] // 10_000


def test_commit_by_stranger_reverts(chain, system, alice, bob, operator):
    device = pocps.register(system, alice, operator)
    e = pocps.next_epoch(chain, system)
    system.verifier.checkpoint(sender=bob)
    with ape.reverts(system.verifier.NotOperator):
        system.verifier.commit(device, e, b"\x01" * 32, sender=bob)
