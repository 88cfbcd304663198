"""Street lighting's tables: where each light node was last heard from, the
zones and their change log, the imported streets, and each pole's state."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.storage.database import Database


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


class LightingTables(Database):
    """Street lighting's data."""

    def set_light_addresses(self, learned: Sequence[tuple[str, str, int]]) -> None:
        """Where light nodes were last heard from (node id, host, port): where
        commands go. Many in one transaction: a district's poles are learned
        in bursts (a gateway's start, the first walkers of the evening)."""
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO light_addresses (node_id, host, port, learned_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET host = excluded.host, "
                "port = excluded.port, learned_at = excluded.learned_at",
                [(node_id, host, port, now) for node_id, host, port in learned])

    def light_addresses(self) -> dict[str, tuple[str, int]]:
        with self.reading() as db:
            rows = db.execute("SELECT node_id, host, port FROM light_addresses").fetchall()
        return {n: (h, int(p)) for n, h, p in rows}

    def light_rows(self) -> list[LightRow]:
        """Every light pole with its latest status and when it was last heard
        (its status reports, every quarter hour: a presence event's time
        would be a passer-by's)."""
        with self.reading() as db:
            rows = db.execute(
                "SELECT n.node_id, n.kind, n.addr, s.received_at, s.level_pct, s.energy_dwh, "
                "s.flags "
                "FROM nodes n LEFT JOIN light_status s ON s.id = "
                " (SELECT MAX(id) FROM light_status WHERE node_id = n.node_id) "
                "WHERE n.role = 'light' ORDER BY n.node_id").fetchall()
        out = []
        for node_id, zone, addr, status_at, level, energy, flags in rows:
            out.append(LightRow(node_id, zone, addr, status_at, level, energy, flags, status_at))
        return out

    def set_running_profiles(self, zone: str, revision: int, node_ids: Sequence[str]) -> None:
        """These poles acknowledged the zone's profile of this revision."""
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO light_profiles (node_id, zone, revision, acknowledged_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET zone = excluded.zone, "
                "revision = excluded.revision, acknowledged_at = excluded.acknowledged_at",
                [(n, zone, revision, now) for n in node_ids])

    def running_profiles(self) -> dict[str, tuple[str, int, float]]:
        """Pole -> (zone, revision, when acknowledged) of the profile it runs."""
        with self.reading() as db:
            rows = db.execute(
                "SELECT node_id, zone, revision, acknowledged_at FROM light_profiles").fetchall()
        return {n: (z, int(r), float(a)) for n, z, r, a in rows}

    def zone_rows(self) -> list[tuple[str, str, int]]:
        """(name, settings JSON, revision) of every stored zone."""
        with self.reading() as db:
            return db.execute(
                "SELECT name, settings, revision FROM zones ORDER BY name").fetchall()

    def save_zone(self, name: str, settings: str, who: str,
                  changes: Sequence[tuple[str, str, str]], expect_revision: int) -> int:
        """Store a zone's settings and log each change (setting, old, new) in one
        transaction. Returns the new revision; raises ValueError when someone
        else changed the zone since expect_revision was read."""
        now = time.time()
        with self.transaction() as db:
            row = db.execute("SELECT revision FROM zones WHERE name = ?", (name,)).fetchone()
            current = 0 if row is None else int(row[0])
            if current != expect_revision:
                raise ValueError(f"zone {name} was changed meanwhile (revision {current}); "
                                 "look at it again and repeat the change")
            revision = current + 1
            db.execute(
                "INSERT INTO zones (name, settings, revision, updated_at, updated_by) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "settings = excluded.settings, revision = excluded.revision, "
                "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                (name, settings, revision, now, who))
            db.executemany(
                "INSERT INTO zone_log (zone, at, who, revision, setting, old, new) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(name, now, who, revision, k, old, new) for k, old, new in changes])
        return revision

    def zone_log(self, name: str) -> list[tuple[float, str, int, str, str, str]]:
        """(at, who, revision, setting, old, new) of a zone's changes, oldest first."""
        with self.reading() as db:
            return db.execute(
                "SELECT at, who, revision, setting, old, new FROM zone_log WHERE zone = ? "
                "ORDER BY id", (name,)).fetchall()

    def save_streets(self, geojson: str, source: str) -> int:
        with self.reading() as db:
            cur = db.execute(
                "INSERT INTO streets (geojson, source, imported_at) VALUES (?, ?, ?)",
                (geojson, source, time.time()))
        return int(cur.lastrowid or 0)

    def streets(self) -> tuple[int, str, str] | None:
        """(version, GeoJSON text, source file) of the streets last imported."""
        with self.reading() as db:
            row = db.execute(
                "SELECT id, geojson, source FROM streets ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), row[1], row[2])

    def lighting_version(self) -> tuple[int, int]:
        """Changes when streets are imported or a zone is changed: the running
        gateway polls it to pick up what the operator's CLI wrote."""
        with self.reading() as db:
            streets = db.execute("SELECT COALESCE(MAX(id), 0) FROM streets").fetchone()[0]
            zones = db.execute(
                "SELECT COALESCE(SUM(revision), 0) FROM zones").fetchone()[0]
        return int(streets), int(zones)
