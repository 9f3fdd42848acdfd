"""Job receipts: what the device's operator key signs about a job (docs/delivery.md#receipt).

A receipt is the EIP-712 struct ``JobReceipt`` in the gateway domain (:mod:`.eip712`): the lease,
the job id, the manifest, inputs and outputs hashes, the phase (``ACCEPTED`` when the job is
taken, ``FINISHED`` when it ended), the exit status, why it ended and the blocks it ran between.
Anyone can check it: recover the signer and compare it with the device's operator recorded in
``Staking`` (:func:`pinfi.delivery.client.verify_receipt`); the device is the lease id's upper
bits, so a receipt cannot be moved to another device.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any

from eth_account.signers.local import LocalAccount

from pinfi.types import lease_device

from . import eip712


class Phase(IntEnum):
    """What a receipt attests: the job was accepted, or the job finished."""

    ACCEPTED = 0
    FINISHED = 1


class EndReason(IntEnum):
    """Why a job ended (``NONE`` while it has not)."""

    NONE = 0
    EXITED = 1  # the job's program exited by itself (see exit_code)
    LEASE_ENDED = 2  # the lease's last epoch passed while it ran
    LEASE_TERMINATED = 3  # the client terminated the lease (or the provider ended it)
    DEVICE_INACTIVE = 4  # the device left the Active state
    CANCELLED = 5  # the client cancelled the job
    WALL_LIMIT = 6  # limits.wall_seconds passed
    FAILED_TO_START = 7  # the runtime could not start the program
    LOST = 8  # the job's supervisor vanished without a result (machine reboot)

    @property
    def label(self) -> str:
        return self.name.lower()


#: The EIP-712 struct an operator signs (docs/delivery.md#receipt).
RECEIPT = eip712.Struct.parse(
    "JobReceipt(uint256 leaseId, bytes32 jobId, uint8 phase, bytes32 manifestHash, "
    "bytes32 inputsHash, bytes32 outputsHash, int32 exitCode, uint8 endReason, "
    "uint64 startBlock, uint64 endBlock)")
ZERO32 = b"\0" * 32


def _b32(v: Any) -> bytes:
    if isinstance(v, str):
        v = bytes.fromhex(v[2:] if v.startswith("0x") else v)
    b = bytes(v)
    if len(b) != 32:
        raise ValueError("expected 32 bytes")
    return b


@dataclass(frozen=True)
class Receipt:
    """One signed statement about a job (``signature`` empty until :meth:`sign`)."""

    chain_id: int
    pool: str
    lease_id: int
    job_id: bytes
    phase: Phase
    manifest_hash: bytes
    inputs_hash: bytes
    outputs_hash: bytes = ZERO32
    exit_code: int = 0
    end_reason: EndReason = EndReason.NONE
    start_block: int = 0
    end_block: int = 0
    signature: str = ""

    @property
    def device_id(self) -> int:
        return lease_device(self.lease_id)

    def sign(self, operator: LocalAccount) -> Receipt:
        return replace(self, signature=RECEIPT.sign(operator, self.chain_id, self.pool, self))

    def signer(self) -> str:
        """The address that signed it (``ValueError`` when the signature is malformed)."""
        return RECEIPT.recover(self.chain_id, self.pool, self, self.signature)

    def to_json(self) -> dict[str, Any]:
        return {"chainId": self.chain_id, "pool": self.pool, "leaseId": hex(self.lease_id),
                "deviceId": self.device_id, "jobId": "0x" + self.job_id.hex(),
                "phase": self.phase.name.lower(), "manifestHash": "0x" + self.manifest_hash.hex(),
                "inputsHash": "0x" + self.inputs_hash.hex(),
                "outputsHash": "0x" + self.outputs_hash.hex(), "exitCode": self.exit_code,
                "endReason": self.end_reason.label, "startBlock": self.start_block,
                "endBlock": self.end_block, "signature": self.signature}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Receipt:
        """Parse :meth:`to_json` output (``ValueError`` with one line when malformed)."""
        try:
            return cls(int(d["chainId"]), str(d["pool"]), int(str(d["leaseId"]), 0),
                       _b32(d["jobId"]), Phase[str(d["phase"]).upper()],
                       _b32(d["manifestHash"]), _b32(d["inputsHash"]), _b32(d["outputsHash"]),
                       int(d["exitCode"]), EndReason[str(d["endReason"]).upper()],
                       int(d["startBlock"]), int(d["endBlock"]), str(d["signature"]))
        except (KeyError, ValueError, TypeError) as err:
            raise ValueError(f"malformed receipt: {err!r}") from None
