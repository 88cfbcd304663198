"""Today's plan and the crews' routes: a planner makes the plan (the solver
runs in a process of its own, off the gateway's event loop), planners read
every route and a crew its own truck's, stop by stop; crews record each stop
emptied or unreachable, once per record whatever number of times a phone
sends it.

A crew account's crew is the name of the truck it drives: plans name their
trucks truck-1, truck-2, ... (gateway/waste/daily.py), so the account made
with `--crew truck-2` sees truck-2's route and records its stops."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import date as Date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from gateway.accounts import Permission, allowed
from gateway.api.auth import WHAT, Principal, principal, require
from gateway.api.context import ApiContext, context
from gateway.api.problems import Problem
from gateway.storage.plans import PlanRow, RouteRow, StopRow
from gateway.storage.visits import VisitRow
from gateway.waste.daily import (
    CAPACITY_MAX_L,
    CIRCUITY,
    DEFAULT_SHIFT_H,
    DEFAULT_START,
    SHIFT_H,
    SPEED_KMH,
    TIME_LIMIT_S,
    TRUCKS_MAX,
    PlanError,
    PlanRequest,
    crew_notes,
)
from gateway.waste.routing import DEFAULT_CIRCUITY, DEFAULT_SPEED_KMH

log = logging.getLogger("gateway.api")

# A record's time may be this far ahead of the gateway's clock (a phone's
# clock is not exact), and this far before the plan was made.
CLOCK_SKEW_S = 300.0
BEFORE_PLAN_S = 3600.0
REASON_MAX = 200

Truck = Annotated[str, Path(min_length=1, max_length=40, description="the truck's name, "
                                                                    "e.g. truck-1")]
PlanId = Annotated[int, Path(ge=1, le=2**62)]


class LatLon(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class NewPlan(BaseModel):
    """What `kvarter routes plan` takes, with the same bounds."""
    model_config = ConfigDict(extra="forbid")
    depot: LatLon = Field(description="where the trucks start and end")
    trucks: int = Field(1, ge=1, le=TRUCKS_MAX)
    capacity_l: int = Field(ge=1, le=CAPACITY_MAX_L,
                            description="litres of loose rubbish each truck takes")
    shift_h: float = Field(DEFAULT_SHIFT_H, ge=SHIFT_H[0], le=SHIFT_H[1],
                           description="hours from leaving the depot to returning")
    start: str = Field(DEFAULT_START, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
                       description="the shift's start, local time HH:MM")
    date: Date | None = Field(None, description="the plan's day, YYYY-MM-DD local "
                                                "(default today)")
    all_required: bool = Field(False, description="every bin on the plan must be emptied")
    every_bin: bool = Field(False, description="every registered bin, not only the ones the "
                                               "forecast picks")
    time_limit_s: float | None = Field(None, ge=TIME_LIMIT_S[0], le=TIME_LIMIT_S[1],
                                       description="seconds of route search (default: "
                                                   "more the more bins)")
    speed_kmh: float = Field(DEFAULT_SPEED_KMH, ge=SPEED_KMH[0], le=SPEED_KMH[1])
    circuity: float = Field(DEFAULT_CIRCUITY, ge=CIRCUITY[0], le=CIRCUITY[1],
                            description="street distance / straight-line distance")
    afresh: bool = Field(False, description="plan the day anew; by default a day under way "
                                            "is re-planned from each truck's last recorded "
                                            "stop, keeping what crews did and the order of "
                                            "the rest")

    def request(self) -> PlanRequest:
        return PlanRequest((self.depot.lat, self.depot.lon), self.trucks, self.capacity_l,
                           self.shift_h, self.start,
                           self.date.isoformat() if self.date else "", self.all_required,
                           self.every_bin, self.time_limit_s, self.speed_kmh, self.circuity,
                           self.afresh)


class RouteSummary(BaseModel):
    plan_id: int
    day: str
    truck: str
    stops: int
    done: int = Field(description="stops recorded emptied or unreachable")
    distance_m: int
    duration_s: int = Field(description="driving and service")
    load_l: int
    capacity_l: int
    shift_s: int


class Unserved(BaseModel):
    node_id: str
    reason: str


class Plan(BaseModel):
    id: int
    day: str = Field(description="YYYY-MM-DD, local")
    made_at: float = Field(description="unix time (UTC)")
    made_by: str
    shift_start: float = Field(description="unix time (UTC)")
    depot: LatLon
    settings: dict[str, Any] = Field(description="what the plan was asked for")
    routes: list[RouteSummary]
    unserved: list[Unserved] = Field(description="required bins on no route, and why")
    optional_left: int
    problems: list[str] = Field(description="one line each: what to change")
    changes: list[str] = Field(default_factory=list,
                               description="a day re-planned from each truck's last recorded "
                                           "stop: one line per truck on what changed (added, "
                                           "removed, moved); empty for a plan made afresh")


class Stop(BaseModel):
    position: int = Field(description="1, 2, ... in the order to visit")
    node_id: str = Field(description="the bin's id")
    lat: float
    lon: float
    geo: str = Field(description="RFC 5870 geo: URI, opens the stop in a phone's maps app")
    street: str | None = Field(description="where the crew finds the bin: its address, or "
                                           "the nearest named street and the distance to the "
                                           "nearest crossing street ('Nygatan, 40 m from "
                                           "Drottninggatan'), if known")
    required: bool = Field(description="must be emptied today (else worth it on the way)")
    expected_at: float = Field(description="unix time (UTC) the crew is expected there")
    expected_fill_pct: float | None
    kind: str = Field(description="the bin's type")
    litres: int
    status: Literal["pending", "emptied", "unreachable"]
    recorded_at: float | None = Field(description="unix time (UTC) of the crew's record")
    reason: str | None = Field(description="why it could not be reached")
    note: str | None = Field(None, description="what a crew recorded the last time it could "
                                               "not reach this bin, before this plan: "
                                               "'unreachable 2026-09-21 09:40: blocked by a car'")


class Route(RouteSummary):
    depot: LatLon
    shift_start: float
    stops_in_order: list[Stop]


class NewVisit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: uuid.UUID = Field(description="made by the client once per tap: sending the same "
                                      "record again (after a lost answer, or syncing a queue) "
                                      "stores it once")
    plan_id: int = Field(ge=1, le=2**62)
    node_id: str = Field(min_length=1, max_length=64)
    outcome: Literal["emptied", "unreachable"]
    reason: str | None = Field(None, max_length=REASON_MAX,
                               description="why it could not be reached (unreachable only)")
    at: float | None = Field(None, ge=0, le=2**40,
                             description="unix time (UTC) of the tap; default now")


class Visit(BaseModel):
    id: uuid.UUID
    plan_id: int
    node_id: str
    truck: str
    outcome: Literal["emptied", "unreachable"]
    reason: str | None
    at: float
    recorded_at: float
    recorded_by: str | None


# --- reading plans and routes ----------------------------------------------------------

def _today() -> str:
    return Date.today().isoformat()


def _geo(lat: float, lon: float) -> str:
    return f"geo:{lat:.6f},{lon:.6f}"


def _summary(plan: PlanRow, r: RouteRow, stops: list[StopRow],
             outcomes: dict[str, tuple[str, float, str]]) -> RouteSummary:
    return RouteSummary(plan_id=plan.id, day=plan.day, truck=r.truck, stops=len(stops),
                        done=sum(1 for s in stops if s.node_id in outcomes),
                        distance_m=r.distance_m, duration_s=r.duration_s, load_l=r.load_l,
                        capacity_l=r.capacity_l, shift_s=r.shift_s)


def _plan_out(ctx: ApiContext, plan: PlanRow) -> Plan:
    stops = ctx.store.plan_stops(plan.id)
    outcomes = ctx.store.stop_outcomes(plan)
    routes = [_summary(plan, r, [s for s in stops if s.truck == r.truck], outcomes)
              for r in ctx.store.plan_routes(plan.id)]
    o = plan.outcome
    return Plan(id=plan.id, day=plan.day, made_at=plan.made_at, made_by=plan.made_by,
                shift_start=plan.shift_start, depot=LatLon(lat=plan.depot[0], lon=plan.depot[1]),
                settings=plan.settings, routes=routes,
                unserved=[Unserved(**u) for u in o.get("unserved", [])],
                optional_left=int(o.get("optional_left", 0)),
                problems=list(o.get("problems", [])), changes=list(o.get("changes", [])))


def _stop_out(s: StopRow, outcome: tuple[str, float, str] | None, note: str | None = None
              ) -> Stop:
    earlier = note
    status, at, note = outcome if outcome is not None else ("pending", None, None)
    return Stop(position=s.position, node_id=s.node_id, lat=s.lat, lon=s.lon,
                geo=_geo(s.lat, s.lon), street=s.street, required=s.required,
                expected_at=s.expected_at, expected_fill_pct=s.expected_fill_pct, kind=s.kind,
                litres=s.litres, status=status,  # type: ignore[arg-type]
                recorded_at=at, reason=(note or None) if status == "unreachable" else None,
                note=earlier)


def route_reader(who: Principal = Depends(principal)) -> Principal:
    """Whoever reads every route, or a crew its own."""
    role = who.user.role
    if not (allowed(role, Permission.ROUTES_READ_ALL)
            or allowed(role, Permission.ROUTES_READ_OWN)):
        raise Problem(403, f"a {role} account may not {WHAT[Permission.ROUTES_READ_OWN]}; "
                           "ask an administrator for a planner's or a crew's account")
    return who


def _may_see(who: Principal, truck: str) -> bool:
    return allowed(who.user.role, Permission.ROUTES_READ_ALL) or who.user.crew == truck


def _todays_plan(ctx: ApiContext) -> PlanRow:
    plan = ctx.store.latest_plan(_today())
    if plan is None:
        raise Problem(404, f"no plan has been made for today ({_today()}); a planner makes "
                           "one with POST /api/v1/plans or 'kvarter routes plan'")
    return plan


router = APIRouter(tags=["routes"])
ALL_ROUTES = Depends(require(Permission.ROUTES_READ_ALL))


@router.post("/plans", response_model=Plan, status_code=201, summary="Plan today's routes",
             responses={409: {"description": "nothing to plan, or a plan is being made"}})
async def make_plan(body: NewPlan, response: Response,
                    who: Principal = Depends(require(Permission.PLANS_MAKE)),
                    ctx: ApiContext = Depends(context)) -> Plan:
    """Plans the routes as `kvarter routes plan` does, with the same
    settings, and keeps the plan: it becomes the day's plan, which crews'
    screens show. The answer names the required bins left out and what to
    change; planning takes up to the time limit."""
    try:
        request = body.request().checked()
    except PlanError as e:
        raise Problem(422, str(e)) from None
    plan_id = await ctx.planner.plan(str(ctx.store.path), request,
                                     f"{who.user.username} ({who.user.role})")
    log.info("%r made plan %d for %s", who.user.username, plan_id, request.day)
    ctx.watch_poke()
    plan = await asyncio.to_thread(ctx.store.plan, plan_id)
    assert plan is not None
    response.headers["Location"] = f"/api/v1/plans/{plan_id}"
    return await asyncio.to_thread(_plan_out, ctx, plan)


# Until a plan is made for the day, there is none to read: a planner's depot
# far from every bin, for one, makes none.
NO_PLAN_YET: dict[int | str, dict[str, Any]] = {
    404: {"description": "no plan has been made for today"}}


@router.get("/plans/today", response_model=Plan, summary="Today's plan", responses=NO_PLAN_YET)
def todays_plan(_: object = ALL_ROUTES, ctx: ApiContext = Depends(context)) -> Plan:
    """The latest plan made for today, each route with how many of its stops
    are done."""
    return _plan_out(ctx, _todays_plan(ctx))


@router.get("/plans/{plan_id}", response_model=Plan, summary="A plan")
def get_plan(plan_id: PlanId, _: object = ALL_ROUTES,
             ctx: ApiContext = Depends(context)) -> Plan:
    plan = ctx.store.plan(plan_id)
    if plan is None:
        raise Problem(404, f"no plan {plan_id}; GET /api/v1/plans/today is today's")
    return _plan_out(ctx, plan)


@router.get("/routes/today", response_model=list[RouteSummary], summary="Today's routes",
            responses=NO_PLAN_YET)
def todays_routes(who: Principal = Depends(route_reader),
                  ctx: ApiContext = Depends(context)) -> list[RouteSummary]:
    """Every truck's route for a planner; a crew's own truck's only."""
    plan = _todays_plan(ctx)
    stops = ctx.store.plan_stops(plan.id)
    outcomes = ctx.store.stop_outcomes(plan)
    return [_summary(plan, r, [s for s in stops if s.truck == r.truck], outcomes)
            for r in ctx.store.plan_routes(plan.id) if _may_see(who, r.truck)]


@router.get("/routes/today/{truck}", response_model=Route, summary="A truck's route today, "
            "stop by stop")
def todays_route(truck: Truck, who: Principal = Depends(route_reader),
                 ctx: ApiContext = Depends(context)) -> Route:
    """The stops in the order to visit them, each with its expected time,
    position, street if known, whether it is required, a geo: URI and what
    the crew recorded. A crew account reads its own truck's route only."""
    if not _may_see(who, truck):
        raise Problem(403, f"a crew account sees its own truck's route only "
                           f"({who.user.crew!r}), not {truck!r}")
    plan = _todays_plan(ctx)
    route = next((r for r in ctx.store.plan_routes(plan.id) if r.truck == truck), None)
    if route is None:
        raise Problem(404, f"today's plan {plan.id} has no truck {truck!r}; GET "
                           "/api/v1/routes/today lists its routes")
    stops = ctx.store.plan_stops(plan.id, truck)
    outcomes = ctx.store.stop_outcomes(plan)
    notes = crew_notes(ctx.store, plan.made_at)
    s = _summary(plan, route, stops, outcomes)
    return Route(**s.model_dump(), depot=LatLon(lat=plan.depot[0], lon=plan.depot[1]),
                 shift_start=plan.shift_start,
                 stops_in_order=[_stop_out(st, outcomes.get(st.node_id), notes.get(st.node_id))
                                 for st in stops])


# --- recording stops ---------------------------------------------------------------------

def _visit_out(v: VisitRow, truck: str) -> Visit:
    return Visit(id=uuid.UUID(v.client_id), plan_id=v.plan_id or 0, node_id=v.node_id,
                 truck=truck, outcome=v.outcome,  # type: ignore[arg-type]
                 reason=v.note or None, at=v.at, recorded_at=v.recorded_at,
                 recorded_by=v.recorded_by)


@router.post("/visits", response_model=Visit, status_code=201,
             summary="Record a stop emptied or unreachable",
             responses={200: {"model": Visit, "description": "this record (its id) was stored "
                                                             "before: nothing new is stored"},
                        404: {"description": "no such plan, or the bin is not its stop"},
                        409: {"description": "the id was used for a different record"}})
def record_visit(body: NewVisit, response: Response,
                 who: Principal = Depends(require(Permission.VISITS_RECORD)),
                 ctx: ApiContext = Depends(context)) -> Visit:
    """Stored at once in the bins' visits, which the forecast and the next
    plan learn from. Idempotent by the record's id: a phone that queued taps
    while offline sends them when it can, as often as it must, and each is
    stored once (201 the first time, 200 after). A crew records its own
    truck's stops only."""
    plan = ctx.store.plan(body.plan_id)
    if plan is None:
        raise Problem(404, f"no plan {body.plan_id}; GET /api/v1/routes/today gives today's")
    stop = ctx.store.plan_stop(plan.id, body.node_id)
    if stop is None:
        raise Problem(404, f"bin {body.node_id!r} is not a stop of plan {plan.id}")
    if not _may_see(who, stop.truck):
        raise Problem(403, f"a crew account records its own truck's stops only "
                           f"({who.user.crew!r}); {body.node_id!r} is on {stop.truck!r}")
    reason = (body.reason or "").strip()
    if body.outcome == "unreachable" and not reason:
        raise Problem(422, "an unreachable stop needs its reason (blocked by a car, road "
                           "works, ...): give reason")
    if body.outcome == "emptied" and reason:
        raise Problem(422, "an emptied stop has no reason; leave reason out")
    now = time.time()
    at = now if body.at is None else body.at
    if at > now + CLOCK_SKEW_S:
        raise Problem(422, "at is in the future; give the time of the tap (unix time, UTC), "
                           "or leave it out for now")
    if at < plan.made_at - BEFORE_PLAN_S:
        raise Problem(422, f"at is before plan {plan.id} was made; give the time of the tap "
                           "(unix time, UTC)")
    row, new = ctx.store.record_stop(str(body.id), body.node_id, plan.id, at, body.outcome,
                                     reason, who.user.username)
    same = (row.node_id, row.plan_id, row.outcome, row.note) == (body.node_id, plan.id,
                                                                 body.outcome, reason)
    if not same:
        raise Problem(409, f"record {body.id} was stored before for another stop or outcome; "
                           "give each record a new id")
    if new:
        log.info("%r recorded %s %s on plan %d", who.user.username, body.node_id, body.outcome,
                 plan.id)
        ctx.watch_poke()
    else:
        response.status_code = 200
    return _visit_out(row, stop.truck)
