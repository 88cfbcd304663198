"""The gateway's fill forecast and daily plan."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.waste.forecast import HOUR, Forecaster, bucket_of
from gateway.waste.planning import PlanSettings, select
from sim.district import build
from sim.fill_model import profiles
from sim.waste import MONDAY, compare

WEDNESDAY_NOON = MONDAY + 2 * 86400 + 12 * 3600


def feed_constant(f: Forecaster, node: str, rate: float, hours: int, start: float = MONDAY,
                  level: float = 0.0) -> float:
    t = start
    for _ in range(hours):
        t += HOUR
        level += rate
        if level >= 95:
            f.observe(node, t, level)
            level = 2.0
        f.observe(node, t, round(level * 2) / 2)
    return t


def test_buckets_know_weekends() -> None:
    assert bucket_of(MONDAY) == 0
    assert bucket_of(MONDAY + 5 * 86400 + 3 * 3600) == 24 + 3  # Saturday 03:00
    assert bucket_of(MONDAY - 3600) == 24 + 23  # Sunday 23:00


def test_constant_fill_rate_is_learned() -> None:
    f = Forecaster()
    t = feed_constant(f, "B1", 1.5, 24 * 10)
    m = f.bins["B1"]
    assert m.last_level is not None
    assert abs(f.level_at("B1", t + 10 * HOUR) - (m.last_level + 15)) < 2.0


def test_emptying_is_detected_and_compaction_is_not() -> None:
    f = Forecaster()
    f.observe("B1", MONDAY, 70.0)
    assert not f.observe("B1", MONDAY + HOUR, 52.0)  # a compactor pressed the load
    assert f.observe("B1", MONDAY + 2 * HOUR, 3.0)  # a crew emptied it
    assert f.bins["B1"].emptied == [MONDAY + 2 * HOUR]


@given(st.lists(st.tuples(st.floats(0.1, 48), st.one_of(st.none(), st.floats(0, 100))),
                max_size=80))
@settings(max_examples=150)
def test_any_report_sequence_gives_sane_forecasts(steps: list[tuple[float, float | None]]) -> None:
    f = Forecaster()
    t = float(MONDAY)
    for dt, level in steps:
        t += dt * HOUR
        f.observe("B1", t, level)
    expected = f.level_at("B1", t + 30 * HOUR)
    if math.isnan(expected):
        assert all(level is None for _, level in steps)
        return
    last = f.bins["B1"].last_level
    assert last is not None and expected >= last - 1e-9
    assert f.level_at("B1", t + 30 * HOUR, z=1.0) >= expected - 1e-9
    assert f.level_at("B1", t + 60 * HOUR) >= expected - 1e-9


def test_weekend_rhythm_is_learned() -> None:
    f = Forecaster()
    t, level = float(MONDAY), 0.0
    for hour in range(24 * 21):
        t += HOUR
        weekend = (hour // 24) % 7 >= 5
        level += 1.2 if weekend else 0.3
        if level > 90:
            level = 1.0
        f.observe("B1", t, level)
    m = f.bins["B1"]
    # Shrinkage towards the bin's mean keeps some caution; the shape is clear.
    assert m.expected_rate(24 + 14)[0] > 2.5 * m.expected_rate(14)[0]


def test_a_surge_today_raises_the_forecast() -> None:
    calm, busy = Forecaster(), Forecaster()
    for f in (calm, busy):
        feed_constant(f, "B1", 0.5, 24 * 7)
    t = MONDAY + 24 * 8 * HOUR
    for f in (calm, busy):
        f.mark_emptied("B1", t)
    for h in range(1, 7):
        calm.observe("B1", t + h * HOUR, 0.5 * h)
        busy.observe("B1", t + h * HOUR, 2.0 * h)  # a market in the square
    horizon = t + 12 * HOUR
    assert busy.level_at("B1", horizon) > calm.level_at("B1", horizon) + 10


def test_plan_requires_bins_that_would_overflow_and_offers_worthwhile_ones() -> None:
    f = Forecaster()
    for node, start_level in (("FULL", 80.0), ("HALF", 50.0), ("EMPTY", 1.0)):
        feed_constant(f, node, 0.2, 24 * 3, level=start_level)
    shift = MONDAY + 24 * 3 * HOUR + 6 * HOUR
    plan = {c.node_id: c for c in select(f, ["FULL", "HALF", "EMPTY", "NEW"], shift)}
    assert plan["NEW"].required  # never reported: nothing is known of it
    assert plan["FULL"].required and plan["FULL"].upper_pct >= PlanSettings().must_level_pct
    assert not plan["HALF"].required and plan["HALF"].prize_m > 0
    assert "EMPTY" not in plan


def test_forecast_policy_beats_fixed_schedule_and_stays_near_the_oracle() -> None:
    days = 14
    fills = profiles(build(30, 0, 1, seed=4).bins, days, seed=4)
    fixed, ours, oracle = compare(fills, days, seed=4)
    assert fixed.emptyings == 30 * days
    assert oracle.emptyings <= ours.emptyings < 0.4 * fixed.emptyings
    assert ours.emptyings <= 1.3 * oracle.emptyings
    assert ours.overflow_bin_days <= oracle.overflow_bin_days + 1


def test_routing_the_policies_counts_kilometres_and_crew_hours() -> None:
    from sim.district import DEFAULT_CENTRE
    from sim.waste import Fleet, route_days

    days = 5
    district = build(12, 0, 1, seed=2)
    fills = profiles(district.bins, days, seed=2)
    positions = {b.node_id: (b.lat, b.lon) for b in district.bins}
    fixed, ours, _ = compare(fills, days, seed=2)
    fleet = Fleet(DEFAULT_CENTRE, trucks=1, capacity_l=10_000)
    for r in (fixed, ours):
        route_days(r, fills, positions, fleet, time_limit_s=0.1)
    assert fixed.truck_km > ours.truck_km > 0
    assert fixed.crew_hours > ours.crew_hours > 0
