"""The light wave and the street network, as pure logic: simulated people on
random streets never reach a pole that was not commanded up in time."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lightkit import XY, geojson, point_along, pole

from firmware import codec
from firmware.lighting import payload as light_codec
from gateway.lighting.streets import StreetsError, load_network, read_streets
from gateway.lighting.wave import CAR_MPS, CYCLE_MPS, WALK_MPS, LightWave, Pole, WaveSettings
from gateway.lighting.zones import Zone, ZoneBook
from gateway.records import Node


def wave_for(streets: list[tuple[str, list[XY]]], nodes: list[Node],
             zone: Zone | None = None, ws: WaveSettings | None = None) -> LightWave:
    network = load_network(geojson(streets), nodes)
    z = zone or Zone("street-1", hours="always")
    poles = {n.node_id: Pole(n.node_id, n.addr or i + 1, n.kind, n.lat, n.lon)
             for i, n in enumerate(nodes)}
    return LightWave(network, poles, ZoneBook({z.name: z}), ws or WaveSettings())


def straight(n: int, spacing: float = 30.0) -> tuple[list[tuple[str, list[XY]]], list[Node]]:
    streets = [("Storgatan", [(0.0, 0.0), (spacing * (n + 1), 0.0)])]
    return streets, [pole(f"L{i}", spacing * (i + 1), 3.0, addr=i + 1) for i in range(n)]


def test_a_walker_with_a_direction_gets_three_poles_ahead_and_two_behind() -> None:
    wave = wave_for(*straight(12))
    d = wave.decide("L5", 1000.0, 1.4, codec.PRESENCE_DIR_UP)
    assert d is not None and d.direction == 1
    ahead = sorted(t.node_id for t in d.targets if t.ahead)
    behind = sorted(t.node_id for t in d.targets if not t.ahead)
    assert ahead == ["L6", "L7", "L8"] and behind == ["L3", "L4"]
    assert len(d.commands) == 1  # one level: one group command
    cmd = d.commands[0].brighten
    assert sorted(cmd.targets) == [4, 5, 7, 8, 9] and cmd.level_pct == 100
    # Held until a walker slowed to 3/4 of their pace reaches the 3rd pole, and more.
    assert cmd.hold_s >= 90 / (0.75 * 1.4) + 60


def test_stockholm_s_four_ahead_and_three_behind_is_a_setting() -> None:
    wave = wave_for(*straight(12), ws=WaveSettings(min_ahead=4, behind=3))
    d = wave.decide("L5", 1000.0, 1.4, codec.PRESENCE_DIR_UP)
    assert d is not None
    assert sorted(t.node_id for t in d.targets if t.ahead) == ["L6", "L7", "L8", "L9"]
    assert sorted(t.node_id for t in d.targets if not t.ahead) == ["L2", "L3", "L4"]


def test_a_car_is_lit_further_ahead_than_a_walker() -> None:
    walker = wave_for(*straight(20, 25.0)).decide("L2", 0.0, WALK_MPS, codec.PRESENCE_DIR_UP)
    car = wave_for(*straight(20, 25.0)).decide("L2", 0.0, CAR_MPS, codec.PRESENCE_DIR_UP)
    assert walker is not None and car is not None
    reach = max(t.distance_m for t in car.targets if t.ahead)
    assert reach > max(t.distance_m for t in walker.targets if t.ahead)
    assert reach >= CAR_MPS * (1.0 + 0.5 + 8.0) - 25


def test_without_a_direction_the_previous_detection_gives_direction_and_speed() -> None:
    wave = wave_for(*straight(12))
    first = wave.decide("L3", 100.0)
    assert first is not None and first.direction == 0  # nothing known: both ways
    assert {t.node_id for t in first.targets} >= {"L2", "L4"}
    second = wave.decide("L4", 100.0 + 30 / CYCLE_MPS)
    assert second is not None and second.direction == 1 and second.speed_from == "neighbour"
    assert second.speed_mps == pytest.approx(CYCLE_MPS)
    back = wave_for(*straight(12))
    back.decide("L4", 0.0)
    d = back.decide("L3", 20.0)
    assert d is not None and d.direction == -1


def test_poles_already_lit_long_enough_are_not_commanded_again() -> None:
    wave = wave_for(*straight(12))
    d1 = wave.decide("L2", 0.0, WALK_MPS, codec.PRESENCE_DIR_UP)
    d2 = wave.decide("L3", 30 / WALK_MPS, WALK_MPS, codec.PRESENCE_DIR_UP)
    assert d1 is not None and d2 is not None
    sent = [n for c in d2.commands for n in c.node_ids]
    assert sent == ["L6"]  # only the pole new to the wave (3 ahead of L3)


def test_targets_are_grouped_by_level_in_commands_of_at_most_32() -> None:
    streets, nodes = straight(80, 3.0)
    nodes = [Node(n.node_id, n.role, n.lat, n.lon, "dim" if i % 20 == 5 else "street-1", n.addr)
             for i, n in enumerate(nodes)]
    network = load_network(geojson(streets), nodes)
    zones = ZoneBook({"street-1": Zone("street-1", hours="always"),
                      "dim": Zone("dim", hours="always", active_pct=60)})
    poles = {n.node_id: Pole(n.node_id, n.addr or 0, n.kind, n.lat, n.lon) for n in nodes}
    wave = LightWave(network, poles, zones, WaveSettings(min_ahead=80))
    d = wave.decide("L0", 0.0, WALK_MPS, codec.PRESENCE_DIR_UP)
    assert d is not None
    by_level: dict[int, int] = {}
    for c in d.commands:
        assert len(c.brighten.targets) <= light_codec.BRIGHTEN_MAX_TARGETS
        assert len(c.node_ids) == len(c.brighten.targets)
        by_level[c.brighten.level_pct] = by_level.get(c.brighten.level_pct, 0) + 1
        light_codec.encode_brighten(c.brighten)  # fits the wire format
    targets = len(d.targets)
    assert targets >= 40
    assert sum(by_level.values()) == sum(math.ceil(k / 32) for k in (
        sum(1 for t in d.targets if t.level_pct == lv) for lv in by_level))
    assert set(by_level) == {60, 100}


def test_the_wave_goes_round_a_corner() -> None:
    streets = [("Storgatan", [(0.0, 0.0), (100.0, 0.0)]),
               ("Kyrkogatan", [(100.0, 0.0), (100.0, 150.0)])]
    nodes = [pole("A1", 30, 2, addr=1), pole("A2", 60, 2, addr=2), pole("A3", 90, 2, addr=3),
             pole("B1", 102, 30, addr=4), pole("B2", 102, 60, addr=5), pole("B3", 98, 90, addr=6)]
    wave = wave_for(streets, nodes)
    d = wave.decide("A2", 0.0, WALK_MPS, codec.PRESENCE_DIR_UP)
    assert d is not None
    assert {t.node_id for t in d.targets if t.ahead} == {"A3", "B1", "B2"}  # 3 ahead
    assert [t.distance_m for t in d.targets if t.node_id == "B1"][0] == pytest.approx(70, abs=3)


def test_a_pole_far_from_every_street_is_named_and_left_out() -> None:
    streets, nodes = straight(3)
    nodes.append(pole("L99", 50.0, 80.0))
    network = load_network(geojson(streets), nodes)
    assert "L99" not in network.placements
    assert any(p.startswith("pole L99 is") and "from the nearest street" in p
               for p in network.problems)


def test_a_file_without_streets_is_refused_in_one_line() -> None:
    with pytest.raises(StreetsError, match="LineString"):
        read_streets('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                     '"geometry": {"type": "Point", "coordinates": [18, 59]}}]}')


# --- property: nobody reaches a pole that was not lit in time -----------------------

@st.composite
def routes(draw: st.DrawFn) -> tuple[list[tuple[str, list[XY]]], list[XY], list[float]]:
    """Streets joined end to end (some drawn backwards), the path along them,
    and the poles' positions along the path."""
    path: list[XY] = [(0.0, 0.0)]
    streets = []
    heading = draw(st.floats(0, 2 * math.pi))
    for k in range(draw(st.integers(1, 3))):
        pts = [path[-1]]
        for _ in range(draw(st.integers(1, 3))):
            heading += draw(st.floats(-1.2, 1.2))
            length = draw(st.floats(40, 250))
            x, y = pts[-1]
            pts.append((x + length * math.cos(heading), y + length * math.sin(heading)))
        path.extend(pts[1:])
        backwards = draw(st.booleans())
        streets.append((f"street {k}", pts[::-1] if backwards else pts))
        heading += draw(st.sampled_from([0.0, math.pi / 2, -math.pi / 2, 0.6]))
    total = sum(math.dist(a, b) for a, b in zip(path, path[1:], strict=False))
    positions = [draw(st.floats(0, 20))]
    while True:
        nxt = positions[-1] + draw(st.floats(25, 40))
        if nxt > total - 5:
            break
        positions.append(nxt)
    return streets, path, positions


Route = tuple[list[tuple[str, list[XY]]], list[XY], list[float]]


def _seg_dist(a: XY, b: XY, c: XY, d: XY) -> float:
    def point(p: XY, u: XY, v: XY) -> float:
        dx, dy = v[0] - u[0], v[1] - u[1]
        n = dx * dx + dy * dy
        f = 0.0 if n == 0 else max(0.0, min(1.0, ((p[0] - u[0]) * dx + (p[1] - u[1]) * dy) / n))
        return math.hypot(p[0] - u[0] - f * dx, p[1] - u[1] - f * dy)
    return min(point(a, c, d), point(b, c, d), point(c, a, b), point(d, a, b))


def _apart(path: list[XY], gap_m: float = 30.0) -> bool:
    """No part of the route comes back within gap_m of another (streets drawn
    side by side a few metres apart are another matter: docs/lighting.md)."""
    segs = list(zip(path, path[1:], strict=False))
    return all(_seg_dist(*segs[i], *segs[j]) >= gap_m
               for i in range(len(segs)) for j in range(i + 2, len(segs)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routes(), st.floats(0.8, CAR_MPS), st.floats(0.05, 1.0), st.floats(0.0, 0.5),
       st.booleans(), st.sampled_from(["radar", "direction", "none"]), st.integers(0, 2**32))
def test_people_never_reach_a_pole_that_was_not_lit_in_time(
        route: Route, speed: float, latency: float, ramp: float, reverse: bool, sensor: str,
        seed: int) -> None:
    assume(_apart(route[1]))
    walk(route, speed, latency, ramp, reverse, sensor, seed)


def test_a_route_that_crosses_itself_is_lit_at_the_crossing() -> None:
    streets: list[tuple[str, list[XY]]] = [
        ("street 0", [(0.0, 0.0), (40.0, 0.0), (80.0, 0.0), (308.0, 0.0)]),
        ("street 1", [(308.0, 0.0), (322.3, 56.2)]),
        ("street 2", [(322.3, 56.2), (285.1, 41.5), (247.9, 26.9), (164.2, -6.1)])]
    path = [(0.0, 0.0), (40.0, 0.0), (80.0, 0.0), (308.0, 0.0), (322.3, 56.2), (285.1, 41.5),
            (247.9, 26.9), (164.2, -6.1)]
    positions = [0.0, 25.0, 50.0, 75.0, 101.0, 141.0, 181.0, 217.0, 242.0, 267.0, 292.0,
                 317.0, 342.0, 367.0, 401.0, 441.0, 481.0, 506.0, 531.0]
    for sensor in ("radar", "direction", "none"):
        for reverse in (False, True):
            walk((streets, path, positions), 1.0, 1.0, 0.0, reverse, sensor, 0)


def walk(route: Route, speed: float, latency: float, ramp: float, reverse: bool, sensor: str,
         seed: int) -> None:
    """One person along the route, detected at every pole: each pole they
    reach after the first was commanded up in time."""
    streets, path, positions = route
    if len(positions) < 2:
        return
    rng = random.Random(seed)
    nodes = []
    for i, s in enumerate(positions):
        x, y = point_along(path, s)
        nodes.append(pole(f"L{i}", x + rng.uniform(-3, 3), y + rng.uniform(-3, 3), addr=i + 1))
    zone = Zone("street-1", hours="always", ramp_up_s=round(ramp, 1))
    wave = wave_for(streets, nodes, zone, WaveSettings(latency_s=latency))
    order = list(range(len(positions)))
    if reverse:
        order.reverse()
    start_s = positions[order[0]]
    lit: dict[str, list[tuple[float, float]]] = {}
    t0 = 1_000.0
    for k, i in enumerate(order):
        node_id = f"L{i}"
        t = t0 + abs(positions[i] - start_s) / speed
        if k > 0:
            # Arriving: some earlier command must have the lamp up by now.
            windows = lit.get(node_id, [])
            assert any(a <= t <= b for a, b in windows), (
                f"{node_id} not lit at {t - t0:.2f} s; windows {windows}")
        flags, radar = 0, None
        if sensor != "none":
            # Which way along this pole's own street is the person going?
            # (in this test's plane: the streets in the order of the file)
            drawn = streets[wave.network.placements[node_id].street][1]
            ahead = point_along(path, min(positions[i] + (-1 if reverse else 1) * 2.0,
                                          positions[-1] + 5))
            up = _along(drawn, ahead) > _along(drawn, point_along(path, positions[i]))
            flags = codec.PRESENCE_DIR_UP if up else codec.PRESENCE_DIR_DOWN
            radar = speed if sensor == "radar" else None
        d = wave.decide(node_id, t, radar, flags)
        assert d is not None
        for cmd in d.commands:
            for nid in cmd.node_ids:
                lit.setdefault(nid, []).append(
                    (t + latency + ramp, t + latency + cmd.brighten.hold_s))


def _along(points: list[XY], p: XY) -> float:
    best, along, acc = math.inf, 0.0, 0.0
    for a, b in zip(points, points[1:], strict=False):
        dx, dy = b[0] - a[0], b[1] - a[1]
        n = dx * dx + dy * dy
        f = max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / n))
        dist = math.hypot(p[0] - a[0] - f * dx, p[1] - a[1] - f * dy)
        if dist < best:
            best, along = dist, acc + f * math.sqrt(n)
        acc += math.sqrt(n)
    return along
