"""What one device owes one epoch's challenge: the prover's and the keeper's one decision.

``must I commit? must I open?`` is answered here and nowhere else, so the PoCPS v2 rule (every
device commits every epoch; which commitments are opened is drawn after the commit deadline)
changes this one function (and :class:`Duty`'s ``open`` becomes "decided later").
"""

from __future__ import annotations

from dataclasses import dataclass

from pinfi import protocol
from pinfi.params.schema import ProofParams
from pinfi.types import ZERO_ADDRESS, ChallengeMode

from .context import ChallengeInfo


@dataclass(frozen=True)
class Duty:
    """``commit``/``open``: the device must commit a root / open it this epoch; ``why`` says
    which rule decided (pending, forced, sampled, exempt, not selected)."""

    commit: bool
    open: bool
    why: str

    @property
    def owed(self) -> bool:
        return self.commit or self.open


def epoch_duty(info: ChallengeInfo, seed: bytes, pc: ProofParams, forced: bool) -> Duty:
    """The duty of a device towards the challenge of one epoch with seed ``seed``.

    ``info`` is ``Staking.challengeInfo(device, epoch)``; ``forced``: a client's down report
    forced this epoch's challenge. See docs/protocol.md#selection.
    """
    if info.owner == ZERO_ADDRESS or info.mode == ChallengeMode.EXEMPT:
        return Duty(False, False, "exempt")
    if info.mode == ChallengeMode.ALWAYS:
        return Duty(True, True, "pending")
    if forced:
        return Duty(True, True, "forced")
    if protocol.is_selected(seed, info.owner, info.class_id, pc.challenge_bps):
        return Duty(True, True, "sampled")
    return Duty(False, False, "not selected")
