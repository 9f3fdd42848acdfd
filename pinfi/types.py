"""The protocol's vocabulary, once: the contracts' enums, lease ids and shared constants.

Every module that reads a device state, a challenge mode or a proof status from the chain uses
these enums (``DeviceState(int(raw))``); no bare integer stands for a state anywhere else. The
enums mirror `contracts/interfaces/IStaking.sol` and `IPoCPSVerifier.sol` member for member
(a test compares them with the shipped ABIs' NatSpec order).
"""

from __future__ import annotations

from enum import IntEnum

#: Basis points in one whole (the contracts' ``BPS``).
BPS = 10_000
#: 18-decimal fixed-point one (PIN has 18 decimals; PRBMath UD60x18).
UNIT = 10**18
#: The zero address, as web3 returns it.
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
#: Lease ids are ``(deviceId << LEASE_NONCE_BITS) | nonce``.
LEASE_NONCE_BITS = 64
_NONCE_MASK = (1 << LEASE_NONCE_BITS) - 1


class DeviceState(IntEnum):
    """`IStaking.DeviceState`: the life of a device (docs/protocol.md#device-states)."""

    NONE = 0
    PENDING = 1
    ACTIVE = 2
    JAILED = 3
    MAINTENANCE = 4
    EXITING = 5
    WITHDRAWN = 6

    @property
    def label(self) -> str:
        """The Solidity member name (``Active``), as operators and the spec write it."""
        return self.name.capitalize()

    @classmethod
    def parse(cls, raw: int | str) -> DeviceState:
        """From a chain integer or a member name in any case (``"active"``)."""
        if isinstance(raw, str) and not raw.isdigit():
            return cls[raw.upper()]
        return cls(int(raw))


class ChallengeMode(IntEnum):
    """`IStaking.ChallengeMode`: how a device stands towards one epoch's challenge."""

    EXEMPT = 0
    ALWAYS = 1
    SAMPLED = 2

    @property
    def label(self) -> str:
        return self.name.capitalize()


class ProofStatus(IntEnum):
    """`IPoCPSVerifier.ProofStatus`: a device's proof record for one epoch."""

    NONE = 0
    COMMITTED = 1
    OPENED = 2
    SLASHED = 3
    MISSED = 4  # a grace miss: no bond slashed, the device owes the next epoch

    @property
    def label(self) -> str:
        return self.name.capitalize()


def lease_id(device_id: int, nonce: int) -> int:
    """`DissipativePool._leaseId`: ``(deviceId << 64) | nonce``."""
    if device_id < 0 or not 0 <= nonce <= _NONCE_MASK:
        raise ValueError(f"bad lease id parts: device {device_id}, nonce {nonce}")
    return (device_id << LEASE_NONCE_BITS) | nonce


def lease_device(lid: int) -> int:
    """The device id inside a lease id."""
    return int(lid) >> LEASE_NONCE_BITS


def lease_nonce(lid: int) -> int:
    """The device's lease counter inside a lease id."""
    return int(lid) & _NONCE_MASK


def format_lease_id(lid: int) -> str:
    """``device:nonce`` — how logs, the CLI and the SDK print a lease id."""
    return f"{lease_device(lid)}:{lease_nonce(lid)}"
