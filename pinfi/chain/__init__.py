"""The one chain layer of the runtime (web3.py + eth-account, no Ape), used by the provider
agent, the owner commands and the dApp SDK.

* :mod:`.rpc`: :func:`connect` (one-line :class:`ChainError` when the RPC is down or serves
  another chain), :func:`with_retry`, :func:`call`;
* :mod:`.abi`: the ABIs shipped in ``pinfi/abi`` (:func:`load_abi`, :func:`export_abis`:
  ``python -m pinfi.chain export-abi``; :func:`abi_hash`);
* :mod:`.revert`: the one revert decoder, :func:`decode_revert` -> :class:`Revert` (the error's
  name, its decoded arguments, a one-line message);
* :mod:`.tx`: the one transaction sender and waiter, :class:`TxSender` (journal before
  broadcast, EIP-1559 fees, rebroadcast, fee replacement, confirmations);
* :mod:`.deployment`: the one deployment-file loader, :class:`Deployment`, and
  :func:`load_contracts`;
* :mod:`.reads`: typed reads (device, challenge info, class parameters, pricing, lease).

``from pinfi import chain as ch`` and ``ch.<name>`` for everything below.
"""

from . import reads
from .abi import (
    ABI_DIR,
    CONTRACT_NAMES,
    REGISTRY_NAME,
    SHIPPED_NAMES,
    abi_hash,
    compiled_abis,
    export_abis,
    has_abi,
    load_abi,
    shipped_abi_drift,
)
from .deployment import (
    Contracts,
    Deployment,
    contract,
    load_contracts,
    read_json,
    write_json,
)
from .errors import ChainError, RpcUnavailable, TxDropped, TxFailed, TxReverted, TxTimeout
from .reads import (
    ChallengeInfo,
    ClassMarket,
    Device,
    DeviceSummary,
    EpochDuty,
    Escrow,
    LeaseState,
    ProofParamsOnChain,
    ProofRecord,
    ScheduledClass,
    StakingClass,
)
from .revert import (
    REVERTS,
    ErrorSpec,
    Revert,
    decode_revert,
    error_names,
    error_table,
    explain,
    revert_data,
)
from .rpc import TRANSIENT, call, connect, head, is_transient, with_retry
from .tx import GWEI, MemoryJournal, SentTx, TxJournal, TxSender

__all__ = [
    "ABI_DIR",
    "CONTRACT_NAMES",
    "GWEI",
    "REGISTRY_NAME",
    "REVERTS",
    "SHIPPED_NAMES",
    "TRANSIENT",
    "ChainError",
    "ChallengeInfo",
    "ClassMarket",
    "Contracts",
    "Deployment",
    "Device",
    "DeviceSummary",
    "EpochDuty",
    "ErrorSpec",
    "Escrow",
    "LeaseState",
    "MemoryJournal",
    "ProofParamsOnChain",
    "ProofRecord",
    "Revert",
    "RpcUnavailable",
    "ScheduledClass",
    "SentTx",
    "StakingClass",
    "TxDropped",
    "TxFailed",
    "TxJournal",
    "TxReverted",
    "TxSender",
    "TxTimeout",
    "abi_hash",
    "call",
    "compiled_abis",
    "connect",
    "contract",
    "decode_revert",
    "error_names",
    "error_table",
    "explain",
    "export_abis",
    "has_abi",
    "head",
    "is_transient",
    "load_abi",
    "load_contracts",
    "read_json",
    "reads",
    "revert_data",
    "shipped_abi_drift",
    "with_retry",
    "write_json",
]
