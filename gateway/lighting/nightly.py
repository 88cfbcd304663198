"""Energy per zone per night, as the operator's desk shows it: what the poles
used by their own status reports, against the same poles at full all night,
and against the oracle that lights each pole exactly while someone is near
it (gateway/lighting/energy.py).

A night is the zone's local noon to the next local noon, named by the date
it starts on. A pole counts in a night when it sent two status reports or
more in it; its energy is the rise of its energy counter between its first
and last report of the night (a counter that fell was restarted: what it
shows then is all used since), and the full and oracle figures are worked
out over that same span, so that the three compare like with like.

Pure logic: the caller reads the store."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gateway.lighting.energy import Event, merge_intervals, near_from_events
from gateway.lighting.wave import Pole
from gateway.lighting.zones import Zone, ZoneBook

NIGHT_STARTS = time(12, 0)  # local noon: every night, and no day's dark hours, are cut in two


@dataclass(frozen=True)
class ZoneNight:
    zone: str
    night: date  # the local date the night starts on
    start: float  # unix time (UTC), local noon
    end: float  # the next local noon
    poles: int  # the zone's poles
    reporting: int  # of them, those with two status reports or more in the night
    measured_wh: float
    full_wh: float
    oracle_wh: float
    complete: bool  # the night is over

    @property
    def saving_pct(self) -> float | None:
        """Saved against full all night, %."""
        return None if self.full_wh <= 0 else (1 - self.measured_wh / self.full_wh) * 100

    @property
    def oracle_ratio(self) -> float | None:
        """Ours / the oracle's: 1.0 is as good as anything keeping the zone's levels."""
        return None if self.oracle_wh <= 0 else self.measured_wh / self.oracle_wh


def night_span(timezone: str, day: date) -> tuple[float, float]:
    tz = ZoneInfo(timezone)
    start = datetime.combine(day, NIGHT_STARTS, tz)
    end = datetime.combine(day + timedelta(days=1), NIGHT_STARTS, tz)
    return start.timestamp(), end.timestamp()


def night_of(timezone: str, t: float) -> date:
    """The night a moment belongs to."""
    local = datetime.fromtimestamp(t, ZoneInfo(timezone))
    return local.date() if local.time() >= NIGHT_STARTS else local.date() - timedelta(days=1)


def counter_rise(reports: list[tuple[float, int]]) -> float:
    """Watt-hours from a pole's (time, energy counter in 0.1 Wh) reports, in
    order: the counter's rises; after a restart (it fell), its new value."""
    total = 0
    for (_, before), (_, after) in zip(reports, reports[1:], strict=False):
        total += after - before if after >= before else after
    return total / 10


class _Lit:
    """A zone's levels minute by minute over a span at one place, with running
    sums, so that any pole's share of the span is two look-ups."""

    def __init__(self, zones: ZoneBook, pole: Pole, start: float, end: float) -> None:
        self.first = int(start // 60)
        minutes = int(math.ceil(end / 60)) - self.first
        self.levels = [zones.levels(pole.zone, (self.first + i) * 60, pole.lat, pole.lon)
                       for i in range(minutes)]
        self.lit = self._sums([1.0 if on else 0.0 for on, _, _ in self.levels])
        self.idle = self._sums([float(idle) if on else 0.0 for on, idle, _ in self.levels])

    @staticmethod
    def _sums(values: list[float]) -> tuple[list[float], list[float]]:
        sums = [0.0]
        for v in values:
            sums.append(sums[-1] + v * 60)
        return values, sums

    def _at(self, series: tuple[list[float], list[float]], t: float) -> float:
        values, sums = series
        i = min(max(int(t // 60) - self.first, 0), len(values))
        if i >= len(values):
            return sums[-1]
        return sums[i] + values[i] * (t - (self.first + i) * 60)

    def integral(self, series: tuple[list[float], list[float]], a: float, b: float) -> float:
        return self._at(series, b) - self._at(series, a) if b > a else 0.0

    def extra(self, a: float, b: float) -> float:
        """Percent-seconds above idle at the active level from a to b."""
        total = 0.0
        m = int(a // 60)
        while a < b:
            i = m - self.first
            if not 0 <= i < len(self.levels):
                break
            step_end = min(b, (m + 1) * 60)
            on, idle, active = self.levels[i]
            if on:
                total += (active - idle) * (step_end - a)
            a = step_end
            m += 1
        return total


@dataclass(frozen=True)
class PoleSpan:
    """A pole's status reports in a span: how many, the first's and the
    last's time, and its energy counter's rise over them (counter_rise)."""
    reports: int
    first: float
    last: float
    rise_wh: float


def pole_spans(reports: Mapping[str, list[tuple[float, int]]], start: float,
               end: float) -> dict[str, PoleSpan]:
    """Each pole's PoleSpan over [start, end) from its (time, energy
    counter) reports in time order (the store sums the same in SQL:
    Store.light_spans)."""
    out = {}
    for node_id, rows in reports.items():
        inside = [r for r in rows if start <= r[0] < end]
        if inside:
            out[node_id] = PoleSpan(len(inside), inside[0][0], inside[-1][0],
                                    counter_rise(inside))
    return out


# Each pole's PoleSpan over a span (start, end).
SpanSums = Callable[[float, float], Mapping[str, PoleSpan]]


def zone_nights(zone: Zone, poles: Mapping[str, Pole], zones: ZoneBook,
                reports: Mapping[str, list[tuple[float, int]]], events: Iterable[Event],
                nights: list[date], now: float) -> list[ZoneNight]:
    """Each night of `nights` for the zone's poles: reports, pole -> its
    (received at, energy counter) status reports, in time order; events, the
    presence events of the nights."""
    return zone_nights_from_spans(zone, poles, zones,
                                  lambda start, end: pole_spans(reports, start, end),
                                  events, nights, now)


def zone_nights_from_spans(zone: Zone, poles: Mapping[str, Pole], zones: ZoneBook,
                           spans: SpanSums, events: Iterable[Event], nights: list[date],
                           now: float) -> list[ZoneNight]:
    """As zone_nights, with each pole's reports of a night already summed:
    a district's nights of status reports need not all be held at once."""
    near = near_from_events(events, poles)
    out = []
    for day in nights:
        start, end = night_span(zone.timezone, day)
        sums = spans(start, end)
        measured = full = oracle = 0.0
        reporting = 0
        places: dict[tuple[int, int], _Lit] = {}
        for node_id, pole in sorted(poles.items()):
            span = sums.get(node_id)
            if span is None or span.reports < 2:
                continue
            reporting += 1
            a, b = span.first, span.last
            place = (int(pole.lat * 100), int(pole.lon * 50))
            lit = places.get(place)
            if lit is None:
                lit = places[place] = _Lit(zones, pole, start, end)
            measured += span.rise_wh
            full += zone.lamp_w * lit.integral(lit.lit, a, b) / 3600
            extra = sum(lit.extra(max(x, a), min(y, b))
                        for x, y in merge_intervals(near.get(node_id, [])) if y > a and x < b)
            oracle += zone.lamp_w * (lit.integral(lit.idle, a, b) + extra) / 100 / 3600
        out.append(ZoneNight(zone.name, day, start, end, len(poles), reporting,
                             round(measured, 1), round(full, 1), round(oracle, 1), end <= now))
    return out


def last_nights(timezone: str, now: float, count: int) -> list[date]:
    """The last `count` nights up to the one under way, oldest first."""
    latest = night_of(timezone, now)
    return [latest - timedelta(days=i) for i in range(count - 1, -1, -1)]


def poles_by_zone(poles: Iterable[Pole]) -> dict[str, dict[str, Pole]]:
    out: dict[str, dict[str, Pole]] = defaultdict(dict)
    for p in poles:
        out[p.zone][p.node_id] = p
    return out
