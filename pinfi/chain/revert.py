"""The one revert decoder: raw revert data -> the error's name and its decoded arguments.

Every custom error of the shipped ABIs is known by selector, plus Solidity's ``Error(string)``
and ``Panic(uint256)``. The agent logs :attr:`Revert.message` and branches on :attr:`Revert.name`;
the SDK maps the name to its exception classes. Nothing else decodes revert data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, NamedTuple

from eth_abi import decode as abi_decode
from eth_utils import function_abi_to_4byte_selector
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError

from .abi import SHIPPED_NAMES, has_abi, load_abi
from .errors import TxReverted

#: web3's exceptions for a call or gas estimate that reverted.
REVERTS = (ContractLogicError, ContractCustomError, ContractPanicError)

ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)


@dataclass(frozen=True)
class Revert:
    """A decoded revert.

    ``name``: the custom error (``"DeviceBusy"``), ``"Error"`` for a require string, ``"Panic"``
    for a panic, ``""`` when the selector is unknown or the data malformed. ``args``: the decoded
    arguments by name (``message`` for ``Error``, ``code`` for ``Panic``). ``message``: one line,
    ``Name(arg=value, ...)``. ``data``: the raw revert data.
    """

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    data: bytes = b""


class ErrorSpec(NamedTuple):
    """A custom error of the shipped ABIs: its name, argument types and argument names."""

    name: str
    types: list[str]
    names: list[str]


def _abi_type(inp: dict[str, Any]) -> str:
    t = str(inp["type"])
    if t.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in inp.get("components", []))
        return f"({inner}){t[5:]}"
    return t


@cache
def error_table() -> dict[bytes, ErrorSpec]:
    """Selector -> :class:`ErrorSpec` of every custom error in the shipped ABIs."""
    table: dict[bytes, ErrorSpec] = {}
    for contract in SHIPPED_NAMES:
        if not has_abi(contract):
            continue
        for item in load_abi(contract):
            if item.get("type") != "error":
                continue
            inputs = item.get("inputs", [])
            sel = bytes(function_abi_to_4byte_selector(item))  # type: ignore[arg-type]
            table[sel] = ErrorSpec(str(item["name"]), [_abi_type(i) for i in inputs],
                                   [i.get("name") or f"arg{k}" for k, i in enumerate(inputs)])
    return table


def error_names() -> set[str]:
    """Names of every custom error in the shipped ABIs."""
    return {spec.name for spec in error_table().values()}


def _show(v: Any) -> str:
    if isinstance(v, bytes):
        return "0x" + v.hex()
    return str(v)


def decode_revert(data: bytes | str | None) -> Revert | None:
    """The :class:`Revert` of raw revert data (bytes or 0x-hex); None when there is none."""
    if data is None:
        return None
    if isinstance(data, str):
        try:
            raw = bytes.fromhex(data[2:] if data.startswith("0x") else data)
        except ValueError:
            return None
    else:
        raw = bytes(data)
    if len(raw) < 4:
        return None
    sel, body = raw[:4], raw[4:]
    try:
        if sel == ERROR_STRING:
            (msg,) = abi_decode(["string"], body)
            return Revert("Error", {"message": msg}, f"Error({msg!r})", raw)
        if sel == PANIC:
            (code,) = abi_decode(["uint256"], body)
            return Revert("Panic", {"code": code}, f"Panic(0x{code:02x})", raw)
        spec = error_table().get(sel)
        if spec is None:
            return Revert("", {}, f"unknown error 0x{raw.hex()}", raw)
        values = abi_decode(spec.types, body) if spec.types else ()
    except Exception:  # malformed body for a known selector
        return Revert("", {}, f"undecodable revert data 0x{raw.hex()}", raw)
    args = dict(zip(spec.names, values, strict=True))
    shown = ", ".join(f"{k}={_show(v)}" for k, v in args.items())
    return Revert(spec.name, args, f"{spec.name}({shown})", raw)


def revert_data(exc: BaseException) -> str | bytes | None:
    """The revert data carried by a web3 exception (or one it was raised from)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, TxReverted) and cur.revert is not None and cur.revert.data:
            return cur.revert.data
        data = getattr(cur, "data", None)
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, bytes | str) and data:
            return data
        for arg in getattr(cur, "args", ()):
            if isinstance(arg, str) and arg.startswith("0x") and len(arg) >= 10:
                return arg
        cur = cur.__cause__ or cur.__context__
    return None


def explain(exc: BaseException) -> TxReverted:
    """A :class:`TxReverted` with the decoded error of a web3 revert exception."""
    if isinstance(exc, TxReverted):
        return exc
    revert = decode_revert(revert_data(exc))
    if revert is not None:
        return TxReverted(revert.message, revert)
    return TxReverted(str(getattr(exc, "message", None) or exc))
