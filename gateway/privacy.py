"""What of presence may leave the gateway (docs/privacy.md): counts per zone
over whole intervals of at least a quarter hour, aligned to the clock, and
only intervals already over; a count of fewer people than the threshold is
suppressed (None), never shown as 0. A pole's own events, with their times
and speeds, stay inside: in a quiet street they are one person's path.

Pure logic: the storage counts, this decides what is shown."""

from __future__ import annotations

from dataclasses import dataclass

QUARTER_HOUR_S = 900
DEFAULT_MIN_COUNT = 5
DEFAULT_KEEP_DAYS = 7.0


def last_closed(now: float, interval_s: int = QUARTER_HOUR_S) -> int:
    """The start of the interval under way: everything before it is over.
    An answer that counted the interval under way would change with each
    passer-by, and asked again and again it would time them."""
    return int(now // interval_s) * interval_s


@dataclass(frozen=True)
class ZoneInterval:
    """One zone's presence over one interval, as stored: `people` is the most
    detections any one of its poles made (everyone who walked the zone's
    street passed one pole at least once, and a lone walker passes many
    poles once each, so the sum of detections would count them many times)."""
    zone: str
    start: int
    events: int
    detections: int
    people: int


@dataclass(frozen=True)
class ShownCount:
    zone: str
    start: int
    end: int
    people: int | None  # None: suppressed
    events: int | None
    detections: int | None

    @property
    def suppressed(self) -> bool:
        return self.people is None


def shown(c: ZoneInterval, interval_s: int, min_count: int) -> ShownCount:
    if c.people < min_count:
        return ShownCount(c.zone, c.start, c.start + interval_s, None, None, None)
    return ShownCount(c.zone, c.start, c.start + interval_s, c.people, c.events, c.detections)
