"""The connected agent: chain reads, contracts, keys, journal, metrics (what every mode shares).

Two layers, so that no service can block another through a shared connection:

* :class:`ChainView`: read-only chain access (head, epochs, devices, classes, seeds) over its own
  HTTP connection with its own timeout. The prover, the lease server, the device watcher and the
  stats reporter each hold one (:meth:`Context.view`), so a hanging call of one of them never
  holds up another's requests.
* :class:`Context`: the prover's view plus the key, the journal, metrics and the one
  :class:`~pinfi.chain.TxSender` that owns the key's nonce (only the prover thread sends with it).
"""

from __future__ import annotations

import logging
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from pinfi import chain as ch
from pinfi import protocol
from pinfi.params.schema import ProofParams
from pinfi.types import ZERO_ADDRESS, ProofStatus

from . import keystore
from .config import Config
from .metrics import Metrics
from .state import Journal

log = logging.getLogger(__name__)

ZERO32 = b"\x00" * 32
#: Seconds one RPC request of a non-prover service may take before it is abandoned.
SERVICE_RPC_TIMEOUT = 10.0

__all__ = ["ZERO_ADDRESS", "AgentError", "ChainView", "ChallengeInfo", "Context", "DeviceInfo",
           "ProofParams", "ProofRecord", "open_context"]


class AgentError(RuntimeError):
    """A condition the operator must fix; ``str`` is one line."""


#: Typed chain reads, re-exported for the agent's modules.
DeviceInfo = ch.reads.Device
ChallengeInfo = ch.reads.ChallengeInfo
ProofRecord = ch.reads.ProofRecord


class ChainView:
    """Read-only chain access over one connection (one per service)."""

    def __init__(self, cfg: Config, w3: Web3, contracts: ch.Contracts,
                 genesis: int | None = None, epoch_blocks: int | None = None) -> None:
        self.cfg = cfg
        self.w3 = w3
        self.c = contracts
        self.genesis = (int(ch.call(contracts.staking.functions.genesisBlock()))
                        if genesis is None else genesis)
        self.epoch_blocks = (int(ch.call(contracts.staking.functions.epochBlocks()))
                             if epoch_blocks is None else epoch_blocks)
        self._classes: dict[tuple[int, int], ProofParams] = {}

    def fork(self, timeout: float = SERVICE_RPC_TIMEOUT) -> ChainView:
        """A view with its own HTTP connection (same deployment, no re-check of the code)."""
        w3 = ch.connect(self.cfg.rpc_url, None, timeout=timeout, attempts=3)
        contracts = ch.load_contracts(w3, self.cfg.deployment, check_code=False)
        return ChainView(self.cfg, w3, contracts, self.genesis, self.epoch_blocks)

    # ---- clock

    def head(self) -> int:
        return int(ch.with_retry(lambda: self.w3.eth.block_number, what="eth_blockNumber"))

    def epoch_of(self, block: int) -> int:
        if block < self.genesis:
            return -1
        return protocol.epoch_of(block, self.genesis, self.epoch_blocks)

    def epoch_start(self, epoch: int) -> int:
        return protocol.epoch_start(epoch, self.genesis, self.epoch_blocks)

    def block_hash(self, number: int) -> bytes | None:
        try:
            blk = ch.with_retry(lambda: self.w3.eth.get_block(number), what="eth_getBlock")
        except ch.RpcUnavailable:
            raise
        except Exception:
            return None
        return bytes(blk["hash"]) if blk else None

    # ---- reads

    def class_params(self, class_id: int, epoch: int) -> ProofParams:
        """PoCPS parameters of a class **in force for ``epoch``** (``paramsAt``): a change takes
        effect two epochs after ``setClass``, so the version of an epoch never changes once the
        epoch has begun and is cached (the few most recent epochs)."""
        key = (class_id, epoch)
        pc = self._classes.get(key)
        if pc is None:
            pc = ch.reads.proof_params_at(self.c, class_id, epoch).params
            if epoch <= self.epoch_of(self.head()):
                self._classes[key] = pc  # a future epoch's version may still be replaced
                for old in [k for k in self._classes if k[1] < epoch - 4]:
                    del self._classes[old]
        return pc

    def epoch_seed(self, epoch: int, head: int) -> bytes | None:
        """``S_e``: stored on-chain, else ``blockhash(epochStart)`` while the contract can still
        store it (256 blocks); None when the epoch has no seed (yet)."""
        stored = self.stored_seed(epoch)
        if stored is not None:
            return stored
        start = self.epoch_start(epoch)
        if head < start or head + 1 - start > 256:
            return None
        return self.block_hash(start)

    def stored_seed(self, epoch: int) -> bytes | None:
        """The seed the verifier stored for ``epoch`` (None before any checkpoint)."""
        stored = bytes(ch.call(self.c.verifier.functions.epochSeed(epoch)))
        return None if stored == ZERO32 else stored

    def device(self, device_id: int) -> DeviceInfo:
        """``Staking.getDevice``."""
        return ch.reads.device(self.c, device_id)

    def challenge_info(self, device_id: int, epoch: int) -> ChallengeInfo:
        return ch.reads.challenge_info(self.c, device_id, epoch)

    def forced(self, device_id: int, epoch: int) -> bool:
        """A client's down report forced a challenge of ``device_id`` in ``epoch``."""
        return int(ch.call(self.c.verifier.functions.forcedEpochPlusOne(device_id))) == epoch + 1

    def owed(self, device_id: int, epoch: int) -> bool:
        """A grace miss left ``device_id`` owing an opening in ``epoch``."""
        return int(ch.call(self.c.verifier.functions.owedEpochPlusOne(device_id))) == epoch + 1

    def must_open(self, device_id: int, epoch: int) -> bool:
        """``PoCPSVerifier.mustOpen``: the commitment of ``epoch`` must be opened (meaningful
        once the head is past the commit deadline; a Sampled device reads False before)."""
        return ch.reads.must_open(self.c, device_id, epoch)

    def stored_open_seed(self, deadline: int) -> bytes | None:
        """``openSeed[deadline]``: the hash of the commit deadline block, if someone stored it
        (reportMissed or ``checkpointOpen``); None otherwise."""
        stored = bytes(ch.call(self.c.verifier.functions.openSeed(deadline)))
        return None if stored == ZERO32 else stored

    def proof_status(self, device_id: int, epoch: int) -> ProofStatus:
        return ch.reads.proof_status(self.c, device_id, epoch)

    def record(self, device_id: int, epoch: int) -> ProofRecord:
        """The device's record slot (a ring: check ``.epoch``)."""
        return ch.reads.proof_record(self.c, device_id, epoch)

    def lease(self, device_id: int) -> ch.LeaseState:
        """``DissipativePool.leaseOf``: the device's latest lease."""
        return ch.reads.lease(self.c, device_id)

    def device_count(self) -> int:
        return int(ch.call(self.c.staking.functions.deviceCount()))

    def balance(self, address: str) -> int:
        who = Web3.to_checksum_address(address)
        return int(ch.with_retry(lambda: self.w3.eth.get_balance(who), what="eth_getBalance"))

    def tree_dir(self, device_id: int, epoch: int) -> Path:
        return self.cfg.data_dir / "trees" / f"{device_id}-{epoch}"


class Context(ChainView):
    """The prover's chain view plus one agent key (operator for ``run``, owner for owner
    commands, verifier for ``verify``): journal, metrics and the key's transaction sender."""

    def __init__(self, cfg: Config, w3: Web3, contracts: ch.Contracts, account: LocalAccount,
                 journal: Journal, metrics: Metrics | None = None) -> None:
        super().__init__(cfg, w3, contracts)
        self.account = account
        self.address = account.address
        self.journal = journal
        self.metrics = metrics or Metrics()
        journal.bind_sender(self.address)
        gwei = ch.GWEI
        self.sender = ch.TxSender(
            w3, account, journal,
            priority_fee=int(cfg.priority_fee_gwei * gwei) if cfg.priority_fee_gwei is not None
            else None,
            max_fee_cap=int(cfg.max_fee_gwei * gwei) if cfg.max_fee_gwei is not None else None,
            bump_percent=cfg.bump_percent, replace_after_blocks=cfg.replace_after_blocks,
            confirmations=cfg.confirmations, on_gas=self.metrics.on_gas,
        )

    def view(self, timeout: float = SERVICE_RPC_TIMEOUT) -> ChainView:
        """A read-only view on a connection of its own, for another service."""
        return self.fork(timeout)


def open_context(cfg: Config, role: str = "operator", metrics: Metrics | None = None,
                 journal_name: str = "agent.db", connect_attempts: int = 1) -> Context:
    """Connect, check the chain id and contract code, decrypt the ``role`` keystore."""
    if role == "verifier" and cfg.verifier_keystore is None:
        role = "operator"  # no keeper key: the operator's (not while `run` uses it)
    path, pw_file = {
        "operator": (cfg.operator_keystore, cfg.operator_password_file),
        "owner": (cfg.owner_keystore, cfg.owner_password_file),
        "verifier": (cfg.verifier_keystore, cfg.verifier_password_file),
    }[role]
    if path is None:
        raise AgentError(f"no {role}_keystore in [keys] of {cfg.path}")
    account = keystore.load(path, keystore.password(role, pw_file), role)
    w3 = ch.connect(cfg.rpc_url, cfg.deployment.chain_id, attempts=connect_attempts)
    contracts = ch.load_contracts(w3, cfg.deployment)
    journal = Journal(cfg.data_dir / journal_name)
    return Context(cfg, w3, contracts, account, journal, metrics)
