"""What crews record at a bin: emptied, or could not reach it."""

from __future__ import annotations

import time

from gateway.storage.database import Database


class VisitTable(Database):
    """Crews' records of their visits."""

    def record_visit(self, node_id: str, at: float, outcome: str, note: str = "") -> None:
        """A crew emptied a bin, or could not reach it."""
        with self.reading() as db:
            db.execute(
                "INSERT INTO bin_visits (node_id, at, outcome, note, recorded_at) "
                "VALUES (?, ?, ?, ?, ?)", (node_id, at, outcome, note, time.time()))

    def visits(self, since: float = 0.0) -> list[tuple[str, float, str, str]]:
        """(node id, at, outcome, note) of crews' records since a time."""
        with self.reading() as db:
            return db.execute(
                "SELECT node_id, at, outcome, note FROM bin_visits WHERE at >= ? "
                "ORDER BY at, id", (since,)).fetchall()
