"""Deploy PinFi with Ape, or verify and complete an existing deployment (``ape run deploy``).

The one deploy module: :func:`deploy_protocol` knows the wiring order (tests, the demo and the
benchmarks deploy through it); :func:`deploy` is what ``ape run deploy`` (``scripts/deploy.py``,
a thin wrapper around :data:`cli`) runs. It deploys PinToken, Staking, PoCPSVerifier,
PriceCurve and DissipativePool, grants the roles, registers the device classes of a parameters
file (default ``pinfi/params/classes.json``, read and checked by :mod:`pinfi.params`), checks the
wiring and writes ``deployments/<chainId>.json`` (a :class:`pinfi.chain.Deployment`): addresses
(PriceCurve's too), deployment and genesis blocks, the deployer, the SHA-256 of each contract's
ABI and the parameters used.

Idempotent. When ``deployments/<chainId>.json`` exists and its contracts have code, the run only
reads the chain: ABI hashes, wiring (verifier, the verifier's and Staking's pool, minter role),
the immutable network parameters and every class's parameters in the three contracts. If all
match it prints ``verified, nothing to do`` and sends no transaction; a class that is missing or
differs is configured again in just the contracts where it differs; a one-shot wiring step that
is missing (a run interrupted half-way) is completed. Contracts are never redeployed silently: a
deployments file whose addresses have no code (a chain that was reset) is replaced only on Ape's
ephemeral ``local`` network, or with ``--redeploy``.

    ape run deploy                                            # Anvil started by Ape (chain 31337)
    ape run deploy --network http://127.0.0.1:8555 --account ci-deployer
    ape run deploy --network ethereum:sepolia:https://rpc.example --account deployer
    ape run deploy --epoch-blocks 20 --classes cpu-test       # fast local demos

A keyfile account is unlocked once (passphrase prompt, or ``APE_ACCOUNTS_<alias>_PASSPHRASE``) and
then signs the run's transactions without a prompt per transaction. Errors are one line, without a
stack trace; the exit status is 1 (``--check``: 3 when something would change).

A developer tool: it needs Ape and click; the runtime (``pinfi``, ``provider_agent``) never
imports it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from pinfi import chain as ch
from pinfi import params as pp
from pinfi.params import ClassParams, NetworkParams, Params, ParamsError
from pinfi.types import ZERO_ADDRESS

CONTRACTS = ch.CONTRACT_NAMES
DEFAULT_PARAMS = pp.PARAMS_PATH
DEFAULT_OUT = Path("deployments")
# Contract names of the attributes of :class:`Deployed`.
NAMES = {"token": "PinToken", "staking": "Staking", "verifier": "PoCPSVerifier",
         "pool": "DissipativePool", "registry": ch.REGISTRY_NAME, "curve": "PriceCurve"}
# The pool's stateless price curve (docs/protocol.md#price): deployed with the pool and listed
# in the deployment record, but no part of the SDK's ABI set (the pool calls it, clients don't).
CURVE_NAME = "PriceCurve"
# Immutables of the deployed contracts: (NetworkParams attribute, contract attribute, getter).
IMMUTABLES = (("epoch_blocks", "staking", "epochBlocks"),
              ("unbonding_blocks", "staking", "unbondingBlocks"),
              ("reward_per_block", "staking", "rewardPerBlock"),
              ("halving_blocks", "staking", "halvingBlocks"),
              ("max_emission", "staking", "maxEmission"),
              ("bounty_bps", "staking", "bountyBps"),
              ("grace_epochs", "verifier", "graceEpochs"),
              ("max_supply", "token", "cap"))
# Addresses fixed by the constructors: (contract attribute, getter, expected contract).
CONSTRUCTOR_WIRING = (("staking", "token", "token"), ("verifier", "staking", "staking"),
                      ("pool", "token", "token"), ("pool", "staking", "staking"),
                      ("pool", "verifier", "verifier"), ("pool", "priceCurve", "curve"))
# One-shot wiring the admin sets after deployment: (contract, getter, expected, setter).
ONE_SHOT_WIRING = (("staking", "verifier", "verifier", "setVerifier"),
                   ("verifier", "pool", "pool", "setPool"),
                   ("staking", "pool", "pool", "setPool"))

Echo = Callable[[str], None]


class DeployError(Exception):
    """A deployment problem; ``str(err)`` is one line for the operator."""


# ---------------------------------------------------------------------------------------------
# Deploying and wiring (every deployment goes through here)
# ---------------------------------------------------------------------------------------------


@dataclass
class Deployed:
    """The four contracts of one deployment (Ape contract instances)."""

    token: Any
    staking: Any
    verifier: Any
    pool: Any | None
    admin: Any
    registry: Any | None = None  # EndpointRegistry (gateway discovery, docs/delivery.md)
    curve: Any | None = None  # PriceCurve, the pool's price function (docs/protocol.md#price)

    def addresses(self) -> dict[str, str]:
        out = {"PinToken": self.token.address, "Staking": self.staking.address,
               "PoCPSVerifier": self.verifier.address}
        if self.pool is not None:
            out["DissipativePool"] = self.pool.address
        if self.registry is not None:
            out[ch.REGISTRY_NAME] = self.registry.address
        if self.curve is not None:
            out[CURVE_NAME] = self.curve.address
        return out

    @classmethod
    def at(cls, project: Any, addresses: Mapping[str, str], admin: Any) -> Deployed:
        """Ape instances of a recorded deployment."""
        pool = addresses.get("DissipativePool")
        registry = addresses.get(ch.REGISTRY_NAME)
        curve = addresses.get(CURVE_NAME)
        return cls(project.PinToken.at(addresses["PinToken"]),
                   project.Staking.at(addresses["Staking"]),
                   project.PoCPSVerifier.at(addresses["PoCPSVerifier"]),
                   project.DissipativePool.at(pool) if pool else None, admin,
                   project.EndpointRegistry.at(registry) if registry else None,
                   project.PriceCurve.at(curve) if curve else None)


def proof_params(cls: ClassParams | pp.ProofParams | Mapping[str, Any]) -> tuple[int, ...]:
    """``PoCPSVerifier.ProofParams`` tuple of a class (typed, or a camelCase mapping)."""
    return pp.as_proof(cls).to_contract()


def pool_params(cls: ClassParams | pp.PoolPricing | Mapping[str, Any]) -> tuple[int, ...]:
    """``DissipativePool.PoolParams`` tuple of a class (typed, or a camelCase mapping)."""
    if isinstance(cls, ClassParams):
        return cls.pricing.to_contract()
    if isinstance(cls, pp.PoolPricing):
        return cls.to_contract()
    return pp.PoolPricing.from_json(cls).to_contract()


def configure_class(d: Deployed, cls: ClassParams | Mapping[str, Any]) -> None:
    """Register one device class in all three contracts (staking, PoCPS, pricing)."""
    c = pp.as_class(cls)
    sender = d.admin
    d.staking.setClass(c.id, c.staking.to_contract(), sender=sender)
    d.verifier.setClass(c.id, c.proof.to_contract(), sender=sender)
    if d.pool is not None:
        d.pool.setClass(c.id, c.pricing.to_contract(), sender=sender)


def deploy_protocol(project: Any, chain: Any, admin: Any,
                    network: NetworkParams | Mapping[str, Any],
                    classes: Iterable[ClassParams | Mapping[str, Any]], with_pool: bool = True,
                    genesis_block: int | None = None) -> Deployed:
    """Deploy PinToken, Staking, PoCPSVerifier and DissipativePool, grant roles, add classes.

    ``network`` and ``classes`` are :mod:`pinfi.params` types (or their camelCase mappings, as in
    the parameters file; ``maxEmission`` defaults to all of the cap left after genesis). Epoch 0
    starts at ``genesis_block`` (default: the block after the current head, i.e. right away).
    """
    net = pp.as_network(network)
    typed = [pp.as_class(c) for c in classes]
    token = project.PinToken.deploy(*net.token_args(), admin, admin, sender=admin)
    genesis = chain.blocks.head.number + 1 if genesis_block is None else genesis_block
    staking = project.Staking.deploy(token, genesis, *net.staking_args(), admin, sender=admin)
    verifier = project.PoCPSVerifier.deploy(staking, net.grace_epochs, admin, sender=admin)
    staking.setVerifier(verifier, sender=admin)
    token.grantRole(token.MINTER_ROLE(), staking, sender=admin)
    pool = curve = None
    if with_pool:
        curve = project.PriceCurve.deploy(sender=admin)
        pool = project.DissipativePool.deploy(token, staking, verifier, curve, admin, sender=admin)
        verifier.setPool(pool, sender=admin)
        staking.setPool(pool, sender=admin)
    registry = deploy_registry(project, staking, admin)
    deployed = Deployed(token, staking, verifier, pool, admin, registry, curve)
    for cls in typed:
        configure_class(deployed, cls)
    return deployed


def deploy_registry(project: Any, staking: Any, admin: Any) -> Any | None:
    """Deploy the EndpointRegistry of ``staking`` (None when the project does not have it)."""
    if not hasattr(project, ch.REGISTRY_NAME):
        return None
    return project.EndpointRegistry.deploy(staking, sender=admin)


def _registry_fixes(project: Any, d: Deployed, record: ch.Deployment) -> tuple[list[str],
                                                                                list[_Fix]]:
    """The EndpointRegistry: deployed when the recorded deployment predates it (the fix adds
    its address to ``record``), checked against Staking when it exists."""
    if not hasattr(project, ch.REGISTRY_NAME):
        return [], []
    if d.registry is None:
        def add() -> None:
            d.registry = deploy_registry(project, d.staking, d.admin)
            record.contracts[ch.REGISTRY_NAME] = str(d.registry.address)
        return [f"no {ch.REGISTRY_NAME}"], [_Fix(f"deploy {ch.REGISTRY_NAME}", add)]
    have, want = _addr(d.registry.staking()), _addr(d.staking)
    if have != want:
        raise DeployError(f"wiring mismatch: {ch.REGISTRY_NAME}.staking() is {have}, "
                          f"expected {want}")
    return [], []


# ---------------------------------------------------------------------------------------------
# Parameters and ABIs
# ---------------------------------------------------------------------------------------------


def load_params(path: str | Path = DEFAULT_PARAMS, epoch_blocks: int | None = None,
                only: list[str] | None = None) -> Params:
    """The parameters file, checked against the contracts' bounds (``DeployError`` if not).

    ``epoch_blocks`` overrides ``network.epochBlocks`` (local demos); ``only`` keeps the classes of
    those names (or ids).
    """
    try:
        return pp.load(path, epoch_blocks=epoch_blocks, only=only)
    except ParamsError as err:
        hint = " (--classes picks the classes that fit)" if epoch_blocks is not None else ""
        raise DeployError(f"{err}{hint}") from None


def record_params(p: Params) -> dict[str, Any]:
    """What the deployments file records under ``params``: the network and the classes."""
    return {"network": p.network.to_json(), "classes": [c.to_json() for c in p.classes]}


def _as_params(p: Params | Mapping[str, Any]) -> Params:
    if isinstance(p, Params):
        return p
    try:
        return pp.parse(p).check()
    except ParamsError as err:
        raise DeployError(str(err)) from None


def compiled_abi(project: Any, name: str) -> list[dict[str, Any]]:
    try:
        container = getattr(project, name)
    except AttributeError:
        raise DeployError(f"contract {name} is not in the compiled project (ape compile)") from None
    return [item.model_dump(mode="json", by_alias=True) for item in container.contract_type.abi]


# ---------------------------------------------------------------------------------------------
# Verify / reconcile
# ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a run did: the deployments file, its content, and the transactions it sent."""

    path: Path
    record: ch.Deployment | None
    actions: list[str] = field(default_factory=list)
    deployed: bool = False
    wrote: bool = False

    @property
    def changed(self) -> bool:
        return self.deployed or bool(self.actions)


@dataclass
class _Fix:
    what: str
    apply: Callable[[], Any]


def _addr(x: Any) -> str:
    return str(getattr(x, "address", x)).lower()


def _changed(want: Any, have: Any) -> str:
    w, h = want.to_dict(), have.to_dict()
    return ", ".join(f"{k} {h[k]} -> {w[k]}" for k in w if w[k] != h[k])


def _class_fixes(d: Deployed, cls: ClassParams) -> tuple[list[str], list[_Fix]]:
    """Differences between a class of the parameters file and the chain, and their fixes."""
    cid, name = cls.id, f"class {cls.id} ({cls.name})"
    raw_s = d.staking.classes(cid)
    raw_v = d.verifier.classParams(cid)
    pool = d.pool
    assert pool is not None
    have_p = pp.PoolPricing.from_contract(pool.classParams(cid))
    # (contract, on-chain slice, wanted slice, exists on-chain, setter of the wanted slice)
    slices = (
        ("Staking", pp.StakingParams.from_contract(raw_s), cls.staking, bool(raw_s[3]),
         lambda: d.staking.setClass(cid, cls.staking.to_contract(), sender=d.admin)),
        ("PoCPSVerifier", pp.ProofParams.from_contract(raw_v), cls.proof,
         bool(getattr(raw_v, "exists", True)),
         lambda: d.verifier.setClass(cid, cls.proof.to_contract(), sender=d.admin)),
        ("DissipativePool", have_p, cls.pricing, have_p.configured,
         lambda: pool.setClass(cid, cls.pricing.to_contract(), sender=d.admin)),
    )
    if not any(exists for _n, _h, _w, exists, _s in slices):
        return [f"{name}: not configured"], [_Fix(f"configure {name}",
                                                  lambda: configure_class(d, cls))]
    diffs: list[str] = []
    fixes: list[_Fix] = []
    for contract, have, want, exists, setter in slices:
        if exists and have == want:
            continue
        diffs.append(f"{name}: {contract} {_changed(want, have) if exists else 'missing'}")
        fixes.append(_Fix(f"{contract}.setClass {name}", setter))
    return diffs, fixes


def _wiring_fixes(d: Deployed) -> tuple[list[str], list[_Fix]]:
    """Wiring problems: conflicts raise, missing one-shot steps come back as fixes."""
    conflicts: list[str] = []
    diffs: list[str] = []
    fixes: list[_Fix] = []
    for owner, getter, target in CONSTRUCTOR_WIRING:
        if getattr(d, target) is None:  # a record without the PriceCurve entry: nothing to compare
            continue
        have, want = _addr(getattr(getattr(d, owner), getter)()), _addr(getattr(d, target))
        if have != want:
            conflicts.append(f"{NAMES[owner]}.{getter}() is {have}, expected {want}")
    for owner, getter, target, setter in ONE_SHOT_WIRING:
        contract = getattr(d, owner)
        have, want = _addr(getattr(contract, getter)()), _addr(getattr(d, target))
        if have == ZERO_ADDRESS.lower():
            diffs.append(f"{NAMES[owner]} has no {getter}")
            fixes.append(_Fix(f"{NAMES[owner]}.{setter}", lambda c=contract, s=setter, t=target:
                              getattr(c, s)(getattr(d, t), sender=d.admin)))
        elif have != want:
            conflicts.append(f"{NAMES[owner]}.{getter}() is {have}, expected {want}")
    minter = d.token.MINTER_ROLE()
    if not d.token.hasRole(minter, d.staking):
        diffs.append("Staking lacks PinToken's MINTER_ROLE")
        fixes.append(_Fix("PinToken.grantRole(MINTER_ROLE, Staking)", lambda: d.token.grantRole(
            minter, d.staking, sender=d.admin)))
    if conflicts:
        raise DeployError(f"wiring mismatch: {conflicts[0]}"
                          + (f" (+{len(conflicts) - 1} more)" if len(conflicts) > 1 else ""))
    return diffs, fixes


def _immutables(d: Deployed, network: NetworkParams) -> list[str]:
    out = []
    for attr, contract, getter in IMMUTABLES:
        have = int(getattr(getattr(d, contract), getter)())
        want = int(getattr(network, attr))
        if have != want:
            out.append(f"{pp.camel(attr)} is {have} on-chain, {want} in the parameters file")
    return out


def _is_admin(d: Deployed) -> bool:
    contracts: tuple[Any, ...] = (d.token, d.staking, d.verifier, d.pool)
    return all(c.hasRole(c.DEFAULT_ADMIN_ROLE(), d.admin) for c in contracts)


def _merge_classes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = {int(c["id"]): c for c in old}
    merged.update({int(c["id"]): c for c in new})
    return [merged[k] for k in sorted(merged)]


def _load_record(path: Path, chain_id: int) -> ch.Deployment:
    try:
        record = ch.Deployment.load(path)
    except ch.ChainError as err:
        raise DeployError(f"{err}; move it away to deploy anew") from None
    missing = [name for name in CONTRACTS if name not in record.contracts]
    if missing:
        raise DeployError(f"{path} has no address of {', '.join(missing)}; move it away to "
                          "deploy anew")
    if record.chain_id != chain_id:
        raise DeployError(f"{path} is for chain {record.chain_id}, connected to chain {chain_id}")
    return record


def deploy(project: Any, chain: Any, account: Any, params: Params | Mapping[str, Any],
           out_dir: str | Path = DEFAULT_OUT, *, redeploy: bool = False, check: bool = False,
           ephemeral: bool = False, echo: Echo = print) -> Outcome:
    """Deploy or verify PinFi on the connected chain; returns what was done.

    ``ephemeral``: the chain is Ape's throw-away local network, so a deployments file whose
    contracts have no code is stale and simply replaced. ``check``: only report (no transaction,
    no file written). Raises :class:`DeployError` (one line) on anything it will not fix.
    """
    p = _as_params(params)
    chain_id = int(chain.chain_id)
    path = Path(out_dir) / f"{chain_id}.json"
    abis = {name: compiled_abi(project, name) for name in CONTRACTS}
    if hasattr(project, ch.REGISTRY_NAME):
        abis[ch.REGISTRY_NAME] = compiled_abi(project, ch.REGISTRY_NAME)
    hashes = {name: ch.abi_hash(abi) for name, abi in abis.items()}
    drift = ch.shipped_abi_drift(abis)
    if drift:
        echo(f"warning: pinfi/abi/{{{','.join(drift)}}}.json differ from the compiled ABIs "
             "(run: python -m pinfi.chain export-abi)")
    record: ch.Deployment | None = None
    if path.is_file():
        record = _load_record(path, chain_id)
        with_code = {n: len(chain.provider.get_code(a)) > 0 for n, a in record.contracts.items()}
        if redeploy:
            backup = path.with_name(f"{chain_id}-{record.deployment_block}.json")
            if not check:
                os.replace(path, backup)
            echo(f"--redeploy: previous deployment {'would be' if check else ''} kept as "
                 f"{backup}".replace("  ", " "))
            record = None
        elif not all(with_code.values()):
            missing = ", ".join(f"{n} {record.contracts[n]}" for n, ok in with_code.items()
                                if not ok)
            if any(with_code.values()):
                raise DeployError(f"{path}: no code at {missing} (other contracts exist): "
                                  "inspect the chain, then run with --redeploy")
            if not ephemeral:
                raise DeployError(f"{path}: no code at {missing} on chain {chain_id} (chain reset? "
                                  "wrong network?); --redeploy deploys a new set")
            echo(f"{path}: no contract code at its addresses (chain reset): deploying afresh")
            record = None

    if record is None:
        if check:
            echo(f"would deploy PinFi on chain {chain_id}")
            return Outcome(path, None, ["deploy"])
        return _fresh(project, chain, account, p, path, hashes, echo)
    return _reconcile(project, account, p, path, record, hashes, check, echo)


def _fresh(project: Any, chain: Any, account: Any, p: Params, path: Path,
           hashes: dict[str, str], echo: Echo) -> Outcome:
    head = int(chain.blocks.head.number)
    d = deploy_protocol(project, chain, account, p.network, [], with_pool=True)
    try:
        block = int(chain.provider.get_receipt(d.token.txn_hash).block_number)
    except Exception:  # older Ape or a provider without the receipt: the first possible block
        block = head + 1
    record = ch.Deployment(int(chain.chain_id), d.addresses(), block,
                           int(d.staking.genesisBlock()), str(account.address), hashes,
                           record_params(p))
    record.save(path)  # addresses first: an interrupted run resumes instead of redeploying
    for name, address in record.contracts.items():
        echo(f"{name:<16} {address}  deployed")
    out = _reconcile(project, account, p, path, record, hashes, False, echo, fresh=True)
    out.deployed = True
    return out


def _reconcile(project: Any, account: Any, p: Params, path: Path, record: ch.Deployment,
               hashes: dict[str, str], check: bool, echo: Echo, fresh: bool = False) -> Outcome:
    stale_abi = [n for n in CONTRACTS if record.abi_hashes.get(n) not in (None, hashes[n])]
    if stale_abi:
        raise DeployError(f"{path}: the compiled ABI of {', '.join(stale_abi)} differs from the "
                          "deployed one; --redeploy deploys the new contracts")
    d = Deployed.at(project, record.contracts, account)
    bad = _immutables(d, p.network)
    if bad:
        raise DeployError(f"{path}: {bad[0]} (immutable; --redeploy deploys a new set)"
                          + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""))
    diffs, fixes = _wiring_fixes(d)
    for cls in p.classes:
        cdiffs, cfixes = _class_fixes(d, cls)
        diffs += cdiffs
        fixes += cfixes
    wanted = record_params(p)
    recorded = {int(c["id"]) for c in record.class_entries()}
    for cid in sorted(recorded - {c.id for c in p.classes}):
        echo(f"class {cid} is configured on-chain but not in the parameters file: left as is")
    new_record = replace(record, contracts=dict(record.contracts), abi_hashes=hashes, params={
        **wanted, "classes": _merge_classes(record.class_entries(), wanted["classes"])})
    if new_record.genesis_block is None:
        new_record.genesis_block = int(d.staking.genesisBlock())
    rdiffs, rfixes = _registry_fixes(project, d, new_record)
    diffs += rdiffs
    fixes += rfixes
    if check:
        for line in diffs:
            echo(f"would fix: {line}")
        if not diffs:
            echo("verified, nothing to do")
        return Outcome(path, record, [f.what for f in fixes])
    if fixes and not _is_admin(d):
        raise DeployError(f"account {account.address} lacks DEFAULT_ADMIN_ROLE on the deployment "
                          f"and {len(fixes)} change(s) are needed: {diffs[0]}")
    actions = []
    for fix in fixes:
        echo(f"{fix.what}")
        fix.apply()
        actions.append(fix.what)
    if fixes:  # check the result like a second run would
        again = _wiring_fixes(d)[0] + [x for c in p.classes for x in _class_fixes(d, c)[0]]
        if again:
            raise DeployError(f"still differs after configuring: {again[0]}")
    out = Outcome(path, new_record, actions)
    if new_record != record or fresh:
        new_record.save(path)
        out.wrote = True
    if not fresh and not fixes:
        for name, address in record.contracts.items():
            echo(f"{name:<16} {address}  verified")
        echo("verified, nothing to do" if not out.wrote
             else f"verified, nothing to do on-chain; updated {path}")
    else:
        echo(f"wrote {path} ({len(actions)} configuration step(s))")
    return out


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def _account(accounts: Any, alias: str | None, local: bool) -> Any:
    if alias is None:
        if not local:
            raise DeployError("--account ALIAS is required on this network "
                              "(ape accounts import ALIAS, then --account ALIAS)")
        return accounts.test_accounts[0]
    if alias.upper().startswith("TEST::"):
        try:
            return accounts.test_accounts[int(alias.split("::", 1)[1])]
        except (ValueError, IndexError):
            raise DeployError(f"bad test account {alias!r} (TEST::0 .. TEST::9)") from None
    if alias not in set(accounts.aliases):
        raise DeployError(f"no Ape account named {alias!r} (ape accounts list)")
    acct = accounts.load(alias)
    if hasattr(acct, "set_autosign"):
        # One passphrase (prompt or APE_ACCOUNTS_<alias>_PASSPHRASE) for the whole run.
        acct.set_autosign(True)
    return acct


def _pad_gas(network: Any, multiplier: float) -> None:
    """Estimate gas with a margin on live networks (Ape's default there is the bare estimate).

    Anvil with ``--block-time`` and real chains mine a transaction in a later block than the one
    it was estimated on; Staking's constructor takes another branch once its genesis block has
    passed and a bare estimate runs out of gas. Local (automine) networks use ``max`` anyway.
    """
    from ape.types.gas import AutoGasLimit

    current = network.gas_limit
    if isinstance(current, AutoGasLimit) and current.multiplier < multiplier:
        network.__dict__["gas_limit"] = AutoGasLimit(multiplier=multiplier)


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    msg = text[0] if text else ""
    return f"{type(err).__name__}: {msg}" if not isinstance(err, DeployError) else msg


@click.command(short_help="Deploy PinFi or verify a deployment (deployments/<chainId>.json)")
@click.option("--network", "network_choice", default=None, metavar="CHOICE",
              help="Ape network (ethereum:local, ethereum:sepolia:<rpc>, http://host:port). "
                   "Default: Ape's local network (an Anvil started for the run).")
@click.option("--params", "params_path", default=str(DEFAULT_PARAMS), show_default=True,
              type=click.Path(dir_okay=False), help="parameters file")
@click.option("--account", "alias", default=None,
              help="Ape account alias, or TEST::N (default on the local network: TEST::0)")
@click.option("--out", "out_dir", default=str(DEFAULT_OUT), show_default=True,
              type=click.Path(file_okay=False), help="where <chainId>.json is written")
@click.option("--epoch-blocks", type=int, default=None,
              help="override network.epochBlocks (local demos)")
@click.option("--classes", "only", default=None, metavar="NAMES",
              help="comma-separated class names or ids to configure (default: all)")
@click.option("--redeploy", is_flag=True, help="deploy a new set even if the file lists one")
@click.option("--check", is_flag=True, help="verify only: report what would change, send nothing")
@click.option("--gas-multiplier", type=float, default=1.2, show_default=True,
              help="gas estimate margin on networks whose gas limit is 'auto'")
def cli(network_choice: str | None, params_path: str, alias: str | None, out_dir: str,
        epoch_blocks: int | None, only: str | None, redeploy: bool, check: bool,
        gas_multiplier: float) -> None:
    """Deploy PinFi (or verify an existing deployment) and write deployments/<chainId>.json."""
    from ape import accounts, chain, networks, project
    from ape.exceptions import ApeException

    try:
        params = load_params(params_path, epoch_blocks,
                             [x.strip() for x in only.split(",") if x.strip()] if only else None)
        with networks.parse_network_choice(network_choice) as provider:
            local = provider.network.name == "local"
            _pad_gas(provider.network, gas_multiplier)
            account = _account(accounts, alias, local)
            if not check and int(chain.provider.get_balance(account.address)) == 0:
                raise DeployError(f"account {account.address} has no ether on chain "
                                  f"{chain.chain_id}")
            click.echo(f"chain {chain.chain_id} ({provider.network.name}), deployer "
                       f"{account.address}, params {params_path}")
            out = deploy(project, chain, account, params, out_dir, redeploy=redeploy,
                         check=check, ephemeral=local, echo=click.echo)
    except (DeployError, ApeException, OSError, ValueError) as err:
        raise click.ClickException(_one_line(err)) from None
    if check and out.actions:
        raise SystemExit(3)
