"""Energy per zone per night (gateway/lighting/nightly.py) and its two
references (gateway/lighting/energy.py): the lamps at full all night, and the
oracle that lights each pole exactly while someone is near it."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.lighting.energy import full_energy, lamp_energy, near_from_events, oracle_energy
from gateway.lighting.nightly import (
    counter_rise,
    last_nights,
    night_of,
    night_span,
    pole_spans,
    zone_nights,
)
from gateway.lighting.wave import Pole
from gateway.lighting.zones import Zone, ZoneBook
from gateway.records import Node
from gateway.storage.store import Store

POLE = Pole("L1", 1, "z", 59.33, 18.06)
T0 = 1_795_000_000.0
ALWAYS = ZoneBook({"z": Zone("z", idle_pct=20, active_pct=100, hours="always", lamp_w=50)})

counters = st.lists(st.integers(0, 10**6), min_size=1, max_size=30)


@given(counters)
def test_a_counter_that_only_rises_used_its_last_less_its_first(values: list[int]) -> None:
    values.sort()
    reports = [(T0 + i, v) for i, v in enumerate(values)]
    assert counter_rise(reports) == (values[-1] - values[0]) / 10


@given(counters)
def test_a_restart_counts_what_the_counter_shows_after_it(values: list[int]) -> None:
    reports = [(T0 + i, v) for i, v in enumerate(values)]
    rise = counter_rise(reports)
    assert rise >= 0
    # Never less than the rises alone, never more than rises and every new value.
    ups = sum(max(0, b - a) for a, b in zip(values, values[1:], strict=False)) / 10
    assert ups <= rise <= ups + sum(values[1:]) / 10


status_reports = st.lists(st.tuples(st.sampled_from(["L1", "L2", "L3"]),
                                    st.integers(0, 7200), st.integers(0, 10**6)), max_size=60)


@settings(max_examples=60, deadline=None)
@given(status_reports, st.integers(0, 3600), st.integers(0, 7200))
def test_the_store_sums_each_poles_night_as_the_counter_rise_does(
        rows: list[tuple[str, int, int]], start: int, length: int) -> None:
    """Store.light_spans (in SQL) against pole_spans over the same reports:
    late ones, equal times, restarted counters."""
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "g.sqlite") as store:
        for n in ("L1", "L2", "L3"):
            store.register(Node(n, "light", 59.33, 18.06, "z"))
        with store.transaction() as db:
            db.executemany(
                "INSERT INTO light_status (node_id, seq, measured_at, received_at, level_pct, "
                "energy_dwh, flags, lux) VALUES (?, ?, ?, ?, 50, ?, 0, NULL)",
                [(n, seq, T0 + t, T0 + t, e) for seq, (n, t, e) in enumerate(rows)])
        by_pole: dict[str, list[tuple[float, int]]] = {}
        for _seq, (n, t, e) in sorted(enumerate(rows), key=lambda r: (r[1][1], r[0])):
            by_pole.setdefault(n, []).append((T0 + t, e))
        a, b = T0 + start, T0 + start + length
        expected = pole_spans(by_pole, a, b)
        got = {n: (c, first, last, wh) for n, c, first, last, wh in store.light_spans(a, b)}
        assert got == {n: (s.reports, s.first, s.last, s.rise_wh) for n, s in expected.items()}


def test_a_night_runs_from_local_noon_to_noon_and_the_clock_change_night_has_25_hours() -> None:
    start, end = night_span("Europe/Stockholm", date(2026, 10, 24))
    assert end - start == 25 * 3600
    assert night_of("Europe/Stockholm", start) == date(2026, 10, 24)
    assert night_of("Europe/Stockholm", start - 1) == date(2026, 10, 23)
    assert night_of("Europe/Stockholm", end - 1) == date(2026, 10, 24)
    assert last_nights("UTC", night_span("UTC", date(2026, 12, 2))[0] + 5, 3) == [
        date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 2)]


spans = st.lists(st.tuples(st.floats(0, 3500), st.floats(1, 600)), max_size=12)


@settings(deadline=None)  # a loaded machine is no failure: no timed assertions
@given(spans, spans)
def test_the_oracle_is_between_idle_and_full_and_below_any_controller_that_lights_more(
        near_spans: list[tuple[float, float]], more: list[tuple[float, float]]) -> None:
    end = T0 + 3600
    near = {"L1": [(T0 + a, T0 + a + d) for a, d in near_spans]}
    ours = {"L1": near["L1"] + [(T0 + a, T0 + a + d) for a, d in more]}
    poles = {"L1": POLE}
    oracle = oracle_energy(poles, ALWAYS, T0, end, poles, near)["L1"]
    full = full_energy(poles, ALWAYS, T0, end, poles)["L1"]
    idle = lamp_energy(poles, ALWAYS, T0, end, poles, {})["L1"]
    lit_more = lamp_energy(poles, ALWAYS, T0, end, poles, ours)["L1"]
    assert full == 50.0  # 50 W for an hour
    assert abs(idle - 10.0) < 1e-9  # at 20 %
    assert idle - 1e-9 <= oracle <= lit_more + 1e-9 <= full + 1e-9


def test_someone_is_near_a_pole_for_twice_its_reach_at_their_speed() -> None:
    events = [("L1", T0, 1, 2.0, 0), ("L1", T0 + 100, 1, None, 0), ("L9", T0, 1, 1.0, 0)]
    near = near_from_events(events, {"L1"})
    assert near == {"L1": [(T0 - 0.5, T0 + 9.5), (T0 + 99.5, T0 + 99.5 + 20 / 1.4)]}


def test_a_night_is_judged_over_each_poles_reported_span_only() -> None:
    zone = Zone("z", idle_pct=20, active_pct=100, hours="always", lamp_w=50, timezone="UTC")
    day = date(2026, 11, 20)
    start, end = night_span("UTC", day)
    a = start + 6 * 3600
    reports = {"L1": [(a, 0), (a + 3600, 100), (a + 7200, 250)],
               "L2": [(a, 7)]}  # one report: it does not count
    poles = {"L1": POLE, "L2": Pole("L2", 2, "z", 59.33, 18.07)}
    events = [("L1", a + 60, 1, 2.0, 0)]
    [night] = zone_nights(zone, poles, ALWAYS, reports, events, [day], end + 1)
    assert (night.poles, night.reporting, night.complete) == (2, 1, True)
    assert night.measured_wh == 25.0 and night.full_wh == 100.0  # 2 h at 50 W
    assert night.oracle_wh == round(50 * (0.2 * 2 + 0.8 * 10 / 3600), 1)
    assert night.saving_pct == 75.0
    assert night.oracle_ratio is not None and night.oracle_ratio > 1
    [empty] = zone_nights(zone, poles, ALWAYS, {}, [], [day], start)
    assert empty.reporting == 0 and empty.saving_pct is None and empty.oracle_ratio is None
    assert not empty.complete
