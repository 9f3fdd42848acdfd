"""The agent's daemon in-process on a real Anvil: an honest agent commits every epoch and passes
every challenge it is drawn for (PoCPS v2, docs/protocol.md#selection)."""

from __future__ import annotations

from pinfi.types import DeviceState, ProofStatus
from provider_agent import config as config_mod
from provider_agent import state as st
from provider_agent.context import open_context
from provider_agent.daemon import Daemon
from provider_agent.verifier import Keeper
from tests.support import agent as ah
from tests.support.constants import EPOCH_BLOCKS, MIN_BOND

OPENED, COMMITTED = ProofStatus.OPENED, ProofStatus.COMMITTED


def _daemon(tmp_path, chain, system, devices, operator, **extra) -> Daemon:
    dep = ah.write_deployment(tmp_path / "deployment.json", system, chain)
    cfg = ah.write_config(tmp_path, ah.rpc_uri(chain), dep, devices, operator, **extra)
    d = Daemon.from_config(config_mod.load(cfg))
    d.start(serve_metrics=False)
    return d


def _metric(d: Daemon, name: str, **labels: str) -> float:
    v = d.ctx.metrics.registry.get_sample_value(name, labels)
    return 0.0 if v is None else v


def test_honest_agent_20_epochs(chain, system, deployer, alice, tmp_path):
    """At ``challengeBps`` 5,000 about half of the commitments are not drawn: the agent commits
    every epoch, opens exactly the drawn ones, and a keeper watching it never reports it."""
    op = ah.make_key(tmp_path, "operator", deployer)
    dev = ah.register(system, alice, op.address)
    d = _daemon(tmp_path, chain, system, [dev], op)
    kkey = ah.make_key(tmp_path / "keeper", "keeper", deployer)
    dep = ah.write_deployment(tmp_path / "keeper" / "deployment.json", system, chain)
    kcfg = ah.write_config(tmp_path / "keeper", ah.rpc_uri(chain), dep, [], kkey, verifier=kkey)
    keeper = Keeper(open_context(config_mod.load(kcfg), "verifier", journal_name="verifier.db"))
    keeper.start()
    start_block = chain.blocks.head.number
    st_, v = system.staking, system.verifier
    first = st_.currentEpoch() + 1
    last = first + 20
    checked: dict[int, bool] = {}
    states = []
    while True:
        chain.mine(1)
        d.step()
        keeper.step()
        e = st_.currentEpoch()
        prev = e - 1
        if prev >= first and prev not in checked:
            row = d.ctx.journal.get_proof(dev, prev)
            assert row is not None, f"no journal row for epoch {prev}"
            selected = row.state != st.NOT_DRAWN
            checked[prev] = selected
            if prev > first:  # the contract agrees (Active: sampled, drawn after the deadline)
                assert bool(v.mustOpen(dev, prev)) == selected, (prev, row)
            # the record of epoch e is recycled at e+2: check it now
            if selected:
                assert v.proofStatus(dev, prev) == OPENED, (prev, row)
                assert row.state in (st.OPENED, st.DONE), row
            else:  # committed, not drawn: present
                assert v.proofStatus(dev, prev) == COMMITTED, (prev, row)
            states.append(st_.getDevice(dev).state)
        if e >= last:
            break
    assert len(checked) == 20
    for ev in (v.MissReported, v.GraceMiss, v.FraudProven):  # the keeper found nothing to report
        assert list(ev.range(start_block, chain.blocks.head.number + 1)) == [], ev
    n_sel = sum(checked.values())
    assert checked[first] is True  # Pending: always challenged
    assert 1 < n_sel < 20  # Active: sampled at 50%
    assert all(s == DeviceState.ACTIVE for s in states)  # Pending -> Active after epoch 1
    dd = st_.getDevice(dev)
    assert dd.bond == MIN_BOND  # never slashed
    assert st_.earned(dev) > 0  # rewards accrue
    assert _metric(d, "pinfi_challenges_passed_total", device=str(dev)) == n_sel
    cur = d.ctx.journal.get_proof(dev, last)  # the epoch just started owes a commit too
    extra = 1 if cur is not None and cur.state != st.EXEMPT else 0
    assert _metric(d, "pinfi_challenges_selected_total", device=str(dev)) == 20 + extra
    assert _metric(d, "pinfi_gas_used_total", kind="commit") > 0
    assert d.ctx.metrics.registry.get_sample_value(
        "pinfi_challenges_failed_total", {"device": str(dev), "reason": "late"}) is None
    # exactly one commit every epoch and one open per drawn epoch, never a second one
    for e, sel in checked.items():
        commits = [t for t in d.ctx.journal.txs_for(f"commit:{dev}:{e}")
                   if t.key == f"commit:{dev}:{e}"]
        opens = d.ctx.journal.txs_for(f"open:{dev}:{e}:")
        assert len(commits) == 1 and len(opens) == (1 if sel else 0), e
        assert all(t.status == "mined" and len(t.hashes) == 1 for t in commits + opens)
    chain.mine(1)
    d.step()  # the last step may have sent a checkpoint: its receipt is swept now
    assert d.ctx.journal.pending_txs(d.ctx.address) == []
    assert EPOCH_BLOCKS == 20


def test_devices_of_one_host_are_computed_in_parallel(chain, system, deployer, alice, bob,
                                                      tmp_path):
    """Two selected devices on one backend are computed at the same time (a worker pool per
    backend), so a host with several devices proves them all within the window."""
    import threading
    import time

    from provider_agent.backends import CpuBackend
    from provider_agent.context import open_context

    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    class Slow(CpuBackend):
        def product(self, s, n, progress=None):
            t0 = time.monotonic()
            time.sleep(1.0)  # a big product
            out = super().product(s, n, progress)
            with lock:
                spans.append((t0, time.monotonic()))
            return out

    slow = Slow()
    op = ah.make_key(tmp_path, "operator", deployer)
    devs = [ah.register(system, owner, op.address) for owner in (alice, bob)]
    dep = ah.write_deployment(tmp_path / "deployment.json", system, chain)
    cfg = ah.write_config(tmp_path, ah.rpc_uri(chain), dep, devs, op)
    d = Daemon(open_context(config_mod.load(cfg)), backend_for=lambda _dev: slow)
    d.start(serve_metrics=False)
    spans.clear()
    e = system.staking.currentEpoch() + 1
    ah.goto_block(chain, system.staking.genesisBlock() + e * EPOCH_BLOCKS + 1)
    d.step()
    rows = [d.ctx.journal.get_proof(dev, e) for dev in devs]
    assert all(r is not None and r.state in (st.COMMITTED, st.COMMIT_SENT, st.OPENED)
               for r in rows), rows
    assert len(spans) == 2
    (_, a1), (b0, _) = sorted(spans)
    assert b0 < a1, f"computations did not overlap: {spans}"


def test_config_file_devices_reloaded_while_running(chain, system, deployer, alice, tmp_path):
    """With chain discovery off, a device appended to the config file (as ``register`` does) is
    proved by the running daemon; a config that stops loading keeps the old devices."""
    op = ah.make_key(tmp_path, "operator", deployer)
    first = ah.register(system, alice, op.address)
    d = _daemon(tmp_path, chain, system, [first], op, discover_devices=False)
    d.step()
    late = ah.register(system, alice, op.address)
    d.step()
    assert d.devices.current() == [first]  # not in the file, discovery off
    cfg = d.cfg.path
    config_mod.set_devices(cfg, [first, late])
    d.step()
    assert d.devices.current() == [first, late]
    good = cfg.read_text()
    cfg.write_text(good + "\n[jobs]\ncommand = \"job {leaseid}\"\n")
    d.step()
    assert d.devices.current() == [first, late]
    e = system.staking.currentEpoch() + 1
    ah.goto_block(chain, system.staking.genesisBlock() + e * EPOCH_BLOCKS + 1)
    for _ in range(EPOCH_BLOCKS):
        d.step()
        chain.mine(1)
        if system.verifier.proofStatus(late, e) == OPENED:
            break
    assert system.verifier.proofStatus(late, e) == OPENED
