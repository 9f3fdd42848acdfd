"""The PostgreSQL backend: the same index as SQLite, reorg rollback and resume included."""

from __future__ import annotations

from pinfi.explorer import figures as fg
from pinfi.explorer.db import open_db
from pinfi.explorer.indexer import Indexer
from tests.explorer.support import dump


def test_postgres_equals_sqlite(w3, scenario, pg_server, tmp_path):
    s = scenario
    url = pg_server.create_db("explorer_test")
    pg = open_db(url)
    assert pg.postgres
    ix = Indexer(w3, s.deployment, pg, max_scan=50)
    ix.sync(max_chunks=1)  # stop mid-sync, then resume in a new connection
    pg.close()
    pg = open_db(url)
    Indexer(w3, s.deployment, pg, max_scan=50).sync()
    lite = open_db(tmp_path / "lite.sqlite")
    Indexer(w3, s.deployment, lite).sync()
    assert dump(pg) == dump(lite)
    assert fg.devices(pg) == fg.devices(lite)
    assert fg.burn_emission(pg) == fg.burn_emission(lite)
    assert fg.classes(pg) == fg.classes(lite)
    # a rollback (what a reorg does) and a re-read give the same rows again
    ix = Indexer(w3, s.deployment, pg)
    ix.rollback(ix.cursor - 30)
    ix.sync()
    assert dump(pg) == dump(lite)
    pg.close()
