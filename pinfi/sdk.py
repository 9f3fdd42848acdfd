"""PinFi SDK for dApp developers: find devices, price and lease compute, follow leases.

Plain web3.py + eth-account (no Ape), built on :mod:`pinfi.chain` (connection, shipped ABIs,
transaction sending) and the deployments file written by ``ape run deploy``::

    from pinfi.sdk import PinFi, DeviceBusy

    pf = PinFi.connect("http://127.0.0.1:8545", deployment=31337, account=my_local_account)
    cls = pf.classes()[0]
    device = pf.free_devices(cls.id)[0]
    lease = pf.lease(device, epochs=4, job_spec=b"my-job-v1")
    for ev in pf.leases(client=pf.address):
        print(ev.lease_id, ev.device_id, ev.end_epoch)

Every write is simulated with ``eth_call`` first: a call the contracts would reject raises the
mapped :class:`PinFiError` subclass (``DeviceBusy``, ``SlippageExceeded``, ``DeadlineExpired``,
``UnknownDevice``, ``InsufficientAllowance``, ...) before anything is signed, so it changes no
state and costs no gas. Every custom error of the shipped ABIs maps to one exception class and a
readable one-line message (:data:`ERROR_FAMILIES`). Amounts are integers in base units (1 PIN =
10**18); ``format_pin`` renders them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils import function_abi_to_4byte_selector, keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import TransactionNotFound
from web3.logs import DISCARD as _DISCARD

from pinfi import chain as ch

log = logging.getLogger("pinfi.sdk")

UNIT = 10**18
BPS = 10_000
DEVICE_STATES = ("None", "Pending", "Active", "Jailed", "Maintenance", "Exiting", "Withdrawn")
DEFAULT_DEADLINE_S = 300
DEFAULT_SLIPPAGE_BPS = 100
LOG_CHUNK = 5_000
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
REPO_DEPLOYMENTS = Path(__file__).resolve().parents[1] / "deployments"


def format_pin(amount: int) -> str:
    """``12.5 PIN`` for ``12.5 * 10**18`` base units."""
    d = (Decimal(int(amount)) / UNIT).normalize()
    text = f"{d:f}"
    return f"{text} PIN"


def abi_hash(abi: list[dict[str, Any]]) -> str:
    """SHA-256 of an ABI's canonical JSON, as recorded in the deployments file's ``abiHashes``."""
    canonical = json.dumps(abi, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Exceptions
# ---------------------------------------------------------------------------------------------


class PinFiError(Exception):
    """Base of every SDK error; ``str(err)`` is one readable line."""


class ConnectionFailed(PinFiError):
    """The RPC endpoint is unreachable, serves another chain, or the deployment is unusable."""


class NoAccount(PinFiError):
    """A write was asked of a client connected without an account."""


class ContractError(PinFiError):
    """A contract rejected the call. ``error``: the custom error's name (``"DeviceBusy"``),
    ``args``: its decoded arguments by name, ``raw``: the revert data (when known)."""

    def __init__(self, message: str, error: str = "", args: dict[str, Any] | None = None,
                 raw: bytes | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.args_ = dict(args or {})
        self.raw = raw

    @property
    def inputs(self) -> dict[str, Any]:
        """The custom error's arguments by name."""
        return self.args_


class DeadlineExpired(ContractError):
    """The transaction's deadline (a block timestamp) has passed."""


class SlippageExceeded(ContractError):
    """The price is above ``max_cost``."""


class DeviceNotActive(ContractError):
    """The device is not Active (pending, jailed, in maintenance, exiting)."""


class UnknownDevice(DeviceNotActive):
    """No device has this id."""


class DeviceBusy(ContractError):
    """The device is under a live lease."""


class DownReportPending(DeviceBusy):
    """A down report on the device awaits ``resolve_down``."""


class NoFreeDevice(ContractError):
    """Every Active device of the class is leased."""


class UnknownClass(ContractError):
    """No device class has this id (in the contract that answered)."""


class InvalidLeaseTerms(ContractError):
    """Zero epochs, more epochs than the class allows, or an amount out of range."""


class LeaseNotLive(ContractError):
    """The lease ended, was terminated, or has no pending down report."""


class NotAuthorized(ContractError):
    """The sender may not do this (not the client, owner, operator or admin)."""


class TooEarly(ContractError):
    """The action is not possible yet (an epoch or window has not started or passed)."""


class NothingToClaim(ContractError):
    """Nothing is claimable yet."""


class InsufficientAllowance(ContractError):
    """The pool may not take enough PIN from the sender (``approve`` first)."""


class InsufficientBalance(ContractError):
    """The sender holds too little PIN."""


class TokenError(ContractError):
    """Another PIN token error (bad receiver, permit signature, cap)."""


class ProofError(ContractError):
    """A PoCPS commit, opening, dispute or miss report was rejected (provider side)."""


class InvalidParameter(ContractError):
    """Governance or registration input out of bounds (admin and provider side)."""


class InternalError(ContractError):
    """A panic, a math overflow or a reentrancy guard (a bug or an absurd input)."""


def _lease(v: Any) -> str:
    i = int(v)
    return f"{i} (device {i >> 64}, lease #{i & (2**64 - 1)})"


def _state(v: Any) -> str:
    i = int(v)
    return DEVICE_STATES[i] if 0 <= i < len(DEVICE_STATES) else str(i)


_FORMATTERS: dict[str, Callable[[Any], str]] = {
    "cost": format_pin, "maxCost": format_pin, "allowance": format_pin, "needed": format_pin,
    "balance": format_pin, "amount": format_pin, "leaseId": _lease, "state": _state,
}

# Custom error name -> (exception class, message template over the error's argument names).
# Every error of the shipped ABIs is listed (tests/sdk/test_sdk.py checks it); a template of None
# renders as "Humanized name (arg=value, ...)".
ERROR_FAMILIES: dict[str, tuple[type[ContractError], str | None]] = {
    # client flow (DissipativePool)
    "DeadlineExpired": (DeadlineExpired, "deadline {deadline} has passed (block time {timestamp})"),
    "SlippageExceeded": (SlippageExceeded, "the price is {cost} but maxCost is {maxCost}"),
    "DeviceNotActive": (DeviceNotActive, "device {deviceId} is not Active (state {state})"),
    "DeviceBusy": (DeviceBusy, "device {deviceId} is leased until epoch {end} (lease {leaseId})"),
    "DownReportPending": (DownReportPending,
                          "device {deviceId} has a down report pending (challenge in epoch "
                          "{forcedEpoch}); resolve_down first"),
    "NoFreeDevice": (NoFreeDevice,
                     "no free device in class {classId} ({demand} of {supply} leased)"),
    "UnknownClass": (UnknownClass, "unknown device class {classId}"),
    "ZeroEpochs": (InvalidLeaseTerms, "a lease or extension needs at least one epoch"),
    "TooManyEpochs": (InvalidLeaseTerms, "{epochs} epochs asked, at most {max} possible"),
    "AmountTooLarge": (InvalidLeaseTerms, "amount {amount} is out of range"),
    "ExpiryCountOverflow": (InvalidLeaseTerms,
                            "too many leases of class {classId} end in epoch {epoch}"),
    "LeaseNotLive": (LeaseNotLive, "lease {leaseId} is not live (ended, terminated or unknown)"),
    "NoDownReport": (LeaseNotLive, "lease {leaseId} has no pending down report"),
    "ResolveTooEarly": (TooEarly, "lease {leaseId}: resolve after epoch {forcedEpoch} (now "
                                  "{currentEpoch})"),
    "BeforeGenesis": (TooEarly, "the protocol clock starts at block {genesisBlock}"),
    "NotClient": (NotAuthorized, "{caller} is not the client of lease {leaseId}"),
    "NotDeviceOwner": (NotAuthorized, "{caller} does not own device {deviceId}"),
    "NothingToClaim": (NothingToClaim, "nothing to claim for device {deviceId}"),
    # token
    "ERC20InsufficientAllowance": (InsufficientAllowance,
                                   "allowance of {spender} is {allowance}, {needed} needed "
                                   "(approve first)"),
    "ERC20InsufficientBalance": (InsufficientBalance,
                                 "{sender} holds {balance}, {needed} needed"),
    "ERC20ExceededCap": (TokenError, "minting to {increasedSupply} exceeds the cap {cap}"),
    "ERC20InvalidCap": (TokenError, "invalid token cap {cap}"),
    "ERC20InvalidApprover": (TokenError, "invalid approver {approver}"),
    "ERC20InvalidReceiver": (TokenError, "invalid receiver {receiver}"),
    "ERC20InvalidSender": (TokenError, "invalid sender {sender}"),
    "ERC20InvalidSpender": (TokenError, "invalid spender {spender}"),
    "ERC2612ExpiredSignature": (DeadlineExpired, "permit deadline {deadline} has passed"),
    "ERC2612InvalidSigner": (TokenError, "permit signed by {signer}, not by owner {owner}"),
    "InvalidAccountNonce": (TokenError, "invalid nonce for {account} (current {currentNonce})"),
    "ECDSAInvalidSignature": (TokenError, "invalid signature"),
    "ECDSAInvalidSignatureLength": (TokenError, "invalid signature length {length}"),
    "ECDSAInvalidSignatureS": (TokenError, "invalid signature s value"),
    "InvalidShortString": (TokenError, "invalid short string"),
    "StringTooLong": (TokenError, "string too long"),
    "SafeERC20FailedOperation": (TokenError, "token operation failed on {token}"),
    # authorization
    "AccessControlUnauthorizedAccount": (NotAuthorized, "{account} lacks role {neededRole}"),
    "AccessControlBadConfirmation": (NotAuthorized, "role renounce not confirmed by the caller"),
    "NotOperator": (NotAuthorized, "{caller} is not the operator of device {deviceId}"),
    "NotVerifier": (NotAuthorized, "{caller} is not the PoCPS verifier"),
    "NotPool": (NotAuthorized, "{caller} is not the pool"),
    "NotStaking": (NotAuthorized, "{caller} is not the staking contract"),
    # staking (provider side)
    "UnknownDevice": (UnknownDevice, "device {deviceId} does not exist"),
    "WrongState": (DeviceNotActive, "device {deviceId} is {state}: not allowed in this state"),
    "StillUnbonding": (TooEarly, "device {deviceId} is unbonding until block {unbondAt}"),
    "UnjailTooEarly": (TooEarly, "device {deviceId} can be unjailed from epoch {fromEpoch} on"),
    "FingerprintInUse": (InvalidParameter,
                         "fingerprint {fingerprint} is already used by device {deviceId}"),
    "MaintenanceTooLong": (InvalidParameter,
                           "maintenance of {epochs} epochs asked, at most {maxEpochs}"),
    # governance parameters
    "InvalidParameter": (InvalidParameter, "invalid parameter {name}"),
    "AlphaOutOfRange": (InvalidParameter, "alpha {alpha} out of (0, 4e18]"),
    "BpsOutOfRange": (InvalidParameter, "basis points {bps} above 10000"),
    "ClassIdZero": (InvalidParameter, "class id 0 is reserved"),
    "DownBondOutOfRange": (InvalidParameter, "down bond {downBond} out of range"),
    "MaxLeaseEpochsOutOfRange": (InvalidParameter,
                                 "maxLeaseEpochs {maxLeaseEpochs} out of [1, 8760]"),
    "PriceOutOfRange": (InvalidParameter, "price {value} out of range"),
    "TokenCapTooLarge": (InvalidParameter, "token cap {cap} does not fit in uint96"),
    "ZeroAddress": (InvalidParameter, "zero address"),
    "VerifierAlreadySet": (InvalidParameter, "the verifier is already set"),
    "PoolAlreadySet": (InvalidParameter, "the pool is already set"),
    # PoCPS (provider and keeper side)
    "EpochNotStarted": (TooEarly, "epoch {epoch} has not started"),
    "OpenTooEarly": (TooEarly, "device {deviceId}: open after the commit block (epoch {epoch})"),
    "ReportTooEarly": (TooEarly, "device {deviceId}, epoch {epoch}: report from block "
                                 "{fromBlock}"),
    "SeedUnavailable": (ProofError, "no seed for epoch {epoch} (not checkpointed in time)"),
    "WrongEpoch": (ProofError, "epoch {epoch} is not the current epoch {current}"),
    "ZeroRoot": (ProofError, "zero Merkle root"),
    "NotSelected": (ProofError, "device {deviceId} is not challenged in epoch {epoch}"),
    "CommitWindowClosed": (ProofError, "device {deviceId}, epoch {epoch}: commit window closed "
                                       "at block {deadline}"),
    "AlreadyCommitted": (ProofError, "device {deviceId} already committed in epoch {epoch}"),
    "NotCommitted": (ProofError, "device {deviceId} did not commit in epoch {epoch}"),
    "AlreadyOpened": (ProofError, "device {deviceId} already opened in epoch {epoch}"),
    "OpenWindowClosed": (ProofError, "device {deviceId}, epoch {epoch}: open window closed at "
                                     "block {deadline}"),
    "BadLength": (ProofError, "opening has {leavesLength} leaf bytes and {proofLength} proof "
                              "nodes: wrong sizes"),
    "BadProof": (ProofError, "device {deviceId}, epoch {epoch}: Merkle proof does not match"),
    "NotOpened": (ProofError, "device {deviceId} has no opening in epoch {epoch}"),
    "DisputeWindowClosed": (ProofError, "device {deviceId}, epoch {epoch}: dispute window "
                                        "closed at block {deadline}"),
    "BadSample": (ProofError, "sample {q} / entry {entry} is not part of the opening"),
    "NoFraud": (ProofError, "device {deviceId}, epoch {epoch}: sample {q} entry {entry} is "
                            "correct"),
    "NotMissed": (ProofError, "device {deviceId} did not miss epoch {epoch}"),
    "AlreadySlashed": (ProofError, "device {deviceId} was already slashed for epoch {epoch}"),
    "ReportTooLate": (ProofError, "device {deviceId}, epoch {epoch}: too late to report"),
    # internals
    "ReentrancyGuardReentrantCall": (InternalError, "reentrant call"),
    "PRBMath_MulDiv18_Overflow": (InternalError, "fixed-point overflow ({x} * {y})"),
    "PRBMath_UD60x18_Exp2_InputTooBig": (InternalError, "fixed-point exp2 input {x} too big"),
    "PRBMath_UD60x18_Log_InputTooSmall": (InternalError, "fixed-point log input {x} too small"),
}


def _humanize(name: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).split()
    return " ".join([words[0], *(w.lower() for w in words[1:])]) if words else name


def _fmt_arg(key: str, value: Any) -> str:
    if key in _FORMATTERS:
        return _FORMATTERS[key](value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def error_message(name: str, args: dict[str, Any]) -> str:
    """The readable one-line message of custom error ``name`` with ``args``."""
    _cls, template = ERROR_FAMILIES.get(name, (ContractError, None))
    shown = {k: _fmt_arg(k, v) for k, v in args.items()}
    if template is not None:
        try:
            return f"{template.format(**shown)} [{name}]"
        except (KeyError, IndexError):
            pass
    inner = ", ".join(f"{k}={v}" for k, v in shown.items())
    return f"{_humanize(name)}" + (f" ({inner})" if inner else "") + f" [{name}]"


@cache
def _errors_by_selector() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for contract in ch.CONTRACT_NAMES:
        if not ch.has_abi(contract):
            continue
        for item in ch.load_abi(contract):
            if item.get("type") != "error":
                continue
            inputs = item.get("inputs", [])
            types = [_abi_type(i) for i in inputs]
            names = [i.get("name") or f"arg{k}" for k, i in enumerate(inputs)]
            selector = bytes(function_abi_to_4byte_selector(item))  # type: ignore[arg-type]
            table[selector] = (item["name"], types, names)
    return table


def _abi_type(inp: dict[str, Any]) -> str:
    t = str(inp["type"])
    if t.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in inp.get("components", [])) + ")" + t[5:]
    return t


def error_names() -> set[str]:
    """Names of every custom error in the shipped ABIs."""
    return {name for name, _t, _n in _errors_by_selector().values()}


def decode_revert(data: bytes | str | None) -> ContractError:
    """The mapped exception of raw revert data (custom error, ``Error(string)`` or ``Panic``)."""
    raw: bytes | None
    if isinstance(data, str):
        try:
            raw = bytes.fromhex(data[2:] if data.startswith("0x") else data)
        except ValueError:
            return ContractError(f"reverted: {data}")
    else:
        raw = None if data is None else bytes(data)
    if not raw or len(raw) < 4:
        return ContractError("reverted without a reason", raw=raw)
    sel, body = raw[:4], raw[4:]
    try:
        if sel == bytes.fromhex("08c379a0"):
            (msg,) = abi_decode(["string"], body)
            return ContractError(f"reverted: {msg}", "Error", {"message": msg}, raw)
        if sel == bytes.fromhex("4e487b71"):
            (code,) = abi_decode(["uint256"], body)
            return InternalError(f"panic 0x{code:02x} (arithmetic or assertion failure)",
                                 "Panic", {"code": code}, raw)
        known = _errors_by_selector().get(sel)
        if known is None:
            return ContractError(f"reverted with unknown error 0x{raw.hex()}", raw=raw)
        name, types, names = known
        values = abi_decode(types, body) if types else ()
    except Exception:
        return ContractError(f"reverted with undecodable data 0x{raw.hex()}", raw=raw)
    args = dict(zip(names, values, strict=True))
    cls, _template = ERROR_FAMILIES.get(name, (ContractError, None))
    if name == "DeviceNotActive" and int(args.get("state", -1)) == 0:
        cls = UnknownDevice  # the pool sees a device that was never registered as state None
        return cls(f"device {args['deviceId']} does not exist [DeviceNotActive]", name, args, raw)
    return cls(error_message(name, args), name, args, raw)


def _revert_data(exc: BaseException) -> str | bytes | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        data = getattr(cur, "data", None)
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, bytes | str) and data:
            return data
        cur = cur.__cause__ or cur.__context__
    return None


def map_error(exc: BaseException) -> PinFiError:
    """The :class:`PinFiError` for an exception raised by web3 or :mod:`pinfi.chain`."""
    if isinstance(exc, PinFiError):
        return exc
    data = _revert_data(exc)
    if data is not None:
        mapped = decode_revert(data)
        if mapped.error or mapped.raw:
            return mapped
    if isinstance(exc, ch.TxReverted):
        name = exc.name or ""
        cls, _t = ERROR_FAMILIES.get(name, (ContractError, None))
        return cls(str(exc).removeprefix("reverted: "), name)
    if isinstance(exc, ch.ChainError):
        return ConnectionFailed(str(exc))
    if isinstance(exc, ch.REVERTS):
        return ContractError(f"reverted: {getattr(exc, 'message', None) or exc}")
    return PinFiError(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceClass:
    """A device class: name, pricing, staking parameters and its market now."""

    id: int
    name: str
    p_floor: int
    p0: int
    alpha: int
    beta_bps: int
    max_lease_epochs: int
    terminate_fee_bps: int
    down_bond: int
    min_bond: int
    weight: int
    demand: int
    supply: int

    @property
    def utilization(self) -> float:
        return self.demand / self.supply if self.supply else 0.0


@dataclass(frozen=True)
class Lease:
    """A ``LeaseOpened`` event."""

    lease_id: int
    device_id: int
    client: str
    class_id: int
    start_epoch: int
    end_epoch: int
    cost: int
    burned: int
    job_spec: bytes
    block_number: int
    tx_hash: str

    @property
    def epochs(self) -> int:
        return self.end_epoch - self.start_epoch


@dataclass(frozen=True)
class LeaseInfo:
    """The state of a lease now (``leaseOf`` of its device)."""

    lease_id: int
    device_id: int
    client: str
    start_epoch: int
    end_epoch: int  # first epoch not leased (the termination epoch once terminated)
    per_epoch: int  # while live: escrow per leased epoch (the owner's share); 0 otherwise
    live: bool
    current: bool  # still the device's latest lease
    down_report_epoch: int  # 0: no pending down report


@dataclass(frozen=True)
class Receipt:
    """Outcome of a write: the transaction and what the contract reported."""

    tx_hash: str
    block_number: int
    gas_used: int
    value: Any = None
    events: list[dict[str, Any]] = field(default_factory=list)


def job_spec_bytes(job_spec: bytes | str) -> bytes:
    """The ``bytes32`` job spec: a 0x-hex bytes32 as is, bytes/str up to 32 bytes right-padded,
    anything longer hashed with keccak256 (a hash of the job manifest)."""
    if isinstance(job_spec, str):
        if re.fullmatch(r"0x[0-9a-fA-F]{64}", job_spec):
            return bytes.fromhex(job_spec[2:])
        job_spec = job_spec.encode()
    b = bytes(job_spec)
    return b.ljust(32, b"\0") if len(b) <= 32 else keccak(b)


# ---------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------


def _deployment_dirs() -> list[Path]:
    dirs = []
    if env := os.environ.get("PINFI_DEPLOYMENTS"):
        dirs.append(Path(env))
    dirs += [Path.cwd() / "deployments", REPO_DEPLOYMENTS]
    return dirs


def _load_deployment(deployment: str | Path | int | dict[str, Any] | None,
                     chain_id: int | None) -> dict[str, Any]:
    if isinstance(deployment, dict):
        return deployment
    if deployment is None or isinstance(deployment, int) or (
            isinstance(deployment, str) and deployment.isdigit()):
        cid = int(deployment) if deployment is not None else chain_id
        for d in _deployment_dirs():
            path = d / f"{cid}.json"
            if path.is_file():
                return _read_json(path)
        where = ", ".join(str(d) for d in _deployment_dirs())
        raise ConnectionFailed(f"no deployment for chain {cid} (looked for {cid}.json in {where};"
                               " run ape run deploy or pass deployment=PATH)")
    return _read_json(Path(deployment))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConnectionFailed(f"deployment file {path} not found") from None
    except json.JSONDecodeError as err:
        raise ConnectionFailed(f"deployment file {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ConnectionFailed(f"deployment file {path} is not a JSON object")
    return data


class PinFi:
    """A client of one PinFi deployment. Build it with :meth:`connect`."""

    def __init__(self, w3: Web3, contracts: ch.Contracts, record: dict[str, Any],
                 account: LocalAccount | None = None, *, confirmations: int = 0,
                 timeout: float = 120.0) -> None:
        if contracts.pool is None:
            raise ConnectionFailed("the deployment has no DissipativePool")
        self.w3 = w3
        self.contracts = contracts
        self.record = record
        self.chain_id = contracts.deployment.chain_id
        self.token: Contract = contracts.token
        self.staking: Contract = contracts.staking
        self.verifier: Contract = contracts.verifier
        self.pool: Contract = contracts.pool
        self.account = account
        self.timeout = timeout
        self._sender = (ch.TxSender(w3, account, confirmations=confirmations)
                        if account is not None else None)
        self.abi_mismatch = self._check_abis()

    @classmethod
    def connect(cls, rpc_url: str, deployment: str | Path | int | dict[str, Any] | None = None,
                account: LocalAccount | str | bytes | None = None, *,
                confirmations: int = 0, timeout: float = 120.0) -> PinFi:
        """Connect to ``rpc_url`` and bind the deployment.

        ``deployment``: a deployments file path, a chain id (``deployments/<id>.json`` looked up
        in ``$PINFI_DEPLOYMENTS``, ``./deployments`` and the repository), a parsed record, or
        None (the RPC's chain id). ``account``: an eth-account ``LocalAccount`` or a private key;
        None gives a read-only client.
        """
        try:
            if deployment is None:
                probe = ch.connect(rpc_url)
                record = _load_deployment(None, int(probe.eth.chain_id))
            else:
                record = _load_deployment(deployment, None)
            dep = ch.Deployment.from_dict(record)
            w3 = ch.connect(rpc_url, dep.chain_id)
            contracts = ch.load_contracts(w3, dep)
        except ch.ChainError as err:
            raise ConnectionFailed(str(err)) from None
        acct: LocalAccount | None
        if account is None or isinstance(account, LocalAccount):
            acct = account
        else:
            try:
                acct = Account.from_key(account)
            except (ValueError, TypeError) as err:
                raise PinFiError(f"bad private key: {err}") from None
        return cls(w3, contracts, record, acct, confirmations=confirmations, timeout=timeout)

    def _check_abis(self) -> list[str]:
        hashes = self.record.get("abiHashes") or {}
        out = [name for name, h in hashes.items()
               if ch.has_abi(name) and abi_hash(ch.load_abi(name)) != h]
        if out:
            log.warning("shipped ABIs of %s differ from the deployment's (update pinfi or the "
                        "deployments file); calls may fail to decode", ", ".join(out))
        return out

    # ---- reads

    @property
    def address(self) -> str:
        if self.account is None:
            raise NoAccount("this client has no account (PinFi.connect(..., account=...))")
        return str(self.account.address)

    def _call(self, fn: ContractFunction) -> Any:
        try:
            return ch.call(fn)
        except Exception as exc:
            raise map_error(exc) from None

    def head(self) -> int:
        return int(ch.with_retry(lambda: self.w3.eth.block_number, what="eth_blockNumber"))

    def current_epoch(self) -> int:
        return int(self._call(self.pool.functions.currentEpoch()))

    def balance(self, who: str | None = None) -> int:
        """PIN balance (base units) of ``who`` (default: this client)."""
        return int(self._call(self.token.functions.balanceOf(to_checksum_address(
            who or self.address))))

    def allowance(self, who: str | None = None) -> int:
        """What the pool may take from ``who`` (default: this client)."""
        return int(self._call(self.token.functions.allowance(
            to_checksum_address(who or self.address), self.pool.address)))

    def class_ids(self) -> list[int]:
        """Class ids of the deployment (its parameters, else the pool's ``ClassSet`` events)."""
        classes = (self.record.get("params") or {}).get("classes")
        if classes:
            return sorted({int(c["id"]) for c in classes})
        logs = self._logs(self.pool.events.ClassSet, int(self.record.get("deploymentBlock", 0)),
                          self.head(), {})
        return sorted({int(lg["args"]["classId"]) for lg in logs})

    def _class_name(self, class_id: int) -> str:
        for c in (self.record.get("params") or {}).get("classes", []):
            if int(c["id"]) == class_id and c.get("name"):
                return str(c["name"])
        return f"class-{class_id}"

    def device_class(self, class_id: int) -> DeviceClass:
        """One class: pricing (pool), bond and weight (staking), demand and supply now."""
        pf, p0, alpha, beta, max_epochs, fee, down = self._call(
            self.pool.functions.classParams(class_id))
        if int(max_epochs) == 0:
            raise UnknownClass(f"unknown device class {class_id} [UnknownClass]",
                               "UnknownClass", {"classId": class_id})
        min_bond, weight, _active, _exists = self._call(self.staking.functions.classes(class_id))
        demand, supply, _synced = self._call(self.pool.functions.classState(class_id))
        return DeviceClass(class_id, self._class_name(class_id), int(pf), int(p0), int(alpha),
                           int(beta), int(max_epochs), int(fee), int(down), int(min_bond),
                           int(weight), int(demand), int(supply))

    def classes(self) -> list[DeviceClass]:
        """Every configured class of the deployment."""
        out = []
        for cid in self.class_ids():
            try:
                out.append(self.device_class(cid))
            except UnknownClass:
                continue
        return out

    def device(self, device_id: int) -> dict[str, Any]:
        """``{"owner", "class_id", "state"}`` of a device (state ``"None"``: unknown id)."""
        owner, class_id, state = self._call(self.staking.functions.deviceSummary(device_id))
        return {"owner": str(owner), "class_id": int(class_id), "state": _state(state)}

    def free_devices(self, class_id: int | None = None) -> list[int]:
        """Active devices (of ``class_id``) that are not leased and have no pending down report.

        Reads every device once (O(devices) calls); fine for a client, not for a keeper loop.
        """
        out = []
        count = int(self._call(self.staking.functions.deviceCount()))
        for device_id in range(1, count + 1):
            _owner, cid, state = self._call(self.staking.functions.deviceSummary(device_id))
            if int(state) != 2 or (class_id is not None and int(cid) != class_id):
                continue
            live = self._call(self.pool.functions.leaseOf(device_id))[5]
            forced = self._call(self.pool.functions.escrowOf(device_id))[4]
            if not live and int(forced) == 0:
                out.append(device_id)
        return out

    def quote(self, class_id: int, epochs: int) -> int:
        """Exact cost (base units) of leasing one more device of ``class_id`` for ``epochs``."""
        return int(self._call(self.pool.functions.quote(class_id, epochs)))

    def quote_extend(self, lease_id: int, epochs: int) -> int:
        return int(self._call(self.pool.functions.quoteExtend(lease_id, epochs)))

    def lease_info(self, lease_id: int) -> LeaseInfo:
        """A lease now. ``current`` is False once its device was leased again (the terms are
        then those of its ``LeaseOpened`` event); an id never issued raises LeaseNotLive."""
        lease_id = int(lease_id)
        device_id, wanted = lease_id >> 64, lease_id & (2**64 - 1)
        client, start, end, per_epoch, nonce, live = self._call(
            self.pool.functions.leaseOf(device_id))
        if wanted == 0 or wanted > int(nonce):
            raise LeaseNotLive(f"lease {_lease(lease_id)} does not exist [LeaseNotLive]",
                               "LeaseNotLive", {"leaseId": lease_id})
        if wanted == int(nonce):
            forced = int(self._call(self.pool.functions.escrowOf(device_id))[4])
            return LeaseInfo(lease_id, device_id, str(client), int(start), int(end),
                             int(per_epoch), bool(live), True, forced)
        opened = next(iter(self._logs(self.pool.events.LeaseOpened,
                                      int(self.record.get("deploymentBlock", 0)), self.head(),
                                      {"leaseId": lease_id})), None)
        if opened is None:
            raise LeaseNotLive(f"lease {_lease(lease_id)} not found in the logs [LeaseNotLive]",
                               "LeaseNotLive", {"leaseId": lease_id})
        ev = self._lease_event(opened)
        return LeaseInfo(lease_id, device_id, ev.client, ev.start_epoch, ev.end_epoch, 0, False,
                         False, 0)

    def _logs(self, event: Any, start: int, end: int,
              filters: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        while start <= end:
            to = min(end, start + LOG_CHUNK - 1)

            def get(s: int = start, t: int = to) -> list[Any]:
                return list(event.get_logs(from_block=s, to_block=t,
                                           argument_filters=filters or None))

            out += ch.with_retry(get, what="eth_getLogs")
            start = to + 1
        return out

    def leases(self, from_block: int | None = None, to_block: int | None = None, *,
               client: str | None = None, device_id: int | None = None) -> Iterator[Lease]:
        """``LeaseOpened`` events from ``from_block`` (default: the deployment block) to
        ``to_block`` (default: the head), oldest first, optionally filtered."""
        start = int(self.record.get("deploymentBlock", 0)) if from_block is None else from_block
        end = self.head() if to_block is None else to_block
        filters: dict[str, Any] = {}
        if client is not None:
            filters["client"] = to_checksum_address(client)
        if device_id is not None:
            filters["deviceId"] = device_id
        while start <= end:
            to = min(end, start + LOG_CHUNK - 1)
            for lg in self._logs(self.pool.events.LeaseOpened, start, to, filters):
                yield self._lease_event(lg)
            start = to + 1

    def watch_leases(self, from_block: int | None = None, *, poll_interval: float = 1.0,
                     stop: Callable[[], bool] | None = None, client: str | None = None,
                     device_id: int | None = None) -> Iterator[Lease]:
        """Like :meth:`leases`, then follow new blocks until ``stop()`` is true."""
        start = self.head() + 1 if from_block is None else from_block
        while stop is None or not stop():
            head = self.head()
            if head >= start:
                yield from self.leases(start, head, client=client, device_id=device_id)
                start = head + 1
            time.sleep(poll_interval)

    @staticmethod
    def _lease_event(lg: Any) -> Lease:
        a = lg["args"]
        return Lease(int(a["leaseId"]), int(a["deviceId"]), str(a["client"]), int(a["classId"]),
                     int(a["startEpoch"]), int(a["endEpoch"]), int(a["cost"]), int(a["burned"]),
                     bytes(a["jobSpec"]), int(lg["blockNumber"]),
                     "0x" + bytes(lg["transactionHash"]).hex())

    # ---- writes

    def _deadline(self, deadline: int | None) -> int:
        if deadline is not None:
            return int(deadline)
        block = ch.with_retry(lambda: self.w3.eth.get_block("latest"), what="eth_getBlock")
        return int(block["timestamp"]) + DEFAULT_DEADLINE_S

    def simulate(self, fn: ContractFunction) -> Any:
        """``eth_call`` of ``fn`` from this client; raises the mapped error if it would revert."""
        try:
            return ch.with_retry(lambda: fn.call({"from": self.address}),
                                 what=f"eth_call {fn.fn_name}")
        except Exception as exc:
            raise map_error(exc) from None

    def _send(self, fn: ContractFunction) -> dict[str, Any]:
        """Simulate, then sign and send ``fn``; the receipt of the mined transaction."""
        self.simulate(fn)
        assert self._sender is not None
        try:
            tx = self._sender.send(fn, f"{fn.fn_name}:{time.time_ns()}")
            return self._wait(tx)
        except PinFiError:
            raise
        except Exception as exc:
            raise map_error(exc) from None

    def _tx_receipt(self, h: str) -> dict[str, Any] | None:
        try:
            rc = ch.with_retry(lambda: self.w3.eth.get_transaction_receipt(HexStr(h)),
                               what="eth_getTransactionReceipt")
        except TransactionNotFound:
            return None
        return dict(rc) if rc is not None and rc.get("blockNumber") is not None else None

    def _wait(self, tx: ch.SentTx) -> dict[str, Any]:
        """Wait for the receipt of any attempt of ``tx``; rebroadcast or bump a stuck one.

        The receipts are looked up before the account's nonce: a transaction mined between the
        two lookups is found on the next round rather than taken for dropped.
        """
        assert self._sender is not None
        deadline = time.monotonic() + self.timeout
        used_rounds = 0
        while True:
            for h in reversed(tx.hashes):
                rc = self._tx_receipt(h)
                if rc is None:
                    continue
                if self.head() - int(rc["blockNumber"]) < self._sender.confirmations:
                    break
                tx.receipt, tx.status = rc, "mined" if int(rc["status"]) == 1 else "reverted"
                if tx.status == "reverted":
                    raise map_error(self._sender.revert_reason(tx))
                return rc
            else:
                latest = int(ch.with_retry(lambda: self.w3.eth.get_transaction_count(
                    to_checksum_address(self.address), "latest"), what="eth_getTransactionCount"))
                if latest <= tx.nonce:
                    used_rounds = 0
                    self._sender.poll(tx)  # rebroadcast a lost one, bump a stuck one
                else:
                    used_rounds += 1
                    if used_rounds >= 5:
                        raise PinFiError(f"transaction {tx.hash} (nonce {tx.nonce}) was replaced "
                                         "by another transaction of this account")
            if time.monotonic() > deadline:
                raise PinFiError(f"transaction {tx.hash} not mined in {self.timeout:.0f}s")
            time.sleep(0.1 if used_rounds else 0.25)

    def _receipt(self, rc: dict[str, Any], event: Any = None, value: Any = None) -> Receipt:
        events = [dict(e["args"]) for e in event.process_receipt(rc, errors=_DISCARD)] \
            if event is not None else []
        return Receipt("0x" + bytes(rc["transactionHash"]).hex(), int(rc["blockNumber"]),
                       int(rc["gasUsed"]), value, events)

    def approve(self, amount: int) -> Receipt:
        """Let the pool take up to ``amount`` PIN from this client."""
        rc = self._send(self.token.functions.approve(self.pool.address, int(amount)))
        return self._receipt(rc)

    def _pay(self, build: Callable[[], ContractFunction], amount: int, approve: bool) -> dict[
            str, Any]:
        """Simulate the paying call; approve ``amount`` only when the allowance was the sole
        obstacle (every other check of the call passed), then send it."""
        try:
            self.simulate(build())
        except InsufficientAllowance:
            if not approve:
                raise
            bal = self.balance()
            if bal < amount:
                raise InsufficientBalance(
                    f"{self.address} holds {format_pin(bal)}, {format_pin(amount)} needed "
                    "[ERC20InsufficientBalance]", "ERC20InsufficientBalance",
                    {"sender": self.address, "balance": bal, "needed": amount}) from None
            self.approve(amount)
        return self._send(build())

    def lease(self, device_id: int, epochs: int, max_cost: int | None = None,
              deadline: int | None = None, job_spec: bytes | str = b"", approve: bool = True,
              slippage_bps: int = DEFAULT_SLIPPAGE_BPS) -> Lease:
        """Lease ``device_id`` for ``epochs`` epochs from the current one.

        ``max_cost`` defaults to the quote plus ``slippage_bps``; ``deadline`` (a block
        timestamp) to five minutes after the latest block; ``approve`` lets the SDK approve the
        pool for ``max_cost`` when the allowance is short. Raises the mapped error (nothing sent)
        for an unknown, inactive or busy device, a price above ``max_cost``, an expired deadline,
        a missing allowance (``approve=False``) or balance.
        """
        dl = self._deadline(deadline)
        spec = job_spec_bytes(job_spec)
        quote_err: PinFiError | None = None
        if max_cost is None:
            class_id = self.device(device_id)["class_id"]
            try:
                q = self.quote(class_id, epochs)
                max_cost = q * (BPS + slippage_bps) // BPS
            except PinFiError as err:  # let the lease itself name the precise problem
                quote_err, max_cost = err, 0
        cost_cap = int(max_cost)

        def build() -> ContractFunction:
            return self.pool.functions.lease(device_id, epochs, cost_cap, dl, spec)

        try:
            rc = self._pay(build, cost_cap, approve)
        except SlippageExceeded:
            if quote_err is not None:
                raise quote_err from None
            raise
        logs = self.pool.events.LeaseOpened().process_receipt(rc, errors=_DISCARD)
        if not logs:
            raise PinFiError(f"lease transaction {rc['transactionHash'].hex()} has no LeaseOpened")
        return self._lease_event(logs[0])

    def extend(self, lease_id: int, epochs: int, max_cost: int | None = None,
               deadline: int | None = None, approve: bool = True,
               slippage_bps: int = DEFAULT_SLIPPAGE_BPS) -> Receipt:
        """Extend a live lease by ``epochs``; ``value`` is the new end epoch."""
        dl = self._deadline(deadline)
        if max_cost is None:
            try:
                max_cost = self.quote_extend(lease_id, epochs) * (BPS + slippage_bps) // BPS
            except PinFiError:
                max_cost = 0
        cap = int(max_cost)
        rc = self._pay(lambda: self.pool.functions.extend(lease_id, epochs, cap, dl), cap,
                       approve)
        ev = self.pool.events.LeaseExtended()
        r = self._receipt(rc, ev)
        return Receipt(r.tx_hash, r.block_number, r.gas_used,
                       int(r.events[0]["endEpoch"]) if r.events else None, r.events)

    def terminate(self, lease_id: int) -> Receipt:
        """End a live lease now; ``value`` is the refund (base units)."""
        rc = self._send(self.pool.functions.terminate(lease_id))
        r = self._receipt(rc, self.pool.events.LeaseTerminated())
        return Receipt(r.tx_hash, r.block_number, r.gas_used,
                       int(r.events[0]["refunded"]) if r.events else None, r.events)

    def report_down(self, lease_id: int, approve: bool = True) -> Receipt:
        """Report the leased device down (posts the class's down bond); ``value`` is the epoch
        whose challenge decides the report."""
        info = self.lease_info(lease_id)
        bond = self.device_class(self.device(info.device_id)["class_id"]).down_bond
        rc = self._pay(lambda: self.pool.functions.reportDown(lease_id), bond, approve)
        r = self._receipt(rc, self.pool.events.DownReported())
        return Receipt(r.tx_hash, r.block_number, r.gas_used,
                       int(r.events[0]["forcedEpoch"]) if r.events else None, r.events)

    def resolve_down(self, lease_id: int) -> Receipt:
        """Settle a down report after its epoch; ``value`` is whether the device passed."""
        rc = self._send(self.pool.functions.resolveDown(lease_id))
        r = self._receipt(rc, self.pool.events.DownResolved())
        return Receipt(r.tx_hash, r.block_number, r.gas_used,
                       bool(r.events[0]["passed"]) if r.events else None, r.events)

