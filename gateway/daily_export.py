"""The district's daily open-data files read from the gateway's data: the
bins and their reports, the crews' records, each zone's night of energy
(gateway/lighting/zone_energy.py, as the operator's desk shows it) and the
presence counts, handed to gateway/opendata/export, which makes the files.
`kvarter export open-data` and GET /api/v1/open-data/{day} both come here.

A day is the district's local day (the gateway's local time, as the crews'
plans keep it), midnight to midnight. A day still under way has what is
over of it; a day not begun has no files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime

from gateway.lighting.zone_energy import energy_per_night
from gateway.opendata.entities import capacity_l
from gateway.opendata.export.files import (
    BinPlace,
    DayFacts,
    DayFiles,
    NightEnergy,
    intervals,
    make_files,
    presence_interval,
)
from gateway.privacy import DEFAULT_MIN_COUNT, QUARTER_HOUR_S
from gateway.storage.store import Store
from gateway.streets.geometry import credit
from gateway.waste.bin_types import Catalogue
from gateway.waste.forecast import Forecaster

# Before this no gateway kept data; a day before it is a mistake.
EARLIEST = date(2000, 1, 1)
# A bin's emptying shows as a fall from its reading before: readings this
# long before the day are read for the first of the day.
LOOK_BACK_S = 2 * 86400
_DAY = re.compile(r"\d{4}-\d\d-\d\d")


class DayError(ValueError):
    """A day there can be no files for; the message says why and what to ask."""


@dataclass(frozen=True)
class Settings:
    district: str = "district"
    district_name: str = ""
    presence_interval_s: int = QUARTER_HOUR_S
    min_count: int = DEFAULT_MIN_COUNT
    licence: str = "CC-BY-4.0"


def local_day(day: date) -> tuple[float, float]:
    """The day's local midnight and the next, unix time (23 or 25 hours
    apart on a clock change)."""
    start = datetime.combine(day, dtime(0)).astimezone()
    end = datetime.combine(day + timedelta(days=1), dtime(0)).astimezone()
    return start.timestamp(), end.timestamp()


def today(now: float) -> date:
    return datetime.fromtimestamp(now).astimezone().date()


def parse_day(text: str, now: float) -> date:
    """A day as YYYY-MM-DD that has begun, from 2000 on."""
    if not _DAY.fullmatch(text):
        raise DayError(f"day {text!r} is not a date like 2026-03-01 (YYYY-MM-DD)")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise DayError(f"day {text} is not a date of the calendar") from None
    check_day(day, now)
    return day


def check_day(day: date, now: float) -> None:
    if day < EARLIEST:
        raise DayError(f"day {day.isoformat()} is before {EARLIEST.isoformat()}: the gateway "
                       "has no data that old")
    if day > today(now):
        raise DayError(f"day {day.isoformat()} has not begun yet (today is "
                       f"{today(now).isoformat()}): ask for today or a day before")


def capacities(store: Store) -> dict[str, float]:
    """Each bin type's volume the gateway knows (its catalogue and the kinds
    imported with bins)."""
    catalogue = Catalogue.default().with_specs(store.kind_specs())
    return {name: float(t.volume_l) for name, t in catalogue.types.items()}


def _capacity(kind: str, known: dict[str, float]) -> float | None:
    return known[kind] if kind in known else capacity_l(kind)


def day_facts(store: Store, day: date, now: float, s: Settings) -> DayFacts:
    check_day(day, now)
    start, end = local_day(day)
    interval = presence_interval(s.presence_interval_s)
    facts = DayFacts(district=s.district, district_name=s.district_name, day=day,
                     start=start, end=end, made_until=now,
                     presence_interval_s=interval, min_count=s.min_count, licence=s.licence)
    known = capacities(store)
    facts.bins = [BinPlace(node_id, kind or "", _capacity(kind or "", known), lat, lon)
                  for node_id, kind, lat, lon, *_ in store.open_data_bins()]
    until = min(end, now)
    readings = store.bin_fills_between(start - LOOK_BACK_S, until)
    facts.reports = [r for r in readings if r[1] >= start]
    # Emptyings by the bins' own readings: the forecast's rule for a fall
    # that is an emptying, each bin's readings in time order.
    seen = Forecaster(not_after=until)
    detected: dict[str, int] = {}
    for node_id, t, fill in readings:
        if seen.observe(node_id, t, fill) and t >= start:
            detected[node_id] = detected.get(node_id, 0) + 1
    facts.detected = detected
    facts.visits = [(node_id, outcome) for node_id, at, outcome, _ in store.visits(start)
                    if at < until]
    facts.nights = [NightEnergy(n.zone, n.night, n.start, n.end, n.complete, n.poles,
                                n.reporting, n.measured_wh, n.full_wh)
                    for n in energy_per_night(store, lambda _tz: [day], now)]
    facts.zones = sorted({n.kind or "default" for n in store.nodes() if n.role == "light"})
    spans = intervals(start, end, interval, now)
    if spans:
        facts.presence = store.presence_counts(spans[0][0], spans[-1][1], interval, None)
    streets = store.streets()
    found = None if streets is None else credit(streets[1])
    facts.credits = [found] if found else []
    return facts


def day_files(store: Store, day: date, now: float, s: Settings) -> DayFiles:
    return make_files(day_facts(store, day, now, s))
