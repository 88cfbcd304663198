"""Energy per zone per night read from the gateway's data: what the
operator's desk shows (GET /api/v1/energy) and what the district's daily
open-data files publish, worked out in one place so that both say the same.
The figures are gateway/lighting/nightly.py's; this reads what they need."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from gateway.lighting.energy import Event
from gateway.lighting.nightly import PoleSpan, ZoneNight, night_span, zone_nights_from_spans
from gateway.lighting.wave import Pole
from gateway.lighting.wave_parts import build_wave_parts
from gateway.lighting.zones import Zone
from gateway.privacy import last_closed
from gateway.storage.store import Store


def energy_per_night(store: Store, nights_of: Callable[[str], list[date]], now: float,
                zone: str | None = None) -> list[ZoneNight]:
    """Per zone with poles (every one, or `zone`), in name order, its nights
    oldest first: nights_of(the zone's time zone) names them, in order."""
    nodes = {n.node_id: n for n in store.nodes()}
    _, _, book, _ = build_wave_parts(nodes, None, store.zone_rows())
    by_zone: dict[str, dict[str, Pole]] = {}
    for n in nodes.values():
        if n.role == "light":
            name = n.kind or "default"
            by_zone.setdefault(name, {})[n.node_id] = Pole(n.node_id, n.addr or 0, name,
                                                           n.lat, n.lon)
    if zone is not None:
        by_zone = {zone: by_zone[zone]} if zone in by_zone else {}
    days_of = {name: nights_of(book.zone(name).timezone) for name in by_zone}
    days_of = {name: days for name, days in days_of.items() if days}
    if not days_of:
        return []
    # One read of presence for every zone: their nights differ only by their
    # time zones.
    bounds = [_span(book.zone(name), days) for name, days in days_of.items()]
    since, until = min(a for a, _ in bounds), max(b for _, b in bounds)
    sums: dict[tuple[float, float], dict[str, PoleSpan]] = {}

    def spans(start: float, end: float) -> dict[str, PoleSpan]:
        # Zones in the same time zone share their nights: each summed once.
        if (start, end) not in sums:
            sums[(start, end)] = {n: PoleSpan(c, a, b, wh)
                                  for n, c, a, b, wh in store.light_spans(start, end)}
        return sums[(start, end)]

    zone_events: dict[str, list[Event]] = {name: [] for name in days_of}
    pole_zone = {pid: name for name, poles in by_zone.items() if name in days_of
                 for pid in poles}
    # The night under way only up to the quarter hour under way (as the
    # zone effect): its oracle would otherwise change with each passer-by.
    until = min(until, last_closed(now))
    for pid, t, count, speed, flags in store.presence_between(since, until):
        if pid in pole_zone:
            zone_events[pole_zone[pid]].append((pid, float(t), count, speed, flags))
    out: list[ZoneNight] = []
    for name, days in sorted(days_of.items()):
        out.extend(zone_nights_from_spans(book.zone(name), by_zone[name], book, spans,
                                          zone_events[name], days, now))
    return out


def _span(zone: Zone, days: list[date]) -> tuple[float, float]:
    return night_span(zone.timezone, days[0])[0], night_span(zone.timezone, days[-1])[1]
