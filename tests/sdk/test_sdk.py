"""pinfi.sdk on a real Anvil: reads, leases, mapped errors that change no state, the error table,
docs/dapp.md's code blocks, and a provider agent that serves a lease made with the SDK."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import eth_abi
import pytest
from eth_account import Account

from pinfi import chain as ch
from pinfi import sdk
from pinfi.sdk import PinFi
from pinfi.types import DeviceState
from pinfi_dev import deploy as dep
from tests.support import pocps
from tests.support.pool import activate_many

ROOT = Path(__file__).resolve().parents[2]
PIN = 10**18


def rpc_uri(chain: Any) -> str:
    p = chain.provider
    return str(getattr(p, "http_uri", None) or p.uri)


class Market:
    """A deployment made by ``ape run deploy``'s code (cpu-test, 20-block epochs) with Active
    devices."""

    def __init__(self, project: Any, chain: Any, deployer: Any, alice: Any, operator: Any,
                 out_dir: Path) -> None:
        params = dep.load_params(epoch_blocks=20, only=["cpu-test"])
        outcome = dep.deploy(project, chain, deployer, params, out_dir, echo=lambda _l: None)
        assert outcome.record is not None
        self.path = outcome.path
        self.system = dep.Deployed.at(project, outcome.record.contracts, deployer)
        self.devices = activate_many(chain, self.system, alice, operator, 3)
        self.pending = pocps.register(self.system, alice, operator)
        self.chain = chain
        self.deployer = deployer
        self.rpc = rpc_uri(chain)

    def client(self, pin: int = 10_000) -> PinFi:
        """A fresh funded client (ether for gas, PIN to pay)."""
        acct = Account.create()
        self.deployer.transfer(acct.address, 10**19)
        self.system.token.transfer(acct.address, pin * PIN, sender=self.deployer)
        return PinFi.connect(self.rpc, deployment=self.path, account=acct)


@pytest.fixture(scope="module")
def market(project, chain, deployer, alice, operator, tmp_path_factory) -> Market:
    return Market(project, chain, deployer, alice, operator, tmp_path_factory.mktemp("dep"))


def snapshot(pf: PinFi, m: Market) -> tuple:
    pool = m.system.pool
    return (pf.w3.eth.get_transaction_count(pf.address), pf.balance(), pf.allowance(),
            m.chain.blocks.head.number, tuple(pool.classState(1)),
            [tuple(pool.leaseOf(d)) for d in m.devices])


def test_reads(market):
    pf = PinFi.connect(market.rpc, deployment=market.path)  # read-only
    [cls] = pf.classes()
    assert (cls.id, cls.name, cls.supply, cls.demand) == (1, "cpu-test", 3, 0)
    assert cls.max_lease_epochs == 64 and cls.down_bond == 50 * PIN
    assert pf.free_devices(1) == market.devices and pf.free_devices(2) == []
    # P(u) = pFloor + P0 u^2 integrated over one more device of three: 10 + 100/27 PIN an epoch
    # Pro rata by block (docs/protocol.md#pro-rata): the quote of the latest block.
    assert pf.quote(1, 2) == market.system.pool.quote(1, 2)
    elapsed = (pf.head() - market.system.staking.genesisBlock()) % 20
    whole = 2 * (10 * PIN + 100 * PIN // 27)
    assert abs(pf.quote(1, 2) - whole * (40 - elapsed) // 40) < 10**6
    assert pf.device(market.pending)["state"] == "Pending"
    assert pf.abi_mismatch == []
    with pytest.raises(sdk.NoAccount):
        pf.lease(market.devices[0], 1)
    # by chain id, found through $PINFI_DEPLOYMENTS
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PINFI_DEPLOYMENTS", str(market.path.parent))
        assert PinFi.connect(market.rpc).pool.address == pf.pool.address


def test_bad_inputs_raise_mapped_errors_and_change_no_state(market, chain):
    pf = market.client()
    d = market.devices[0]
    price = pf.quote(1, 2)
    before = snapshot(pf, market)
    latest = pf.w3.eth.get_block("latest")["timestamp"]

    cases: list[tuple[type[sdk.PinFiError], str, Any]] = [
        (sdk.UnknownDevice, "device 999 does not exist", lambda: pf.lease(999, 2)),
        (sdk.SlippageExceeded, f"the price is {sdk.format_pin(price)} but maxCost is",
         lambda: pf.lease(d, 2, max_cost=price - 1)),
        (sdk.DeadlineExpired, f"deadline {latest - 1} has passed",
         lambda: pf.lease(d, 2, deadline=latest - 1)),
        (sdk.InsufficientAllowance, "allowance of", lambda: pf.lease(d, 2, approve=False)),
        (sdk.InvalidLeaseTerms, "65 epochs asked, at most 64", lambda: pf.lease(d, 65)),
        (sdk.DeviceNotActive, "is not Active (state Pending)",
         lambda: pf.lease(market.pending, 2)),
        (sdk.UnknownClass, "unknown device class 77", lambda: pf.quote(77, 1)),
        (sdk.LeaseNotLive, "is not live", lambda: pf.terminate((d << 64) | 5)),
    ]
    for exc, text, action in cases:
        with pytest.raises(exc) as info:
            action()
        msg = str(info.value)
        assert text in msg and "\n" not in msg, msg
        assert snapshot(pf, market) == before, exc.__name__

    # a client with too little PIN: the SDK does not approve what it cannot pay
    poor = market.client(pin=1)
    poor_before = snapshot(poor, market)
    with pytest.raises(sdk.InsufficientBalance, match="holds 1 PIN"):
        poor.lease(d, 2)
    assert snapshot(poor, market) == poor_before

    lease = pf.lease(d, 2, job_spec=b"job-1")
    other = market.client()
    busy_before = snapshot(pf, market)
    busy = rf"device {d} is leased until epoch {lease.end_epoch}"
    with pytest.raises(sdk.DeviceBusy, match=busy):
        pf.lease(d, 1)
    with pytest.raises(sdk.NotAuthorized, match="is not the client of lease"):
        other.terminate(lease.lease_id)
    assert snapshot(pf, market) == busy_before
    pf.terminate(lease.lease_id)


def test_new_client_leases_in_one_transaction_with_a_permit(market):
    """A client that never approved the pool leases in one transaction: the SDK signs an
    EIP-2612 permit off-chain and sends ``leaseWithPermit`` (issue 11)."""
    pf = market.client()
    d = market.devices[2]
    assert pf.allowance() == 0
    nonce = pf.w3.eth.get_transaction_count(pf.address)
    balance = pf.balance()
    lease = pf.lease(d, 1)
    assert pf.w3.eth.get_transaction_count(pf.address) == nonce + 1
    assert pf.balance() == balance - lease.cost
    assert market.system.token.nonces(pf.address) == 1  # the permit was spent
    pf.terminate(lease.lease_id)
    # with the allowance already there, no permit is signed
    pf.approve(10**30)
    lease = pf.lease(d, 1)
    assert market.system.token.nonces(pf.address) == 1
    pf.terminate(lease.lease_id)


def test_lease_lifecycle(market, chain, operator):
    pf = market.client()
    d = market.devices[1]
    start_block = pf.head()
    price = pf.quote(1, 4)
    balance = pf.balance()
    lease = pf.lease(d, 4, job_spec="render:frame-0042")
    assert lease.device_id == d and lease.client == pf.address and lease.epochs == 4
    # Mined a block or two after the quote: pro rata by block (docs/protocol.md#pro-rata), so
    # less than the quote within the same epoch (the quote jumps at an epoch's end).
    if lease.start_epoch == (start_block - market.system.staking.genesisBlock()) // 20:
        assert lease.cost <= price
    assert pf.balance() == balance - lease.cost
    assert lease.job_spec == b"render:frame-0042".ljust(32, b"\0")
    assert [x.lease_id for x in pf.leases(start_block, client=pf.address)] == [lease.lease_id]
    assert list(pf.leases(start_block, device_id=market.devices[2])) == []
    info = pf.lease_info(lease.lease_id)
    assert info.live and info.current and info.end_epoch == lease.end_epoch
    assert d not in pf.free_devices(1)

    ext = pf.extend(lease.lease_id, 1)
    assert ext.value == lease.end_epoch + 1 == pf.lease_info(lease.lease_id).end_epoch

    # a down report forces a challenge next epoch; the device proves itself, the report fails
    forced = pf.report_down(lease.lease_id).value
    assert forced == pf.current_epoch() + 1
    with pytest.raises(sdk.TooEarly, match=f"resolve after epoch {forced}"):
        pf.resolve_down(lease.lease_id)
    with pytest.raises(sdk.DownReportPending):
        pf.terminate(lease.lease_id)
    pocps.goto_epoch(chain, market.system, forced)
    market.system.verifier.checkpoint(sender=operator)
    pocps.prove(chain, market.system, d, operator, forced)
    pocps.goto_epoch(chain, market.system, forced + 1)
    assert pf.resolve_down(lease.lease_id).value is True

    refund = pf.terminate(lease.lease_id).value
    assert refund > 0
    info = pf.lease_info(lease.lease_id)
    assert not info.live and info.current
    again = pf.lease(d, 1)
    old = pf.lease_info(lease.lease_id)
    assert not old.current and not old.live and old.start_epoch == lease.start_epoch
    pf.terminate(again.lease_id)


def test_error_table_covers_every_abi_error():
    table = ch.error_table()
    assert {"DeviceBusy", "SlippageExceeded", "ERC20InsufficientAllowance"} <= sdk.error_names()
    missing = sorted(sdk.error_names() - set(sdk.ERROR_FAMILIES))
    assert not missing, f"map these custom errors in pinfi/sdk.py ERROR_FAMILIES: {missing}"
    samples = {"address": "0x" + "11" * 20, "bool": True, "string": "x", "bytes32": b"\x01" * 32}
    for selector, (name, types, names) in table.items():
        values = [samples.get(t, 1) for t in types]
        err = sdk.decode_revert(selector + eth_abi.encode(types, values))
        cls, template = sdk.ERROR_FAMILIES[name]
        assert isinstance(err, cls) and err.error == name and list(err.inputs) == names
        assert template is not None and "{" not in str(err) and str(err).endswith(f"[{name}]")
    # the pool reports a never-registered device as DeviceNotActive(state None)
    sel = next(s for s, v in table.items() if v[0] == "DeviceNotActive")
    err = sdk.decode_revert(sel + eth_abi.encode(["uint256", "uint8"], [7, 0]))
    assert isinstance(err, sdk.UnknownDevice) and "device 7 does not exist" in str(err)
    assert isinstance(sdk.decode_revert("0x4e487b710000000000000000000000000000000000000000000000"
                                        "000000000000000011"), sdk.InternalError)
    assert "unknown error" in str(sdk.decode_revert("0xdeadbeef"))


def test_connect_errors(market, tmp_path):
    with pytest.raises(sdk.ConnectionFailed, match="cannot reach"):
        PinFi.connect("http://127.0.0.1:9", deployment=market.path)
    with pytest.raises(sdk.ConnectionFailed, match="no deployment for chain 12345"):
        PinFi.connect(market.rpc, deployment=12345)
    wrong = json.loads(market.path.read_text())
    wrong["chainId"] = 5
    (tmp_path / "5.json").write_text(json.dumps(wrong))
    with pytest.raises(sdk.ConnectionFailed, match="wrong chain"):
        PinFi.connect(market.rpc, deployment=tmp_path / "5.json")
    with pytest.raises(sdk.ConnectionFailed, match="not found"):
        PinFi.connect(market.rpc, deployment=tmp_path / "missing.json")


def test_dapp_doc_blocks_run(market, monkeypatch, capsys):
    """docs/dapp.md: every ```python block runs, in order, against this deployment."""
    text = (ROOT / "docs" / "dapp.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 5
    acct = Account.create()
    market.deployer.transfer(acct.address, 10**19)
    market.system.token.transfer(acct.address, 1_000 * PIN, sender=market.deployer)
    monkeypatch.setenv("PINFI_RPC", market.rpc)
    monkeypatch.setenv("PINFI_DEPLOYMENT", str(market.path))
    monkeypatch.setenv("PINFI_KEY", "0x" + bytes(acct.key).hex())
    monkeypatch.chdir(ROOT)
    namespace: dict[str, Any] = {"__name__": "dapp_doc"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"docs/dapp.md block {i + 1}", "exec"), namespace)
        except Exception as err:  # pragma: no cover - the message names the block
            pytest.fail(f"docs/dapp.md block {i + 1} failed: {type(err).__name__}: {err}")
    out = capsys.readouterr().out
    assert "cpu-test" in out and "[DeviceBusy]" in out and "[SlippageExceeded]" in out


def test_agent_serves_a_lease_made_with_the_sdk(market, chain, deployer, alice, tmp_path):
    """A provider agent (in-process daemon) proves its device, sees the SDK's lease and runs its
    job handler with the lease's id and job spec."""
    pytest.importorskip("provider_agent.daemon")
    from provider_agent import config as config_mod
    from provider_agent.daemon import Daemon
    from tests.support import agent as ah

    op = ah.make_key(tmp_path, "operator", deployer)
    dev = pocps.register(market.system, alice, op.address)
    marker = tmp_path / "job.out"
    job = tmp_path / "job.py"
    job.write_text("import os, pathlib, sys\n"
                   "pathlib.Path(sys.argv[3]).write_text(' '.join(sys.argv[1:3]) + ' '\n"
                   "    + os.environ['PINFI_CLIENT'])\n")
    cfg = ah.write_config(tmp_path, market.rpc, market.path, [dev], op,
                          jobs={"command": f"{sys.executable} {job} {{lease_id}} {{job_spec}} "
                                           f"{marker}"})
    d = Daemon.from_config(config_mod.load(cfg))
    d.start(serve_metrics=False)
    staking = market.system.staking
    for _ in range(3 * 20):  # the agent passes the Pending device's first challenge
        chain.mine(1)
        d.step()
        if staking.deviceSummary(dev)[2] == DeviceState.ACTIVE:
            break
    assert staking.deviceSummary(dev)[2] == DeviceState.ACTIVE, "the agent did not activate it"

    pf = market.client()
    assert dev in pf.free_devices(1)
    lease = pf.lease(dev, 2, job_spec=b"render:frame-0042")
    for _ in range(20):
        d.step()
        if marker.exists():
            break
        chain.mine(1)
    assert marker.exists(), "the agent did not run the job handler"
    lease_id, spec, client = marker.read_text().split()
    assert int(lease_id) == lease.lease_id and client == pf.address
    assert bytes.fromhex(spec[2:]) == b"render:frame-0042".ljust(32, b"\0")
    row = d.ctx.journal.get_lease(str(lease.lease_id))
    assert row is not None and row.device_id == dev
