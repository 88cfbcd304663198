"""Zone keys: each zone's key for the gateway's group Brighten commands, its
gid (the key's identifier on air, never given twice in one database), and
the gateway's next sequence number under it, written ahead of use; which key
each pole acknowledged in a profile push; and the operator's requests that
the running gateway push a zone's profile (`kvarter lights zone push`).

The keys are in the gateway's database, which is created owner-only
(database.py), as the nodes' own keys are."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from dataclasses import dataclass

from gateway.storage.database import Database

ZONE_KEY_LEN = 16
GID_MAX = 0xFFFFFFFF  # four bytes on air at most


@dataclass(frozen=True)
class ZoneKeyRow:
    zone: str
    gid: int
    key: bytes
    next_to_send: int


@dataclass(frozen=True)
class PushRequest:
    id: int
    zone: str
    timeout_s: float
    taken_at: float | None = None
    done_at: float | None = None
    results: dict[str, str] | None = None


class ZoneKeyTables(Database):
    def zone_keys(self) -> dict[str, ZoneKeyRow]:
        with self.reading() as db:
            rows = db.execute("SELECT zone, gid, key, next_to_send FROM zone_keys").fetchall()
        return {z: ZoneKeyRow(z, int(g), bytes.fromhex(k), int(n)) for z, g, k, n in rows}

    def ensure_zone_keys(self, zones: list[str]) -> list[str]:
        """A key for every zone of `zones` that has none; returns those made."""
        made: list[str] = []
        with self.reading() as db:
            have = {z for (z,) in db.execute("SELECT zone FROM zone_keys")}
        if not set(zones) - have:
            return made  # the usual case: one read a second, no write
        with self.transaction() as db:
            have = {z for (z,) in db.execute("SELECT zone FROM zone_keys")}
            for zone in sorted(set(zones) - have):
                self._new_key(db, zone)
                made.append(zone)
        return made

    def rekey_zone(self, zone: str) -> int:
        """A new key for the zone (the old one is erased); returns its gid."""
        with self.transaction() as db:
            db.execute("DELETE FROM zone_keys WHERE zone = ?", (zone,))
            return self._new_key(db, zone)

    def _new_key(self, db: sqlite3.Connection, zone: str) -> int:
        row = db.execute("SELECT last_gid FROM zone_key_counter WHERE id = 1").fetchone()
        gid = (int(row[0]) if row else 0) + 1
        if gid > GID_MAX:
            raise ValueError("no zone key identifiers left in this database")
        db.execute("INSERT INTO zone_key_counter (id, last_gid) VALUES (1, ?) "
                   "ON CONFLICT (id) DO UPDATE SET last_gid = excluded.last_gid", (gid,))
        db.execute("INSERT INTO zone_keys (zone, gid, key, next_to_send, made_at) "
                   "VALUES (?, ?, ?, 0, ?)",
                   (zone, gid, secrets.token_bytes(ZONE_KEY_LEN).hex(), time.time()))
        return gid

    def save_zone_sequence(self, gid: int, next_to_send: int) -> None:
        """The gateway's sequence numbers under key `gid` are safe below this."""
        with self.transaction() as db:
            db.execute("UPDATE zone_keys SET next_to_send = MAX(next_to_send, ?) WHERE gid = ?",
                       (next_to_send, gid))

    def zone_key_holders(self) -> dict[str, int]:
        """Pole -> the gid of the zone key it acknowledged last."""
        with self.reading() as db:
            return {n: int(g) for n, g in db.execute(
                "SELECT node_id, gid FROM zone_key_holders")}

    def set_zone_key_holders(self, holders: dict[str, int]) -> None:
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO zone_key_holders (node_id, gid, at) VALUES (?, ?, ?) "
                "ON CONFLICT (node_id) DO UPDATE SET gid = excluded.gid, at = excluded.at",
                [(n, g, now) for n, g in holders.items()])

    def request_zone_push(self, zone: str, timeout_s: float) -> int:
        with self.transaction() as db:
            cur = db.execute("INSERT INTO zone_push_requests (zone, requested_at, timeout_s) "
                             "VALUES (?, ?, ?)", (zone, time.time(), timeout_s))
            return int(cur.lastrowid or 0)

    def take_push_requests(self) -> list[PushRequest]:
        """The requests no gateway has taken yet, marked taken."""
        with self.reading() as db:
            if db.execute("SELECT 1 FROM zone_push_requests WHERE taken_at IS NULL "
                          "LIMIT 1").fetchone() is None:
                return []
        with self.transaction() as db:
            rows = db.execute("SELECT id, zone, timeout_s FROM zone_push_requests "
                              "WHERE taken_at IS NULL ORDER BY id").fetchall()
            db.execute("UPDATE zone_push_requests SET taken_at = ? WHERE taken_at IS NULL",
                       (time.time(),))
        return [PushRequest(int(i), z, float(t)) for i, z, t in rows]

    def finish_push_request(self, request_id: int, results: dict[str, str]) -> None:
        with self.transaction() as db:
            db.execute("UPDATE zone_push_requests SET done_at = ?, results = ? WHERE id = ?",
                       (time.time(), json.dumps(results, sort_keys=True), request_id))

    def push_request(self, request_id: int) -> PushRequest | None:
        with self.reading() as db:
            row = db.execute("SELECT id, zone, timeout_s, taken_at, done_at, results "
                             "FROM zone_push_requests WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            return None
        return PushRequest(int(row[0]), row[1], float(row[2]),
                           None if row[3] is None else float(row[3]),
                           None if row[4] is None else float(row[4]),
                           None if row[5] is None else dict(json.loads(row[5])))

    def cancel_push_request(self, request_id: int) -> bool:
        """Withdraw a request no gateway took yet, so that none acts on it
        later; False when a gateway took it meanwhile."""
        with self.transaction() as db:
            cur = db.execute("DELETE FROM zone_push_requests WHERE id = ? AND taken_at IS NULL",
                             (request_id,))
            return cur.rowcount > 0
