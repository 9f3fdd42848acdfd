"""Restart safety on a real Anvil: SIGKILL at every step of a proof, and an RPC outage.

The subprocess test runs ``provider-agent run`` against a chain mined at a steady pace and kills
it (the test-only crash points SIGKILL the agent from inside, at exact steps) after computing,
before the commit is broadcast, after committing, before the opening is broadcast and after
opening; each restart must finish the same epoch's proof in its windows, sending each
transaction exactly once. The miner pauses while an agent process starts up (a restart takes
seconds of a 12 s block on a real chain; on a loaded CI machine it takes as long as the whole
test window).
"""

from __future__ import annotations

import signal
import time

from pinfi.types import DeviceState, ProofStatus
from provider_agent import config as config_mod
from provider_agent import state as st
from provider_agent.daemon import Daemon
from provider_agent.prover import CRASH_ENV
from provider_agent.state import Journal
from tests.support import agent as ah

COMMITTED, OPENED = ProofStatus.COMMITTED, ProofStatus.OPENED


def _calls_from(w3, sender: str, start: int, end: int) -> list[tuple[str, bytes, int]]:
    out = []
    for b in range(start, end + 1):
        blk = w3.eth.get_block(b, full_transactions=True)
        for tx in blk["transactions"]:
            if tx["from"].lower() == sender.lower():
                rc = w3.eth.get_transaction_receipt(tx["hash"])
                out.append((tx["to"], bytes(tx["input"])[:4], int(rc["status"])))
    return out


def _log_tail(path, n=30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def test_sigkill_at_every_step_resumes_without_double_submit(chain, project, deployer, alice,
                                                             tmp_path):
    system = ah.deploy(project, chain, deployer, ah.ROOMY_CLASS, ah.ROOMY_EPOCH_BLOCKS)
    op = ah.make_key(tmp_path, "operator", deployer)
    dev = ah.register(system, alice, op.address)
    dep = ah.write_deployment(tmp_path / "deployment.json", system, chain)
    cfg = ah.write_config(tmp_path, ah.rpc_uri(chain), dep, [dev], op, poll_interval=0.1)
    journal = Journal(tmp_path / "data" / "agent.db")
    e = system.staking.currentEpoch() + 1
    start = system.staking.genesisBlock() + e * ah.ROOMY_EPOCH_BLOCKS
    ah.goto_block(chain, start - 3)
    miner = ah.Miner(ah.rpc_uri(chain), 0.2)
    miner.paused.set()
    miner.start()
    log = tmp_path / "agent.log"
    expect = {
        "computed": lambda row, s: row.state == st.COMPUTED and s == 0,
        "commit_sent": lambda row, s: row.state == st.COMMIT_SENT and s == 0,
        "committed": lambda row, s: row.state == st.COMMITTED and s == COMMITTED,
        "open_sent": lambda row, s: row.state == st.OPEN_SENT and s == COMMITTED,
        "opened": lambda row, s: row.state == st.OPENED and s == OPENED,
    }
    try:
        for point, check in expect.items():
            mark = log.stat().st_size if log.exists() else 0
            p = ah.spawn_agent(cfg, log, env={CRASH_ENV: point})
            ah.wait_for(lambda m=mark, p=p: p.poll() is not None or "started" in
                        log.read_bytes()[m:].decode(errors="replace"), 120, what="agent start")
            miner.paused.clear()
            try:
                rc = p.wait(timeout=120)
            finally:
                miner.paused.set()
            assert rc == -signal.SIGKILL, f"{point}: exit {rc}\n{_log_tail(log)}"
            row = journal.get_proof(dev, e)
            status = system.verifier.proofStatus(dev, e)
            assert row is not None and check(row, status), (point, row, status, _log_tail(log))
        # Final run: no crash; the epoch's proof finishes and the daemon keeps going.
        p = ah.spawn_agent(cfg, log)
        try:
            miner.paused.clear()
            ah.wait_for(lambda: (journal.get_proof(dev, e) or st.ProofRow(0, 0, "")).state
                        == st.DONE, 120, what="proof DONE")
        finally:
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=60) == 0, _log_tail(log)
            miner.paused.set()
    finally:
        miner.stop()
    head = chain.blocks.head.number
    commit_deadline = start + ah.ROOMY_CLASS["commitWindow"]
    row = journal.get_proof(dev, e)
    assert row.commit_block < commit_deadline
    # PoCPS v2: openings start after the commit deadline
    assert commit_deadline < row.open_block <= commit_deadline + ah.ROOMY_CLASS["openWindow"]
    assert system.verifier.proofStatus(dev, e) == OPENED
    assert system.staking.getDevice(dev).state == DeviceState.ACTIVE
    # Every transaction of the operator: one checkpoint at most, exactly one commit and one open
    # for the epoch, none reverted.
    w3 = chain.provider.web3
    calls = _calls_from(w3, op.address, start - 2, head)
    sel = {name: bytes.fromhex(w3.keccak(text=sig).hex().removeprefix("0x")[:8])
           for name, sig in (("commit", "commit(uint256,uint256,bytes32)"),
                             ("open", "open(uint256,uint256,bytes,bytes32[])"))}
    assert all(status == 1 for _, _, status in calls), calls
    assert sum(1 for _, s, _ in calls if s == sel["commit"]) == 1, calls
    assert sum(1 for _, s, _ in calls if s == sel["open"]) == 1, calls
    text = log.read_text(errors="replace")
    assert text.count("TEST crash point") == 5


def test_rpc_outage_no_missed_challenge(chain, project, deployer, alice, tmp_path):
    system = ah.deploy(project, chain, deployer, ah.ROOMY_CLASS, ah.ROOMY_EPOCH_BLOCKS)
    op = ah.make_key(tmp_path, "operator", deployer)
    dev = ah.register(system, alice, op.address)
    dep = ah.write_deployment(tmp_path / "deployment.json", system, chain)
    proxy = ah.RpcProxy(ah.rpc_uri(chain))
    try:
        cfg = ah.write_config(tmp_path, proxy.url, dep, [dev], op)
        d = Daemon.from_config(config_mod.load(cfg))
        d.start(serve_metrics=False)
        genesis, eb = system.staking.genesisBlock(), ah.ROOMY_EPOCH_BLOCKS

        def goto_epoch() -> int:
            e = system.staking.currentEpoch() + 1
            ah.goto_block(chain, genesis + e * eb + 1)
            return e

        def outage(blocks: int) -> None:
            proxy.down()
            for _ in range(blocks):
                chain.mine(1)
                assert d.step() is False
            proxy.up()

        def row(e):
            return d.ctx.journal.get_proof(dev, e)

        def until_opened(e: int) -> None:
            """Step block by block until the opening of ``e`` is on chain (it comes after the
            commit deadline, PoCPS v2), at most through the open window."""
            last = genesis + e * eb + ah.ROOMY_CLASS["commitWindow"] \
                + ah.ROOMY_CLASS["openWindow"]
            while system.verifier.proofStatus(dev, e) != OPENED and \
                    chain.blocks.head.number <= last:
                d.step()
                chain.mine(1)
            assert system.verifier.proofStatus(dev, e) == OPENED, row(e)

        # 1. The endpoint disappears at the epoch start, for 8 blocks of a 40-block window.
        e1 = goto_epoch()
        outage(8)
        for _ in range(4):
            d.step()
            chain.mine(1)
        assert system.verifier.proofStatus(dev, e1) == COMMITTED, row(e1)
        until_opened(e1)

        # 2. Broadcasts fail (HTTP 502 on eth_sendRawTransaction) while the node is up: the
        #    journaled commit is rebroadcast when sends work again; no second commit.
        e2 = goto_epoch()
        proxy.drop_sends = True
        for _ in range(3):
            d.step()
            chain.mine(1)
        assert row(e2).state == st.COMMIT_SENT
        assert system.verifier.proofStatus(dev, e2) == 0
        proxy.drop_sends = False
        for _ in range(4):
            d.step()
            chain.mine(1)
        assert system.verifier.proofStatus(dev, e2) == COMMITTED, row(e2)
        until_opened(e2)
        assert len(d.ctx.journal.get_tx(f"commit:{dev}:{e2}").hashes) == 1

        # 3. Outage at the start of the open window (8 blocks of a 40-block open window).
        e3 = goto_epoch()
        for _ in range(20):
            d.step()
            if row(e3) is not None and row(e3).state == st.COMMITTED:
                break
        assert row(e3).state == st.COMMITTED, row(e3)
        ah.goto_block(chain, genesis + e3 * eb + ah.ROOMY_CLASS["commitWindow"])
        outage(8)
        until_opened(e3)
        assert system.staking.getDevice(dev).bond == ah.TEST_CLASS_FULL["minBond"]
        assert d.ctx.metrics.registry.get_sample_value("pinfi_rpc_errors_total") >= 16
    finally:
        proxy.close()
        time.sleep(0)


def test_reorg_moves_the_commit_block(chain, project, deployer, alice, tmp_path):
    """The commit's block is reorged away (evm_revert to before it, a branch of 3 blocks without
    it): the agent sees the record gone, rebroadcasts the same journaled commit (same nonce and
    hash: never a second commit) and opens with the samples of the new commit block."""
    system = ah.deploy(project, chain, deployer, ah.ROOMY_CLASS, ah.ROOMY_EPOCH_BLOCKS)
    op = ah.make_key(tmp_path, "operator", deployer)
    dev = ah.register(system, alice, op.address)
    dep = ah.write_deployment(tmp_path / "deployment.json", system, chain)
    cfg = ah.write_config(tmp_path, ah.rpc_uri(chain), dep, [dev], op)
    d = Daemon.from_config(config_mod.load(cfg))
    d.start(serve_metrics=False)
    w3 = d.ctx.w3
    e = system.staking.currentEpoch() + 1
    ah.goto_block(chain, system.staking.genesisBlock() + e * ah.ROOMY_EPOCH_BLOCKS + 1)
    # A keeper stores the seed first, so the reorg below removes the commit's block alone (the
    # next test drops an earlier operator transaction too).
    system.verifier.checkpoint(sender=deployer)
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    d.step()  # checkpoint, compute, commit (automined)
    row = d.ctx.journal.get_proof(dev, e)
    assert row.state == st.COMMITTED, row
    first_block = row.commit_block
    first_hash = w3.eth.get_block(first_block)["hash"]
    w3.provider.make_request("evm_revert", [snap])
    # The other branch does not carry the commit (dropped from the pool): 3 empty blocks.
    w3.provider.make_request("anvil_dropTransaction",
                             [d.ctx.journal.get_tx(f"commit:{dev}:{e}").hash])
    for _ in range(3):
        w3.provider.make_request("evm_mine", [])
    assert system.verifier.proofStatus(dev, e) == 0
    for _ in range(6):
        d.step()
        w3.provider.make_request("evm_mine", [])
    assert system.verifier.proofStatus(dev, e) == COMMITTED  # the commit again
    # openings start after the commit deadline (PoCPS v2)
    last = system.staking.genesisBlock() + e * ah.ROOMY_EPOCH_BLOCKS \
        + ah.ROOMY_CLASS["commitWindow"] + ah.ROOMY_CLASS["openWindow"]
    while system.verifier.proofStatus(dev, e) != OPENED and w3.eth.block_number <= last:
        d.step()
        w3.provider.make_request("evm_mine", [])
    assert system.verifier.proofStatus(dev, e) == OPENED
    row = d.ctx.journal.get_proof(dev, e)
    rec = system.verifier.record(dev, e)
    assert rec.commitBlock == row.commit_block
    assert (row.commit_block, w3.eth.get_block(row.commit_block)["hash"]) != (first_block,
                                                                               first_hash)
    commit = d.ctx.journal.get_tx(f"commit:{dev}:{e}")
    assert commit.status == "mined" and len(set(commit.hashes)) == 1


def test_reorg_dropping_an_earlier_tx_leaves_no_nonce_gap(chain, project, deployer, alice,
                                                          tmp_path):
    """A reorg drops the operator's checkpoint (nonce N) and its commit (N + 1), both already
    recorded mined: the agent rebroadcasts both in nonce order (resending only the commit
    would leave it stuck behind the missing nonce N until the window closes)."""
    system = ah.deploy(project, chain, deployer, ah.ROOMY_CLASS, ah.ROOMY_EPOCH_BLOCKS)
    op = ah.make_key(tmp_path, "operator", deployer)
    dev = ah.register(system, alice, op.address)
    dep = ah.write_deployment(tmp_path / "deployment.json", system, chain)
    cfg = ah.write_config(tmp_path, ah.rpc_uri(chain), dep, [dev], op, confirmations=1)
    d = Daemon.from_config(config_mod.load(cfg))
    d.start(serve_metrics=False)
    w3 = d.ctx.w3
    e = system.staking.currentEpoch() + 1
    start = system.staking.genesisBlock() + e * ah.ROOMY_EPOCH_BLOCKS
    ah.goto_block(chain, start + 1)  # the head is the epoch's first block: its seed is known
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    def recorded() -> bool:  # both transactions recorded mined in the journal
        txs = [d.ctx.journal.get_tx(k) for k in (f"checkpoint:{e}", f"commit:{dev}:{e}")]
        return all(t is not None and t.status == "mined" for t in txs)

    for _ in range(12):  # checkpoint (nonce N), then the commit (N + 1), each 1 block deep
        d.step()
        row = d.ctx.journal.get_proof(dev, e)
        if recorded():
            break
        w3.provider.make_request("evm_mine", [])
    assert row.state in (st.COMMITTED, st.OPEN_SENT, st.OPENED), row
    checkpoint = d.ctx.journal.get_tx(f"checkpoint:{e}")
    commit = d.ctx.journal.get_tx(f"commit:{dev}:{e}")
    assert checkpoint.status == "mined" and commit.status == "mined"
    assert commit.nonce == checkpoint.nonce + 1
    w3.provider.make_request("evm_revert", [snap])
    for tx in d.ctx.journal.txs_for(""):  # the branch carries none of them (the opening too)
        if tx.nonce >= checkpoint.nonce:
            w3.provider.make_request("anvil_dropTransaction", [tx.hash])
    for _ in range(3):
        w3.provider.make_request("evm_mine", [])
    assert w3.eth.get_transaction_count(op.address) == checkpoint.nonce
    # openings start after the commit deadline (PoCPS v2): step through the open window
    last = start + ah.ROOMY_CLASS["commitWindow"] + ah.ROOMY_CLASS["openWindow"]
    while w3.eth.block_number <= last:
        d.step()
        if system.verifier.proofStatus(dev, e) == OPENED:
            break
        w3.provider.make_request("evm_mine", [])
    assert system.verifier.proofStatus(dev, e) == OPENED, d.ctx.journal.get_proof(dev, e)
    assert d.ctx.journal.get_tx(f"checkpoint:{e}").status == "mined"
    assert len(set(d.ctx.journal.get_tx(f"commit:{dev}:{e}").hashes)) == 1
