"""What nodes report: bin reports, presence events, light status. Each is
identified by (node id, seq, measured time), so a retransmission is stored
once."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from gateway.records import BinRecord, PresenceRecord, Record
from gateway.storage.database import Database

# How far back a report without a time (node clock unset) is compared with
# the stored ones to tell a retransmission.
UNCLOCKED_DUPLICATE_S = 2 * 86400


class ReportTable(Database):
    """Storing reports in one transaction per batch, and what the forecast,
    the energy replay and the CLI read back."""

    def insert(self, records: Sequence[Record]) -> list[bool]:
        """Store records in one transaction. For each, True if it was new and
        False if it was already stored (a retransmission)."""
        fresh: list[bool] = []
        with self.transaction() as db:
            for rec in records:
                if isinstance(rec, BinRecord):
                    r = rec.report
                    if r.time == 0 and self._unclocked_duplicate(db, rec):
                        fresh.append(False)
                        continue
                    cur = db.execute(
                        "INSERT OR IGNORE INTO bin_reports (node_id, seq, measured_at, "
                        "received_at, fill_pct, temp_c, battery_mv, tilt_deg, flags) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (rec.node_id, r.seq, rec.measured_at, rec.received_at, r.fill_pct,
                         r.temp_c, r.battery_mv, r.tilt_deg, r.flags))
                elif isinstance(rec, PresenceRecord):
                    e = rec.event
                    cur = db.execute(
                        "INSERT OR IGNORE INTO presence_events (node_id, seq, measured_at, "
                        "received_at, count, level_pct, speed_mps, flags) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (rec.node_id, e.seq, rec.measured_at, rec.received_at, e.count,
                         e.level_pct, e.speed_mps, e.flags))
                else:
                    st = rec.status
                    cur = db.execute(
                        "INSERT OR IGNORE INTO light_status (node_id, seq, measured_at, "
                        "received_at, level_pct, energy_dwh, flags, lux) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (rec.node_id, st.seq, rec.measured_at, rec.received_at,
                         st.level_pct, st.energy_dwh, st.flags, st.lux))
                fresh.append(cur.rowcount == 1)
        return fresh

    def _unclocked_duplicate(self, db: sqlite3.Connection, rec: BinRecord) -> bool:
        # A node whose clock is unset sends time 0, and the gateway's receive
        # time stands in, so a retransmission would not collide on
        # (node, seq, measured_at). The same seq and readings from the same
        # node within two days are that retransmission (a node sends far
        # fewer than 65536 reports in two days, so seq does not repeat).
        r = rec.report
        return db.execute(
            "SELECT 1 FROM bin_reports WHERE node_id = ? AND seq = ? AND received_at >= ? "
            "AND fill_pct IS ? AND temp_c IS ? AND battery_mv IS ? AND tilt_deg IS ? "
            "AND flags = ? LIMIT 1",
            (rec.node_id, r.seq, rec.received_at - UNCLOCKED_DUPLICATE_S, r.fill_pct,
             r.temp_c, r.battery_mv, r.tilt_deg, r.flags)).fetchone() is not None

    def fill_history(self) -> list[tuple[str, float, float | None]]:
        """(node id, measured at, fill %) of every bin report, oldest first:
        what the forecast learns from."""
        with self.reading() as db:
            return db.execute(
                "SELECT node_id, measured_at, fill_pct FROM bin_reports "
                "ORDER BY measured_at, id").fetchall()

    def recent_bin_reports(self, node_id: str | None, limit: int) -> list[tuple[
            str, int, int, float | None, int | None, int]]:
        """(node_id, seq, measured_at, fill_pct, battery_mv, flags), newest first."""
        sql = ("SELECT node_id, seq, measured_at, fill_pct, battery_mv, flags "
               "FROM bin_reports")
        args: tuple[object, ...] = ()
        if node_id is not None:
            sql += " WHERE node_id = ?"
            args = (node_id,)
        with self.reading() as db:
            return db.execute(sql + " ORDER BY measured_at DESC, node_id LIMIT ?",
                                    (*args, limit)).fetchall()

    def presence_between(self, since: float, until: float
                         ) -> list[tuple[str, int, int, float | None, int]]:
        """As presence_since, measured in [since, until)."""
        with self.reading() as db:
            return db.execute(
                "SELECT node_id, measured_at, count, speed_mps, flags FROM presence_events "
                "WHERE measured_at >= ? AND measured_at < ? "
                "ORDER BY measured_at, received_at, id", (since, until)).fetchall()

    def delete_presence_before(self, before: float, limit: int) -> int:
        """Delete at most `limit` presence events measured before a time, the
        oldest first; returns how many (docs/privacy.md, retention)."""
        with self.transaction() as db:
            cur = db.execute(
                "DELETE FROM presence_events WHERE id IN (SELECT id FROM presence_events "
                "WHERE measured_at < ? ORDER BY measured_at LIMIT ?)", (before, limit))
            return cur.rowcount

    def presence_since(self, since: float) -> list[tuple[str, int, int, float | None, int]]:
        """(node id, measured at, count, speed m/s, flags) of presence events
        measured since a time, oldest first: what `lights zone effect` replays."""
        with self.reading() as db:
            return db.execute(
                "SELECT node_id, measured_at, count, speed_mps, flags FROM presence_events "
                "WHERE measured_at >= ? ORDER BY measured_at, received_at, id",
                (since,)).fetchall()
