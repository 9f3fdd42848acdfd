"""The index equals the contracts' views after a scripted scenario; a reorg and a stop/restart
mid-sync end equal to a fresh sync (docs/explorer.md#indexer)."""

from __future__ import annotations

from pinfi import chain as ch
from pinfi.explorer import figures as fg
from pinfi.explorer.db import open_db
from pinfi.explorer.indexer import Indexer
from pinfi.types import DeviceState, ProofStatus
from tests.explorer.conftest import lease
from tests.explorer.support import dump
from tests.support import pocps
from tests.support.constants import CLASS_ID


def fresh(w3, dep, path, **kw) -> tuple[Indexer, object]:
    db = open_db(path)
    ix = Indexer(w3, dep, db, **kw)
    ix.sync()
    return ix, db


def test_figures_equal_views(w3, scenario, tmp_path):
    s, sysm = scenario, scenario.system
    ix, db = fresh(w3, s.deployment, tmp_path / "a.sqlite")
    block = ix.cursor
    assert block == w3.eth.block_number and ix.lag == 0
    st = fg.status(db)
    assert st["lag"] == 0 and st["indexed_block"] == block
    now = int(sysm.staking.currentEpoch())
    assert st["epoch"] == now

    devices = {d["device_id"]: d for d in fg.devices(db, uptime_epochs=1000)}
    assert sorted(devices) == sorted([*s.active, s.missed, s.fraud])
    statuses = fg.proof_statuses(db)
    for d, row in devices.items():
        dev = sysm.staking.getDevice(d)
        assert row["state"] == DeviceState(dev.state).label
        assert (row["owner"], row["class_id"], row["operator"], int(row["bond"])) == (
            dev.owner, dev.classId, dev.operator, dev.bond)
        assert int(row["earned"]) == sysm.staking.earned(d)
        assert int(row["claimable"]) == sysm.pool.claimable(d)
        url, _, _ = sysm.registry.endpointOf(d)
        assert row["endpoint"] == url
        passed = 0
        for e in range(now + 1):
            view = ProofStatus(sysm.verifier.proofStatus(d, e))
            assert statuses.get(d, {}).get(e, ProofStatus.NONE) == view, (d, e)
            passed += view == ProofStatus.OPENED
        assert row["proofs_passed"] == passed
        # the current lease equals leaseOf
        lv = sysm.pool.leaseOf(d)
        mine = [x for x in fg.leases(db, d)]
        assert row["leases_served"] == lv.nonce == len(mine)
        if lv.nonce:
            last = mine[0]
            assert int(last["lease_id"]) == sysm.pool.currentLeaseId(d)
            assert (last["client"], last["start_epoch"], last["end_epoch"], last["live"]) == (
                lv.client, lv.start, lv.end, lv.live)
    assert devices[s.active[0]]["endpoint"] == "http://127.0.0.1:9100"
    # a device's first missed commit is a grace miss: counted, no bond taken
    # (docs/protocol.md#stuffing-and-bounties)
    assert devices[s.missed]["proofs_missed"] == 1 and devices[s.missed]["slashes"] == 0
    assert devices[s.fraud]["frauds"] == 1 and devices[s.fraud]["slashes"] == 1
    assert devices[s.fraud]["state"] == DeviceState.JAILED.label
    # reliability: the miss and the fraud count against uptime, passes for it
    assert devices[s.missed]["reliability"]["uptime"] == 0.0
    assert devices[s.active[0]]["reliability"]["uptime"] == 1.0
    terminated = fg.lease(db, s.leases[1])
    assert terminated["status"] == "terminated" and int(terminated["fee"]) > 0

    # classes now: R, D, utilization, price, quote at the indexed block
    (c,) = fg.classes(db)
    demand, supply, _ = sysm.pool.classState(CLASS_ID)
    assert (int(c["demand"]), int(c["supply"])) == (demand, supply)
    assert int(c["utilization_wad"]) == sysm.pool.utilization(CLASS_ID)
    assert c["utilization"] == demand / supply
    assert int(c["price"]) == sysm.pool.pricePerEpoch(CLASS_ID, block_id=c["block"])
    # the quote bills the current epoch pro rata: equal in the block it was read in
    assert int(c["quote"]) == sysm.pool.quote(CLASS_ID, c["quote_epochs"], block_id=c["block"])
    assert c["active"] == sysm.staking.activeCount(CLASS_ID)
    # per-epoch snapshots equal the views at each epoch's last block
    epochs = fg.class_epochs(db, CLASS_ID)
    assert len(epochs) >= 5
    pool = ch.load_contracts(w3, s.deployment).pool
    for p in epochs:
        blk = p["block"]
        demand, supply, _ = ch.call(pool.functions.classState(CLASS_ID), blk)
        assert (int(p["demand"]), int(p["supply"])) == (demand, supply)
        assert int(p["utilization_wad"]) == ch.call(pool.functions.utilization(CLASS_ID), blk)
        assert p["price"] is None or int(p["price"]) == ch.call(
            pool.functions.pricePerEpoch(CLASS_ID), blk)
    # burn vs emission: the token's supply and the staking's mints
    be = fg.burn_emission(db)
    assert int(be["supply"]) == sysm.token.totalSupply()
    assert int(be["minted"]) == sysm.staking.totalMinted()
    assert int(be["burned"]) > 0


def _chain_moves(chain, system, bob, device: int, epochs: int) -> None:
    lease(system, device, epochs, bob)
    chain.mine(2)


def test_reorg_equals_fresh_sync(chain, w3, scenario, bob, tmp_path):
    s = scenario
    ix, db = fresh(w3, s.deployment, tmp_path / "reorg.sqlite")
    snap = chain.snapshot()
    free = s.active[0]  # its lease ended in the scenario? lease whichever is free
    free = next(d for d in s.active if not s.system.pool.leaseOf(d).live)
    _chain_moves(chain, s.system, bob, free, 2)
    ix.sync()
    before = ix.cursor
    assert db.scalar("SELECT COUNT(*) FROM events WHERE block_number > ?",
                     (before - 3,)) > 0
    chain.restore(snap)
    chain.mine(1)
    _chain_moves(chain, s.system, bob, free, 5)  # another history, longer than the first
    chain.mine(2)
    assert w3.eth.block_number > before
    ix.sync()
    assert ix.cursor == w3.eth.block_number
    _, db2 = fresh(w3, s.deployment, tmp_path / "fresh.sqlite")
    assert dump(db) == dump(db2)
    (lease_row,) = [x for x in fg.leases(db, free) if x["live"]]
    assert lease_row["end_epoch"] - lease_row["start_epoch"] == 5


def test_restart_mid_sync_equals_fresh(w3, scenario, tmp_path):
    s = scenario
    path = tmp_path / "restart.sqlite"
    db = open_db(path)
    ix = Indexer(w3, s.deployment, db, max_scan=7)
    ix.sync(max_chunks=3)
    assert ix.cursor == s.deployment.deployment_block - 1 + 21
    assert 0 < ix.cursor < w3.eth.block_number and ix.lag > 0
    db.close()
    db = open_db(path)  # a new process: nothing but the file
    ix = Indexer(w3, s.deployment, db, max_scan=7)
    ix.sync()
    _, db2 = fresh(w3, s.deployment, tmp_path / "fresh.sqlite")
    assert dump(db) == dump(db2)


def test_moves_on_with_the_chain(chain, w3, scenario, alice, operator, tmp_path):
    """A sync after new blocks adds only them; proofs of a new epoch show up."""
    s = scenario
    ix, db = fresh(w3, s.deployment, tmp_path / "live.sqlite")
    n = db.scalar("SELECT COUNT(*) FROM events")
    d = pocps.register(s.system, alice, operator)
    pocps.next_epoch(chain, s.system)
    pocps.prove(chain, s.system, d, operator)
    ix.sync()
    assert db.scalar("SELECT COUNT(*) FROM events") > n
    assert fg.device(db, d)["proofs_passed"] == 1
