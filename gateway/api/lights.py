"""Street lighting as people read it: each pole's state, and the zones with
their settings and change log. Changing a zone is the lighting operator's
alone (the role table); its route comes with the zone editor."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from gateway.accounts import Permission
from gateway.api.alarms import offline
from gateway.api.auth import require
from gateway.api.context import ApiContext, context
from gateway.api.pages import LIMIT_DEFAULT, Limit, Offset, Page
from gateway.api.problems import Problem
from gateway.lighting.zones import Zone, ZoneError

ZoneName = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$",
                               description="the zone's name")]


class LightState(BaseModel):
    node_id: str
    zone: str
    addr: int | None = Field(description="the pole's short address")
    lat: float
    lon: float
    level_pct: int | None = Field(description="its light level in its latest status report")
    energy_wh: float | None = Field(description="its energy counter in that report")
    status_at: float | None = Field(description="unix time (UTC) of that report")
    last_seen: float | None = Field(description="unix time (UTC) of its latest uplink")
    online: bool


class ZoneSettings(BaseModel):
    name: str
    revision: int = Field(description="0: never set, the defaults")
    idle_pct: int
    active_pct: int
    hold_s: int
    ramp_up_s: float
    ramp_down_s: int
    safe_idle_pct: int
    offline_after_min: int
    hours: str
    dusk_offset_min: int
    dawn_offset_min: int
    steps: list[str]
    lamp_w: float
    timezone: str
    poles: int = Field(description="light poles registered in the zone")


class ZoneChange(BaseModel):
    at: float = Field(description="unix time (UTC)")
    who: str
    revision: int
    setting: str
    old: str
    new: str


def _zones(ctx: ApiContext) -> dict[str, Zone]:
    zones = {}
    for name, settings, revision in ctx.store.zone_rows():
        try:
            zones[name] = Zone.from_json(settings, revision)
        except (ZoneError, ValueError, TypeError):
            continue  # the gateway's log tells of a stored zone it cannot use
    for node in ctx.store.nodes():
        if node.role == "light":
            name = node.kind or "default"
            if name not in zones:
                try:
                    zones[name] = Zone(name)
                except ZoneError:
                    continue
    return zones


def _view(zone: Zone, poles: int) -> ZoneSettings:
    return ZoneSettings(
        name=zone.name, revision=zone.revision, idle_pct=zone.idle_pct,
        active_pct=zone.active_pct, hold_s=zone.hold_s, ramp_up_s=zone.ramp_up_s,
        ramp_down_s=zone.ramp_down_s, safe_idle_pct=zone.safe_idle_pct,
        offline_after_min=zone.offline_after_min, hours=zone.hours,
        dusk_offset_min=zone.dusk_offset_min, dawn_offset_min=zone.dawn_offset_min,
        steps=[str(s) for s in zone.steps], lamp_w=zone.lamp_w, timezone=zone.timezone,
        poles=poles)


def _poles(ctx: ApiContext) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in ctx.store.nodes():
        if node.role == "light":
            counts[node.kind or "default"] = counts.get(node.kind or "default", 0) + 1
    return counts


router = APIRouter(tags=["lighting"])


@router.get("/lights", response_model=Page[LightState], summary="Each pole's light state")
def list_lights(offset: Offset = 0, limit: Limit = LIMIT_DEFAULT,
                zone: Annotated[str | None, Query(max_length=40)] = None,
                _: object = Depends(require(Permission.LIGHTS_READ)),
                ctx: ApiContext = Depends(context)) -> Page[LightState]:
    where = {n.node_id: n for n in ctx.store.nodes()}
    rows = [r for r in ctx.store.light_rows() if zone is None or (r.zone or "default") == zone]
    now = time.time()
    items = []
    for r in rows[offset:offset + limit]:
        node = where.get(r.node_id)
        items.append(LightState(
            node_id=r.node_id, zone=r.zone or "default", addr=r.addr,
            lat=node.lat if node else 0.0, lon=node.lon if node else 0.0,
            level_pct=r.level_pct, energy_wh=None if r.energy_dwh is None else r.energy_dwh / 10,
            status_at=r.status_at, last_seen=r.last_seen,
            online=not offline("light", r.last_seen, now)))
    return Page[LightState](items=items, total=len(rows), offset=offset, limit=limit)


@router.get("/zones", response_model=list[ZoneSettings], summary="Lighting zones")
def list_zones(_: object = Depends(require(Permission.ZONES_READ)),
               ctx: ApiContext = Depends(context)) -> list[ZoneSettings]:
    poles = _poles(ctx)
    return [_view(z, poles.get(name, 0)) for name, z in sorted(_zones(ctx).items())]


@router.get("/zones/{name}", response_model=ZoneSettings, summary="One lighting zone")
def get_zone(name: ZoneName, _: object = Depends(require(Permission.ZONES_READ)),
             ctx: ApiContext = Depends(context)) -> ZoneSettings:
    zone = _zones(ctx).get(name)
    if zone is None:
        raise Problem(404, f"no zone {name!r}: it has no settings and no poles; "
                           "GET /api/v1/zones lists them")
    return _view(zone, _poles(ctx).get(name, 0))


@router.get("/zones/{name}/log", response_model=Page[ZoneChange],
            summary="A zone's changes, newest first")
def zone_log(name: ZoneName, offset: Offset = 0, limit: Limit = LIMIT_DEFAULT,
             _: object = Depends(require(Permission.ZONES_READ)),
             ctx: ApiContext = Depends(context)) -> Page[ZoneChange]:
    if name not in _zones(ctx):
        raise Problem(404, f"no zone {name!r}: it has no settings and no poles; "
                           "GET /api/v1/zones lists them")
    rows, total = ctx.store.zone_log_page(name, offset, limit)
    return Page[ZoneChange](items=[ZoneChange(at=a, who=w, revision=r, setting=s, old=o, new=n)
                                   for a, w, r, s, o, n in rows],
                            total=total, offset=offset, limit=limit)
