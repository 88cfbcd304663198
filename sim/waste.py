"""Weeks of a district's bins under three emptying policies, on the same
simulated weeks: a fixed daily schedule, ours (the gateway's forecast and
plan), and an oracle that knows every bin's future.

Each day the plan is made at 06:00 from what the bins reported until then;
the bins chosen are emptied at 10:00. At noon the plan may be revised (a bin
whose reports show it filling unusually fast) and the bins added are emptied
at 14:00, the end of the shift. A bin-day overflows when the bin is full at
any hour of that day.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from firmware import codec
from firmware.settings import Config
from firmware.waste import report_policy
from gateway.streets.driving import DrivingStreets
from gateway.waste.forecast import HOUR, Forecaster
from gateway.waste.planning import DEFAULT_PLAN, PlanSettings, select
from gateway.waste.routing import Stop, Truck, plan_routes
from sim.fill_model import FillProfile

PLAN_HOUR = 6
SERVICE_HOUR = 10
REPLAN_HOUR = 12
LATE_SERVICE_HOUR = 14


@dataclass
class PolicyResult:
    name: str
    emptyings: int = 0
    overflow_bin_days: int = 0
    bin_days: int = 0
    daily_emptyings: list[int] = field(default_factory=list)
    emptied: list[list[str]] = field(default_factory=list)  # bins emptied, day by day
    overflows: list[tuple[int, str]] = field(default_factory=list)  # (day, bin)
    reports: int = 0  # reports the gateway received
    truck_km: float = 0.0  # filled in by route_days
    crew_hours: float = 0.0
    unrouted: int = 0  # emptyings no truck could take (route_days)
    off_streets: int = 0  # stops routed with the straight-line estimate (route_days)

    @property
    def overflow_share(self) -> float:
        return self.overflow_bin_days / self.bin_days if self.bin_days else 0.0


@dataclass(frozen=True)
class Sensing:
    """What the gateway gets to see: hourly measurements with noise, sent as
    the node's own report policy (firmware/waste/report_policy.py) decides, or every
    one when node_policy is off; some are lost."""

    noise_pct: float = 0.7
    loss: float = 0.03
    interval_h: int = 1
    node_policy: bool = True


HOURLY_SENSING = Sensing()


Policy = Callable[[int, list[float]], set[str]]


def run_policy(name: str, fills: list[FillProfile], days: int,
               choose: Callable[[int, float, list[float]], set[str]],
               observe: Callable[[str, float, float], object] | None = None,
               rechoose: Callable[[int, float, set[str]], set[str]] | None = None,
               start_unix: float = 0.0, sensing: Sensing = HOURLY_SENSING,
               seed: int = 1) -> PolicyResult:
    """Step the world hour by hour. `choose(day, plan_time, levels)` returns
    the bins to empty that day; `observe` receives the readings."""
    rng = random.Random(seed)
    result = PolicyResult(name)
    # Each node's report policy, as the firmware runs it, with a bin node's
    # default config (hourly measurement, heartbeat, threshold).
    node_cfg = Config({"id": "B", "role": "bin", "gateway_host": "gw",
                       "measure_interval_s": sensing.interval_h * 3600})
    nodes = [report_policy.State() for _ in fills] if sensing.node_policy else None
    litres = [f.initial_pct / 100 * f.capacity_l for f in fills]
    overflowed_today = [False] * len(fills)
    to_empty: set[str] = set()
    late: set[str] = set()
    for hour in range(days * 24):
        day, hod = divmod(hour, 24)
        t = start_unix + hour * HOUR
        if hod == 0:
            overflowed_today = [False] * len(fills)
        if hod == PLAN_HOUR:
            pct = [100 * v / f.capacity_l for v, f in zip(litres, fills, strict=True)]
            to_empty = choose(day, t, pct)
        if hod == SERVICE_HOUR:
            for i, f in enumerate(fills):
                if f.node_id in to_empty:
                    litres[i] = 0.0
            result.emptied.append([f.node_id for f in fills if f.node_id in to_empty])
        if hod == REPLAN_HOUR:
            late = rechoose(day, t, to_empty) - to_empty if rechoose else set()
        if hod == LATE_SERVICE_HOUR:
            for i, f in enumerate(fills):
                if f.node_id in late:
                    litres[i] = 0.0
            result.emptied[-1] += sorted(late)
            result.emptyings += len(result.emptied[-1])
            result.daily_emptyings.append(len(result.emptied[-1]))
        for i, f in enumerate(fills):
            litres[i] = min(f.capacity_l, litres[i] + f.litres_in_hour(hour))
            if litres[i] >= f.capacity_l:
                overflowed_today[i] = True
            if observe is not None and hour % sensing.interval_h == 0:
                reading = 100 * litres[i] / f.capacity_l + rng.gauss(0, sensing.noise_pct)
                # The wire carries half-percent steps within 0..100.
                fill_b = codec.fill_to_byte(min(100.0, max(0.0, reading)))
                send = True
                if nodes is not None:
                    _, send = report_policy.decide(node_cfg, nodes[i], fill_b, None, None,
                                                   False, hour == 0)
                if send:
                    stored = rng.random() >= sensing.loss
                    if nodes is not None:
                        report_policy.answered(nodes[i], stored, fill_b, 0)
                    if stored:
                        result.reports += 1
                        observe(f.node_id, t + HOUR, fill_b / 2)
        if hod == 23:
            result.overflows += [(day, f.node_id) for f, o in
                                 zip(fills, overflowed_today, strict=True) if o]
            result.overflow_bin_days += sum(overflowed_today)
            result.bin_days += len(fills)
    return result


def fixed_schedule(fills: list[FillProfile], days: int) -> PolicyResult:
    every = {f.node_id for f in fills}
    return run_policy("fixed daily", fills, days, lambda day, t, pct: every)


def oracle(fills: list[FillProfile], days: int) -> PolicyResult:
    """Empties a bin only on the last day before it would otherwise be full:
    for one bin with one chance a day, waiting as long as possible is what
    needs the fewest emptyings."""
    def choose(day: int, t: float, pct: list[float]) -> set[str]:
        chosen = set()
        for f, p in zip(fills, pct, strict=True):
            litres = p / 100 * f.capacity_l
            start = day * 24 + PLAN_HOUR
            for h in range(start, start + 24 + SERVICE_HOUR - PLAN_HOUR):
                litres += f.litres_in_hour(h)
                if litres >= f.capacity_l:
                    chosen.add(f.node_id)
                    break
        return chosen
    return run_policy("oracle", fills, days, choose)


def forecast_policy(fills: list[FillProfile], days: int, settings: PlanSettings,
                    start_unix: float, sensing: Sensing = HOURLY_SENSING,
                    seed: int = 1) -> PolicyResult:
    """Ours: the gateway's forecaster learns from the readings; the planner
    picks the bins that must go today, and revises the plan at noon."""
    forecaster = Forecaster()
    ids = [f.node_id for f in fills]
    morning = replace(settings, next_service_h=24 + SERVICE_HOUR - PLAN_HOUR)
    noon = replace(settings, next_service_h=24 + SERVICE_HOUR - REPLAN_HOUR)

    def choose(day: int, t: float, pct: list[float]) -> set[str]:
        chosen = {c.node_id for c in select(forecaster, ids, t, morning) if c.required}
        for node_id in chosen:
            forecaster.mark_emptied(node_id, t + (SERVICE_HOUR - PLAN_HOUR) * HOUR)
        return chosen

    def rechoose(day: int, t: float, planned: set[str]) -> set[str]:
        rest = [i for i in ids if i not in planned]
        added = {c.node_id for c in select(forecaster, rest, t, noon) if c.required}
        for node_id in added:
            forecaster.mark_emptied(node_id, t + (LATE_SERVICE_HOUR - REPLAN_HOUR) * HOUR)
        return added

    return run_policy("forecast", fills, days, choose, forecaster.observe, rechoose,
                      start_unix, sensing, seed)


# 2026-09-07 00:00 UTC, a Monday: the fill model's day 0 is a Monday.
MONDAY = 1_788_134_400


def compare(bins: list[FillProfile], days: int, settings: PlanSettings = DEFAULT_PLAN,
            seed: int = 1) -> list[PolicyResult]:
    """The three policies on the same simulated weeks."""
    return [fixed_schedule(bins, days),
            forecast_policy(bins, days, settings, MONDAY, seed=seed),
            oracle(bins, days)]


@dataclass(frozen=True)
class Fleet:
    depot: tuple[float, float]
    trucks: int = 2
    capacity_l: int = 12_000
    shift_h: float = 8.0


def route_days(result: PolicyResult, fills: list[FillProfile],
               positions: dict[str, tuple[float, float]], fleet: Fleet,
               time_limit_s: float = 0.3, streets: DrivingStreets | None = None,
               seed: int = 0) -> PolicyResult:
    """Truck kilometres and crew hours of the policy's emptyings: each day's
    bins are routed with the gateway's own planner (the noon additions are
    counted on the same day's routes), along the streets when given, else
    as straight lines times the planner's circuity."""
    by_id = {f.node_id: f for f in fills}
    trucks = [Truck(f"truck-{k}", fleet.capacity_l, round(fleet.shift_h * 3600))
              for k in range(1, fleet.trucks + 1)]
    for emptied in result.emptied:
        if not emptied:
            continue
        stops = [Stop(n, *positions[n], litres=max(1, round(by_id[n].capacity_l)))
                 for n in emptied]
        plan = plan_routes(fleet.depot, stops, trucks, time_limit_s=time_limit_s,
                           streets=streets, seed=seed)
        result.unrouted += len(plan.unserved)
        result.off_streets += len(plan.straight_line)
        result.truck_km += sum(r.distance_km for r in plan.routes)
        result.crew_hours += sum(r.duration_s for r in plan.routes if r.stops) / 3600
    return result
