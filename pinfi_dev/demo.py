"""The end-to-end demo behind `make demo` (`ape run demo`, `scripts/demo.py`), on a fresh local
Anvil (a developer tool: it needs Ape, click and matplotlib; the runtime never imports it).

Deploys PinFi, registers five CPU devices for three providers, starts three `provider-agent run`
daemons as separate processes (providers A and B honest, provider C cheating through the
documented test-only `cheat_fraction` switch) and one `provider-agent verify` keeper, then
produces blocks while a client leases more and more devices, so utilization and price climb.
Every agent runs its lease gateway (`[gateway] enabled = true`) and every owner publishes its
URL in the EndpointRegistry; each lease binds a job manifest as its `jobSpec`, and the client
runs a numpy workload on the leased device through the gateway, checks the result and verifies
the operator-signed receipt (pinfi_dev.demo_workload). At the end it prints a per-epoch table and
writes `out/demo/summary.json` (token amounts are integer wei, every such field ends in `_wei`)
and PNG plots. Each epoch's R, D, utilization and price are read at the epoch's last block.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
import httpx
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand
from ape.logging import LogLevel, logger
from eth_account import Account

from pinfi import chain as ch
from pinfi import params
from pinfi.params import ClassParams, NetworkParams
from pinfi.protocol import marginal_price
from pinfi.sdk import PinFi
from pinfi.types import DeviceState
from pinfi_dev.demo_workload import DeliveredJob, make_job
from pinfi_dev.deploy import deploy_protocol

OUT = Path("out/demo")
PASSWORD = "pinfi-demo"  # the demo's throw-away keystores; never reuse for real keys
CLASS_ID = 1
EPOCH_BLOCKS = 24
# Demo windows (commit + open + dispute fit one epoch), in blocks of `--block-time` seconds.
DEMO_CLASS = {"commit_window": 8, "open_window": 6, "dispute_window": 6, "challenge_bps": 5_000}
PROVIDERS = (("provider-A", 2, 0.0), ("provider-B", 2, 0.0), ("provider-C-cheater", 1, 0.5))


LEASE_EPOCHS = 4
#: Where the demo's Python environment (with numpy) appears inside the job sandbox (bubblewrap
#: mounts the job directory at /work, so a tree under /work is bound elsewhere).
SANDBOX_VENV = "/opt/pinfi-venv"


@dataclass
class EpochRow:
    """One epoch, read at its last block (after the client's lease of that epoch, before the
    leases ending at the next boundary drop out). Token amounts in wei."""

    epoch: int
    R: int
    D: int
    utilization: float
    price_wei: int  # marginal price P(u) = pFloor + P0 u^alpha at the epoch's utilization
    quote_wei: int | None  # what one more device-epoch costs (the pool's quote); None: sold out
    leases: int
    burned_wei: int
    rewards_wei: int
    slashes: int


def _load_params() -> tuple[NetworkParams, ClassParams]:
    """The shipped network with demo-length epochs, and ``cpu-test`` with demo windows."""
    network = params.network_params(epoch_blocks=EPOCH_BLOCKS, unbonding_blocks=2 * EPOCH_BLOCKS)
    return network, params.derive(CLASS_ID, name="cpu-demo", **DEMO_CLASS)


def _keystore(path: Path) -> Any:
    acct = Account.create()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(Account.encrypt(acct.key, PASSWORD, kdf="pbkdf2", iterations=1024)))
    (path.parent / "password").write_text(PASSWORD)
    return acct


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sandbox_binds() -> tuple[list[str], str]:
    """``[gateway] ro_binds`` that show this Python environment (numpy included) inside the
    sandbox, and the interpreter path a job uses there (the host's without bubblewrap)."""
    if not shutil.which("bwrap"):
        return [], sys.executable
    binds = [f"{sys.prefix}:{SANDBOX_VENV}"]
    if sys.base_prefix != sys.prefix:
        base = sys.base_prefix
        binds.append(base if not (base == "/work" or base.startswith("/work/"))
                     else f"{base}:/opt/pinfi-python")
    return binds, f"{SANDBOX_VENV}/bin/python"


def _agent_config(folder: Path, rpc: str, devices: list[int], cheat: float,
                  gateway_port: int = 0) -> Path:
    lines = [
        f'rpc_url = "{rpc}"',
        'deployment = "../../deployment.json"',
        'data_dir = "data"',
        f"devices = [{', '.join(map(str, devices))}]",
        'backend = "cpu"',
        "confirmations = 0",
        "poll_interval = 0.2",
        "safety_margin_blocks = 1",
        "metrics_port = 0",
        "",
        "[keys]",
        'operator_keystore = "keys/operator.json"',
        'operator_password_file = "keys/password"',
    ]
    if gateway_port:
        binds = ", ".join(json.dumps(b) for b in _sandbox_binds()[0])
        lines += ["", "[gateway]", "enabled = true", 'host = "127.0.0.1"',
                  f"port = {gateway_port}", f'public_url = "http://127.0.0.1:{gateway_port}"',
                  f"ro_binds = [{binds}]", "poll_interval = 0.25", "stop_grace_s = 2"]
    if cheat:
        lines += ["", "[test]", "# TEST ONLY: this provider commits a partly wrong product.",
                  f"cheat_fraction = {cheat}"]
    cfg = folder / "agent.toml"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


class Processes:
    """Child processes, stopped on exit, on error and on Ctrl-C."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], log: Path) -> None:
        handle = log.open("wb")
        proc = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT)
        self.procs.append((name, proc))

    def wait_ready(self, folders: dict[str, Path], marker: str, timeout: float = 90.0) -> None:
        """Block until every daemon logged `marker` (connected, keys unlocked, backend checked)."""
        deadline = time.time() + timeout
        for name, folder in folders.items():
            log = folder / "agent.log"
            while marker not in (log.read_text(errors="replace") if log.exists() else ""):
                self.check()
                if time.time() > deadline:
                    raise click.ClickException(f"{name} did not start in {timeout:.0f}s; see {log}")
                time.sleep(0.2)

    def check(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise click.ClickException(f"{name} exited with status {proc.returncode}; "
                                           f"see {OUT}/agents/{name}/agent.log")

    def stop(self) -> None:
        for _, proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        for _, proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()


def _pin(wei: int | None) -> float:
    return float("nan") if wei is None else wei / 1e18


def _plots(rows: list[EpochRow]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r.epoch for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(epochs, [_pin(r.price_wei) for r in rows], marker="o", color="tab:red",
            label="marginal price P(u) = pFloor + P0 u^alpha")
    ax.plot(epochs, [_pin(r.quote_wei) for r in rows], marker="x", linestyle="--",
            color="tab:blue", label="pool quote for one more device-epoch (gaps: sold out)")
    ax.legend()
    ax.set_xlabel("epoch (read at its last block)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("PIN per device-epoch")
    ax.set_title("PinFi demo: price follows utilization")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT / "price.png", dpi=110)
    plt.close(fig)
    # Device counts and the 0-1 ratio on two axes of their own.
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(epochs, [r.R for r in rows], marker="s", color="tab:green",
            label="R (Active devices)")
    ax.plot(epochs, [r.D for r in rows], marker="^", color="tab:orange",
            label="D (leased devices)")
    ax.set_xlabel("epoch (read at its last block)")
    ax.set_ylabel("devices")
    top = max([r.R for r in rows] + [r.D for r in rows] + [1])
    ax.set_ylim(0, top * 1.6)  # room for the legend above the lines
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax2 = ax.twinx()
    ax2.plot(epochs, [r.utilization for r in rows], marker=".", color="tab:purple",
             linestyle="--", label="utilization u = D/R (right axis)")
    ax2.set_ylabel("utilization u = D/R")
    ax2.set_ylim(0, 1.1)
    ax2.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    handles = ax.get_legend_handles_labels()
    handles2 = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + handles2[0], handles[1] + handles2[1], loc="upper left", ncols=2,
              fontsize="small")
    ax.set_title("PinFi demo: supply, demand and utilization")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT / "utilization.png", dpi=110)
    plt.close(fig)


class Client:
    """The demo's client: leases through the SDK with a job manifest bound as ``jobSpec``, then
    runs the job through the device's gateway in a thread (:class:`DeliveredJob`)."""

    def __init__(self, rpc: str, deployment: ch.Deployment, key: bytes, python: str) -> None:
        self.connect = lambda: PinFi.connect(rpc, deployment.to_dict(), key)
        self.pf = self.connect()
        self.python = python
        self.jobs: list[DeliveredJob] = []

    def lease_and_run(self, device: int) -> None:
        manifest, files, ab = make_job(seed=len(self.jobs) + 1, python=self.python)
        lease = self.pf.lease(device, LEASE_EPOCHS, job_spec=manifest.hash)
        job = DeliveredJob(self.connect, lease.lease_id, device, manifest, files, ab,
                           OUT / "jobs" / str(lease.lease_id))
        job.start()
        self.jobs.append(job)

    def finish(self, timeout: float = 240.0) -> None:
        deadline = time.time() + timeout
        for job in self.jobs:
            job.join(max(0.1, deadline - time.time()))


def _wait_gateways(urls: dict[str, str], procs: Processes, timeout: float = 90.0) -> None:
    deadline = time.time() + timeout
    for name, url in urls.items():
        while True:
            procs.check()
            try:
                if httpx.get(f"{url}/v1/info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise click.ClickException(f"{name}'s gateway did not answer at {url} in "
                                           f"{timeout:.0f}s; see {OUT}/agents/{name}/agent.log")
            time.sleep(0.3)


@click.command(cls=ConnectedProviderCommand)
@click.option("--epochs", default=8, show_default=True, help="epochs to run after registration")
@click.option("--block-time", default=1, show_default=True, help="seconds between blocks")
@click.option("--out", "out_dir", default=str(OUT), show_default=True, help="output folder")
# [E1 explorer] keep the chain and serve the explorer at the end (make demo PINFI_DEMO_EXPLORER=1)
@click.option("--explorer", is_flag=True, envvar="PINFI_DEMO_EXPLORER",
              help="at the end, serve the explorer on the demo's chain until Ctrl-C")
def cli(epochs: int, block_time: int, out_dir: str, explorer: bool = False) -> None:
    global OUT
    OUT = Path(out_dir)
    # Quiet: no compiler listing, no line per confirmed transaction (warnings still show).
    logger.set_level(LogLevel.WARNING)
    t0 = time.time()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    network, cls = _load_params()
    admin, client = accounts.test_accounts[0], accounts.test_accounts[4]
    owners = [accounts.test_accounts[i] for i in (1, 2, 3)]
    click.echo("[1/4] deploying PinToken, Staking, PoCPSVerifier, DissipativePool, "
               "EndpointRegistry ...")
    d = deploy_protocol(project, chain, admin, network, [cls])
    deployment = ch.Deployment(chain.chain_id, d.addresses(), chain.blocks.head.number,
                               params={"network": network.to_json(), "classes": [cls.to_json()]})
    deployment.save(OUT / "deployment.json")

    click.echo("[2/4] registering devices, publishing gateways, starting agents ...")
    rpc = chain.provider.http_uri
    procs = Processes()
    cheater_devices: set[int] = set()
    bond = cls.min_bond
    gateways: dict[str, str] = {}
    sandbox_python = _sandbox_binds()[1]
    try:
        # Fund every account first, then register right after an epoch starts, so the devices'
        # first challenge epoch (the next one) begins only once every daemon is running.
        operators = []
        for (name, count, _), owner in zip(PROVIDERS, owners, strict=True):
            operator = _keystore(OUT / "agents" / name / "keys" / "operator.json")
            admin.transfer(operator.address, 10**19)
            d.token.transfer(owner, bond * count * 2, sender=admin)
            d.token.approve(d.staking, bond * count * 2, sender=owner)
            operators.append(operator)
        keeper_dir = OUT / "agents" / "keeper"
        keeper = _keystore(keeper_dir / "keys" / "operator.json")
        admin.transfer(keeper.address, 10**19)
        d.token.transfer(client, 10**24, sender=admin)
        d.token.approve(d.pool, 2**255, sender=client)
        next_start = d.staking.genesisBlock() + (d.staking.currentEpoch() + 1) * EPOCH_BLOCKS
        chain.mine(max(0, next_start - chain.blocks.head.number))
        for (name, count, cheat), owner, operator in zip(PROVIDERS, owners, operators,
                                                         strict=True):
            folder = OUT / "agents" / name
            devices = []
            for i in range(count):
                fp = f"{name}/cpu{i}".encode().ljust(32, b"\0")
                tx = d.staking.registerDevice(CLASS_ID, fp, operator.address, sender=owner)
                devices.append(int(tx.return_value))
            port = _free_port()
            gateways[name] = f"http://127.0.0.1:{port}"
            for dev in devices:  # the owner publishes where the device's gateway answers
                d.registry.setEndpoint(dev, gateways[name], sender=owner)
            if cheat:
                cheater_devices.update(devices)
            cfg = _agent_config(folder, rpc, devices, cheat, gateway_port=port)
            procs.start(name, [sys.executable, "-m", "provider_agent.cli", "run", "--config",
                               str(cfg)], folder / "agent.log")
            click.echo(f"      {name}: devices {devices}, gateway {gateways[name]}"
                       f"{'  (cheats: test only)' if cheat else ''}")
        kcfg = _agent_config(keeper_dir, rpc, [], 0.0)
        procs.start("keeper", [sys.executable, "-m", "provider_agent.cli", "verify", "--config",
                               str(kcfg)], keeper_dir / "agent.log")
        # No block is produced before every daemon is up: nobody misses a challenge at start.
        folders = {name: OUT / "agents" / name for name, _, _ in PROVIDERS}
        procs.wait_ready(folders, " started: ")
        procs.wait_ready({"keeper": keeper_dir}, "verifier 0x")
        _wait_gateways(gateways, procs)
        # From now on blocks come at a steady pace like a real chain's, whatever the daemons send
        # (with automine every transaction would mine a block and eat the challenge windows).
        w3 = chain.provider.web3
        w3.provider.make_request("evm_setAutomine", [False])
        w3.provider.make_request("evm_setIntervalMining", [block_time])
        buyer = Client(rpc, deployment, bytes(Account.from_key(client.private_key).key),
                       sandbox_python)
        rows = _run(d, cls, procs, buyer, epochs)
        click.echo("[4/4] waiting for the last jobs, checking results and receipts ...")
        buyer.finish()
    except KeyboardInterrupt:
        click.echo("interrupted: stopping agents")
        raise
    finally:
        procs.stop()

    slashes = list(d.staking.DeviceSlashed.range(deployment.deployment_block,
                                                 chain.blocks.head.number + 1))
    supply = d.token.totalSupply()
    outcomes = [j.outcome for j in buyer.jobs]
    summary = {
        "epochs": len(rows),
        "leases": sum(r.leases for r in rows),
        "burned_wei": network.genesis_supply + int(d.staking.totalMinted()) - int(supply),
        "rewards_minted_wei": int(d.staking.totalMinted()),
        "slashed_cheater": sum(1 for s in slashes if s.deviceId in cheater_devices),
        "slashed_honest": sum(1 for s in slashes if s.deviceId not in cheater_devices),
        "jobs_submitted": sum(1 for o in outcomes if o.job_id),
        "jobs_completed": sum(1 for o in outcomes if o.completed),
        "results_verified": sum(1 for o in outcomes if o.result_ok),
        "receipts_verified": sum(1 for o in outcomes if o.receipt_ok),
        "jobs": [{k: v for k, v in asdict(o).items() if k != "log_tail"} for o in outcomes],
        "per_epoch": [asdict(r) for r in rows],
        "seconds": round(time.time() - t0, 1),
    }
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    _plots(rows)
    click.echo("")
    click.echo(f"{'epoch':>5} {'R':>3} {'D':>3} {'util':>5} {'price PIN':>10} {'quote PIN':>10} "
               f"{'leases':>6} {'burned PIN':>11} {'rewards PIN':>11} {'slashes':>7}")
    for r in rows:
        quote = f"{_pin(r.quote_wei):>10.2f}" if r.quote_wei is not None else f"{'sold out':>10}"
        click.echo(f"{r.epoch:>5} {r.R:>3} {r.D:>3} {r.utilization:>5.2f} "
                   f"{_pin(r.price_wei):>10.2f} {quote} {r.leases:>6} "
                   f"{_pin(r.burned_wei):>11.2f} {_pin(r.rewards_wei):>11.2f} {r.slashes:>7}")
    click.echo("")
    for o in outcomes:
        status = (f"{o.end_reason}, exit {o.exit_code}" if o.end_reason else "not finished")
        click.echo(f"job on device {o.device_id} (lease {o.lease_id}): {status}; result "
                   f"{'checked' if o.result_ok else 'NOT checked'}, receipt "
                   f"{'verified' if o.receipt_ok else 'NOT verified'} ({o.seconds:.0f}s)"
                   + (f"  error: {o.error}" if o.error else ""))
    click.echo(f"leases {summary['leases']}, burned {summary['burned_wei'] / 1e18:,.2f} PIN, "
               f"cheater slashed {summary['slashed_cheater']}x, honest slashed "
               f"{summary['slashed_honest']}x; jobs {summary['jobs_completed']}/"
               f"{len(outcomes)} completed, {summary['results_verified']} results and "
               f"{summary['receipts_verified']} receipts verified")
    click.echo(f"wrote {OUT}/summary.json, {OUT}/price.png, {OUT}/utilization.png "
               f"in {summary['seconds']:.0f}s")
    # [E1 explorer] index what the demo did; print how to open it, or serve it (--explorer)
    from pinfi.explorer.cli import after_demo

    after_demo(chain.provider.web3, deployment, OUT, serve=explorer)


def _run(d: Any, cls: ClassParams, procs: Processes, buyer: Client,
         epochs: int) -> list[EpochRow]:
    """Produce blocks; each epoch the client leases one more free device for four epochs and
    runs a job on it. Each finished epoch is recorded from its own last block."""
    click.echo(f"[3/4] running {epochs} epochs ({EPOCH_BLOCKS} blocks each) ...")
    rows: list[EpochRow] = []
    start_epoch = d.staking.currentEpoch() + 1
    genesis = int(d.staking.genesisBlock())
    last = d.staking.currentEpoch()
    while len(rows) < epochs:
        time.sleep(0.25)
        procs.check()
        e = d.staking.currentEpoch()
        if e == last:
            continue
        # Epoch `last` just ended (its blocks are all mined): record it, then act as the client
        # in epoch `e`.
        if last >= start_epoch:
            rows.append(_row(d, cls, last, genesis))
            r = rows[-1]
            quote = f"{_pin(r.quote_wei):.2f}" if r.quote_wei is not None else "sold out"
            click.echo(f"      epoch {r.epoch}: R={r.R} D={r.D} u={r.utilization:.2f} "
                       f"price={_pin(r.price_wei):.2f} quote={quote} leases={r.leases} "
                       f"slashes={r.slashes} jobs done="
                       f"{sum(1 for j in buyer.jobs if j.outcome.completed)}")
        last = e
        if e >= start_epoch + 1 and len(rows) < epochs:
            device = _free_device(d)
            if device is not None:
                buyer.lease_and_run(device)
    return rows


def _row(d: Any, cls: ClassParams, epoch: int, genesis: int) -> EpochRow:
    """Epoch ``epoch`` as it stood at its last block: R, D, the price and quote all read there
    (the leases that end at the next boundary still count, the client's lease of the epoch is
    in), and the epoch's own blocks' leases, burns, emission and slashes."""
    first = genesis + epoch * EPOCH_BLOCKS
    last = first + EPOCH_BLOCKS - 1
    demand, supply, _ = d.pool.classState(CLASS_ID, block_id=last)
    leases = list(d.pool.LeaseOpened.range(first, last + 1))
    slashes = list(d.staking.DeviceSlashed.range(first, last + 1))
    burned = sum(x.burned for x in leases) + sum(x.burned for x in slashes)
    quote = None if demand >= supply else int(d.pool.pricePerEpoch(CLASS_ID, block_id=last))
    rewards = (int(d.staking.emittedUntil(last)) - int(d.staking.emittedUntil(first - 1))
               if supply else 0)
    util = demand / supply if supply else 0.0
    price = int(marginal_price(cls.p_floor, cls.p0, cls.alpha, util))
    return EpochRow(epoch, int(supply), int(demand), util, price, quote, len(leases),
                    int(burned), rewards, len(slashes))


def _free_device(d: Any) -> int | None:
    for device in range(1, d.staking.deviceCount() + 1):
        _, _, state = d.staking.deviceSummary(device)
        if state == DeviceState.ACTIVE and not d.pool.leaseOf(device)[5]:
            return device
    return None
