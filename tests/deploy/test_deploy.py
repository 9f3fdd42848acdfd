"""pinfi_dev.deploy (``ape run deploy``): fresh deployment, idempotent second run, partial
reconfiguration, refusals, and the command line against a separately started Anvil (block time
1 s, chain id 4321) with a non-default keyfile account."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eth_account import Account
from web3 import Web3

from pinfi import chain as ch
from pinfi import params as pp
from pinfi.chain import abi_hash
from pinfi_dev import deploy as dep

ROOT = Path(__file__).resolve().parents[2]
PARAMS = pp.PARAMS_PATH
CUSTOM_CHAIN_ID = 4321


class Lines(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)


def _class_on_chain(project: Any, record: ch.Deployment, cls: pp.ClassParams) -> bool:
    d = dep.Deployed.at(project, record.contracts, None)
    staking = d.staking.classes(cls.id)
    return (bool(staking[3]) and pp.StakingParams.from_contract(staking) == cls.staking
            and pp.ProofParams.from_contract(d.verifier.classParams(cls.id)) == cls.proof
            and pp.PoolPricing.from_contract(d.pool.classParams(cls.id)) == cls.pricing)


def _with_class(params: pp.Params, index: int, cls: pp.ClassParams) -> pp.Params:
    classes = list(params.classes)
    classes[index:index + 1] = [cls]
    return replace(params, classes=tuple(classes))


@pytest.fixture(scope="module")
def params() -> dict[str, Any]:
    return dep.load_params(PARAMS)


@pytest.fixture(scope="module")
def fresh(project, chain, deployer, params, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("deployments")
    lines = Lines()
    outcome = dep.deploy(project, chain, deployer, params, out_dir, echo=lines)
    return outcome, out_dir, lines


def test_fresh_deployment_writes_a_complete_file(project, chain, deployer, params, fresh):
    outcome, out_dir, lines = fresh
    path = out_dir / f"{chain.chain_id}.json"
    assert outcome.deployed and outcome.path == path and path.is_file()
    rec = json.loads(path.read_text())
    assert rec["chainId"] == chain.chain_id
    assert set(rec["contracts"]) == {*dep.CONTRACTS, ch.REGISTRY_NAME, dep.CURVE_NAME}
    assert rec["deployer"] == deployer.address
    assert 0 < rec["deploymentBlock"] <= rec["genesisBlock"] <= chain.blocks.head.number
    assert rec["params"] == dep.record_params(params)
    for name, address in rec["contracts"].items():
        assert len(chain.provider.get_code(address)) > 0, name
    # the SDK's shipped ABIs hash to the recorded values (PriceCurve, called by the pool only,
    # ships none)
    assert set(rec["abiHashes"]) == {*dep.CONTRACTS, ch.REGISTRY_NAME}
    for name in rec["abiHashes"]:
        assert rec["abiHashes"][name] == abi_hash(ch.load_abi(name))
    c = rec["contracts"]
    staking = project.Staking.at(c["Staking"])
    verifier = project.PoCPSVerifier.at(c["PoCPSVerifier"])
    token = project.PinToken.at(c["PinToken"])
    assert staking.verifier() == c["PoCPSVerifier"]
    assert verifier.pool() == c["DissipativePool"]
    assert token.hasRole(token.MINTER_ROLE(), c["Staking"])
    assert staking.genesisBlock() == rec["genesisBlock"]
    assert staking.epochBlocks() == params.network.epoch_blocks
    for cls in params.classes:
        assert _class_on_chain(project, ch.Deployment.from_dict(rec), cls), cls.name
    assert any("configure class 4 (h100-80g)" in line for line in lines)


def test_second_run_changes_nothing(project, chain, deployer, params, fresh):
    _outcome, out_dir, _ = fresh
    path = out_dir / f"{chain.chain_id}.json"
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    nonce, head = deployer.nonce, chain.blocks.head.number
    lines = Lines()
    again = dep.deploy(project, chain, deployer, params, out_dir, echo=lines)
    assert not again.changed and not again.deployed and not again.wrote and again.actions == []
    assert deployer.nonce == nonce and chain.blocks.head.number == head  # no transaction
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    assert lines[-1] == "verified, nothing to do"
    # The contracts, the registry, the pool's PriceCurve and the closing line.
    assert sum("verified" in line for line in lines) == len(dep.CONTRACTS) + 3


def test_changed_or_new_class_configures_only_that(project, chain, deployer, params, fresh):
    _outcome, out_dir, _ = fresh
    rtx = params.classes[1]
    changed = _with_class(params, 1, rtx.with_(p_floor=rtx.p_floor * 2))
    extra = params.classes[0].derive("cpu-extra", id=9)
    changed = replace(changed, classes=(*changed.classes, extra))

    # --check reports and sends nothing
    nonce = deployer.nonce
    lines = Lines()
    plan = dep.deploy(project, chain, deployer, changed, out_dir, check=True, echo=lines)
    assert plan.actions == ["DissipativePool.setClass class 2 (rtx4090)",
                            "configure class 9 (cpu-extra)"]
    assert deployer.nonce == nonce
    assert any("pFloor" in line for line in lines)

    out = dep.deploy(project, chain, deployer, changed, out_dir, echo=Lines())
    assert out.actions == plan.actions and out.wrote and not out.deployed
    assert deployer.nonce == nonce + 1 + 3  # one pool.setClass, three setClass for class 9
    rec = ch.Deployment.load(out_dir / f"{chain.chain_id}.json")
    assert _class_on_chain(project, rec, changed.classes[1])
    assert _class_on_chain(project, rec, extra)
    assert [c["id"] for c in rec.class_entries()] == [1, 2, 3, 4, 9]

    # and a third run is quiet again
    nonce = deployer.nonce
    quiet = dep.deploy(project, chain, deployer, changed, out_dir, echo=Lines())
    assert not quiet.changed and deployer.nonce == nonce

    # back to the parameters file: class 2 is set back, class 9 stays (not in the file)
    lines = Lines()
    back = dep.deploy(project, chain, deployer, params, out_dir, echo=lines)
    assert back.actions == ["DissipativePool.setClass class 2 (rtx4090)"]
    assert any("class 9 is configured on-chain but not in the parameters file" in line
               for line in lines)


def test_refusals(project, chain, deployer, params, fresh, tmp_path, accounts):
    _outcome, out_dir, _ = fresh
    path = out_dir / f"{chain.chain_id}.json"
    nonce = deployer.nonce

    # an immutable network parameter that differs: never silently redeployed
    other = params.with_network(epoch_blocks=600)
    with pytest.raises(dep.DeployError, match="epochBlocks is 300 on-chain, 600 in the param"):
        dep.deploy(project, chain, deployer, other, out_dir, echo=Lines())

    # a class change by an account that is not the admin
    changed = _with_class(params, 0, params.classes[0].with_(weight=7))
    with pytest.raises(dep.DeployError, match="lacks DEFAULT_ADMIN_ROLE"):
        dep.deploy(project, chain, accounts[5], changed, out_dir, echo=Lines())

    # a deployments file whose addresses have no code (chain reset, wrong network)
    stale_dir = tmp_path / "stale"
    stale_dir.mkdir()
    rec = json.loads(path.read_text())
    rec["contracts"] = {n: "0x" + f"{i + 1:040x}" for i, n in enumerate(dep.CONTRACTS)}
    (stale_dir / path.name).write_text(json.dumps(rec))
    with pytest.raises(dep.DeployError, match="no code at PinToken"):
        dep.deploy(project, chain, deployer, params, stale_dir, echo=Lines())

    # a file of another chain
    rec["chainId"] = 5
    (stale_dir / path.name).write_text(json.dumps(rec))
    with pytest.raises(dep.DeployError, match="is for chain 5"):
        dep.deploy(project, chain, deployer, params, stale_dir, echo=Lines())
    assert deployer.nonce == nonce

    # on Ape's throw-away local network a stale file is simply replaced
    rec["chainId"] = chain.chain_id
    (stale_dir / path.name).write_text(json.dumps(rec))
    small = dep.load_params(PARAMS, epoch_blocks=20, only=["cpu-test"])
    lines = Lines()
    out = dep.deploy(project, chain, deployer, small, stale_dir, ephemeral=True, echo=lines)
    assert out.deployed and "chain reset" in lines[0]
    assert json.loads((stale_dir / path.name).read_text())["params"]["network"]["epochBlocks"] \
        == 20


def test_interrupted_run_is_completed(project, chain, deployer, tmp_path):
    """Contracts deployed and recorded, then the run stopped: a missing role and the classes
    are added, nothing is redeployed."""
    small = dep.load_params(PARAMS, epoch_blocks=20, only=["cpu-test"])
    d = dep.deploy_protocol(project, chain, deployer, small.network, [], with_pool=True)
    d.token.revokeRole(d.token.MINTER_ROLE(), d.staking, sender=deployer)
    ch.Deployment(chain.chain_id, d.addresses(), 1, params=dep.record_params(small)).save(
        tmp_path / f"{chain.chain_id}.json")
    lines = Lines()
    out = dep.deploy(project, chain, deployer, small, tmp_path, echo=lines)
    assert not out.deployed
    assert out.actions == ["PinToken.grantRole(MINTER_ROLE, Staking)",
                           "configure class 1 (cpu-test)"]
    assert d.token.hasRole(d.token.MINTER_ROLE(), d.staking)
    written = json.loads((tmp_path / f"{chain.chain_id}.json").read_text())
    assert written["contracts"] == d.addresses() and set(written["abiHashes"]) == {
        *dep.CONTRACTS, ch.REGISTRY_NAME} and written["genesisBlock"] == d.staking.genesisBlock()
    assert not dep.deploy(project, chain, deployer, small, tmp_path, echo=Lines()).changed


def test_parameter_file_errors(tmp_path):
    with pytest.raises(dep.DeployError, match="not found"):
        dep.load_params(tmp_path / "nope.json")
    raw = json.loads(PARAMS.read_text())
    del raw["classes"][0]["downBond"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(dep.DeployError, match="class cpu-test: missing downBond"):
        dep.load_params(bad)
    # GPU classes' windows do not fit 20-block epochs: say so before any transaction
    with pytest.raises(dep.DeployError, match=r"rtx4090.*epochBlocks.*--classes"):
        dep.load_params(PARAMS, epoch_blocks=20)
    with pytest.raises(dep.DeployError, match="no class 'gtx'"):
        dep.load_params(PARAMS, only=["gtx"])
    assert [c.name for c in dep.load_params(PARAMS, 20, ["cpu-test"]).classes] == ["cpu-test"]


def test_cli_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(dep.cli, ["--params", str(tmp_path / "missing.json")])
    assert result.exit_code == 1
    out = result.output.strip().splitlines()
    assert out == [f"Error: parameters file {tmp_path / 'missing.json'} not found"]
    result = CliRunner().invoke(dep.cli, ["--epoch-blocks", "20"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "--classes" in result.output


# ---------------------------------------------------------------------------------------------
# The command line against a separately started Anvil (a stand-in for a public testnet)
# ---------------------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ape_run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / ".venv" / "bin" / "ape"), "run", "deploy", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.mark.slow
def test_cli_deploys_to_rpc_url_with_keyfile_account(tmp_path):
    """``ape run deploy --network http://127.0.0.1:PORT --account ALIAS`` twice: the second run
    verifies and sends nothing. Anvil: ``--block-time 1 --chain-id 4321``; the deployer is a
    fresh key in a keyfile (Ape's account format) unlocked by ``APE_ACCOUNTS_<alias>_PASSPHRASE``,
    not one of Anvil's default accounts."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    anvil_bin = ROOT / "node_modules" / ".bin" / "anvil"
    anvil = subprocess.Popen([str(anvil_bin), "--port", str(port), "--chain-id",
                              str(CUSTOM_CHAIN_ID), "--block-time", "1", "--silent"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))
        deadline = time.monotonic() + 30
        while True:
            try:
                assert w3.eth.chain_id == CUSTOM_CHAIN_ID
                break
            except Exception:
                if time.monotonic() > deadline or anvil.poll() is not None:
                    raise
                time.sleep(0.2)
        key = Account.create()
        h = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": key.address,
                                     "value": 10**20})
        w3.eth.wait_for_transaction_receipt(h, timeout=30)

        alias, passphrase = "pinfi_ci", "not-a-real-secret"
        data = tmp_path / "ape-data"
        (data / "accounts").mkdir(parents=True)
        keyfile = Account.encrypt(key.key, passphrase, iterations=2**10)
        (data / "accounts" / f"{alias}.json").write_text(json.dumps(keyfile))
        env = {**os.environ, "APE_DATA_FOLDER": str(data),
               f"APE_ACCOUNTS_{alias}_PASSPHRASE": passphrase,
               "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        env.setdefault("SOLCX_BINARY_PATH", str(ROOT / ".venv" / "solc-bin"))
        out_dir = tmp_path / "deployments"
        # one class keeps the run short at one block a second (the in-process tests cover all)
        args = ["--network", url, "--account", alias, "--out", str(out_dir),
                "--classes", "cpu-test"]

        first = _ape_run(args, env, timeout=240)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        path = out_dir / f"{CUSTOM_CHAIN_ID}.json"
        rec = json.loads(path.read_text())
        assert rec["chainId"] == CUSTOM_CHAIN_ID and rec["deployer"] == key.address
        dep_ = ch.Deployment.from_dict(rec)
        c = ch.load_contracts(ch.connect(url, CUSTOM_CHAIN_ID), dep_)  # checks code
        assert c.pool is not None and c.staking.functions.verifier().call() == c.verifier.address
        assert [cls["name"] for cls in rec["params"]["classes"]] == ["cpu-test"]
        assert c.pool.functions.classParams(1).call()[4] == rec["params"]["classes"][0][
            "maxLeaseEpochs"]
        nonce = w3.eth.get_transaction_count(key.address)
        before = path.read_bytes()

        second = _ape_run(args, env, timeout=180)
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        assert "verified, nothing to do" in second.stdout
        assert w3.eth.get_transaction_count(key.address) == nonce
        assert path.read_bytes() == before

        # bad input through `ape run`: one line, no stack trace, nothing sent
        bad = _ape_run(["--network", url, "--account", "nobody", "--out", str(out_dir)], env,
                       timeout=120)
        text = bad.stdout + bad.stderr
        assert bad.returncode != 0 and "no Ape account named 'nobody'" in text, text[-2000:]
        assert "Traceback" not in text
    finally:
        anvil.terminate()
        try:
            anvil.wait(10)
        except subprocess.TimeoutExpired:
            anvil.kill()

