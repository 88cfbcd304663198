"""Who acknowledged which bin's alarm, and when; and since when an alarm has
shown, so that an acknowledgement covers the alarm it was made for and not
the next one of the same kind."""

from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.storage.database import Database


@dataclass(frozen=True)
class AckRow:
    node_id: str
    alarm: str
    acked_at: float
    acked_by: str
    note: str


class AlarmAckTable(Database):
    def acknowledge(self, node_id: str, alarm: str, acked_by: str, note: str = "") -> AckRow:
        at = time.time()
        with self.reading() as db:
            db.execute("INSERT INTO alarm_acks (node_id, alarm, acked_at, acked_by, note) "
                       "VALUES (?, ?, ?, ?, ?)", (node_id, alarm, at, acked_by, note))
        return AckRow(node_id, alarm, at, acked_by, note)

    def latest_acks(self) -> dict[tuple[str, str], AckRow]:
        """(node id, alarm) -> its latest acknowledgement."""
        with self.reading() as db:
            rows = db.execute(
                "SELECT node_id, alarm, acked_at, acked_by, note FROM alarm_acks "
                "ORDER BY acked_at, id").fetchall()
        return {(r[0], r[1]): AckRow(r[0], r[1], float(r[2]), r[3], r[4]) for r in rows}

    def flag_onset(self, node_id: str, bit: int) -> tuple[int, float] | None:
        """(measured, received) time of the first report of the latest
        unbroken run of the bin's reports showing this flag."""
        return self._onset(node_id, "(flags & ?) = 0", bit)

    def low_battery_onset(self, node_id: str, below_mv: int) -> tuple[int, float] | None:
        """The same for a battery below this."""
        return self._onset(node_id, "(battery_mv IS NULL OR battery_mv >= ?)", below_mv)

    def _onset(self, node_id: str, clear: str, arg: int) -> tuple[int, float] | None:
        with self.reading() as db:
            r = db.execute(
                "SELECT measured_at, received_at FROM bin_reports WHERE node_id = ? "
                "AND measured_at > COALESCE((SELECT MAX(measured_at) FROM bin_reports "
                f"WHERE node_id = ? AND {clear}), -1) ORDER BY measured_at, id LIMIT 1",
                (node_id, node_id, arg)).fetchone()
        return None if r is None else (int(r[0]), float(r[1]))

    def acks_after(self, last_id: int, limit: int = 1000) -> list[tuple[int, AckRow]]:
        """(id, acknowledgement) of those stored after the one with this id."""
        with self.reading() as db:
            rows = db.execute(
                "SELECT id, node_id, alarm, acked_at, acked_by, note FROM alarm_acks "
                "WHERE id > ? ORDER BY id LIMIT ?", (last_id, limit)).fetchall()
        return [(int(r[0]), AckRow(r[1], r[2], float(r[3]), r[4], r[5])) for r in rows]

    def last_ack_id(self) -> int:
        with self.reading() as db:
            return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM alarm_acks").fetchone()[0])
