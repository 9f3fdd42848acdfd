"""Verify (keeper) mode on a real Anvil: a lazy prover is caught (by the contract or by the
keeper's dispute) and slashed, a silent device is reported (its first miss a grace miss: no bond
taken, the next epoch owed), the honest agent is untouched."""

from __future__ import annotations

from pinfi import protocol
from pinfi.types import DeviceState
from provider_agent import config as config_mod
from provider_agent import state as st
from provider_agent.context import open_context
from provider_agent.daemon import Daemon
from provider_agent.verifier import Keeper, full_paths
from tests.support import agent as ah
from tests.support.constants import MIN_BOND, TEST_CLASS

JAILED, ACTIVE, PENDING = DeviceState.JAILED, DeviceState.ACTIVE, DeviceState.PENDING


def test_full_paths_rebuild_every_opened_leaf():
    s = protocol.keccak(b"paths")
    tree = protocol.commit_root_tree(s, 64, 16, workers=1)
    picks = protocol.samples(protocol.keccak(b"bh"), tree.n_leaves, 8, 16)
    leaves, proof = protocol.build_opening(tree, picks)
    d = (tree.n_leaves // 8).bit_length() - 1
    paths = full_paths(leaves, proof, picks, 16, d)
    for q, (li, _) in enumerate(picks):
        assert paths[q] == tree.path(li)
        assert protocol.verify_path(tree.root, li, leaves[q * 64 : (q + 1) * 64], paths[q])


def _agent(tmp, name, chain, system, dep, devices, op, **extra) -> Daemon:
    d = tmp / name
    cfg = ah.write_config(d, ah.rpc_uri(chain), dep, devices, op, **extra)
    daemon = Daemon.from_config(config_mod.load(cfg))
    daemon.start(serve_metrics=False)
    return daemon


def test_cheaters_slashed_honest_untouched(chain, system, deployer, alice, bob, accounts,
                                          tmp_path):
    dep = ah.write_deployment(tmp_path / "deployment.json", system, chain)
    carol, dave = accounts[5], accounts[6]
    ops = {name: ah.make_key(tmp_path / name, "operator", deployer)
           for name in ("honest", "lazy", "liar", "silent")}
    kkey = ah.make_key(tmp_path / "keeper", "keeper", deployer)
    for owner in (alice, bob, carol, dave):  # fund the owners before the epoch starts
        system.token.transfer(owner, MIN_BOND, sender=deployer)
    # register all four in one epoch (they owe challenges from the next one)
    ah.goto_block(chain, system.staking.genesisBlock() + (system.staking.currentEpoch() + 1) * 20)
    honest = ah.register(system, alice, ops["honest"].address)
    lazy = ah.register(system, bob, ops["lazy"].address)  # computes half of C
    liar = ah.register(system, carol, ops["liar"].address)  # computes none of it
    silent = ah.register(system, dave, ops["silent"].address)  # its agent is down
    agents = [
        _agent(tmp_path, "honest", chain, system, dep, [honest], ops["honest"]),
        _agent(tmp_path, "lazy", chain, system, dep, [lazy], ops["lazy"], cheat_fraction=0.5),
        _agent(tmp_path, "liar", chain, system, dep, [liar], ops["liar"], cheat_fraction=1.0),
    ]
    kcfg = ah.write_config(tmp_path / "keeper", ah.rpc_uri(chain), dep, [], kkey, verifier=kkey)
    kctx = open_context(config_mod.load(kcfg), "verifier", journal_name="verifier.db")
    keeper = Keeper(kctx)
    keeper.start()
    start_block = chain.blocks.head.number
    e = system.staking.currentEpoch() + 1
    assert all(dev_.since == e for dev_ in map(system.staking.getDevice,
                                               (honest, lazy, liar, silent)))
    end = system.staking.genesisBlock() + (e + 1) * 20 + 2  # through the next epoch's start
    while chain.blocks.head.number < end:
        chain.mine(1)
        for a in agents:
            a.step()
        keeper.step()

    dev = system.staking.getDevice
    fraud = TEST_CLASS["fraudSlashBps"] * MIN_BOND // 10_000
    miss = TEST_CLASS["missSlashBps"] * MIN_BOND // 10_000
    assert dev(honest).state == ACTIVE and dev(honest).bond == MIN_BOND
    assert dev(lazy).state == JAILED and dev(lazy).bond == MIN_BOND - fraud
    assert dev(liar).state == JAILED and dev(liar).bond == MIN_BOND - fraud
    # a first missed commit is a grace miss: no bond, no jail, the next epoch owed
    # (docs/protocol.md#pocps-transactions)
    assert dev(silent).state == PENDING and dev(silent).bond == MIN_BOND
    assert miss > 0

    v = kctx.c.verifier
    proven = v.events.FraudProven.get_logs(from_block=start_block)
    frauds = {int(x["args"]["deviceId"]): x["args"]["reporter"] for x in proven}
    stratum = {int(x["args"]["deviceId"]): int(x["args"]["q"]) for x in proven}
    assert stratum[lazy] >= TEST_CLASS["k"] // 2  # its wrong half (the last rows of C)
    # the lazy prover computed half of C: the contract catches it when a checked stratum
    # (drawn from the sample seed) falls in the wrong half, the keeper's dispute otherwise
    assert frauds[lazy] in (kkey.address, "0x" + "00" * 20)
    assert int(frauds[liar], 16) == 0  # caught by the contract at open (every stratum wrong)
    assert honest not in frauds
    disputed = sum(1 for r in frauds.values() if r == kkey.address)
    assert v.events.MissReported.get_logs(from_block=start_block) == []
    graces = {int(x["args"]["deviceId"]): x["args"]["reporter"]
              for x in v.events.GraceMiss.get_logs(from_block=start_block)}
    assert graces == {silent: kkey.address}
    assert v.functions.owedEpochPlusOne(silent).call() == e + 2  # must open in e + 1
    # the keeper earned the bounties of its disputes (a grace miss pays none)
    assert system.token.balanceOf(kkey.address) == disputed * fraud * 1_000 // 10_000
    assert agents[0].ctx.journal.get_proof(honest, e).state == st.DONE
    assert agents[1].ctx.journal.get_proof(lazy, e).state == st.FAILED
    assert agents[2].ctx.journal.get_proof(liar, e).state == st.FAILED
    m = kctx.metrics.registry.get_sample_value
    assert (m("pinfi_verifier_disputes_total", {"result": "mined"}) or 0) == disputed
    assert m("pinfi_verifier_missed_reports_total", {"result": "mined"}) == 1
