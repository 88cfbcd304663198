"""SQLite storage of the registry and of every accepted report.

One connection, used by one thread at a time (the gateway's writer). WAL mode
lets readers (the CLI, the demo summary) look at the data while the gateway
writes; synchronous=FULL makes a commit durable before the gateway answers.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from firmware import codec
from gateway.registry import Node

SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    node_id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    kind TEXT NOT NULL DEFAULT '',
    registered_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS bin_reports (
    id INTEGER PRIMARY KEY,
    node_id TEXT NOT NULL REFERENCES nodes(node_id),
    seq INTEGER NOT NULL,
    measured_at INTEGER NOT NULL,
    received_at REAL NOT NULL,
    fill_pct REAL,
    temp_c INTEGER,
    battery_mv INTEGER,
    tilt_deg INTEGER,
    flags INTEGER NOT NULL,
    UNIQUE (node_id, seq, measured_at)
);
CREATE INDEX IF NOT EXISTS bin_reports_by_node ON bin_reports (node_id, measured_at);
CREATE TABLE IF NOT EXISTS bin_visits (
    id INTEGER PRIMARY KEY,
    node_id TEXT NOT NULL REFERENCES nodes(node_id),
    at REAL NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('emptied', 'unreachable')),
    note TEXT NOT NULL DEFAULT '',
    recorded_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS bin_visits_by_time ON bin_visits (at);
CREATE TABLE IF NOT EXISTS presence_events (
    id INTEGER PRIMARY KEY,
    node_id TEXT NOT NULL REFERENCES nodes(node_id),
    seq INTEGER NOT NULL,
    measured_at INTEGER NOT NULL,
    received_at REAL NOT NULL,
    count INTEGER NOT NULL,
    level_pct INTEGER NOT NULL,
    speed_mps REAL,
    flags INTEGER NOT NULL,
    UNIQUE (node_id, seq, measured_at)
);
"""


@dataclass(frozen=True)
class BinRecord:
    node_id: str
    report: codec.BinReport
    received_at: float

    @property
    def measured_at(self) -> int:
        # A node whose clock is not set sends 0: the gateway's time stands in.
        return self.report.time or int(self.received_at)


@dataclass(frozen=True)
class PresenceRecord:
    node_id: str
    event: codec.PresenceEvent
    received_at: float

    @property
    def measured_at(self) -> int:
        return self.event.time or int(self.received_at)


Record = BinRecord | PresenceRecord


@dataclass(frozen=True)
class Summary:
    nodes_registered: int
    bins: int
    lights: int
    nodes_seen: int
    bin_reports: int
    presence_events: int
    detections: int
    bins_over_threshold: list[tuple[str, float]]


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        # The CLI writes crews' records while the gateway runs: wait for
        # the other's transaction rather than fail.
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- registry ------------------------------------------------------
    def register(self, node: Node) -> bool:
        """Add or update a node. Returns True when it is new."""
        with self._lock:
            existed = self._db.execute(
                "SELECT 1 FROM nodes WHERE node_id = ?", (node.node_id,)).fetchone()
            self._db.execute(
                "INSERT INTO nodes (node_id, role, lat, lon, kind, registered_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET "
                "role = excluded.role, lat = excluded.lat, lon = excluded.lon, "
                "kind = excluded.kind",
                (node.node_id, node.role, node.lat, node.lon, node.kind, time.time()))
        return existed is None

    def nodes(self) -> list[Node]:
        with self._lock:
            rows = self._db.execute(
                "SELECT node_id, role, lat, lon, kind FROM nodes ORDER BY node_id").fetchall()
        return [Node(*row) for row in rows]

    # --- reports -------------------------------------------------------
    def insert(self, records: Sequence[Record]) -> list[bool]:
        """Store records in one transaction. For each, True if it was new and
        False if it was already stored (a retransmission)."""
        fresh: list[bool] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for rec in records:
                    if isinstance(rec, BinRecord):
                        r = rec.report
                        cur = self._db.execute(
                            "INSERT OR IGNORE INTO bin_reports (node_id, seq, measured_at, "
                            "received_at, fill_pct, temp_c, battery_mv, tilt_deg, flags) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (rec.node_id, r.seq, rec.measured_at, rec.received_at, r.fill_pct,
                             r.temp_c, r.battery_mv, r.tilt_deg, r.flags))
                    else:
                        e = rec.event
                        cur = self._db.execute(
                            "INSERT OR IGNORE INTO presence_events (node_id, seq, measured_at, "
                            "received_at, count, level_pct, speed_mps, flags) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (rec.node_id, e.seq, rec.measured_at, rec.received_at, e.count,
                             e.level_pct, e.speed_mps, e.flags))
                    fresh.append(cur.rowcount == 1)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return fresh

    def fill_history(self) -> list[tuple[str, float, float | None]]:
        """(node id, measured at, fill %) of every bin report, oldest first:
        what the forecast learns from."""
        with self._lock:
            return self._db.execute(
                "SELECT node_id, measured_at, fill_pct FROM bin_reports "
                "ORDER BY measured_at, id").fetchall()

    def record_visit(self, node_id: str, at: float, outcome: str, note: str = "") -> None:
        """A crew emptied a bin, or could not reach it."""
        with self._lock:
            self._db.execute(
                "INSERT INTO bin_visits (node_id, at, outcome, note, recorded_at) "
                "VALUES (?, ?, ?, ?, ?)", (node_id, at, outcome, note, time.time()))

    def visits(self, since: float = 0.0) -> list[tuple[str, float, str, str]]:
        """(node id, at, outcome, note) of crews' records since a time."""
        with self._lock:
            return self._db.execute(
                "SELECT node_id, at, outcome, note FROM bin_visits WHERE at >= ? "
                "ORDER BY at, id", (since,)).fetchall()

    def bin_reports(self, node_id: str | None = None) -> list[tuple[str, int, int, float | None]]:
        """(node_id, seq, measured_at, fill_pct) of stored bin reports."""
        sql = "SELECT node_id, seq, measured_at, fill_pct FROM bin_reports"
        args: Iterable[str] = ()
        if node_id is not None:
            sql += " WHERE node_id = ?"
            args = (node_id,)
        with self._lock:
            return self._db.execute(sql + " ORDER BY node_id, measured_at", tuple(args)).fetchall()

    def recent_bin_reports(self, node_id: str | None, limit: int) -> list[tuple[
            str, int, int, float | None, int | None, int]]:
        """(node_id, seq, measured_at, fill_pct, battery_mv, flags), newest first."""
        sql = ("SELECT node_id, seq, measured_at, fill_pct, battery_mv, flags "
               "FROM bin_reports")
        args: tuple[object, ...] = ()
        if node_id is not None:
            sql += " WHERE node_id = ?"
            args = (node_id,)
        with self._lock:
            return self._db.execute(sql + " ORDER BY measured_at DESC, node_id LIMIT ?",
                                    (*args, limit)).fetchall()

    def summary(self) -> Summary:
        q = self._db.execute
        with self._lock:
            roles = dict(q("SELECT role, COUNT(*) FROM nodes GROUP BY role").fetchall())
            seen = q("SELECT COUNT(*) FROM (SELECT node_id FROM bin_reports UNION "
                     "SELECT node_id FROM presence_events)").fetchone()[0]
            reports = q("SELECT COUNT(*) FROM bin_reports").fetchone()[0]
            events, detections = q(
                "SELECT COUNT(*), COALESCE(SUM(count), 0) FROM presence_events").fetchone()
            over = q(
                "SELECT r.node_id, r.fill_pct FROM bin_reports r JOIN ("
                " SELECT node_id, MAX(measured_at) AS t FROM bin_reports GROUP BY node_id"
                ") last ON r.node_id = last.node_id AND r.measured_at = last.t "
                "WHERE r.flags & ? ORDER BY r.fill_pct DESC, r.node_id",
                (codec.BIN_FLAG_THRESHOLD,)).fetchall()
        return Summary(
            nodes_registered=sum(roles.values()), bins=roles.get("bin", 0),
            lights=roles.get("light", 0), nodes_seen=seen, bin_reports=reports,
            presence_events=events, detections=detections,
            bins_over_threshold=[(n, f) for n, f in over])
