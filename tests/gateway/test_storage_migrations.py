"""The gateway's database opens whatever release made it: each schema version
is applied once, in its own transaction, and data already stored is kept."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import one_line_error

from gateway.records import Node
from gateway.storage import migrations
from gateway.storage.database import Database
from gateway.storage.migrations import LATEST, SchemaError
from gateway.storage.store import Store

# The schema as the release before schema versions left it: every table, the
# nodes' addr and key columns, and user_version 0.
UNVERSIONED = """
CREATE TABLE nodes (node_id TEXT PRIMARY KEY, role TEXT NOT NULL, lat REAL NOT NULL,
    lon REAL NOT NULL, kind TEXT NOT NULL DEFAULT '', registered_at REAL NOT NULL,
    addr INTEGER, key TEXT);
CREATE TABLE bin_reports (id INTEGER PRIMARY KEY, node_id TEXT NOT NULL REFERENCES nodes(node_id),
    seq INTEGER NOT NULL, measured_at INTEGER NOT NULL, received_at REAL NOT NULL, fill_pct REAL,
    temp_c INTEGER, battery_mv INTEGER, tilt_deg INTEGER, flags INTEGER NOT NULL,
    UNIQUE (node_id, seq, measured_at));
CREATE UNIQUE INDEX nodes_by_addr ON nodes (addr) WHERE addr IS NOT NULL;
INSERT INTO nodes VALUES ('B1', 'bin', 60.0, 17.0, '240L', 1.0, NULL, 'k');
INSERT INTO nodes VALUES ('L1', 'light', 60.0, 17.0, 'path', 1.0, 7, NULL);
INSERT INTO bin_reports VALUES (1, 'B1', 3, 1700000000, 1700000001.0, 55.5, 12, 3600, 0, 1);
"""


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_a_new_database_is_at_the_latest_version_with_every_table(tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite"
    with Store(db) as store:
        store.register(Node("L1", "light", 60.0, 17.0))
        assert store.nodes()[0].addr == 1
    assert user_version(db) == LATEST
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"nodes", "bin_reports", "bin_visits", "presence_events", "light_status",
            "light_addresses", "zones", "zone_log", "streets", "oscore_contexts",
            "technicians", "users", "sessions", "api_tokens", "plans", "plan_routes",
            "plan_stops", "alarm_acks"} <= tables


def test_crews_records_made_before_version_7_are_kept_and_new_ones_stored_once(
        tmp_path: Path) -> None:
    db = tmp_path / "v6.sqlite"
    with sqlite3.connect(db) as conn:
        for number, step in enumerate(migrations.MIGRATIONS[:6], start=1):
            step(conn)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("INSERT INTO nodes (node_id, role, lat, lon, kind, registered_at) "
                     "VALUES ('B1', 'bin', 60.0, 17.0, '240L', 1.0)")
        conn.execute("INSERT INTO bin_visits (node_id, at, outcome, note, recorded_at) "
                     "VALUES ('B1', 1700000000.0, 'unreachable', 'road works', 1700000001.0)")
        conn.commit()
    with Store(db) as store:
        assert store.visits() == [("B1", 1700000000.0, "unreachable", "road works")]
        row, new = store.record_stop("c0ffee00-0000-4000-8000-000000000001", "B1", 1,
                                     1700000100.0, "emptied", "", "crew")
        again, new_again = store.record_stop("c0ffee00-0000-4000-8000-000000000001", "B1", 1,
                                             1700000200.0, "emptied", "", "crew")
        assert new and not new_again and again == row
        assert [v[2] for v in store.visits()] == ["unreachable", "emptied"]
    assert user_version(db) == LATEST


def test_a_database_from_before_schema_versions_keeps_everything(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript(UNVERSIONED)
    with Store(db) as store:
        nodes = {n.node_id: n for n in store.nodes()}
        assert nodes["L1"].addr == 7  # the pole keeps the address it had
        assert store.node_key("B1") == "k"
        assert store.recent_bin_reports("B1", 5) == [("B1", 3, 1700000000, 55.5, 3600, 1)]
        assert store.summary().presence_events == 0  # the tables it lacked are there
    assert user_version(db) == LATEST
    # Opening again applies nothing more.
    with sqlite3.connect(db) as conn:
        assert migrations.migrate(conn) == []


def test_a_failed_migration_leaves_the_database_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "g.sqlite"
    Store(db).close()

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x INTEGER)")
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, broken])
    monkeypatch.setattr(migrations, "LATEST", LATEST + 1)
    with pytest.raises(sqlite3.OperationalError):
        Store(db)
    assert user_version(db) == LATEST
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done'"
                            ).fetchone()[0] == 0


def test_a_transaction_that_fails_stores_nothing(tmp_path: Path) -> None:
    db = Database(tmp_path / "t.sqlite")
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO streets (geojson, source, imported_at) VALUES ('{}', 'a', 0)")
        raise RuntimeError("half way")
    with db.reading() as conn:
        assert conn.execute("SELECT COUNT(*) FROM streets").fetchone()[0] == 0
    db.close()


def test_a_database_from_a_newer_release_is_refused_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "newer.sqlite"
    Store(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    with pytest.raises(SchemaError):
        Store(db)
    for args in (["gateway", "summary"], ["gateway", "run", "--port", "0"]):
        proc = subprocess.run([sys.executable, "-m", "tools.cli", *args, "--db", str(db)],
                              capture_output=True, text=True, timeout=60)
        line = one_line_error(proc)
        assert f"schema version {LATEST + 1} is newer" in line, line
    assert user_version(db) == LATEST + 1  # left as it was
