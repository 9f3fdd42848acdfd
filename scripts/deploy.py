"""``ape run deploy``: deploy PinFi, or verify and complete an existing deployment.

Deploys PinToken, Staking, PoCPSVerifier and DissipativePool through
:func:`pinfi.deployer.deploy_protocol`, grants the roles, registers the device classes of a
parameters file (default ``pinfi/params/classes.json``), checks the wiring and writes
``deployments/<chainId>.json``: addresses, deployment and genesis blocks, the deployer, the SHA-256
of each contract's ABI and the parameters used.

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
"""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from pinfi.deployer import POOL_KEYS, PROOF_KEYS, Deployed, configure_class, deploy_protocol
from pinfi.sdk import abi_hash  # the SDK checks the same hashes

CONTRACTS = ("PinToken", "Staking", "PoCPSVerifier", "DissipativePool")
DEFAULT_PARAMS = Path("pinfi/params/classes.json")
DEFAULT_OUT = Path("deployments")
NETWORK_KEYS = ("epochBlocks", "unbondingBlocks", "rewardPerBlock", "halvingBlocks", "maxSupply",
                "genesisSupply", "bountyBps")
CLASS_KEYS = ("id", "name", "minBond", "weight", *PROOF_KEYS, *POOL_KEYS)
# Immutables of the deployed contracts, as (params key, contract attribute, getter).
IMMUTABLES = (("epochBlocks", "staking", "epochBlocks"),
              ("unbondingBlocks", "staking", "unbondingBlocks"),
              ("rewardPerBlock", "staking", "rewardPerBlock"),
              ("halvingBlocks", "staking", "halvingBlocks"),
              ("maxEmission", "staking", "maxEmission"),
              ("bountyBps", "staking", "bountyBps"),
              ("maxSupply", "token", "cap"))
ZERO = "0x0000000000000000000000000000000000000000"

Echo = Callable[[str], None]


class DeployError(Exception):
    """A deployment problem; ``str(err)`` is one line for the operator."""


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------


def load_params(path: str | Path, epoch_blocks: int | None = None,
                only: list[str] | None = None) -> dict[str, Any]:
    """The parameters file, checked against the contracts' bounds (``DeployError`` if not).

    ``epoch_blocks`` overrides ``network.epochBlocks`` (local demos); ``only`` keeps the classes of
    those names (or ids). ``network.maxEmission`` defaults to ``maxSupply - genesisSupply``.
    """
    from pinfi_dev.sim.params import ClassParams, NetworkParams, validate

    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except FileNotFoundError:
        raise DeployError(f"parameters file {p} not found") from None
    except json.JSONDecodeError as err:
        raise DeployError(f"parameters file {p} is not valid JSON: {err}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("network"), dict) \
            or not isinstance(raw.get("classes"), list):
        raise DeployError(f"parameters file {p} needs a 'network' object and a 'classes' list")
    params: dict[str, Any] = json.loads(json.dumps(raw))  # a private deep copy
    network = params["network"]
    missing = [k for k in NETWORK_KEYS if k not in network]
    if missing:
        raise DeployError(f"{p}: network misses {', '.join(missing)}")
    if epoch_blocks is not None:
        if epoch_blocks <= 0:
            raise DeployError("--epoch-blocks must be positive")
        network["epochBlocks"] = epoch_blocks
    network.setdefault("maxEmission", str(int(network["maxSupply"])
                                          - int(network["genesisSupply"])))
    classes = params["classes"]
    if only:
        wanted = {str(x) for x in only}
        classes = [c for c in classes if str(c.get("name")) in wanted or str(c.get("id")) in wanted]
        found = {str(c.get("name")) for c in classes} | {str(c.get("id")) for c in classes}
        unknown = sorted(wanted - found)
        if unknown:
            raise DeployError(f"{p}: no class named {', '.join(unknown)}")
        params["classes"] = classes
    ids: set[int] = set()
    for i, cls in enumerate(classes):
        where = f"{p}: class {cls.get('name', i)!s}"
        missing = [k for k in CLASS_KEYS if k not in cls]
        if missing:
            raise DeployError(f"{where} misses {', '.join(missing)}")
        try:
            cid = int(cls["id"])
        except (TypeError, ValueError):
            raise DeployError(f"{where}: id must be an integer") from None
        if not 0 < cid < 2**16 or cid in ids:
            raise DeployError(f"{where}: id {cid} must be unique and in [1, 65535]")
        ids.add(cid)
    try:
        net = NetworkParams.from_json(network)
        typed = {str(c["name"]): ClassParams.from_json(c) for c in classes}
    except (TypeError, ValueError) as err:
        raise DeployError(f"{p}: bad value ({err})") from None
    errors = validate(net, typed)
    if net.unbonding_blocks < 2 * net.epoch_blocks:
        errors.append("network: unbondingBlocks must be >= 2 * epochBlocks")
    if errors:
        hint = " (--classes picks the classes that fit)" if epoch_blocks is not None else ""
        raise DeployError(f"{p}: {errors[0]}{hint}"
                          + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""))
    return params


# ---------------------------------------------------------------------------------------------
# ABIs
# ---------------------------------------------------------------------------------------------


def compiled_abi(project: Any, name: str) -> list[dict[str, Any]]:
    try:
        container = getattr(project, name)
    except AttributeError:
        raise DeployError(f"contract {name} is not in the compiled project (ape compile)") from None
    return [item.model_dump(mode="json", by_alias=True) for item in container.contract_type.abi]


def shipped_abi_drift(abis: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Names whose shipped ABI (``pinfi/abi``) differs from the compiled one."""
    from pinfi.chain import ABI_DIR

    out = []
    for name, abi in abis.items():
        path = ABI_DIR / f"{name}.json"
        if not path.is_file() or abi_hash(json.loads(path.read_text())) != abi_hash(abi):
            out.append(name)
    return out


# ---------------------------------------------------------------------------------------------
# Deploy / verify
# ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a run did: the deployments file, its content, and the transactions it sent."""

    path: Path
    record: dict[str, Any]
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


def _values(result: Any, keys: tuple[str, ...]) -> dict[str, int]:
    """A contract call's struct or tuple output as ``{key: int}`` (in ``keys`` order)."""
    out: dict[str, int] = {}
    for i, key in enumerate(keys):
        value = getattr(result, key, None)
        if value is None:
            value = result[i]
        out[key] = int(value)
    return out


def _class_fixes(d: Deployed, cls: dict[str, Any]) -> tuple[list[str], list[_Fix]]:
    """Differences between a class of the parameters file and the chain, and their fixes."""
    cid = int(cls["id"])
    name = f"class {cid} ({cls['name']})"
    diffs: list[str] = []
    fixes: list[_Fix] = []
    minimum, weight, _active, exists = d.staking.classes(cid)
    want_s = {"minBond": int(cls["minBond"]), "weight": int(cls["weight"])}
    have_s = {"minBond": int(minimum), "weight": int(weight)}
    stale = [k for k in want_s if want_s[k] != have_s[k]]
    staking_ok = bool(exists) and not stale
    pc = d.verifier.classParams(cid)
    want_v = {k: int(cls[k]) for k in PROOF_KEYS}
    have_v = _values(pc, PROOF_KEYS)
    verifier_ok = bool(getattr(pc, "exists", True)) and want_v == have_v
    assert d.pool is not None
    want_p = {k: int(cls[k]) for k in POOL_KEYS}
    have_p = _values(d.pool.classParams(cid), POOL_KEYS)
    pool_ok = have_p["maxLeaseEpochs"] != 0 and want_p == have_p
    if not exists and not getattr(pc, "exists", False) and have_p["maxLeaseEpochs"] == 0:
        diffs.append(f"{name}: not configured")
        fixes.append(_Fix(f"configure {name}", lambda: configure_class(d, cls)))
        return diffs, fixes

    def changed(want: dict[str, int], have: dict[str, int]) -> str:
        return ", ".join(f"{k} {have[k]} -> {want[k]}" for k in want if want[k] != have[k])

    if not staking_ok:
        diffs.append(f"{name}: Staking {changed(want_s, have_s) if exists else 'missing'}")
        fixes.append(_Fix(f"Staking.setClass {name}", lambda: d.staking.setClass(
            cid, want_s["minBond"], want_s["weight"], sender=d.admin)))
    if not verifier_ok:
        diffs.append(f"{name}: PoCPSVerifier {changed(want_v, have_v)}")
        fixes.append(_Fix(f"PoCPSVerifier.setClass {name}", lambda: d.verifier.setClass(
            cid, tuple(want_v[k] for k in PROOF_KEYS), sender=d.admin)))
    pool = d.pool
    if not pool_ok:
        diffs.append(f"{name}: DissipativePool {changed(want_p, have_p)}")
        fixes.append(_Fix(f"DissipativePool.setClass {name}", lambda: pool.setClass(
            cid, *(want_p[k] for k in POOL_KEYS), sender=d.admin)))
    return diffs, fixes


def _wiring_fixes(d: Deployed) -> tuple[list[str], list[_Fix]]:
    """Wiring problems: conflicts raise, missing one-shot steps come back as fixes."""
    assert d.pool is not None
    conflicts: list[str] = []
    diffs: list[str] = []
    fixes: list[_Fix] = []
    token, staking, verifier, pool = (_addr(c) for c in (d.token, d.staking, d.verifier, d.pool))
    for owner, getter, want in ((d.staking, "token", token), (d.verifier, "staking", staking),
                                (d.pool, "token", token), (d.pool, "staking", staking),
                                (d.pool, "verifier", verifier)):
        have = _addr(getattr(owner, getter)())
        if have != want:
            conflicts.append(f"{owner.contract_type.name}.{getter}() is {have}, expected {want}")
    have_verifier = _addr(d.staking.verifier())
    if have_verifier == ZERO:
        diffs.append("Staking has no verifier")
        fixes.append(_Fix("Staking.setVerifier", lambda: d.staking.setVerifier(
            d.verifier, sender=d.admin)))
    elif have_verifier != verifier:
        conflicts.append(f"Staking.verifier() is {have_verifier}, expected {verifier}")
    have_pool = _addr(d.verifier.pool())
    if have_pool == ZERO:
        diffs.append("PoCPSVerifier has no pool")
        fixes.append(_Fix("PoCPSVerifier.setPool", lambda: d.verifier.setPool(
            d.pool, sender=d.admin)))
    elif have_pool != pool:
        conflicts.append(f"PoCPSVerifier.pool() is {have_pool}, expected {pool}")
    have_staking_pool = _addr(d.staking.pool())
    if have_staking_pool == ZERO:
        diffs.append("Staking has no pool")
        fixes.append(_Fix("Staking.setPool", lambda: d.staking.setPool(d.pool, sender=d.admin)))
    elif have_staking_pool != pool:
        conflicts.append(f"Staking.pool() is {have_staking_pool}, expected {pool}")
    minter = d.token.MINTER_ROLE()
    if not d.token.hasRole(minter, d.staking):
        diffs.append("Staking lacks PinToken's MINTER_ROLE")
        fixes.append(_Fix("PinToken.grantRole(MINTER_ROLE, Staking)", lambda: d.token.grantRole(
            minter, d.staking, sender=d.admin)))
    if conflicts:
        raise DeployError(f"wiring mismatch: {conflicts[0]}"
                          + (f" (+{len(conflicts) - 1} more)" if len(conflicts) > 1 else ""))
    return diffs, fixes


def _immutables(d: Deployed, network: dict[str, Any]) -> list[str]:
    out = []
    for key, attr, getter in IMMUTABLES:
        have = int(getattr(getattr(d, attr), getter)())
        want = int(network[key])
        if have != want:
            out.append(f"{key} is {have} on-chain, {want} in the parameters file")
    return out


def _is_admin(d: Deployed) -> bool:
    contracts: tuple[Any, ...] = (d.token, d.staking, d.verifier, d.pool)
    return all(c.hasRole(c.DEFAULT_ADMIN_ROLE(), d.admin) for c in contracts)


def _instances(project: Any, addresses: dict[str, str], admin: Any) -> Deployed:
    return Deployed(project.PinToken.at(addresses["PinToken"]),
                    project.Staking.at(addresses["Staking"]),
                    project.PoCPSVerifier.at(addresses["PoCPSVerifier"]),
                    project.DissipativePool.at(addresses["DissipativePool"]), admin)


def _merge_classes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = {int(c["id"]): c for c in old}
    merged.update({int(c["id"]): c for c in new})
    return [merged[k] for k in sorted(merged)]


def _write(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)


def _load_record(path: Path, chain_id: int) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
        contracts = {name: str(record["contracts"][name]) for name in CONTRACTS}
        recorded_chain = int(record["chainId"])
    except json.JSONDecodeError as err:
        raise DeployError(f"{path} is not valid JSON ({err}); move it away to deploy anew") \
            from None
    except (KeyError, TypeError, ValueError) as err:
        raise DeployError(f"{path} misses {err}; move it away to deploy anew") from None
    if recorded_chain != chain_id:
        raise DeployError(f"{path} is for chain {recorded_chain}, connected to chain {chain_id}")
    record["contracts"] = contracts
    return record


def deploy(project: Any, chain: Any, account: Any, params: dict[str, Any],
           out_dir: str | Path = DEFAULT_OUT, *, redeploy: bool = False, check: bool = False,
           ephemeral: bool = False, echo: Echo = print) -> Outcome:
    """Deploy or verify PinFi on the connected chain; returns what was done.

    ``ephemeral``: the chain is Ape's throw-away local network, so a deployments file whose
    contracts have no code is stale and simply replaced. ``check``: only report (no transaction,
    no file written). Raises :class:`DeployError` (one line) on anything it will not fix.
    """
    chain_id = int(chain.chain_id)
    path = Path(out_dir) / f"{chain_id}.json"
    abis = {name: compiled_abi(project, name) for name in CONTRACTS}
    hashes = {name: abi_hash(abi) for name, abi in abis.items()}
    drift = shipped_abi_drift(abis)
    if drift:
        echo(f"warning: pinfi/abi/{{{','.join(drift)}}}.json differ from the compiled ABIs "
             "(run: python -m pinfi.chain export-abi)")
    record: dict[str, Any] | None = None
    if path.is_file():
        record = _load_record(path, chain_id)
        with_code = {n: len(chain.provider.get_code(a)) > 0 for n, a in record["contracts"].items()}
        if redeploy:
            backup = path.with_name(f"{chain_id}-{record.get('deploymentBlock', 'old')}.json")
            if not check:
                os.replace(path, backup)
            echo(f"--redeploy: previous deployment {'would be' if check else ''} kept as "
                 f"{backup}".replace("  ", " "))
            record = None
        elif not all(with_code.values()):
            missing = ", ".join(f"{n} {record['contracts'][n]}" for n, ok in with_code.items()
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
            return Outcome(path, {}, ["deploy"])
        return _fresh(project, chain, account, params, path, hashes, echo)
    return _reconcile(project, chain, account, params, path, record, hashes, check, echo)


def _fresh(project: Any, chain: Any, account: Any, params: dict[str, Any], path: Path,
           hashes: dict[str, str], echo: Echo) -> Outcome:
    network = params["network"]
    head = int(chain.blocks.head.number)
    d = deploy_protocol(project, chain, account, network, [], with_pool=True)
    try:
        block = int(chain.provider.get_receipt(d.token.txn_hash).block_number)
    except Exception:  # older Ape or a provider without the receipt: the first possible block
        block = head + 1
    record: dict[str, Any] = {
        "chainId": int(chain.chain_id),
        "deploymentBlock": block,
        "genesisBlock": int(d.staking.genesisBlock()),
        "deployer": str(account.address),
        "contracts": d.addresses(),
        "abiHashes": hashes,
        "params": params,
    }
    _write(path, record)  # addresses first: an interrupted run resumes instead of redeploying
    for name, address in record["contracts"].items():
        echo(f"{name:<16} {address}  deployed")
    out = _reconcile(project, chain, account, params, path, record, hashes, False, echo,
                     fresh=True)
    out.deployed = True
    return out


def _reconcile(project: Any, chain: Any, account: Any, params: dict[str, Any], path: Path,
               record: dict[str, Any], hashes: dict[str, str], check: bool, echo: Echo,
               fresh: bool = False) -> Outcome:
    old_hashes = record.get("abiHashes") or {}
    stale_abi = [n for n in CONTRACTS if old_hashes.get(n) not in (None, hashes[n])]
    if stale_abi:
        raise DeployError(f"{path}: the compiled ABI of {', '.join(stale_abi)} differs from the "
                          "deployed one; --redeploy deploys the new contracts")
    d = _instances(project, record["contracts"], account)
    bad = _immutables(d, params["network"])
    if bad:
        raise DeployError(f"{path}: {bad[0]} (immutable; --redeploy deploys a new set)"
                          + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""))
    diffs, fixes = _wiring_fixes(d)
    for cls in params["classes"]:
        cdiffs, cfixes = _class_fixes(d, cls)
        diffs += cdiffs
        fixes += cfixes
    recorded = {int(c["id"]) for c in record.get("params", {}).get("classes", [])}
    for cid in sorted(recorded - {int(c["id"]) for c in params["classes"]}):
        echo(f"class {cid} is configured on-chain but not in the parameters file: left as is")
    new_record = {**record, "abiHashes": hashes,
                  "params": {**params, "classes": _merge_classes(
                      record.get("params", {}).get("classes", []), params["classes"])}}
    new_record.setdefault("genesisBlock", int(d.staking.genesisBlock()))
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
        again = _wiring_fixes(d)[0] + [x for c in params["classes"] for x in _class_fixes(d, c)[0]]
        if again:
            raise DeployError(f"still differs after configuring: {again[0]}")
    out = Outcome(path, new_record, actions)
    if new_record != record or fresh:
        _write(path, new_record)
        out.wrote = True
    if not fresh and not fixes:
        for name, address in record["contracts"].items():
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
