"""Our bins, poles, zones and nodes as FIWARE Smart Data Models entities, in
NGSI-LD's normalized form (each attribute a Property, Relationship or
GeoProperty), and the simplified form (keyValues) made from it.

- a bin is a WasteContainer (dataModel.WasteManagement),
- a light pole a Streetlight, a lighting zone a StreetlightGroup
  (dataModel.Streetlighting),
- a node a Device (dataModel.Device).

No presence leaves here: a Streetlight's and a StreetlightGroup's power state
and level are what the zone's schedule sets for the moment (the level with
nobody near), never the level a pole measured, which rises as someone walks
by; a pole's times are those of its periodic status reports, never of a
detection."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# The contexts the entities' terms are defined in: the Smart Data Models'
# shared context, then the NGSI-LD core context.
SMART_DATA_MODELS_CONTEXT = "https://smartdatamodels.org/context.jsonld"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
CONTEXT = [SMART_DATA_MODELS_CONTEXT, CORE_CONTEXT]

WASTE_CONTAINER = "WasteContainer"
STREETLIGHT = "Streetlight"
STREETLIGHT_GROUP = "StreetlightGroup"
DEVICE = "Device"
TYPES = (WASTE_CONTAINER, STREETLIGHT, STREETLIGHT_GROUP, DEVICE)
# A type's full name (its expanded IRI), which a client may give instead.
TYPE_IRIS = {
    WASTE_CONTAINER: "https://smartdatamodels.org/dataModel.WasteManagement/WasteContainer",
    STREETLIGHT: "https://smartdatamodels.org/dataModel.Streetlighting/Streetlight",
    STREETLIGHT_GROUP: "https://smartdatamodels.org/dataModel.Streetlighting/StreetlightGroup",
    DEVICE: "https://smartdatamodels.org/dataModel.Device/Device",
}

# A bin's alarms as the WasteContainer model's status, the most serious
# first; an alarm that says nothing of the container itself (a low battery,
# a sensor fault) leaves it ok.
STATUS_OF_ALARM = (("fire", "burning"), ("tilt", "dropped"), ("lid-open", "lidOpen"))

Entity = dict[str, Any]


def urn(kind: str, name: str) -> str:
    return f"urn:ngsi-ld:{kind}:{name}"


@functools.lru_cache(maxsize=1024)
def _day(days: int) -> str:
    return datetime.fromtimestamp(days * 86400, UTC).strftime("%Y-%m-%d")


def iso(t: float) -> str:
    """UTC to the second; the date worked out once per day, as a district's
    tens of thousands of times are written again and again."""
    days, secs = divmod(int(t), 86400)
    return f"{_day(days)}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}Z"


def _prop(value: object, observed: float | None = None, unit: str | None = None) -> dict[str,
                                                                                          Any]:
    out: dict[str, Any] = {"type": "Property", "value": value}
    if unit is not None:
        out["unitCode"] = unit
    if observed is not None:
        out["observedAt"] = iso(observed)
    return out


def _when(t: float) -> dict[str, Any]:
    return {"type": "Property", "value": {"@type": "DateTime", "@value": iso(t)}}


def _rel(target: str | list[str]) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


@dataclass(frozen=True)
class BinFacts:
    node_id: str
    kind: str  # the bin's type, "240L" and the like
    lat: float
    lon: float
    fill_pct: float | None
    temp_c: float | None
    measured_at: float | None  # of the latest report
    alarms: Sequence[str]  # as the API names them: fire, tilt, lid-open, offline, ...
    full_at: float | None  # the forecast's: when it reaches the plan's must level
    last_emptied: float | None


@dataclass(frozen=True)
class PoleFacts:
    node_id: str
    zone: str
    lat: float
    lon: float
    lit: bool  # the zone's schedule lights it now
    idle_pct: int  # the level the schedule sets now, with nobody near


@dataclass(frozen=True)
class ZoneFacts:
    name: str
    poles: Sequence[tuple[str, float, float]]  # (node id, lat, lon)
    lit: bool
    idle_pct: int
    hours: str  # dusk-dawn, always or HH:MM-HH:MM
    dims: bool  # some night step lowers the idle level


@dataclass(frozen=True)
class NodeFacts:
    node_id: str
    role: str  # bin | light
    lat: float
    lon: float
    online: bool
    pending: bool  # registered, never heard from
    last_value_at: float | None  # a bin's latest report, a pole's latest status report


def capacity_l(kind: str) -> float | None:
    """A bin type named by its volume ("240L", "80 l"), in litres."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[lL]\s*", kind)
    return float(m.group(1)) if m else None


def bin_status(alarms: Sequence[str]) -> str:
    for alarm, status in STATUS_OF_ALARM:
        if alarm in alarms:
            return status
    return "unknown" if "offline" in alarms else "ok"


def waste_container(b: BinFacts) -> Entity:
    e: Entity = {"id": urn(WASTE_CONTAINER, b.node_id), "type": WASTE_CONTAINER,
                 "location": _point(b.lon, b.lat)}
    if b.fill_pct is not None:
        e["fillingLevel"] = _prop(round(min(100.0, max(0.0, b.fill_pct)) / 100, 3),
                                  b.measured_at)
    if b.temp_c is not None:
        e["temperature"] = _prop(b.temp_c, b.measured_at, "CEL")
    e["status"] = _prop(bin_status(b.alarms))
    if b.last_emptied is not None:
        e["dateLastEmptying"] = _when(b.last_emptied)
    if b.full_at is not None:
        e["nextActuationDeadline"] = _when(b.full_at)
    capacity = capacity_l(b.kind)
    if capacity is not None:
        e["binCapacity"] = _prop(capacity, unit="LTR")
    e["refDevice"] = _rel([urn(DEVICE, b.node_id)])
    return e


def _power(lit: bool, idle_pct: int) -> tuple[str, float]:
    level = idle_pct / 100 if lit else 0.0
    return ("on" if level > 0 else "off"), level


def streetlight(p: PoleFacts) -> Entity:
    state, level = _power(p.lit, p.idle_pct)
    return {"id": urn(STREETLIGHT, p.node_id), "type": STREETLIGHT,
            "location": _point(p.lon, p.lat),
            # The model's status is the lamp's and the column's; the gateway
            # hears of no defect of either. Whether the pole's node is heard
            # from is its Device's deviceState.
            "status": _prop("ok"),
            "powerState": _prop(state), "illuminanceLevel": _prop(level),
            "refStreetlightGroup": _rel(urn(STREETLIGHT_GROUP, p.zone)),
            "refDevice": _rel([urn(DEVICE, p.node_id)])}


def _switching(hours: str, dims: bool) -> list[str]:
    if hours == "always":
        return ["always-ON"]
    return ["night-LOW" if dims else "night-ON", "day-OFF"]


def streetlight_group(z: ZoneFacts) -> Entity:
    state, level = _power(z.lit, z.idle_pct)
    points = [[lon, lat] for _, lat, lon in z.poles]
    e: Entity = {"id": urn(STREETLIGHT_GROUP, z.name), "type": STREETLIGHT_GROUP}
    if len(points) == 1:
        e["location"] = _point(points[0][0], points[0][1])
    elif points:
        e["location"] = {"type": "GeoProperty",
                         "value": {"type": "MultiPoint", "coordinates": points}}
    e.update({"powerState": _prop(state), "illuminanceLevel": _prop(level),
              "switchingMode": _prop(_switching(z.hours, z.dims)),
              "refStreetlight": _rel([urn(STREETLIGHT, n) for n, _, _ in z.poles])})
    return e


def device(n: NodeFacts) -> Entity:
    state = "pending" if n.pending else ("ok" if n.online else "offline")
    e: Entity = {"id": urn(DEVICE, n.node_id), "type": DEVICE,
                 "location": _point(n.lon, n.lat),
                 "category": _prop(["sensor"] if n.role == "bin" else ["actuator"]),
                 "controlledProperty": _prop(["fillingLevel", "temperature"] if n.role == "bin"
                                             else ["light"]),
                 "deviceState": _prop(state)}
    if n.last_value_at is not None:
        e["dateLastValueReported"] = _when(n.last_value_at)
    return e


# --- forms ---------------------------------------------------------------------

def attribute_value(attr: object) -> object:
    """An attribute's value (a Relationship's object), date-times as their
    text; None when it has none."""
    if not isinstance(attr, dict):
        return None
    value = attr.get("value", attr.get("object"))
    if isinstance(value, dict) and "@value" in value:
        return value["@value"]
    return value


def _query_value(attr: object) -> object:
    if isinstance(attr, dict):
        value = attr.get("value", attr.get("object"))
        if isinstance(value, dict) and value.get("@type") == "DateTime":
            try:
                return datetime.fromisoformat(str(value["@value"]).replace("Z", "+00:00"))
            except ValueError:
                return None
        return value
    return None


def lookup(entity: Entity, path: tuple[str, ...]) -> object:
    """The value at an attribute (or its sub-attribute: observedAt,
    unitCode) for a query, a DateTime as a datetime; None: it has none."""
    attr = entity.get(path[0])
    if len(path) == 1:
        return _query_value(attr)
    if not isinstance(attr, dict):
        return None
    sub = attr.get(path[1])
    return _query_value(sub) if isinstance(sub, dict) else sub


def key_values(entity: Entity) -> Entity:
    """The simplified form: each attribute its value alone."""
    return {k: (v if k in ("id", "type") else attribute_value(v) if k != "location"
                else v["value"]) for k, v in entity.items()}


def project(entity: Entity, attrs: frozenset[str] | None) -> Entity:
    if attrs is None:
        return entity
    return {k: v for k, v in entity.items() if k in ("id", "type") or k in attrs}


def positions(entity: Entity) -> list[tuple[float, float]]:
    """(lon, lat) of each point of its location."""
    loc = entity.get("location")
    if not isinstance(loc, dict):
        return []
    geom = loc["value"]
    if geom["type"] == "Point":
        return [(geom["coordinates"][0], geom["coordinates"][1])]
    return [(p[0], p[1]) for p in geom["coordinates"]]
