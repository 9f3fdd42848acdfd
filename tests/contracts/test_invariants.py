"""The protocol's invariants under random sequences: a hypothesis state machine on a real Anvil.
The protocol: docs/protocol.md#device-state-machine and docs/protocol.md#dissipative-pool.

Rules register devices, move the clock, prove honestly, cheat, stay silent (miss), report misses,
lease, terminate, claim and unbond. After every step the invariants are checked against the
chain:

- conservation: supply == genesis + minted rewards - burned, where `burned` is summed from the
  protocol's own events (slashes, lease burns, termination fees) and `minted` from `Staking`;
  minted <= emission accounted <= maxEmission;
- solvency: Staking holds exactly its bonds; the pool holds at least every device's locked
  escrow, claimable balance and down bond;
- no slash without an on-chain fault: only devices the model made cheat or miss are ever
  slashed, and every slash matches a `FraudProven` or `MissReported` event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ape
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pinfi.types import DeviceState
from tests.support import pocps
from tests.support.constants import MAX_EMISSION, TEST_CLASS


@dataclass
class Dev:
    id: int
    owner: object
    behaviour: str  # "honest", "cheat" or "silent"
    proved: set[int] = field(default_factory=set)


def _make_machine(chain, project, accounts, system, stats: dict[str, int]):
    owners = [accounts[i] for i in (5, 6, 7)]
    operator = accounts[3]
    keeper = accounts[4]
    client = accounts[8]
    token, staking, verifier, pool = system.token, system.staking, system.verifier, system.pool

    class Protocol(RuleBasedStateMachine):
        def send(self, method, *args, **kw):
            """Send a transaction and keep its decoded protocol events."""
            tx = method(*args, **kw)
            self.events.extend(tx.events)
            return tx

        def _logs(self, _contract, event: str) -> list:
            return [log for log in self.events if log.event_name == event]

        @initialize()
        def start(self) -> None:
            self.events: list = []
            self.snapshot = chain.snapshot()
            self.start_block = chain.blocks.head.number
            self.devices: list[Dev] = []
            self.faulty: set[int] = set()  # devices the model let cheat or miss
            for who in (*owners, client):
                if token.balanceOf(who) < 10**24:
                    token.transfer(who, 10**24, sender=system.admin)
            if pool is not None:
                token.approve(pool, 2**255, sender=client)
            self.supply_at_start = token.totalSupply()
            self.minted_at_start = staking.totalMinted()
            self.bonded_at_start = staking.totalBonded()
            # Every run starts with an honest and a cheating provider; rules add more.
            self.register(0, "honest")
            self.register(1, "cheat")
            self.next_epoch(True)  # their first challenge: one proves, one is convicted

        def teardown(self) -> None:
            if hasattr(self, "snapshot"):
                stats["examples"] += 1
                stats["slashes"] += len(self._logs(staking, "DeviceSlashed"))
                stats["opened"] += len(self._logs(verifier, "Opened"))
                if pool is not None:
                    stats["leases"] += len(self._logs(pool, "LeaseOpened"))
                chain.restore(self.snapshot)

        # ---------------------------------------------------------------- rules

        @precondition(lambda self: len(self.devices) < 5)
        @rule(owner=st.integers(0, 2),
              behaviour=st.sampled_from(["honest", "honest", "cheat", "silent"]))
        def register(self, owner: int, behaviour: str) -> None:
            device = pocps.register(system, owners[owner], operator)
            self.devices.append(Dev(device, owners[owner], behaviour))

        @rule(blocks=st.integers(1, 25))
        def advance(self, blocks: int) -> None:
            chain.mine(blocks)

        @rule(online=st.booleans())
        def next_epoch(self, online: bool) -> None:
            """A new epoch starts; agents that are online answer their challenges in it."""
            pocps.next_epoch(chain, system)
            if online:
                self.prove_all()

        @rule()
        def prove_all(self) -> None:
            """Each challenged device acts by its behaviour while the commit window is open."""
            e = staking.currentEpoch()
            start = pocps.epoch_start(system, e)
            # Leave room for the commit and the open inside their windows.
            if chain.blocks.head.number + 2 >= start + TEST_CLASS["commitWindow"]:
                return
            if chain.blocks.head.number + 1 <= start:
                return
            if verifier.epochSeed(e) == b"\x00" * 32:
                verifier.checkpoint(sender=keeper)
            for dev in self.devices:
                if not verifier.isChallenged(dev.id, e) or verifier.proofStatus(dev.id, e) != 0:
                    continue
                if chain.blocks.head.number + 2 >= start + TEST_CLASS["commitWindow"]:
                    break  # this agent is too late this epoch: the remaining devices miss
                if dev.behaviour == "silent":
                    self.faulty.add(dev.id)
                    continue
                if dev.behaviour == "cheat":
                    self.faulty.add(dev.id)

                    def tamper(c):
                        c[:, :] ^= 1

                    _, otx, _ = pocps.prove(chain, system, dev.id, operator, e, tamper=tamper)
                else:
                    _, otx, _ = pocps.prove(chain, system, dev.id, operator, e)
                    dev.proved.add(e)
                self.events.extend(otx.events)

        @rule()
        def report_misses(self) -> None:
            """A keeper reports every device it can; the contract decides."""
            e = staking.currentEpoch()
            for epoch in {max(0, e - 1), e}:
                for dev in self.devices:
                    try:
                        self.send(verifier.reportMissed, dev.id, epoch, sender=keeper)
                    except ape.exceptions.ContractLogicError:
                        continue
                    # An honest device that proved is never slashed; one that was offline
                    # (no prove_all step inside its window) missed, which is a fault.
                    assert epoch not in dev.proved, f"device {dev.id} slashed after proving {epoch}"
                    self.faulty.add(dev.id)

        @precondition(lambda self: pool is not None)
        @rule(epochs=st.integers(1, 3))
        def lease(self, epochs: int) -> None:
            for dev in self.devices:
                _, _, state = staking.deviceSummary(dev.id)
                if state == DeviceState.ACTIVE and not pool.leaseOf(dev.id)[5]:
                    self.send(pool.lease, dev.id, epochs, 2**255, chain.pending_timestamp + 600,
                              b"\x07" * 32, sender=client)
                    return

        @precondition(lambda self: pool is not None)
        @rule()
        def terminate(self) -> None:
            for dev in self.devices:
                if pool.leaseOf(dev.id)[5]:
                    self.send(pool.terminate, pool.currentLeaseId(dev.id), sender=client)
                    return

        @rule()
        def claim(self) -> None:
            for dev in self.devices:
                if staking.earned(dev.id) > 0:
                    self.send(staking.claim, dev.id, sender=dev.owner)
                if pool is not None and pool.claimable(dev.id) > 0:
                    self.send(pool.claim, dev.id, sender=dev.owner)

        @rule()
        def unbond(self) -> None:
            for dev in self.devices:
                d = staking.getDevice(dev.id)
                if d.state in (DeviceState.PENDING, DeviceState.ACTIVE, DeviceState.JAILED):
                    staking.deregister(dev.id, sender=dev.owner)
                    return
                if d.state == DeviceState.EXITING and chain.blocks.head.number >= d.unbondAt:
                    staking.withdraw(dev.id, sender=dev.owner)
                    return

        # ---------------------------------------------------------------- invariants

        @invariant()
        def conservation(self) -> None:
            if not hasattr(self, "snapshot"):
                return
            burned = sum(log.burned for log in self._logs(staking, "DeviceSlashed"))
            if pool is not None:
                burned += sum(log.burned for log in self._logs(pool, "LeaseOpened"))
                burned += sum(log.burned for log in self._logs(pool, "LeaseExtended"))
                burned += sum(log.fee for log in self._logs(pool, "LeaseTerminated"))
            minted = staking.totalMinted()
            assert minted <= staking.emissionAccounted() <= MAX_EMISSION
            expected = self.supply_at_start + minted - self.minted_at_start - burned
            assert token.totalSupply() == expected

        @invariant()
        def solvency(self) -> None:
            if not hasattr(self, "snapshot"):
                return
            assert token.balanceOf(staking) == staking.totalBonded()
            bonds = sum(staking.getDevice(d.id).bond for d in self.devices)
            assert staking.totalBonded() == bonds + self.bonded_at_start
            if pool is not None:
                owed = 0
                for dev in self.devices:
                    _, _, device_owed, _, _, bond = pool.escrowOf(dev.id)
                    owed += device_owed + bond
                assert token.balanceOf(pool) >= owed

        @invariant()
        def slashes_only_on_faults(self) -> None:
            if not hasattr(self, "snapshot"):
                return
            slashed = {log.deviceId for log in self._logs(staking, "DeviceSlashed")}
            assert slashed <= self.faulty, f"slashed without a fault: {slashed - self.faulty}"
            faults = {log.deviceId for log in self._logs(verifier, "FraudProven")}
            faults |= {log.deviceId for log in self._logs(verifier, "MissReported")}
            assert slashed == faults

    return Protocol


def test_protocol_invariants(chain, project, accounts, system):
    stats = {"examples": 0, "slashes": 0, "opened": 0, "leases": 0}
    machine = _make_machine(chain, project, accounts, system, stats)
    machine.TestCase.settings = settings(
        max_examples=6, stateful_step_count=16, deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    machine.TestCase().runTest()
    print("invariant machine coverage:", stats)
    # The run exercised the protocol, not just empty sequences.
    assert stats["examples"] >= 3 and stats["opened"] > 0
