"""What crews record at a bin: emptied, or could not reach it. A record made
on a crew's phone carries the id the phone gave it, so that a record sent
again (the phone was offline, or did not hear the answer) is stored once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gateway.storage.database import Database


@dataclass(frozen=True)
class VisitRow:
    id: int
    node_id: str
    at: float  # when the crew was at the bin
    outcome: str  # emptied | unreachable
    note: str
    recorded_at: float  # when the gateway stored it
    client_id: str | None
    plan_id: int | None
    recorded_by: str | None


_COLUMNS = "id, node_id, at, outcome, note, recorded_at, client_id, plan_id, recorded_by"


def _visit(r: tuple[Any, ...]) -> VisitRow:
    return VisitRow(int(r[0]), r[1], float(r[2]), r[3], r[4], float(r[5]), r[6], r[7], r[8])


class VisitTable(Database):
    """Crews' records of their visits."""

    def record_visit(self, node_id: str, at: float, outcome: str, note: str = "") -> None:
        """A crew emptied a bin, or could not reach it."""
        with self.reading() as db:
            db.execute(
                "INSERT INTO bin_visits (node_id, at, outcome, note, recorded_at) "
                "VALUES (?, ?, ?, ?, ?)", (node_id, at, outcome, note, time.time()))

    def record_stop(self, client_id: str, node_id: str, plan_id: int, at: float, outcome: str,
                    note: str, recorded_by: str) -> tuple[VisitRow, bool]:
        """A crew's record of a plan's stop, stored once per client id: the
        stored record, and whether it is new (False: that id was stored
        before, and this is what was stored then)."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO bin_visits (node_id, at, outcome, note, recorded_at, "
                "client_id, plan_id, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (node_id, at, outcome, note, time.time(), client_id, plan_id, recorded_by))
            row = db.execute(f"SELECT {_COLUMNS} FROM bin_visits WHERE client_id = ?",
                             (client_id,)).fetchone()
        return _visit(row), cur.rowcount == 1

    def visits(self, since: float = 0.0) -> list[tuple[str, float, str, str]]:
        """(node id, at, outcome, note) of crews' records since a time."""
        with self.reading() as db:
            return db.execute(
                "SELECT node_id, at, outcome, note FROM bin_visits WHERE at >= ? "
                "ORDER BY at, id", (since,)).fetchall()

    def visits_after(self, last_id: int, limit: int = 1000) -> list[VisitRow]:
        """Records stored after the one with this id, in the order stored."""
        with self.reading() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM bin_visits WHERE id > ? ORDER BY id "
                              "LIMIT ?", (last_id, limit)).fetchall()
        return [_visit(r) for r in rows]

    def last_visit_id(self) -> int:
        with self.reading() as db:
            return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM bin_visits").fetchone()[0])

    def unreachable_before(self, before: float, since: float) -> dict[str, tuple[float, str]]:
        """node id -> (at, note) of each bin whose latest record between since
        and before says a crew could not reach it."""
        with self.reading() as db:
            rows = db.execute(
                "SELECT node_id, at, outcome, note FROM bin_visits WHERE at >= ? AND at <= ? "
                "ORDER BY at, id", (since, before)).fetchall()
        latest = {node_id: (float(at), outcome, note) for node_id, at, outcome, note in rows}
        return {node_id: (at, note) for node_id, (at, outcome, note) in latest.items()
                if outcome == "unreachable"}
