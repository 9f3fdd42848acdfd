"""Exceptions of the chain layer: each ``str(err)`` is one line meant for an operator."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .revert import Revert


class ChainError(RuntimeError):
    """A problem talking to the chain; ``str(err)`` is one line meant for an operator."""


class RpcUnavailable(ChainError):
    """The RPC endpoint did not answer (connection refused, timeout, HTTP 5xx)."""


class TxReverted(ChainError):
    """A call or transaction reverted.

    ``revert`` is the decoded error (None when the node gave no revert data); ``name`` is its
    custom error's name (``"NotSelected"``), ``message`` its one-line rendering
    (``NotSelected(deviceId=3, epoch=9)``). Callers branch on ``name``, never on the text.
    """

    def __init__(self, message: str, revert: Revert | None = None) -> None:
        super().__init__(f"reverted: {message}")
        self.revert = revert
        self.message = message

    @property
    def name(self) -> str | None:
        """The custom error's name (``"Error"``/``"Panic"`` for those), None when unknown."""
        if self.revert is None or not self.revert.name:
            return None
        return self.revert.name


class TxFailed(ChainError):
    """A sent transaction will not produce a receipt (dropped, or not mined in time)."""


class TxDropped(TxFailed):
    """The transaction's nonce was used by another transaction of the same account."""


class TxTimeout(TxFailed):
    """The transaction was not mined (deep enough) before the deadline."""
