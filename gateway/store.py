"""SQLite storage of the registry and of every accepted report.

One connection, used by one thread at a time (the gateway's writer). WAL mode
lets readers (the CLI, the demo summary) look at the data while the gateway
writes; synchronous=FULL makes a commit durable before the gateway answers.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from firmware import codec
from firmware.lighting import payload as light_codec
from gateway.registry import ADDR_MAX, ADDR_MIN, Node, RegistrationError

SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    node_id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    kind TEXT NOT NULL DEFAULT '',
    registered_at REAL NOT NULL,
    addr INTEGER,
    key TEXT
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
CREATE TABLE IF NOT EXISTS light_status (
    id INTEGER PRIMARY KEY,
    node_id TEXT NOT NULL REFERENCES nodes(node_id),
    seq INTEGER NOT NULL,
    measured_at INTEGER NOT NULL,
    received_at REAL NOT NULL,
    level_pct INTEGER NOT NULL,
    energy_dwh INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    lux INTEGER,
    UNIQUE (node_id, seq, measured_at)
);
CREATE INDEX IF NOT EXISTS light_status_by_node ON light_status (node_id, id);
CREATE TABLE IF NOT EXISTS light_addresses (
    node_id TEXT PRIMARY KEY REFERENCES nodes(node_id),
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    learned_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS zones (
    name TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    revision INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS zone_log (
    id INTEGER PRIMARY KEY,
    zone TEXT NOT NULL,
    at REAL NOT NULL,
    who TEXT NOT NULL,
    revision INTEGER NOT NULL,
    setting TEXT NOT NULL,
    old TEXT NOT NULL,
    new TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS zone_log_by_zone ON zone_log (zone, id);
CREATE TABLE IF NOT EXISTS streets (
    id INTEGER PRIMARY KEY,
    geojson TEXT NOT NULL,
    source TEXT NOT NULL,
    imported_at REAL NOT NULL
);
"""


# How far back a report without a time (node clock unset) is compared with
# the stored ones to tell a retransmission.
UNCLOCKED_DUPLICATE_S = 2 * 86400


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


@dataclass(frozen=True)
class StatusRecord:
    """A light node's status report (light_codec.Status)."""
    node_id: str
    status: light_codec.Status
    received_at: float

    @property
    def measured_at(self) -> int:
        return int(self.status.time or int(self.received_at))


Record = BinRecord | PresenceRecord | StatusRecord


@dataclass(frozen=True)
class LightRow:
    """A light pole as `lights status` shows it."""
    node_id: str
    zone: str
    addr: int | None
    last_seen: float | None
    level_pct: int | None
    energy_dwh: int | None
    flags: int | None
    status_at: float | None


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
        self._migrate()

    def _migrate(self) -> None:
        """Bring a database made by an older gateway up to this schema."""
        with self._lock:
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(nodes)")}
            if "addr" not in columns:
                self._db.execute("ALTER TABLE nodes ADD COLUMN addr INTEGER")
            if "key" not in columns:
                self._db.execute("ALTER TABLE nodes ADD COLUMN key TEXT")
            self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS nodes_by_addr ON nodes (addr) "
                             "WHERE addr IS NOT NULL")
            # Light poles registered before short addresses get the lowest
            # free ones, in the order of their ids.
            missing = self._db.execute(
                "SELECT node_id FROM nodes WHERE role = 'light' AND addr IS NULL "
                "ORDER BY node_id").fetchall()
            if missing:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for (node_id,) in missing:
                        self._db.execute("UPDATE nodes SET addr = ? WHERE node_id = ?",
                                         (self._free_addr(), node_id))
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    def _free_addr(self) -> int:
        want = ADDR_MIN
        for (a,) in self._db.execute(
                "SELECT addr FROM nodes WHERE addr IS NOT NULL ORDER BY addr"):
            if a > want:
                break
            want = a + 1
        if want > ADDR_MAX:
            raise RegistrationError(f"every short address {ADDR_MIN}..{ADDR_MAX} is taken")
        return want

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- registry ------------------------------------------------------
    def register(self, node: Node) -> bool:
        """Add or update a node. Returns True when it is new."""
        return self.register_node(node)[0]

    def register_node(self, node: Node) -> tuple[bool, Node]:
        """Add or update a node; (True when it is new, the node as stored,
        without its key). A light pole keeps its short address unless given
        another, and gets the lowest free one when it has none; a node keeps
        its key unless given another (a replacement node brings its own).
        Raises RegistrationError for an address another node has."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                existed = self._db.execute(
                    "SELECT addr FROM nodes WHERE node_id = ?", (node.node_id,)).fetchone()
                addr: int | None = None
                if node.role == "light":
                    addr = node.addr
                    if addr is not None:
                        holder = self._db.execute(
                            "SELECT node_id FROM nodes WHERE addr = ? AND node_id != ?",
                            (addr, node.node_id)).fetchone()
                        if holder is not None:
                            raise RegistrationError(
                                f"addr {addr} is already {holder[0]}'s; leave addr out to "
                                "be given a free one")
                    elif existed is not None and existed[0] is not None:
                        addr = int(existed[0])
                    else:
                        addr = self._free_addr()
                self._db.execute(
                    "INSERT INTO nodes (node_id, role, lat, lon, kind, registered_at, addr, key) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET "
                    "role = excluded.role, lat = excluded.lat, lon = excluded.lon, "
                    "kind = excluded.kind, addr = excluded.addr, "
                    "key = COALESCE(excluded.key, nodes.key)",
                    (node.node_id, node.role, node.lat, node.lon, node.kind, time.time(), addr,
                     node.key))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return existed is None, replace(node, addr=addr, key=None)

    def node_key(self, node_id: str) -> str | None:
        """The node's secret key, learnt when it was provisioned (None: never
        provisioned with one). Kept apart from nodes(): a key never travels
        with the registry."""
        with self._lock:
            row = self._db.execute("SELECT key FROM nodes WHERE node_id = ?",
                                   (node_id,)).fetchone()
        return None if row is None else row[0]

    def nodes(self) -> list[Node]:
        with self._lock:
            rows = self._db.execute(
                "SELECT node_id, role, lat, lon, kind, addr FROM nodes "
                "ORDER BY node_id").fetchall()
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
                        if r.time == 0 and self._unclocked_duplicate(rec):
                            fresh.append(False)
                            continue
                        cur = self._db.execute(
                            "INSERT OR IGNORE INTO bin_reports (node_id, seq, measured_at, "
                            "received_at, fill_pct, temp_c, battery_mv, tilt_deg, flags) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (rec.node_id, r.seq, rec.measured_at, rec.received_at, r.fill_pct,
                             r.temp_c, r.battery_mv, r.tilt_deg, r.flags))
                    elif isinstance(rec, PresenceRecord):
                        e = rec.event
                        cur = self._db.execute(
                            "INSERT OR IGNORE INTO presence_events (node_id, seq, measured_at, "
                            "received_at, count, level_pct, speed_mps, flags) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (rec.node_id, e.seq, rec.measured_at, rec.received_at, e.count,
                             e.level_pct, e.speed_mps, e.flags))
                    else:
                        st = rec.status
                        cur = self._db.execute(
                            "INSERT OR IGNORE INTO light_status (node_id, seq, measured_at, "
                            "received_at, level_pct, energy_dwh, flags, lux) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (rec.node_id, st.seq, rec.measured_at, rec.received_at,
                             st.level_pct, st.energy_dwh, st.flags, st.lux))
                    fresh.append(cur.rowcount == 1)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return fresh

    def _unclocked_duplicate(self, rec: BinRecord) -> bool:
        # A node whose clock is unset sends time 0, and the gateway's receive
        # time stands in, so a retransmission would not collide on
        # (node, seq, measured_at). The same seq and readings from the same
        # node within two days are that retransmission (a node sends far
        # fewer than 65536 reports in two days, so seq does not repeat).
        r = rec.report
        return self._db.execute(
            "SELECT 1 FROM bin_reports WHERE node_id = ? AND seq = ? AND received_at >= ? "
            "AND fill_pct IS ? AND temp_c IS ? AND battery_mv IS ? AND tilt_deg IS ? "
            "AND flags = ? LIMIT 1",
            (rec.node_id, r.seq, rec.received_at - UNCLOCKED_DUPLICATE_S, r.fill_pct,
             r.temp_c, r.battery_mv, r.tilt_deg, r.flags)).fetchone() is not None

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

    # --- street lighting --------------------------------------------------
    def set_light_address(self, node_id: str, host: str, port: int) -> None:
        """Where a light node was last heard from: where commands go."""
        with self._lock:
            self._db.execute(
                "INSERT INTO light_addresses (node_id, host, port, learned_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET host = excluded.host, "
                "port = excluded.port, learned_at = excluded.learned_at",
                (node_id, host, port, time.time()))

    def light_addresses(self) -> dict[str, tuple[str, int]]:
        with self._lock:
            rows = self._db.execute("SELECT node_id, host, port FROM light_addresses").fetchall()
        return {n: (h, int(p)) for n, h, p in rows}

    def presence_since(self, since: float) -> list[tuple[str, int, int, float | None, int]]:
        """(node id, measured at, count, speed m/s, flags) of presence events
        measured since a time, oldest first: what `lights zone effect` replays."""
        with self._lock:
            return self._db.execute(
                "SELECT node_id, measured_at, count, speed_mps, flags FROM presence_events "
                "WHERE measured_at >= ? ORDER BY measured_at, received_at, id",
                (since,)).fetchall()

    def light_rows(self) -> list[LightRow]:
        """Every light pole with its latest status and when it was last heard."""
        with self._lock:
            rows = self._db.execute(
                "SELECT n.node_id, n.kind, n.addr, "
                " (SELECT MAX(received_at) FROM presence_events p WHERE p.node_id = n.node_id), "
                " s.received_at, s.level_pct, s.energy_dwh, s.flags "
                "FROM nodes n LEFT JOIN light_status s ON s.id = "
                " (SELECT MAX(id) FROM light_status WHERE node_id = n.node_id) "
                "WHERE n.role = 'light' ORDER BY n.node_id").fetchall()
        out = []
        for node_id, zone, addr, presence_at, status_at, level, energy, flags in rows:
            seen = [t for t in (presence_at, status_at) if t is not None]
            out.append(LightRow(node_id, zone, addr, max(seen) if seen else None, level, energy,
                                flags, status_at))
        return out

    def zone_rows(self) -> list[tuple[str, str, int]]:
        """(name, settings JSON, revision) of every stored zone."""
        with self._lock:
            return self._db.execute(
                "SELECT name, settings, revision FROM zones ORDER BY name").fetchall()

    def save_zone(self, name: str, settings: str, who: str,
                  changes: Sequence[tuple[str, str, str]], expect_revision: int) -> int:
        """Store a zone's settings and log each change (setting, old, new) in one
        transaction. Returns the new revision; raises ValueError when someone
        else changed the zone since expect_revision was read."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT revision FROM zones WHERE name = ?",
                                       (name,)).fetchone()
                current = 0 if row is None else int(row[0])
                if current != expect_revision:
                    raise ValueError(f"zone {name} was changed meanwhile (revision {current}); "
                                     "look at it again and repeat the change")
                revision = current + 1
                self._db.execute(
                    "INSERT INTO zones (name, settings, revision, updated_at, updated_by) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                    "settings = excluded.settings, revision = excluded.revision, "
                    "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                    (name, settings, revision, now, who))
                self._db.executemany(
                    "INSERT INTO zone_log (zone, at, who, revision, setting, old, new) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(name, now, who, revision, k, old, new) for k, old, new in changes])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return revision

    def zone_log(self, name: str) -> list[tuple[float, str, int, str, str, str]]:
        """(at, who, revision, setting, old, new) of a zone's changes, oldest first."""
        with self._lock:
            return self._db.execute(
                "SELECT at, who, revision, setting, old, new FROM zone_log WHERE zone = ? "
                "ORDER BY id", (name,)).fetchall()

    def save_streets(self, geojson: str, source: str) -> int:
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO streets (geojson, source, imported_at) VALUES (?, ?, ?)",
                (geojson, source, time.time()))
        return int(cur.lastrowid or 0)

    def streets(self) -> tuple[int, str, str] | None:
        """(version, GeoJSON text, source file) of the streets last imported."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, geojson, source FROM streets ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), row[1], row[2])

    def lighting_version(self) -> tuple[int, int]:
        """Changes when streets are imported or a zone is changed: the running
        gateway polls it to pick up what the operator's CLI wrote."""
        with self._lock:
            streets = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM streets").fetchone()[0]
            zones = self._db.execute(
                "SELECT COALESCE(SUM(revision), 0) FROM zones").fetchone()[0]
        return int(streets), int(zones)
