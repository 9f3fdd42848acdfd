"""The connected agent: chain, contracts, keys, journal, metrics (what every mode shares)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from pinfi import chain as ch
from pinfi import protocol

from . import keystore
from .config import Config
from .metrics import Metrics
from .state import Journal

log = logging.getLogger(__name__)

DEVICE_STATES = ("None", "Pending", "Active", "Jailed", "Maintenance", "Exiting", "Withdrawn")
PROOF_STATUS = ("None", "Committed", "Opened", "Slashed")
ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = b"\x00" * 32


class AgentError(RuntimeError):
    """A condition the operator must fix; ``str`` is one line."""


@dataclass(frozen=True)
class ProofClass:
    """``PoCPSVerifier.classParams`` of one class."""

    n: int
    leaf: int
    k: int
    c: int
    log_leaves: int
    log_stratum: int
    commit_window: int
    open_window: int
    dispute_window: int
    challenge_bps: int
    miss_slash_bps: int
    fraud_slash_bps: int
    exists: bool


class Context:
    """Chain access for one agent key (operator for ``run``, owner for owner commands)."""

    def __init__(self, cfg: Config, w3: Web3, contracts: ch.Contracts, account: LocalAccount,
                 journal: Journal, metrics: Metrics | None = None) -> None:
        self.cfg = cfg
        self.w3 = w3
        self.c = contracts
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
        self.genesis = int(ch.call(contracts.staking.functions.genesisBlock()))
        self.epoch_blocks = int(ch.call(contracts.staking.functions.epochBlocks()))
        self._classes: dict[int, tuple[int, ProofClass]] = {}

    # ---- clock

    def head(self) -> int:
        return self.sender.head()

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

    def class_params(self, class_id: int, epoch: int) -> ProofClass:
        """PoCPS parameters of a class (re-read once per epoch: governance may change them)."""
        cached = self._classes.get(class_id)
        if cached is not None and cached[0] == epoch:
            return cached[1]
        raw = ch.call(self.c.verifier.functions.classParams(class_id))
        pc = ProofClass(*(int(x) for x in raw[:-1]), bool(raw[-1]))
        self._classes[class_id] = (epoch, pc)
        return pc

    def epoch_seed(self, epoch: int, head: int) -> bytes | None:
        """``S_e``: stored on-chain, else ``blockhash(epochStart)`` while the contract can still
        store it (256 blocks); None when the epoch has no seed (yet)."""
        stored = bytes(ch.call(self.c.verifier.functions.epochSeed(epoch)))
        if stored != ZERO32:
            return stored
        start = self.epoch_start(epoch)
        if head < start or head + 1 - start > 256:
            return None
        return self.block_hash(start)

    def device(self, device_id: int) -> dict[str, object]:
        """``Staking.getDevice`` as a dict."""
        d = ch.call(self.c.staking.functions.getDevice(device_id))
        names = ("owner", "classId", "state", "since", "stateEpoch", "operator", "maintUntil",
                 "unbondAt", "bond", "rewards", "rewardPerWeightPaid", "fingerprint")
        return dict(zip(names, d, strict=True))

    def tree_dir(self, device_id: int, epoch: int) -> Path:
        return self.cfg.data_dir / "trees" / f"{device_id}-{epoch}"


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
