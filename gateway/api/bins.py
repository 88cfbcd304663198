"""Bins: each one's latest fill, its forecast and its alarms, a bin's reports
(its fill history), and the alarms of every bin."""

from __future__ import annotations

import logging
import math
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from gateway.accounts import Permission
from gateway.api.alarms import alarm_names, flag_names, offline
from gateway.api.auth import Principal, require
from gateway.api.bin_cache import AlarmRow, BinForecasts
from gateway.api.context import ApiContext, context
from gateway.api.nodes import NodeId
from gateway.api.pages import LIMIT_DEFAULT, Limit, Offset, Page
from gateway.api.problems import Problem
from gateway.storage.screens import BinRow
from gateway.waste.planning import DEFAULT_PLAN

DAY_S = 86400.0

log = logging.getLogger("gateway.api")


class Forecast(BaseModel):
    level_in_24h_pct: float | None = Field(description="expected fill 24 h from now")
    full_at: float | None = Field(
        description=f"unix time (UTC) the bin is expected to reach "
                    f"{DEFAULT_PLAN.must_level_pct:g} %, within two weeks")
    full_within_24h: bool


class BinState(BaseModel):
    node_id: str
    kind: str = Field(description="the bin's type")
    lat: float
    lon: float
    last_contact: float | None = Field(description="unix time (UTC) of its latest uplink")
    measured_at: int | None = Field(description="unix time (UTC) of its latest report")
    fill_pct: float | None
    temp_c: int | None
    battery_mv: int | None
    tilt_deg: int | None
    flags: list[str]
    alarms: list[Literal["fire", "tilt", "lid-open", "sensor-fault", "low-battery", "offline"]]
    forecast: Forecast


class BinReport(BaseModel):
    seq: int
    measured_at: int
    received_at: float
    fill_pct: float | None
    temp_c: int | None
    battery_mv: int | None
    flags: list[str]


class Alarm(BaseModel):
    node_id: str
    alarm: Literal["fire", "tilt", "lid-open", "sensor-fault", "low-battery", "offline"]
    since: float | None = Field(description="unix time (UTC) of the first report of the "
                                            "latest run that shows it, or of the last "
                                            "contact for offline")
    lat: float
    lon: float
    acknowledged: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: float | None = Field(None, description="unix time (UTC)")
    note: str | None = Field(None, description="the acknowledgement's note")


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, 1)


def bin_state(row: BinRow, forecasts: BinForecasts, now: float) -> BinState:
    """The bin's state (its forecast learnt: BinForecasts.get first)."""
    flags = row.flags or 0
    alarms = alarm_names(flags, row.battery_mv) if row.flags is not None else []
    if offline("bin", row.last_contact, now):
        alarms.append("offline")
    full_at = forecasts.full_at(row.node_id)
    return BinState(
        node_id=row.node_id, kind=row.kind, lat=row.lat, lon=row.lon,
        last_contact=row.last_contact, measured_at=row.measured_at, fill_pct=row.fill_pct,
        temp_c=row.temp_c, battery_mv=row.battery_mv, tilt_deg=row.tilt_deg,
        flags=flag_names(flags), alarms=alarms,  # type: ignore[arg-type]
        forecast=Forecast(level_in_24h_pct=_num(forecasts.level_in_a_day(row.node_id, now)),
                          full_at=_num(full_at),
                          full_within_24h=full_at is not None and full_at <= now + DAY_S))


router = APIRouter(tags=["bins"])
BINS = Depends(require(Permission.BINS_READ))


@router.get("/bins", response_model=Page[BinState], summary="Bins: fill, forecast, alarms")
def list_bins(offset: Offset = 0, limit: Limit = LIMIT_DEFAULT, _: object = BINS,
              ctx: ApiContext = Depends(context)) -> Page[BinState]:
    rows, total = ctx.store.bin_rows(offset, limit)
    ctx.forecasts.get(ctx.store, [r.node_id for r in rows])
    now = time.time()
    return Page[BinState](items=[bin_state(r, ctx.forecasts, now) for r in rows],
                          total=total, offset=offset, limit=limit)


@router.get("/bins/{node_id}", response_model=BinState, summary="One bin")
def get_bin(node_id: NodeId, _: object = BINS, ctx: ApiContext = Depends(context)) -> BinState:
    rows, _total = ctx.store.bin_rows(0, 1, node_id=node_id)
    if not rows:
        raise Problem(404, f"no bin {node_id!r} is registered; GET /api/v1/bins lists them")
    ctx.forecasts.get(ctx.store, [node_id])
    return bin_state(rows[0], ctx.forecasts, time.time())


Since = Annotated[int | None, Query(ge=0, le=2**40, description="only reports measured at "
                                                            "or after this unix time (UTC)")]
Until = Annotated[int | None, Query(ge=0, le=2**40, description="only reports measured "
                                                            "before this unix time (UTC)")]


@router.get("/bins/{node_id}/reports", response_model=Page[BinReport],
            summary="A bin's reports (its fill history), newest first")
def bin_reports(node_id: NodeId, offset: Offset = 0, limit: Limit = LIMIT_DEFAULT,
                since: Since = None, until: Until = None,
                _: object = BINS, ctx: ApiContext = Depends(context)) -> Page[BinReport]:
    """Page by page, newest first; since and until choose a chart's window
    (each report's measured_at and fill_pct are its points)."""
    if not ctx.store.bin_rows(0, 1, node_id=node_id)[0]:
        raise Problem(404, f"no bin {node_id!r} is registered; GET /api/v1/bins lists them")
    rows, total = ctx.store.bin_reports_page(node_id, offset, limit, since, until)
    items = [BinReport(seq=s, measured_at=m, received_at=r, fill_pct=fill, temp_c=t,
                       battery_mv=b, flags=flag_names(fl))
             for s, m, r, fill, t, b, fl in rows]
    return Page[BinReport](items=items, total=total, offset=offset, limit=limit)


AlarmName = Literal["fire", "tilt", "lid-open", "sensor-fault", "low-battery", "offline"]
ALARM_READERS = Depends(require(Permission.ALARMS_READ))


def current_alarms(ctx: ApiContext, node_id: str | None = None) -> list[Alarm]:
    """Every bin's alarms now (or one bin's), with their acknowledgements,
    ordered by how serious, then by bin."""
    return [_alarm(a) for a in ctx.bin_states.alarms(ctx.store, node_id)]


def _alarm(a: AlarmRow) -> Alarm:
    ack = a.ack
    return Alarm(node_id=a.node_id, alarm=a.alarm,  # type: ignore[arg-type]
                 since=a.since, lat=a.lat, lon=a.lon, acknowledged=ack is not None,
                 acknowledged_by=ack.acked_by if ack else None,
                 acknowledged_at=ack.acked_at if ack else None,
                 note=ack.note if ack else None)


@router.get("/alarms", response_model=Page[Alarm], summary="Every bin's alarms now")
def list_alarms(offset: Offset = 0, limit: Limit = LIMIT_DEFAULT,
                acknowledged: Annotated[bool | None, Query(
                    description="only the acknowledged ones (true) or the others (false)")
                ] = None,
                _: object = ALARM_READERS, ctx: ApiContext = Depends(context)) -> Page[Alarm]:
    """From each bin's latest report (fire, tilt, lid open, sensor fault, low
    battery) and its silence (offline), ordered by how serious, then by bin;
    each says since when it shows and who acknowledged it, when."""
    found = ctx.bin_states.alarms(ctx.store)
    if acknowledged is not None:
        found = [a for a in found if (a.ack is not None) == acknowledged]
    return Page[Alarm](items=[_alarm(a) for a in found[offset:offset + limit]],
                       total=len(found), offset=offset, limit=limit)


class NewAck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=200, description="what is being done about it")


@router.post("/alarms/{node_id}/{alarm}/ack", response_model=Alarm, status_code=201,
             summary="Acknowledge a bin's alarm",
             responses={409: {"description": "the bin does not show this alarm now"}})
def acknowledge_alarm(node_id: NodeId, alarm: AlarmName, body: NewAck,
                      who: Principal = Depends(require(Permission.ALARMS_ACK)),
                      ctx: ApiContext = Depends(context)) -> Alarm:
    """Says that someone has seen the alarm and is dealing with it. It
    covers this alarm until the bin stops showing it; the next alarm of the
    same kind needs acknowledging again."""
    if not ctx.store.bin_rows(0, 1, node_id=node_id)[0]:
        raise Problem(404, f"no bin {node_id!r} is registered; GET /api/v1/bins lists them")
    if not any(a.alarm == alarm for a in current_alarms(ctx, node_id)):
        raise Problem(409, f"bin {node_id!r} does not show {alarm!r} now; GET "
                           "/api/v1/alarms lists the alarms there are")
    ctx.store.acknowledge(node_id, alarm, who.user.username, body.note.strip())
    log.info("%r acknowledged %s on %s", who.user.username, alarm, node_id)
    ctx.watch_poke()
    return next(a for a in current_alarms(ctx, node_id) if a.alarm == alarm)
