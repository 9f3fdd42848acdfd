"""The end-to-end demo behind `make demo` (`ape run demo`, `scripts/demo.py`), on a fresh local
Anvil (a developer tool: it needs Ape, click and matplotlib; the runtime never imports it).

Deploys PinFi, registers five CPU devices for three providers, starts three `provider-agent run`
daemons as separate processes (providers A and B honest, provider C cheating through the
documented test-only `cheat_fraction` switch) and one `provider-agent verify` keeper, then
produces blocks while a client leases more and more devices, so utilization and price climb.
At the end it prints a per-epoch table and writes `out/demo/summary.json` and PNG plots.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand
from eth_account import Account

from pinfi import chain as ch
from pinfi import params
from pinfi.params import ClassParams, NetworkParams
from pinfi.protocol import marginal_price
from pinfi.types import DeviceState
from pinfi_dev.deploy import deploy_protocol

OUT = Path("out/demo")
PASSWORD = "pinfi-demo"  # the demo's throw-away keystores; never reuse for real keys
CLASS_ID = 1
EPOCH_BLOCKS = 24
# Demo windows (commit + open + dispute fit one epoch), in blocks of `--block-time` seconds.
DEMO_CLASS = {"commit_window": 8, "open_window": 6, "dispute_window": 6, "challenge_bps": 5_000}
PROVIDERS = (("provider-A", 2, 0.0), ("provider-B", 2, 0.0), ("provider-C-cheater", 1, 0.5))


@dataclass
class EpochRow:
    epoch: int
    R: int
    D: int
    utilization: float
    price: float  # marginal price P(u) = pFloor + P0 u^alpha at the epoch's utilization, PIN
    quote: float  # what one more device-epoch costs (the pool's quote), NaN when sold out
    leases: int
    burned: int
    rewards: int
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


def _agent_config(folder: Path, rpc: str, devices: list[int], cheat: float) -> Path:
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


def _plots(rows: list[EpochRow]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r.epoch for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(epochs, [r.price for r in rows], marker="o", color="tab:red",
            label="marginal price P(u) = pFloor + P0 u^alpha")
    ax.plot(epochs, [r.quote for r in rows], marker="x", linestyle="--", color="tab:blue",
            label="pool quote for one more device-epoch (gaps: sold out)")
    ax.legend()
    ax.set_xlabel("epoch")
    ax.set_ylabel("PIN per device-epoch")
    ax.set_title("PinFi demo: price follows utilization")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT / "price.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.step(epochs, [r.utilization for r in rows], where="post", label="utilization D/R")
    ax.plot(epochs, [r.R for r in rows], marker="s", label="R (Active devices)")
    ax.plot(epochs, [r.D for r in rows], marker="^", label="D (leased devices)")
    ax.set_xlabel("epoch")
    ax.set_title("PinFi demo: supply, demand and utilization")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT / "utilization.png", dpi=110)
    plt.close(fig)


@click.command(cls=ConnectedProviderCommand)
@click.option("--epochs", default=8, show_default=True, help="epochs to run after registration")
@click.option("--block-time", default=1, show_default=True, help="seconds between blocks")
@click.option("--out", "out_dir", default=str(OUT), show_default=True, help="output folder")
def cli(epochs: int, block_time: int, out_dir: str) -> None:
    global OUT
    OUT = Path(out_dir)
    t0 = time.time()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    network, cls = _load_params()
    admin, client = accounts.test_accounts[0], accounts.test_accounts[4]
    owners = [accounts.test_accounts[i] for i in (1, 2, 3)]
    click.echo("[1/4] deploying PinToken, Staking, PoCPSVerifier, DissipativePool ...")
    d = deploy_protocol(project, chain, admin, network, [cls])
    deployment = ch.Deployment(chain.chain_id, d.addresses(), chain.blocks.head.number,
                               params={"network": network.to_json(), "classes": [cls.to_json()]})
    deployment.save(OUT / "deployment.json")

    click.echo("[2/4] registering devices and starting agents ...")
    rpc = chain.provider.http_uri
    procs = Processes()
    cheater_devices: set[int] = set()
    bond = cls.min_bond
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
            if cheat:
                cheater_devices.update(devices)
            cfg = _agent_config(folder, rpc, devices, cheat)
            procs.start(name, [sys.executable, "-m", "provider_agent.cli", "run", "--config",
                               str(cfg)], folder / "agent.log")
            click.echo(f"      {name}: devices {devices}{'  (cheats: test only)' if cheat else ''}")
        kcfg = _agent_config(keeper_dir, rpc, [], 0.0)
        procs.start("keeper", [sys.executable, "-m", "provider_agent.cli", "verify", "--config",
                               str(kcfg)], keeper_dir / "agent.log")
        # No block is produced before every daemon is up: nobody misses a challenge at start.
        folders = {name: OUT / "agents" / name for name, _, _ in PROVIDERS}
        procs.wait_ready(folders, " started: ")
        procs.wait_ready({"keeper": keeper_dir}, "verifier 0x")
        # From now on blocks come at a steady pace like a real chain's, whatever the daemons send
        # (with automine every transaction would mine a block and eat the challenge windows).
        w3 = chain.provider.web3
        w3.provider.make_request("evm_setAutomine", [False])
        w3.provider.make_request("evm_setIntervalMining", [block_time])
        rows = _run(d, cls, procs, client, epochs)
    except KeyboardInterrupt:
        click.echo("interrupted: stopping agents")
        raise
    finally:
        procs.stop()

    slashes = list(d.staking.DeviceSlashed.range(deployment.deployment_block,
                                                 chain.blocks.head.number + 1))
    supply = d.token.totalSupply()
    summary = {
        "epochs": len(rows),
        "leases": sum(r.leases for r in rows),
        "burned": network.genesis_supply + int(d.staking.totalMinted()) - int(supply),
        "slashed_cheater": sum(1 for s in slashes if s.deviceId in cheater_devices),
        "slashed_honest": sum(1 for s in slashes if s.deviceId not in cheater_devices),
        "rewards_minted": int(d.staking.totalMinted()),
        # JSON has no NaN: a sold-out epoch's quote is null.
        "per_epoch": [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                       for k, v in asdict(r).items()} for r in rows],
        "seconds": round(time.time() - t0, 1),
    }
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    _plots(rows)
    click.echo("")
    click.echo(f"{'epoch':>5} {'R':>3} {'D':>3} {'util':>5} {'price PIN':>10} {'quote PIN':>10} "
               f"{'leases':>6} {'burned PIN':>11} {'rewards PIN':>11} {'slashes':>7}")
    for r in rows:
        click.echo(f"{r.epoch:>5} {r.R:>3} {r.D:>3} {r.utilization:>5.2f} {r.price:>10.2f} "
                   f"{r.quote:>10.2f} {r.leases:>6} {r.burned / 1e18:>11.2f} "
                   f"{r.rewards / 1e18:>11.2f} {r.slashes:>7}")
    click.echo("")
    click.echo(f"leases {summary['leases']}, burned {summary['burned'] / 1e18:,.2f} PIN, "
               f"cheater slashed {summary['slashed_cheater']}x, honest slashed "
               f"{summary['slashed_honest']}x")
    click.echo(f"wrote {OUT}/summary.json, {OUT}/price.png, {OUT}/utilization.png "
               f"in {summary['seconds']:.0f}s")


def _run(d: Any, cls: ClassParams, procs: Processes, client: Any,
         epochs: int) -> list[EpochRow]:
    """Produce blocks; each epoch the client leases one more free device for four epochs."""
    click.echo(f"[3/4] running {epochs} epochs ({EPOCH_BLOCKS} blocks each) ...")
    rows: list[EpochRow] = []
    start_epoch = d.staking.currentEpoch() + 1
    last = d.staking.currentEpoch()
    first_block = chain.blocks.head.number
    epoch_first_block = first_block
    minted_emission = d.staking.emittedUntil(chain.blocks.head.number)
    while len(rows) < epochs:
        time.sleep(0.25)
        procs.check()
        e = d.staking.currentEpoch()
        if e == last:
            continue
        # Epoch `last` just ended: record it, then act as the client in epoch `e`.
        head = chain.blocks.head.number
        if last >= start_epoch:
            rows.append(_row(d, cls, last, epoch_first_block, head, minted_emission))
            minted_emission = d.staking.emittedUntil(head)
            r = rows[-1]
            click.echo(f"      epoch {r.epoch}: R={r.R} D={r.D} price={r.price:.2f} "
                       f"quote={r.quote:.2f} leases={r.leases} slashes={r.slashes}")
        epoch_first_block = head
        last = e
        if e >= start_epoch + 1:
            _lease_one(d, client)
    return rows


def _row(d: Any, cls: ClassParams, epoch: int, first: int, last: int,
         emitted_before: int) -> EpochRow:
    demand, supply, _ = d.pool.classState(CLASS_ID)
    leases = list(d.pool.LeaseOpened.range(first, last + 1))
    slashes = list(d.staking.DeviceSlashed.range(first, last + 1))
    burned = sum(x.burned for x in leases) + sum(x.burned for x in slashes)
    quote = float("nan") if demand >= supply else d.pool.quote(CLASS_ID, 1) / 1e18
    rewards = d.staking.emittedUntil(last) - emitted_before if supply else 0
    util = demand / supply if supply else 0.0
    price = marginal_price(cls.p_floor, cls.p0, cls.alpha, util) / 1e18
    return EpochRow(epoch, int(supply), int(demand), util, price, quote, len(leases),
                    int(burned), int(rewards), len(slashes))


def _lease_one(d: Any, client: Any) -> None:
    for device in range(1, d.staking.deviceCount() + 1):
        _, _, state = d.staking.deviceSummary(device)
        if state == DeviceState.ACTIVE and not d.pool.leaseOf(device)[5]:
            d.pool.lease(device, 4, 2**255, chain.pending_timestamp + 600,
                         b"demo-job".ljust(32, b"\0"), sender=client)
            return
