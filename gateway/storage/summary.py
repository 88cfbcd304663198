"""What the gateway has stored so far, in a few lines for people."""

from __future__ import annotations

from pathlib import Path

from gateway.storage.store import Summary


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
