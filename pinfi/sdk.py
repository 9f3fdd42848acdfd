"""PinFi SDK for dApp developers: find devices, price and lease compute, follow leases.

Plain web3.py + eth-account (no Ape), a thin layer on :mod:`pinfi.chain`: its connection,
shipped ABIs, deployment loader (the file ``ape run deploy`` writes), typed reads, revert decoder
(the SDK only maps error *names* to its exceptions) and transaction sender and waiter::

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

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD as _DISCARD
from web3.types import BlockIdentifier

from pinfi import chain as ch
from pinfi.chain import abi_hash
from pinfi.chain import reads as rd
from pinfi.chain.permit import sign_permit
from pinfi.params.schema import ClassParams
from pinfi.types import (
    BPS,
    UNIT,
    ZERO_ADDRESS,  # noqa: F401  (a public name of the SDK)
    DeviceState,
    lease_device,
    lease_nonce,
)

log = logging.getLogger("pinfi.sdk")

DEFAULT_DEADLINE_S = 300
DEFAULT_SLIPPAGE_BPS = 100
LOG_CHUNK = 5_000


def format_pin(amount: int) -> str:
    """``12.5 PIN`` for ``12.5 * 10**18`` base units."""
    d = (Decimal(int(amount)) / UNIT).normalize()
    text = f"{d:f}"
    return f"{text} PIN"


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
    return f"{int(v)} (device {lease_device(int(v))}, lease #{lease_nonce(int(v))})"


def _state(v: Any) -> str:
    try:
        return DeviceState(int(v)).label
    except ValueError:
        return str(v)


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
    # endpoint registry
    "VerifierAlreadySet": (InvalidParameter, "the verifier is already set"),
    "PoolAlreadySet": (InvalidParameter, "the pool is already set"),
    # gateway endpoints (EndpointRegistry)
    "UrlTooLong": (InvalidParameter, "endpoint URL of {length} bytes, at most {maxLength}"),
    "BadUrlScheme": (InvalidParameter,
                     "endpoint URL must start with http:// or https:// (empty clears it)"),
    # PoCPS (provider and keeper side)
    "EpochNotStarted": (TooEarly, "epoch {epoch} has not started"),
    "OpenTooEarly": (TooEarly, "device {deviceId}: open after the commit deadline (epoch "
                               "{epoch})"),
    "ReportTooEarly": (TooEarly, "device {deviceId}, epoch {epoch}: report from block "
                                 "{fromBlock}"),
    "SeedUnavailable": (ProofError, "no seed for epoch {epoch} (not checkpointed in time)"),
    "WrongEpoch": (ProofError, "epoch {epoch} is not the current epoch {current}"),
    "ZeroRoot": (ProofError, "zero Merkle root"),
    "NotSelected": (ProofError, "device {deviceId} owes nothing in epoch {epoch} (exempt, or "
                                "committed and not drawn)"),
    "ClassChangePending": (InvalidParameter, "class {classId} has a change taking effect in "
                                             "epoch {fromEpoch}: retry from the next epoch"),
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
    "SafeCastOverflowedUintDowncast": (InternalError, "value {value} does not fit in {bits} "
                                                      "bits"),
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


def error_names() -> set[str]:
    """Names of every custom error in the shipped ABIs."""
    return ch.error_names()


def contract_error(revert: ch.Revert | None) -> ContractError:
    """The mapped exception of a decoded revert (:func:`pinfi.chain.decode_revert`)."""
    if revert is None:
        return ContractError("reverted without a reason")
    name, args, raw = revert.name, revert.args, revert.data or None
    if name == "Error":
        return ContractError(f"reverted: {args['message']}", name, args, raw)
    if name == "Panic":
        return InternalError(f"panic 0x{args['code']:02x} (arithmetic or assertion failure)",
                             name, args, raw)
    if not name:
        return ContractError(f"reverted with {revert.message}", raw=raw)
    if name == "DeviceNotActive" and int(args.get("state", -1)) == DeviceState.NONE:
        # the pool sees a device that was never registered as state None
        return UnknownDevice(f"device {args['deviceId']} does not exist [{name}]", name, args, raw)
    cls, _template = ERROR_FAMILIES.get(name, (ContractError, None))
    return cls(error_message(name, args), name, args, raw)


def decode_revert(data: bytes | str | None) -> ContractError:
    """The mapped exception of raw revert data (custom error, ``Error(string)`` or ``Panic``)."""
    return contract_error(ch.decode_revert(data))


def map_error(exc: BaseException) -> PinFiError:
    """The :class:`PinFiError` for an exception raised by web3 or :mod:`pinfi.chain`."""
    if isinstance(exc, PinFiError):
        return exc
    if isinstance(exc, ch.TxReverted):
        revert = exc.revert
    else:  # a web3 exception, or one raised from it, that carries revert data
        revert = ch.decode_revert(ch.revert_data(exc))
    if revert is not None:
        return contract_error(revert)
    if isinstance(exc, ch.TxReverted):
        return ContractError(exc.message)
    if isinstance(exc, ch.REVERTS):
        return ContractError(f"reverted: {getattr(exc, 'message', None) or exc}")
    if isinstance(exc, ch.TxFailed):
        return PinFiError(str(exc))
    if isinstance(exc, ch.ChainError):
        return ConnectionFailed(str(exc))
    return PinFiError(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceClass(ClassParams, rd.ClassMarket):
    """A device class as the contracts hold it (every field of the parameters schema,
    :class:`pinfi.params.ClassParams`: ``p_floor``, ``max_lease_epochs``, ``down_bond``, ...)
    and its market now (:class:`pinfi.chain.reads.ClassMarket`: ``demand`` devices leased of
    ``supply`` Active, ``utilization``)."""


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
class LeaseInfo(rd.LeaseState):
    """The state of a lease now: the chain layer's :class:`~pinfi.chain.reads.LeaseState`
    (``lease_id``, ``client``, ``start_epoch``, ``end_epoch``, ``per_epoch``, ``live``) and
    whether it is still its device's latest lease (``current``; when not, the terms are those
    of its ``LeaseOpened`` event and ``per_epoch`` is 0) and the epoch of a pending down report
    (``down_report_epoch``, 0: none)."""

    current: bool = True
    down_report_epoch: int = 0


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


class PinFi:
    """A client of one PinFi deployment. Build it with :meth:`connect`."""

    def __init__(self, w3: Web3, contracts: ch.Contracts, account: LocalAccount | None = None,
                 *, confirmations: int = 0, timeout: float = 120.0) -> None:
        if contracts.pool is None:
            raise ConnectionFailed("the deployment has no DissipativePool")
        self.w3 = w3
        self.contracts = contracts
        self.deployment: ch.Deployment = contracts.deployment
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
    def connect(cls, rpc_url: str,
                deployment: str | Path | int | dict[str, Any] | ch.Deployment | None = None,
                account: LocalAccount | str | bytes | None = None, *,
                confirmations: int = 0, timeout: float = 120.0) -> PinFi:
        """Connect to ``rpc_url`` and bind the deployment.

        ``deployment``: a deployments file path, a chain id (``deployments/<id>.json`` looked up
        in ``$PINFI_DEPLOYMENTS``, ``./deployments`` and the repository), a parsed record, or
        None (the RPC's chain id). ``account``: an eth-account ``LocalAccount`` or a private key;
        None gives a read-only client.
        """
        try:
            chain_id = int(ch.connect(rpc_url).eth.chain_id) if deployment is None else None
            dep = ch.Deployment.resolve(deployment, chain_id)
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
        return cls(w3, contracts, acct, confirmations=confirmations, timeout=timeout)

    @property
    def record(self) -> dict[str, Any]:
        """The deployments file's content (:attr:`deployment` is the typed form)."""
        return self.deployment.to_dict()

    def _check_abis(self) -> list[str]:
        out = [name for name, h in self.deployment.abi_hashes.items()
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

    def _call(self, fn: ContractFunction, block: BlockIdentifier = "latest") -> Any:
        try:
            return ch.call(fn, block)
        except Exception as exc:
            raise map_error(exc) from None

    def _read(self, read: Callable[..., Any], *args: Any) -> Any:
        """A typed read of :mod:`pinfi.chain.reads` with the SDK's errors."""
        try:
            return read(self.contracts, *args)
        except Exception as exc:
            raise map_error(exc) from None

    def head(self) -> int:
        try:
            return ch.head(self.w3)
        except Exception as exc:
            raise map_error(exc) from None

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
        entries = self.deployment.class_entries()
        if entries:
            return sorted({int(c["id"]) for c in entries})
        logs = self._logs(self.pool.events.ClassSet, self.deployment.deployment_block,
                          self.head(), {})
        return sorted({int(lg["args"]["classId"]) for lg in logs})

    def device_class(self, class_id: int) -> DeviceClass:
        """One class: its parameters as the contracts hold them, demand and supply now."""
        if not self._read(rd.pricing, class_id).configured:
            raise UnknownClass(f"unknown device class {class_id} [UnknownClass]",
                               "UnknownClass", {"classId": class_id})
        params = self._read(rd.class_params, class_id)
        market = self._read(rd.class_market, class_id)
        return DeviceClass(**asdict(params), **asdict(market))

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
        d = self._read(rd.device_summary, device_id)
        return {"owner": d.owner, "class_id": d.class_id, "state": d.state.label}

    def free_devices(self, class_id: int | None = None) -> list[int]:
        """Active devices (of ``class_id``) that are not leased and have no pending down report.

        Reads every device once (O(devices) calls); fine for a client, not for a keeper loop.
        """
        out = []
        for device_id in range(1, self._read(rd.device_count) + 1):
            d = self._read(rd.device_summary, device_id)
            if d.state != DeviceState.ACTIVE or (class_id is not None and d.class_id != class_id):
                continue
            if not self._read(rd.lease, device_id).live and \
                    self._read(rd.escrow, device_id).forced_epoch == 0:
                out.append(device_id)
        return out

    def quote(self, class_id: int, epochs: int, block: BlockIdentifier = "latest") -> int:
        """Exact cost (base units) of leasing one more device of ``class_id`` for ``epochs``,
        as a lease mined in ``block`` would pay it (``"pending"``: the next block).

        Read from the pool's ``quote`` view, never recomputed here, so it always agrees with what
        ``lease`` charges (its billing rules included: a lease covers ``[current, current +
        epochs)`` and pays the current epoch pro rata by block, docs/protocol.md#pro-rata; the
        quote falls block by block within an epoch and jumps at its end)."""
        return int(self._call(self.pool.functions.quote(class_id, epochs), block))

    def price_per_epoch(self, class_id: int, block: BlockIdentifier = "latest") -> int:
        """Price of one whole device-epoch of ``class_id`` (the pool's ``pricePerEpoch``): what
        a lease pays for each epoch after the current one, and the most one epoch of a lease
        costs at today's demand (docs/protocol.md#pro-rata)."""
        return int(self._call(self.pool.functions.pricePerEpoch(class_id), block))

    def quote_extend(self, lease_id: int, epochs: int) -> int:
        return int(self._call(self.pool.functions.quoteExtend(lease_id, epochs)))

    def lease_info(self, lease_id: int) -> LeaseInfo:
        """A lease now. ``current`` is False once its device was leased again (the terms are
        then those of its ``LeaseOpened`` event); an id never issued raises LeaseNotLive."""
        lease_id = int(lease_id)
        device_id, wanted = lease_device(lease_id), lease_nonce(lease_id)
        now: rd.LeaseState = self._read(rd.lease, device_id)
        if wanted == 0 or wanted > now.nonce:
            raise LeaseNotLive(f"lease {_lease(lease_id)} does not exist [LeaseNotLive]",
                               "LeaseNotLive", {"leaseId": lease_id})
        if wanted == now.nonce:
            forced = self._read(rd.escrow, device_id).forced_epoch
            return LeaseInfo(**asdict(now), current=True, down_report_epoch=forced)
        opened = next(iter(self._logs(self.pool.events.LeaseOpened,
                                      self.deployment.deployment_block, self.head(),
                                      {"leaseId": lease_id})), None)
        if opened is None:
            raise LeaseNotLive(f"lease {_lease(lease_id)} not found in the logs [LeaseNotLive]",
                               "LeaseNotLive", {"leaseId": lease_id})
        ev = self._lease_event(opened)
        return LeaseInfo(device_id, ev.client, ev.start_epoch, ev.end_epoch, 0, wanted, False,
                         current=False)

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
        start = self.deployment.deployment_block if from_block is None else from_block
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
            return ch.call(fn, sender=self.address)
        except Exception as exc:
            raise map_error(exc) from None

    def _send(self, fn: ContractFunction) -> dict[str, Any]:
        """Simulate, then sign and send ``fn``; the receipt of the mined transaction (the chain
        layer's waiter: it rebroadcasts a lost transaction and bumps a stuck one)."""
        self.simulate(fn)
        assert self._sender is not None
        try:
            return self._sender.transact(fn, f"{fn.fn_name}:{time.time_ns()}", self.timeout)
        except Exception as exc:
            raise map_error(exc) from None

    def _receipt(self, rc: dict[str, Any], event: Any = None, value: Any = None) -> Receipt:
        events = [dict(e["args"]) for e in event.process_receipt(rc, errors=_DISCARD)] \
            if event is not None else []
        return Receipt("0x" + bytes(rc["transactionHash"]).hex(), int(rc["blockNumber"]),
                       int(rc["gasUsed"]), value, events)

    def approve(self, amount: int) -> Receipt:
        """Let the pool take up to ``amount`` PIN from this client."""
        rc = self._send(self.token.functions.approve(self.pool.address, int(amount)))
        return self._receipt(rc)

    def permit_signature(self, amount: int, deadline: int) -> tuple[int, bytes, bytes]:
        """An EIP-2612 permit (``v, r, s``) letting the pool take ``amount`` of this client's PIN
        until ``deadline``: signed off-chain, spent by ``leaseWithPermit`` in the lease's own
        transaction. The domain is the token's own (EIP-5267 ``eip712Domain``), the nonce its
        ``nonces(owner)``."""
        _, name, version, chain_id, verifying, _, _ = self._call(
            self.token.functions.eip712Domain())
        nonce = int(self._call(self.token.functions.nonces(self.address)))
        assert self.account is not None
        return sign_permit(self.account, name=name, version=version, chain_id=chain_id,
                           token=verifying, spender=self.pool.address, value=amount,
                           nonce=nonce, deadline=deadline)

    def _has_permit_lease(self) -> bool:
        return any(e.get("name") == "leaseWithPermit" for e in self.pool.abi)

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

        ``max_cost`` defaults to the whole-epoch cost (what the quote is at an epoch's first
        block) plus ``slippage_bps``: the lease pays pro rata, and one mined in the next epoch
        (the quote jumps there, docs/protocol.md#pro-rata) still goes through; ``deadline`` (a block
        timestamp) to five minutes after the latest block; ``approve`` lets the SDK approve the
        pool for ``max_cost`` when the allowance is short: in the lease's own transaction with an
        EIP-2612 permit (``leaseWithPermit``) where the deployment's pool has it, otherwise with
        a separate ``approve`` first. Raises the mapped error (nothing sent)
        for an unknown, inactive or busy device, a price above ``max_cost``, an expired deadline,
        a missing allowance (``approve=False``) or balance.
        """
        dl = self._deadline(deadline)
        spec = job_spec_bytes(job_spec)
        quote_err: PinFiError | None = None
        if max_cost is None:
            class_id = self.device(device_id)["class_id"]
            try:
                # The whole-epoch cost: what the quote jumps to if the lease is mined in the
                # next epoch (the pro-rata quote is lower anywhere else in an epoch).
                q = epochs * self.price_per_epoch(class_id)
                max_cost = q * (BPS + slippage_bps) // BPS
            except PinFiError as err:  # let the lease itself name the precise problem
                quote_err, max_cost = err, 0
        cost_cap = int(max_cost)

        def build() -> ContractFunction:
            return self.pool.functions.lease(device_id, epochs, cost_cap, dl, spec)

        try:
            if approve and self._has_permit_lease() and self.allowance() < cost_cap:
                # One transaction: the allowance comes with the lease as an EIP-2612 permit.
                v, r, s = self.permit_signature(cost_cap, dl)
                rc = self._send(self.pool.functions.leaseWithPermit(
                    device_id, epochs, cost_cap, dl, spec, v, r, s))
            else:
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
        bond = self._read(rd.pricing, self.device(info.device_id)["class_id"]).down_bond
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


    # ---- delivery: the device's gateway (docs/delivery.md; pinfi.delivery.client)
    # A one-transaction lease with an EIP-2612 permit waits for the pool of the v2 contracts.

    def endpoint(self, device_id: int) -> str:
        """The gateway URL the device's owner published in the EndpointRegistry."""
        try:
            ep = rd.endpoint(self.contracts, device_id)
        except ch.ChainError as err:
            raise PinFiError(str(err)) from None
        if not ep.url:
            raise PinFiError(f"device {device_id} has published no gateway URL")
        if not ep.current:
            raise PinFiError(f"device {device_id}'s gateway URL was set by {ep.set_by}, who no "
                             "longer owns it")
        return ep.url

    def set_endpoint(self, device_id: int, url: str) -> Receipt:
        """Owner: publish (or with ``""`` remove) the device's gateway URL."""
        reg = rd.registry(self.contracts)
        return self._receipt(self._send(reg.functions.setEndpoint(device_id, url)))

    def gateway(self, device_id: int, url: str | None = None,
                check_identity: bool = True) -> Any:
        """A :class:`pinfi.delivery.client.GatewayClient` for the device (URL from the registry
        unless given), after the gateway proved it holds the device's operator key."""
        from pinfi.delivery.client import GatewayClient

        if self.account is None:
            raise NoAccount("the gateway needs an account to sign requests")
        gw = GatewayClient(url or self.endpoint(device_id), self.account, self.chain_id,
                           str(self.pool.address))
        if check_identity:
            gw.check_identity(rd.device(self.contracts, device_id).operator)
        return gw

    def submit(self, lease_id: int, manifest: Any, files: dict[str, Any] | None = None,
               url: str | None = None) -> dict[str, Any]:
        """Submit a job manifest (and upload its input ``files``) to the lease's device."""
        out: dict[str, Any] = self.gateway(lease_device(lease_id), url).submit(
            lease_id, manifest, files)
        return out

    def status(self, lease_id: int, job_id: str, url: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = self.gateway(lease_device(lease_id), url, False).status(
            lease_id, job_id)
        return out

    def logs(self, lease_id: int, job_id: str, follow: bool = False,
             url: str | None = None) -> Iterator[bytes]:
        yield from self.gateway(lease_device(lease_id), url, False).logs(lease_id, job_id,
                                                                         follow)

    def fetch(self, lease_id: int, job_id: str, dest: str | Path,
              url: str | None = None) -> dict[str, Path]:
        """Download the job's outputs into ``dest`` (each sha256 checked)."""
        out: dict[str, Path] = self.gateway(lease_device(lease_id), url, False).fetch(
            lease_id, job_id, Path(dest))
        return out

    def verify_receipt(self, receipt: Any, outputs: Any = None) -> Any:
        """Check a job receipt against the device's operator on-chain (raises
        ``pinfi.delivery.client.ReceiptInvalid``)."""
        from pinfi.delivery.client import verify_receipt

        return verify_receipt(self.contracts, receipt, outputs)

    def run(self, device_id: int, manifest: Any, files: dict[str, Any] | None = None,
            dest: str | Path = "outputs", epochs: int = 1, lease_id: int | None = None,
            timeout: float = 600.0, url: str | None = None) -> dict[str, Any]:
        """Lease the device (binding the manifest's hash as ``jobSpec``) unless ``lease_id``
        is given, submit, wait, fetch and verify the receipt. Returns ``{"lease_id", "job",
        "files", "receipt"}``."""
        from pinfi.delivery.client import verify_receipt
        from pinfi.delivery.manifest import Manifest, OutputFile, sha256_file

        m = manifest if isinstance(manifest, Manifest) else Manifest.parse(manifest)
        gw = self.gateway(device_id, url)
        if lease_id is None:
            lease_id = self.lease(device_id, epochs, job_spec=m.hash).lease_id
        job = gw.submit(lease_id, m, files)["job"]
        final = gw.wait(lease_id, job["job_id"], timeout)
        got = gw.fetch(lease_id, job["job_id"], Path(dest))
        outs = [OutputFile(p, sha256_file(f), f.stat().st_size) for p, f in got.items()]
        receipt = verify_receipt(self.contracts, gw.receipt(lease_id, job["job_id"]), outs)
        return {"lease_id": lease_id, "job": final, "files": got, "receipt": receipt}
