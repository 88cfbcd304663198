"""The street-lighting scene and how a night's lamp levels are judged."""

from __future__ import annotations

from sim.night_scene import LampTrace, build, detections, judge


def test_scene_has_poles_25_to_40_m_apart_and_traffic_both_ways() -> None:
    scene = build(seed=2)
    path = [p for p in scene.poles if p.street == "path"]
    gaps = [b.along_m - a.along_m for a, b in zip(path, path[1:], strict=False)]
    assert all(25 <= g <= 40 for g in gaps)
    assert path[-1].along_m > 950
    modes = {t.mode for t in scene.trips}
    assert modes == {"walker", "cyclist", "car"}
    assert {t.upward for t in scene.trips} == {True, False}
    assert len({p.addr for p in scene.poles}) == len(scene.poles)


def test_lamps_at_full_all_night_give_no_dark_arrivals_and_no_saving() -> None:
    scene = build(seed=3, night_h=2)
    full = {p.node_id: LampTrace([(0.0, 100.0)]) for p in scene.poles}
    result = judge(scene, full, {p.node_id: 100.0 for p in scene.poles})
    assert result.arrivals > 0 and result.dark == []
    assert abs(result.energy_share - 1.0) < 1e-9


def test_lamps_left_at_idle_make_every_arrival_dark() -> None:
    scene = build(seed=3, night_h=2)
    idle = {p.node_id: LampTrace([(0.0, 40.0)]) for p in scene.poles}
    result = judge(scene, idle, {p.node_id: 100.0 for p in scene.poles})
    assert len(result.dark) == result.arrivals
    assert abs(result.saving - 0.6) < 1e-9


def test_a_pole_sees_a_walker_well_before_they_arrive_but_a_car_barely() -> None:
    scene = build(seed=4, night_h=3)
    first = {}
    for d in detections(scene):
        first.setdefault((d.trip, d.node_id), d.t_s)
    for (i, node_id), seen in first.items():
        trip = scene.trips[i]
        pole = next(p for p in scene.poles if p.node_id == node_id)
        length = scene.street(trip.street).length_m
        if (pole.along_m if trip.upward else length - pole.along_m) < 10:
            continue  # they start within its range: seen as they set off
        lead = trip.reaches(pole.along_m, length) - seen
        if trip.mode == "walker":
            assert lead > 5
        if trip.mode == "car":
            assert lead < 1
