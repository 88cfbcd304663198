"""What the gateway has stored so far: the counts, and the same in a few
lines for people (the demo, `kvarter gateway summary`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from firmware import codec
from gateway.storage.database import Database


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


class SummaryQuery(Database):
    """The counts behind `kvarter gateway summary`."""

    def summary(self) -> Summary:
        with self.reading() as db:
            q = db.execute
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


def format_summary(s: Summary, path: Path) -> str:
    """What the gateway has stored, as the demo and `kvarter gateway summary` print it."""
    over = ", ".join(f"{n} ({f:.0f}%)" for n, f in s.bins_over_threshold[:8])
    more = len(s.bins_over_threshold) - 8
    if more > 0:
        over += f" and {more} more"
    lines = [
        f"nodes registered   {s.nodes_registered} ({s.bins} bins, {s.lights} lights)",
        f"nodes seen         {s.nodes_seen}",
        f"bin reports        {s.bin_reports}",
        f"bins over threshold {len(s.bins_over_threshold)}" + (f": {over}" if over else ""),
        f"presence events    {s.presence_events} ({s.detections} detections)",
        f"data               {path}",
    ]
    return "\n".join(lines)
