"""`provider_agent.duty.epoch_duty`: the PoCPS v2 duty (docs/protocol.md#selection) without a
chain: every device that is not Exempt commits; the opening is known before the deadline only
when Always, forced or owed, else it is the verifier's ``mustOpen`` read after the deadline."""

from __future__ import annotations

from pinfi.types import ZERO_ADDRESS, ChallengeMode
from provider_agent.context import ChallengeInfo
from provider_agent.duty import epoch_duty

OWNER = "0x" + "11" * 20


def _info(mode: ChallengeMode, owner: str = OWNER) -> ChallengeInfo:
    return ChallengeInfo(owner, OWNER, 1, mode)


def test_exempt_and_unknown_devices_owe_nothing() -> None:
    for info in (_info(ChallengeMode.EXEMPT), _info(ChallengeMode.SAMPLED, ZERO_ADDRESS)):
        d = epoch_duty(info, forced=True, owed=True, must_open=True)
        assert (d.commit, d.open, d.owed, d.why) == (False, False, False, "exempt")


def test_every_other_device_commits_and_the_draw_decides_the_opening() -> None:
    sampled = _info(ChallengeMode.SAMPLED)
    before = epoch_duty(sampled)
    assert (before.commit, before.open, before.owed, before.why) == (True, None, True, "sampled")
    assert epoch_duty(sampled, must_open=True) == epoch_duty(sampled, must_open=True)
    assert (epoch_duty(sampled, must_open=True).open, epoch_duty(sampled, must_open=True).why) \
        == (True, "drawn")
    undrawn = epoch_duty(sampled, must_open=False)
    assert (undrawn.commit, undrawn.open, undrawn.owed, undrawn.why) == (True, False, True,
                                                                         "not drawn")


def test_always_forced_and_owed_open_whatever_the_draw() -> None:
    assert epoch_duty(_info(ChallengeMode.ALWAYS), must_open=False).why == "pending"
    sampled = _info(ChallengeMode.SAMPLED)
    for kw, why in (({"forced": True}, "forced"), ({"owed": True}, "owed")):
        d = epoch_duty(sampled, must_open=None, **kw)
        assert (d.commit, d.open, d.why) == (True, True, why)
