"""What one device owes one epoch's challenge: the prover's and the keeper's one decision.

PoCPS v2 (docs/protocol.md#selection): every device whose mode is not Exempt **commits every
epoch**; which commitments must also be **opened** is drawn per device from the hash of the
commit deadline block, unknown while a commit can still land. So the duty comes in two steps:

* before the deadline: ``commit`` is known, ``open`` is known only for an Always device (it must
  prove to become Active), a forced challenge (a client's down report) or an owed one (after a
  grace miss); a Sampled device's ``open`` is ``None`` ("drawn after the deadline");
* after the deadline: ``open`` is what the verifier's ``mustOpen(deviceId, epoch)`` view says
  (the contract decides; the agent never re-derives the draw, so a parameter change or a forced
  challenge can never make the agent disagree with the contract).
"""

from __future__ import annotations

from dataclasses import dataclass

from pinfi.types import ZERO_ADDRESS, ChallengeMode

from .context import ChallengeInfo


@dataclass(frozen=True)
class Duty:
    """``commit``: the device must commit a root this epoch; ``open``: it must open it (``None``:
    drawn after the commit deadline, not known yet); ``why`` says which rule decided (exempt,
    pending, forced, owed, sampled, drawn, not drawn)."""

    commit: bool
    open: bool | None
    why: str

    @property
    def owed(self) -> bool:
        """Anything owed at all (a committed, undrawn device still owed its commitment)."""
        return self.commit or bool(self.open)


def epoch_duty(info: ChallengeInfo, *, forced: bool = False, owed: bool = False,
               must_open: bool | None = None) -> Duty:
    """The duty of a device towards the challenge of one epoch.

    ``info`` is ``Staking.challengeInfo(device, epoch)``; ``forced``/``owed``: the verifier's
    ``forcedEpochPlusOne``/``owedEpochPlusOne`` name this epoch; ``must_open``: the verifier's
    ``mustOpen(device, epoch)`` read once the head is past the commit deadline (``None`` before).
    See docs/protocol.md#selection and docs/protocol.md#challenge-modes.
    """
    if info.owner == ZERO_ADDRESS or info.mode == ChallengeMode.EXEMPT:
        return Duty(False, False, "exempt")
    if info.mode == ChallengeMode.ALWAYS:
        return Duty(True, True, "pending")
    if forced:
        return Duty(True, True, "forced")
    if owed:
        return Duty(True, True, "owed")
    if must_open is None:
        return Duty(True, None, "sampled")
    return Duty(True, must_open, "drawn" if must_open else "not drawn")
