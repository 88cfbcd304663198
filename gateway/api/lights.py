"""Street lighting as people read and run it: each pole's state (level,
online or not, the profile revision it runs), the zones with their settings
and change log, a change checked and its energy effect worked out before it
is saved, saving it (lighting operators and admins, the role table), pushing
a zone to its poles, and energy per zone per night against full all night
and against the oracle. The decisions are gateway/lighting's, the same the
operator's command line makes."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from firmware.lighting import payload as light_codec
from gateway.accounts import Permission
from gateway.api.alarms import LIGHT_OFFLINE_S, offline
from gateway.api.auth import Principal, require
from gateway.api.context import ApiContext, context
from gateway.api.pages import LIMIT_DEFAULT, Limit, Offset, Page
from gateway.api.problems import Problem
from gateway.lighting.nightly import last_nights
from gateway.lighting.zone_edit import (
    STEPS_MAX,
    EffectError,
    differences,
    energy_effect,
    propose,
)
from gateway.lighting.zone_energy import energy_per_night
from gateway.lighting.zones import Zone, ZoneError
from gateway.privacy import last_closed

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
    last_seen: float | None = Field(description="unix time (UTC) of its latest status report "
                                                "(never a presence event's: docs/privacy.md)")
    online: bool = Field(description=f"a status report "
                                     f"within the last {int(LIGHT_OFFLINE_S // 60)} min: "
                                     "three status reports at the default interval")
    safe_profile: bool = Field(description="its latest status says it has not heard from "
                                           "the gateway and runs its safe profile")
    running_revision: int | None = Field(
        description="the zone revision of the profile it acknowledged last; null: none "
                    "acknowledged since it was registered")
    zone_revision: int = Field(description="its zone's revision now (0: the defaults)")


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
    """A pole is online while a status report of it came within the last 45
    minutes: it reports its status every 15 minutes by default, day and
    night, so three missed in a row. Its presence events are left out: their
    times would be a passer-by's path."""
    where = {n.node_id: n for n in ctx.store.nodes()}
    rows = [r for r in ctx.store.light_rows() if zone is None or (r.zone or "default") == zone]
    running = ctx.store.running_profiles()
    revisions = {name: revision for name, _, revision in ctx.store.zone_rows()}
    now = time.time()
    items = []
    for r in rows[offset:offset + limit]:
        node = where.get(r.node_id)
        name = r.zone or "default"
        run = running.get(r.node_id)
        items.append(LightState(
            node_id=r.node_id, zone=name, addr=r.addr,
            lat=node.lat if node else 0.0, lon=node.lon if node else 0.0,
            level_pct=r.level_pct, energy_wh=None if r.energy_dwh is None else r.energy_dwh / 10,
            status_at=r.status_at, last_seen=r.last_seen,
            online=not offline("light", r.last_seen, now),
            safe_profile=bool((r.flags or 0) & light_codec.STATUS_OFFLINE),
            running_revision=run[1] if run is not None and run[0] == name else None,
            zone_revision=revisions.get(name, 0)))
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


# --- changing a zone ------------------------------------------------------------

Whole = Annotated[int, Field(ge=-10**9, le=10**9)]
Step = Annotated[str, StringConstraints(max_length=40)]
NO_ZONE = "it has no settings and no poles; GET /api/v1/zones lists them"


class ZoneChangeBody(BaseModel):
    """Settings to change, each optional (left out: unchanged); the same
    settings and checks as `kvarter lights zone set`."""
    model_config = ConfigDict(extra="forbid")
    idle_pct: Whole | None = None
    active_pct: Whole | None = None
    hold_s: Whole | None = None
    ramp_up_s: float | None = Field(None, allow_inf_nan=False)
    ramp_down_s: Whole | None = None
    safe_idle_pct: Whole | None = None
    offline_after_min: Whole | None = None
    hours: str | None = Field(None, max_length=40,
                              description="dusk-dawn, always, or HH:MM-HH:MM local time")
    dusk_offset_min: Whole | None = None
    dawn_offset_min: Whole | None = None
    steps: list[Step] | None = Field(None, max_length=STEPS_MAX, description=(
        "night steps like 23:00-05:00=10/60 (idle %/active %); they replace the steps, "
        "an empty list removes them"))
    lamp_w: float | None = Field(None, allow_inf_nan=False)
    timezone: str | None = Field(None, max_length=64)

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items()
                if k in self.model_fields_set and k != "expect_revision"}


class ZoneSave(ZoneChangeBody):
    expect_revision: int | None = Field(None, ge=0, le=2**53, description=(
        "the revision the change was made against: refused (409) if the zone changed "
        "since; left out, the change goes on whatever the zone is now"))


class SettingChange(BaseModel):
    setting: str
    old: str
    new: str


class ZoneCheck(BaseModel):
    zone: ZoneSettings = Field(description="the zone as it would be")
    changes: list[SettingChange]


class ZoneSaved(BaseModel):
    zone: ZoneSettings
    changes: list[SettingChange] = Field(description="empty: nothing changed, nothing saved")


class ZoneEffect(BaseModel):
    zone: str
    poles: int
    events: int = Field(description="the zone's presence events replayed")
    days: int
    start: float = Field(description="unix time (UTC) the replay starts")
    end: float
    now_kwh: float = Field(description="the zone's energy over the days, as it is")
    proposed_kwh: float = Field(description="the same with the change")
    change_kwh: float
    change_pct: float | None = Field(description="null when the zone used nothing")
    changes: list[SettingChange]


class PolePush(BaseModel):
    node_id: str
    outcome: str = Field(description="acknowledged, no answer, refused: ..., or never heard "
                                     "from (no address to send to)")
    acknowledged: bool
    running_revision: int | None = Field(
        description="the zone revision it runs: this push's if acknowledged, else the last "
                    "it acknowledged (null: none)")


class ZonePushed(BaseModel):
    zone: str
    revision: int = Field(description="the revision pushed")
    acknowledged: int
    total: int
    poles: list[PolePush]


def _known(ctx: ApiContext, name: str) -> Zone:
    zone = _zones(ctx).get(name)
    if zone is None:
        raise Problem(404, f"no zone {name!r}: {NO_ZONE}")
    return zone


def _proposed(name: str, current: Zone, body: ZoneChangeBody) -> Zone:
    try:
        return propose(current, body.changes())
    except ZoneError as e:
        raise Problem(422, f"zone {name}: {e}") from None


def _setting_changes(old: Zone, new: Zone) -> list[SettingChange]:
    return [SettingChange(setting=k, old=a, new=b) for k, a, b in differences(old, new)]


@router.post("/zones/{name}/check", response_model=ZoneCheck,
             summary="Check a zone change without saving it")
def check_zone(name: ZoneName, body: ZoneChangeBody,
               _: object = Depends(require(Permission.ZONES_READ)),
               ctx: ApiContext = Depends(context)) -> ZoneCheck:
    """The zone as it would be, and what would change; a change that cannot
    be made is a 422 problem whose detail names the first bad setting."""
    current = _known(ctx, name)
    new = _proposed(name, current, body)
    return ZoneCheck(zone=_view(new, _poles(ctx).get(name, 0)),
                     changes=_setting_changes(current, new))


@router.post("/zones/{name}/effect", response_model=ZoneEffect,
             summary="The energy effect of a zone change, before saving it",
             responses={409: {"description": "no streets or no poles to replay, or more "
                                             "days asked than the gateway keeps"}})
def zone_effect(name: ZoneName, body: ZoneChangeBody,
                days: Annotated[int, Query(ge=1, le=60, description=(
                    "replay this many days of recorded presence, up to now: at most the "
                    "days the gateway keeps (presence_keep_days, 7 by default)"))] = 7,
                _: object = Depends(require(Permission.ZONES_READ)),
                ctx: ApiContext = Depends(context)) -> ZoneEffect:
    """The zone's recorded presence events of the last days replayed through
    the light wave with the settings as they are and with the change, as
    `kvarter lights zone effect` does."""
    if days > ctx.presence_keep_days:
        keep = ctx.presence_keep_days
        raise Problem(409, f"only {keep:g} days of presence events are kept (the gateway's "
                           f"presence_keep_days): ask for days={int(keep)} or fewer")
    current = _known(ctx, name)
    new = _proposed(name, current, body)
    # Up to the quarter hour under way: an answer that changed with each
    # presence event, asked again and again, would time a passer-by.
    end = float(last_closed(time.time()))
    start = end - days * 86400
    events = [(n, float(t), c, s, f) for n, t, c, s, f in ctx.store.presence_between(start, end)]
    try:
        effect = energy_effect({n.node_id: n for n in ctx.store.nodes()}, ctx.store.streets(),
                               ctx.store.zone_rows(), events, name, new, start, end)
    except EffectError as e:
        raise Problem(409, f"zone {name}: {e}") from None
    now_kwh, new_kwh = effect.now_wh / 1000, effect.proposed_wh / 1000
    pct = effect.change_pct
    return ZoneEffect(zone=name, poles=effect.poles, events=effect.events, days=days,
                      start=start, end=end, now_kwh=round(now_kwh, 3),
                      proposed_kwh=round(new_kwh, 3), change_kwh=round(new_kwh - now_kwh, 3),
                      change_pct=None if pct is None else round(pct, 2),
                      changes=_setting_changes(current, new))


@router.patch("/zones/{name}", response_model=ZoneSaved, summary="Change a zone",
              responses={409: {"description": "the zone changed since expect_revision"}})
def save_zone(name: ZoneName, body: ZoneSave,
              who: Principal = Depends(require(Permission.ZONES_CHANGE)),
              ctx: ApiContext = Depends(context)) -> ZoneSaved:
    """Saves the change as a new revision, each setting changed logged in
    the zone log with the account's name. The running gateway uses it within
    a second; POST /api/v1/zones/{name}/push sends it to the poles."""
    current = _known(ctx, name)
    new = _proposed(name, current, body)
    if body.expect_revision is not None and body.expect_revision != current.revision:
        raise Problem(409, f"zone {name} is at revision {current.revision}, not "
                           f"{body.expect_revision}: someone changed it meanwhile; look at it "
                           "again and repeat the change")
    diffs = differences(current, new)
    if diffs:
        try:
            revision = ctx.store.save_zone(name, new.to_json(), who.user.username, diffs,
                                           current.revision)
        except ValueError as e:
            raise Problem(409, str(e)) from None
        new = Zone.from_json(new.to_json(), revision)
    return ZoneSaved(zone=_view(new, _poles(ctx).get(name, 0)),
                     changes=[SettingChange(setting=k, old=a, new=b) for k, a, b in diffs])


# The running gateway looks for push requests every second.
TAKE_WAIT_S = 5.0
POLL_S = 0.05


@router.post("/zones/{name}/push", response_model=ZonePushed,
             summary="Push a zone's profile to its poles",
             responses={409: {"description": "the zone has no poles"},
                        503: {"description": "the gateway's lighting did not take the push"}})
async def push_zone(name: ZoneName,
                    timeout: Annotated[float, Query(ge=0.1, le=60, description=(
                        "seconds to wait for each pole's acknowledgement"))] = 10.0,
                    _: object = Depends(require(Permission.ZONES_CHANGE)),
                    ctx: ApiContext = Depends(context)) -> ZonePushed:
    """The running gateway sends the zone's profile to each of its poles
    (CON POST /z, protected with each pole's own key, the zone key inside),
    as `kvarter lights zone push` has it do; the answer comes when every pole
    answered or timed out, with each pole's outcome and the revision it runs.
    The live stream (GET /api/v1/events) carries the same as `zone-push`."""
    store = ctx.store
    zone = await asyncio.to_thread(_known, ctx, name)
    members = sorted(n.node_id for n in await asyncio.to_thread(store.nodes)
                     if n.role == "light" and (n.kind or "default") == name)
    if not members:
        raise Problem(409, f"zone {name} has no light poles: nothing to push")
    request = await asyncio.to_thread(store.request_zone_push, name, timeout)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TAKE_WAIT_S
    got = await asyncio.to_thread(store.push_request, request)
    while got is None or got.taken_at is None:
        if loop.time() >= deadline and await asyncio.to_thread(store.cancel_push_request,
                                                                 request):
            raise Problem(503, f"the gateway's lighting did not take the push within "
                               f"{TAKE_WAIT_S:g} s; nothing was sent: see the gateway's log "
                               "and try again")
        await asyncio.sleep(POLL_S)
        got = await asyncio.to_thread(store.push_request, request)
    deadline = loop.time() + timeout + 30
    while got is None or got.results is None:
        if loop.time() >= deadline:
            raise Problem(503, f"the gateway took the push of zone {name} but has not "
                               "finished it; see its log, and GET /api/v1/lights for each "
                               "pole's running revision")
        await asyncio.sleep(POLL_S)
        got = await asyncio.to_thread(store.push_request, request)
    results = got.results
    running = await asyncio.to_thread(store.running_profiles)
    poles = []
    for node_id in members:
        outcome = results.get(node_id, "never heard from: no address to send to")
        run = running.get(node_id)
        poles.append(PolePush(node_id=node_id, outcome=outcome,
                              acknowledged=outcome == "acknowledged",
                              running_revision=run[1] if run is not None and run[0] == name
                              else None))
    return ZonePushed(zone=name, revision=zone.revision,
                      acknowledged=sum(1 for p in poles if p.acknowledged), total=len(poles),
                      poles=poles)


# --- energy per zone per night ---------------------------------------------------

NIGHTS_MAX = 31


class ZoneNightEnergy(BaseModel):
    zone: str
    night: date = Field(description="the local date the night starts on (noon to noon, "
                                    "in the zone's time zone)")
    start: float = Field(description="unix time (UTC), local noon")
    end: float = Field(description="unix time (UTC), the next local noon")
    complete: bool = Field(description="false: the night is still under way")
    poles: int
    poles_reporting: int = Field(description="poles with two status reports or more in it: "
                                             "the figures below are theirs")
    measured_wh: float = Field(description="their energy counters' rise between their first "
                                           "and last report of the night")
    full_wh: float = Field(description="the same poles at full whenever the zone was lit")
    oracle_wh: float = Field(description="the same poles lit at the active level exactly while "
                                         "someone was near them (their presence events), "
                                         "idle otherwise")
    saving_pct: float | None = Field(description="saved against full all night, %")
    oracle_ratio: float | None = Field(description="measured / oracle: 1.0 is the best any "
                                                   "controller keeping the zone's levels can do")


@router.get("/energy", response_model=list[ZoneNightEnergy],
            summary="Energy per zone per night, against full all night and the oracle")
def energy(nights: Annotated[int, Query(ge=1, le=NIGHTS_MAX, description=(
               "this many nights, up to the one under way"))] = 7,
           zone: Annotated[str | None, Query(max_length=40)] = None,
           _: object = Depends(require(Permission.ZONES_READ)),
           ctx: ApiContext = Depends(context)) -> list[ZoneNightEnergy]:
    """Per zone (every zone with poles, or `zone`), oldest night first. A
    night's energy is what each pole's own status reports say it used; the
    two references are worked out over the same poles and the same span."""
    now = time.time()
    out = []
    for night in energy_per_night(ctx.store, lambda tz: last_nights(tz, now, nights), now, zone):
        out.append(ZoneNightEnergy(
            zone=night.zone, night=night.night, start=night.start, end=night.end,
            complete=night.complete, poles=night.poles, poles_reporting=night.reporting,
            measured_wh=night.measured_wh, full_wh=night.full_wh,
            oracle_wh=night.oracle_wh,
            saving_pct=None if night.saving_pct is None else round(night.saving_pct, 1),
            oracle_ratio=None if night.oracle_ratio is None else round(night.oracle_ratio, 3)))
    return out
