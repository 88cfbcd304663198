"""One day's files: what each table holds, worked out from the day's facts,
and the Data Package that lists and describes them.

Every time in the files is the start or end of a whole interval (an hour,
the presence interval, a night from local noon to noon) or a date: none is
a report's or an event's own time. Presence is counted per zone over whole
intervals, every zone and every interval of the day listed, and a count of
fewer people than the threshold (none at all included) is left empty."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from gateway.opendata.export.tables import Column, Row, Table
from gateway.privacy import ZoneInterval, shown

HOUR_S = 3600
DATAPACKAGE = "datapackage.json"
BINS_GEOJSON = "bins.geojson"

# Licences a city picks most often, by their SPDX ids; any other SPDX id is
# named with its page at spdx.org.
LICENCES = {
    "CC-BY-4.0": ("Creative Commons Attribution 4.0",
                  "https://creativecommons.org/licenses/by/4.0/"),
    "CC0-1.0": ("Creative Commons Zero v1.0 Universal",
                "https://creativecommons.org/publicdomain/zero/1.0/"),
    "CC-BY-SA-4.0": ("Creative Commons Attribution Share Alike 4.0",
                     "https://creativecommons.org/licenses/by-sa/4.0/"),
    "ODbL-1.0": ("Open Data Commons Open Database License v1.0",
                 "https://opendatacommons.org/licenses/odbl/1-0/"),
    "PDDL-1.0": ("Open Data Commons Public Domain Dedication & License 1.0",
                 "https://opendatacommons.org/licenses/pddl/1-0/"),
    "DL-DE-BY-2.0": ("Data licence Germany - attribution - version 2.0",
                     "https://www.govdata.de/dl-de/by-2-0"),
    "NLOD-2.0": ("Norwegian Licence for Open Government Data 2.0",
                 "https://data.norge.no/nlod/en/2.0"),
    "OGL-UK-3.0": ("Open Government Licence v3.0",
                   "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"),
}


def licence(spdx: str) -> dict[str, str]:
    title, url = LICENCES.get(spdx, (spdx, f"https://spdx.org/licenses/{spdx}.html"))
    return {"name": spdx, "title": title, "path": url}


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def intervals(start: float, end: float, interval_s: int, until: float) -> list[tuple[int, int]]:
    """The clock's intervals (multiples of interval_s) that start in
    [start, end) and are over by `until`."""
    first = -(-int(start) // interval_s) * interval_s
    return [(a, a + interval_s) for a in range(first, int(end), interval_s)
            if a + interval_s <= until and a >= start]


# --- the tables -------------------------------------------------------------------------

BINS = Table("bins", "Bins", "Every litter bin the gateway serves: where it stands, its "
             "type and what it holds. bins.geojson holds the same rows as Points.", (
                 Column("bin_id", "string", "the bin's id, as on its sticker and in the "
                        "NGSI-LD WasteContainer urn:ngsi-ld:WasteContainer:<bin_id>",
                        required=True),
                 Column("type", "string", "the bin's type as registered (e.g. 240L, "
                        "a catalogue name)"),
                 Column("capacity_l", "number", "what the bin holds when full (its volume); "
                        "empty: not known for its type", unit="L", minimum=0),
                 Column("lat", "number", "latitude, WGS84", unit="degree", required=True,
                        minimum=-90, maximum=90),
                 Column("lon", "number", "longitude, WGS84", unit="degree", required=True,
                        minimum=-180, maximum=180),
             ), ("bin_id",))

BIN_FILL = Table("bin-fill", "Bin fill per hour", "How full each bin was, hour by hour, "
                 "from its own reports: one row per bin and hour in which it reported (no "
                 "row: it sent no report that hour).", (
                     Column("bin_id", "string", "the bin (bins.csv)", required=True),
                     Column("hour_start", "datetime", "the hour's start, UTC (the hours of "
                            "the district's local day)", required=True),
                     Column("hour_end", "datetime", "the hour's end, UTC (exclusive)",
                            required=True),
                     Column("reports", "integer", "the bin's reports measured in the hour",
                            required=True, minimum=1),
                     Column("fill_last_pct", "number", "the fill its last report in the hour "
                            "measured", unit="%", required=True, minimum=0, maximum=100),
                     Column("fill_mean_pct", "number", "the mean of the fills its reports in "
                            "the hour measured", unit="%", required=True, minimum=0,
                            maximum=100),
                 ), ("bin_id", "hour_start"))

EMPTYINGS = Table("emptyings", "Emptyings per bin", "How often each bin was emptied in the "
                  "day, as crews recorded it and as its own reports show (a fall in its "
                  "fill); one row per bin. A crew's emptying is usually seen by the bin's "
                  "next report as well: the two columns are not to be added.", (
                      Column("day", "date", "the district's local day", required=True),
                      Column("bin_id", "string", "the bin (bins.csv)", required=True),
                      Column("emptied_recorded", "integer", "emptyings crews recorded",
                             required=True, minimum=0),
                      Column("emptied_detected", "integer", "emptyings its reports show: its "
                             "fill fell to near empty, or by half or more",
                             required=True, minimum=0),
                      Column("unreachable", "integer", "visits crews recorded as could not "
                             "reach the bin", required=True, minimum=0),
                  ), ("day", "bin_id"))

LIGHTING_ENERGY = Table("lighting-energy", "Street-light energy per zone and night",
                        "What each lighting zone's poles used in the night that starts on "
                        "the day, by their own energy counters, against the same poles at "
                        "full all the time the zone was lit.", (
                            Column("zone", "string", "the lighting zone (NGSI-LD "
                                   "StreetlightGroup urn:ngsi-ld:StreetlightGroup:<zone>)",
                                   required=True),
                            Column("night", "date", "the local date the night starts on",
                                   required=True),
                            Column("night_start", "datetime", "local noon that day, UTC",
                                   required=True),
                            Column("night_end", "datetime", "the next local noon, UTC",
                                   required=True),
                            Column("complete", "boolean", "false: the night was still under "
                                   "way when the file was made", required=True),
                            Column("poles", "integer", "the zone's poles", required=True,
                                   minimum=0),
                            Column("poles_reporting", "integer", "poles with two status "
                                   "reports or more in the night: the energy below is theirs",
                                   required=True, minimum=0),
                            Column("measured_wh", "number", "their energy counters' rise over "
                                   "the night", unit="Wh", required=True, minimum=0),
                            Column("full_wh", "number", "the same poles at full power all "
                                   "the time the zone was lit", unit="Wh", required=True,
                                   minimum=0),
                            Column("saving_pct", "number", "saved against full: 100 × (1 − "
                                   "measured / full); empty when full is 0", unit="%"),
                        ), ("zone", "night"))

PRESENCE = Table("presence", "People counted per zone and hour", "How many people the "
                 "poles of each lighting zone counted in each interval of the day (an hour, "
                 "or the gateway's presence interval when that is longer): the most any one "
                 "of the zone's poles detected. Every zone and interval is listed; a count "
                 "below the gateway's threshold, none included, is left empty "
                 "(suppressed), so that one person's walk cannot be told apart from an "
                 "empty street.", (
                     Column("zone", "string", "the lighting zone", required=True),
                     Column("start", "datetime", "the interval's start, UTC", required=True),
                     Column("end", "datetime", "its end, UTC (exclusive)", required=True),
                     Column("suppressed", "boolean", "true: fewer people than the threshold "
                            "(see min_count in the package), the count is left empty",
                            required=True),
                     Column("people", "integer", "people counted; empty when suppressed",
                            minimum=0),
                 ), ("zone", "start"))

TABLES = (BINS, BIN_FILL, EMPTYINGS, LIGHTING_ENERGY, PRESENCE)

# The datasets a city declares open or not (the gateway's open_data_files),
# and the files of each.
DATASETS: dict[str, tuple[str, ...]] = {
    "bins": (BINS.csv_name, BINS_GEOJSON, BIN_FILL.csv_name),
    "emptyings": (EMPTYINGS.csv_name,),
    "lighting-energy": (LIGHTING_ENERGY.csv_name,),
    "presence": (PRESENCE.csv_name,),
}
FILES = tuple(f for files in DATASETS.values() for f in files)
DATASET_OF = {f: name for name, files in DATASETS.items() for f in files}


# --- the day's facts, as the caller reads them ---------------------------------------------

@dataclass(frozen=True)
class BinPlace:
    bin_id: str
    type: str
    capacity_l: float | None
    lat: float
    lon: float


@dataclass(frozen=True)
class NightEnergy:
    zone: str
    night: date
    start: float
    end: float
    complete: bool
    poles: int
    reporting: int
    measured_wh: float
    full_wh: float


@dataclass
class DayFacts:
    district: str
    district_name: str
    day: date
    start: float  # the local day's midnight, unix time
    end: float  # the next midnight
    made_until: float  # the files hold only intervals over by then
    bins: list[BinPlace] = field(default_factory=list)
    # (bin id, measured at, fill %): the bins' reports measured in the day
    reports: list[tuple[str, float, float | None]] = field(default_factory=list)
    # (bin id, outcome): crews' records of the day, emptied or unreachable
    visits: list[tuple[str, str]] = field(default_factory=list)
    # bin id -> emptyings its reports showed in the day
    detected: Mapping[str, int] = field(default_factory=dict)
    nights: list[NightEnergy] = field(default_factory=list)
    zones: list[str] = field(default_factory=list)  # the zones with poles
    presence: list[ZoneInterval] = field(default_factory=list)
    presence_interval_s: int = HOUR_S
    min_count: int = 5
    licence: str = "CC-BY-4.0"
    credits: list[str] = field(default_factory=list)  # the sources' credits


def presence_interval(gateway_interval_s: int) -> int:
    """An hour, or the gateway's presence interval when that is longer,
    rounded up to a whole number of them: the files never count presence
    over less than either."""
    if gateway_interval_s <= HOUR_S and HOUR_S % gateway_interval_s == 0:
        return HOUR_S
    n = -(-max(gateway_interval_s, HOUR_S) // gateway_interval_s)
    while (n * gateway_interval_s) % 900:
        n += 1
    return n * gateway_interval_s


def bin_rows(bins: Iterable[BinPlace]) -> list[Row]:
    return [{"bin_id": b.bin_id, "type": b.type, "capacity_l": b.capacity_l,
             "lat": round(b.lat, 7), "lon": round(b.lon, 7)}
            for b in sorted(bins, key=lambda b: b.bin_id)]


def _pct(v: float) -> float:
    return round(min(100.0, max(0.0, v)), 1)


def fill_rows(reports: Iterable[tuple[str, float, float | None]],
              hours: list[tuple[int, int]]) -> list[Row]:
    """Per bin and hour with a report: the last fill measured in it (of two
    measured at the same time, the one given last: the store gives them in
    the order stored) and the mean, each within 0..100 (a sensor's reading
    past either end is taken as the end it passed)."""
    if not hours:
        return []
    first, last = hours[0][0], hours[-1][1]
    by: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for bin_id, t, fill in reports:
        if fill is None or not (first <= t < last) or fill != fill:
            continue
        start = first + int((t - first) // HOUR_S) * HOUR_S
        by.setdefault((bin_id, start), []).append((t, float(fill)))
    rows: list[Row] = []
    for (bin_id, start), got in sorted(by.items()):
        got.sort(key=lambda x: x[0])
        fills = [_pct(f) for _, f in got]
        rows.append({"bin_id": bin_id, "hour_start": iso(start), "hour_end": iso(start + HOUR_S),
                     "reports": len(got), "fill_last_pct": fills[-1],
                     "fill_mean_pct": _pct(sum(fills) / len(fills))})
    return rows


def emptying_rows(day: date, bins: Iterable[str], visits: Iterable[tuple[str, str]],
                  detected: Mapping[str, int]) -> list[Row]:
    recorded: dict[str, int] = {}
    unreachable: dict[str, int] = {}
    for bin_id, outcome in visits:
        into = recorded if outcome == "emptied" else unreachable
        into[bin_id] = into.get(bin_id, 0) + 1
    ids = sorted(set(bins) | set(recorded) | set(unreachable) | set(detected))
    return [{"day": day.isoformat(), "bin_id": b, "emptied_recorded": recorded.get(b, 0),
             "emptied_detected": detected.get(b, 0), "unreachable": unreachable.get(b, 0)}
            for b in ids]


def night_rows(nights: Iterable[NightEnergy]) -> list[Row]:
    rows: list[Row] = []
    for n in sorted(nights, key=lambda n: (n.zone, n.night)):
        saving = None if n.full_wh <= 0 else round((1 - n.measured_wh / n.full_wh) * 100, 1)
        rows.append({"zone": n.zone, "night": n.night.isoformat(), "night_start": iso(n.start),
                     "night_end": iso(n.end), "complete": n.complete, "poles": n.poles,
                     "poles_reporting": n.reporting, "measured_wh": round(n.measured_wh, 1),
                     "full_wh": round(n.full_wh, 1), "saving_pct": saving})
    return rows


def presence_rows(zones: Iterable[str], counts: Iterable[ZoneInterval],
                  spans: list[tuple[int, int]], min_count: int) -> list[Row]:
    """Every zone in every interval, each count through gateway/privacy.py's
    rule; an interval with nobody counted is one of fewer than min_count
    people, suppressed like the others."""
    interval_s = spans[0][1] - spans[0][0] if spans else HOUR_S
    got = {(c.zone, c.start): c for c in counts}
    rows: list[Row] = []
    for zone in sorted(set(zones)):
        for start, _ in spans:
            c = got.get((zone, start), ZoneInterval(zone, start, 0, 0, 0))
            s = shown(c, interval_s, max(min_count, 1))
            rows.append({"zone": zone, "start": iso(s.start), "end": iso(s.end),
                         "suppressed": s.suppressed, "people": s.people})
    return rows


# --- the files ------------------------------------------------------------------------------

@dataclass(frozen=True)
class DayFiles:
    """Each file's name and bytes, datapackage.json among them, and each
    table's rows."""
    files: dict[str, bytes]
    rows: dict[str, int]


def _credit_source(credit: str) -> dict[str, str]:
    source = {"title": credit}
    if "openstreetmap" in credit.lower():
        source["path"] = "https://www.openstreetmap.org/copyright"
    return source


def package(f: DayFacts, tables: Mapping[str, list[Row]]) -> dict[str, Any]:
    """The Data Package (Frictionless Data, v1 with the tabular profile)."""
    name = f"kvarter-{f.district}-{f.day.isoformat()}".lower()
    name = "".join(c if c.isalnum() or c in "-._" else "-" for c in name)
    place = f.district_name or f.district
    licences = [licence(f.licence)]
    street_credits = [c for c in f.credits if "odbl" in c.lower()]
    if street_credits and f.licence != "ODbL-1.0":
        licences.append(licence("ODbL-1.0"))
    resources: list[dict[str, Any]] = []
    for t in TABLES:
        resources.append({
            "name": t.name, "path": t.csv_name, "title": t.title, "description": t.description,
            "profile": "tabular-data-resource", "format": "csv", "mediatype": "text/csv",
            "encoding": "utf-8", "dialect": {"delimiter": ",", "header": True},
            "schema": t.schema(), "rows": len(tables[t.name])})
        if t is BINS:
            resources.append({
                "name": "bins-geojson", "path": BINS_GEOJSON, "title": "Bins (GeoJSON)",
                "description": "The rows of bins.csv as a GeoJSON FeatureCollection of Points "
                               "(RFC 7946, WGS84), each row's columns its properties.",
                "profile": "data-resource", "format": "geojson",
                "mediatype": "application/geo+json", "encoding": "utf-8"})
    return {
        "profile": "data-package",
        "name": name,
        "title": f"{place}: bins, emptyings, street-light energy and presence counts, "
                 f"{f.day.isoformat()}",
        "description": f"The open data of the district {place} for its local day "
                       f"{f.day.isoformat()} ({iso(f.start)} to {iso(f.end)}), from its "
                       "gateway. Presence is counted per zone over whole intervals of "
                       f"{f.presence_interval_s // 60} minutes, a count of fewer than "
                       f"{f.min_count} people left empty; nothing in these files is one "
                       "person's or one pole's detection.",
        "keywords": ["smart city", "waste", "street lighting", "open data", f.district],
        "licenses": licences,
        "sources": [{"title": f"kvarter gateway of {place}"}]
                   + [_credit_source(c) for c in f.credits],
        "resources": resources,
        "kvarter:day": f.day.isoformat(),
        "kvarter:presence": {"interval_s": f.presence_interval_s, "min_count": f.min_count},
    }


def make_files(f: DayFacts) -> DayFiles:
    hours = intervals(f.start, f.end, HOUR_S, f.made_until)
    spans = intervals(f.start, f.end, f.presence_interval_s, f.made_until)
    tables: dict[str, list[Row]] = {
        BINS.name: bin_rows(f.bins),
        BIN_FILL.name: fill_rows(f.reports, hours),
        EMPTYINGS.name: emptying_rows(f.day, (b.bin_id for b in f.bins), f.visits, f.detected),
        LIGHTING_ENERGY.name: night_rows(f.nights),
        PRESENCE.name: presence_rows(f.zones, f.presence, spans, f.min_count),
    }
    files = {t.csv_name: t.to_csv(tables[t.name]).encode() for t in TABLES}
    files[BINS_GEOJSON] = BINS.to_geojson(tables[BINS.name]).encode()
    files[DATAPACKAGE] = (json.dumps(package(f, tables), ensure_ascii=False, indent=2)
                          + "\n").encode()
    return DayFiles(files, {name: len(rows) for name, rows in tables.items()})


def only(package_doc: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The package with the resources of these files only (what one reader
    may read)."""
    keep = set(names)
    return {**package_doc,
            "resources": [r for r in package_doc["resources"] if r["path"] in keep]}
