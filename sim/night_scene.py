"""A Valla Torg-like night: about 1 km of walking and cycling path with poles
25-40 m apart, and a road beside it, and the people who use them through
the night in both directions. Pure model: where the poles stand, who passes
when, when each reaches each pole, and how a night's lamp levels are judged
(energy, and "dark arrivals": someone reaching a pole below its active level).
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field

from sim.district import DEFAULT_CENTRE, offset

WALK_MPS = 1.4
CYCLE_MPS = 5.0
DRIVE_MPS = 14.0  # 50 km/h

# People per hour from 18:00 to 07:00 on a suburban park path (walkers,
# cyclists) and cars per hour on the local road beside it: busiest in the
# early evening, a trickle after midnight, picking up before seven.
NIGHT_HOURS = list(range(18, 24)) + list(range(0, 7))
PATH_WALKERS = [16, 14, 10, 7, 4, 3, 2, 1, 1, 1, 2, 4, 8]
PATH_CYCLISTS = [8, 6, 4, 3, 2, 1, 1, 0.5, 0.3, 0.3, 1, 3, 6]
ROAD_CARS = [40, 30, 22, 15, 10, 6, 4, 3, 2, 2, 4, 12, 30]


@dataclass(frozen=True)
class Pole:
    node_id: str
    street: str
    along_m: float
    lat: float
    lon: float
    addr: int


@dataclass(frozen=True)
class Street:
    name: str
    length_m: float
    north_m: float  # where it runs, north of the scene's origin
    kind: str  # zone: "path" or "road"


@dataclass(frozen=True)
class Trip:
    street: str
    start_s: float  # seconds after the night's start, at the street's first end
    speed_mps: float
    upward: bool  # from along 0 towards the far end
    mode: str  # walker, cyclist, car

    def reaches(self, along_m: float, length_m: float) -> float:
        """Seconds after the night's start at which this person is at along_m."""
        dist = along_m if self.upward else length_m - along_m
        return self.start_s + dist / self.speed_mps


@dataclass
class Scene:
    streets: list[Street]
    poles: list[Pole]
    trips: list[Trip]
    night_s: float
    origin: tuple[float, float] = DEFAULT_CENTRE

    def street(self, name: str) -> Street:
        return next(s for s in self.streets if s.name == name)

    def streets_geojson(self) -> dict[str, object]:
        """The streets as LineStrings, for the gateway's street import."""
        features = []
        for s in self.streets:
            a = offset(*self.origin, 0.0, s.north_m)
            b = offset(*self.origin, s.length_m, s.north_m)
            features.append({"type": "Feature", "properties": {"name": s.name},
                             "geometry": {"type": "LineString",
                                          "coordinates": [[a[1], a[0]], [b[1], b[0]]]}})
        return {"type": "FeatureCollection", "features": features}


def build(seed: int = 1, night_h: float = 13.0, length_m: float = 1000.0,
          scale: float = 1.0) -> Scene:
    """The scene. `scale` multiplies the traffic (1.0: the rates above)."""
    rng = random.Random(seed)
    streets = [Street("path", length_m, 0.0, "path"), Street("road", length_m, 25.0, "road")]
    poles: list[Pole] = []
    addr = 1
    for s in streets:
        along = 0.0
        while along <= s.length_m:
            lat, lon = offset(*DEFAULT_CENTRE, along, s.north_m)
            prefix = "P" if s.kind == "path" else "R"
            poles.append(Pole(f"{prefix}{addr:03d}", s.name, along, lat, lon, addr))
            addr += 1
            along += rng.uniform(25, 40) if s.kind == "path" else rng.uniform(32, 40)
    trips: list[Trip] = []
    for street, mode, rates, speed in (
            ("path", "walker", PATH_WALKERS, WALK_MPS),
            ("path", "cyclist", PATH_CYCLISTS, CYCLE_MPS),
            ("road", "car", ROAD_CARS, DRIVE_MPS)):
        t = 0.0
        while True:
            hour = int(t // 3600)
            if hour >= len(rates) or t >= night_h * 3600:
                break
            rate = rates[hour] * scale / 3600
            t += rng.expovariate(rate) if rate > 0 else 3600
            if t >= night_h * 3600:
                break
            v = speed * rng.uniform(0.85, 1.15)
            trips.append(Trip(street, t, v, rng.random() < 0.5, mode))
    trips.sort(key=lambda tr: tr.start_s)
    return Scene(streets, poles, trips, night_h * 3600)


@dataclass(frozen=True)
class Detection:
    t_s: float
    node_id: str
    trip: int  # index into scene.trips (for judging only: nodes never see it)


def detections(scene: Scene, range_m: float = 10.0, delay_s: float = 0.5) -> list[Detection]:
    """When each pole's sensor reports each person: delay_s (a PIR sensor's
    response time) after they come within range_m of it along the street."""
    out = []
    by_street: dict[str, list[Pole]] = {}
    for p in scene.poles:
        by_street.setdefault(p.street, []).append(p)
    for i, trip in enumerate(scene.trips):
        length = scene.street(trip.street).length_m
        for p in by_street[trip.street]:
            at = trip.reaches(p.along_m, length)
            seen = max(trip.start_s, at - range_m / trip.speed_mps) + delay_s
            out.append(Detection(seen, p.node_id, i))
    out.sort(key=lambda d: d.t_s)
    return out


@dataclass
class LampTrace:
    """A pole's lamp level through the night: (seconds, level %) changes."""

    changes: list[tuple[float, float]] = field(default_factory=list)

    def level_at(self, t_s: float) -> float:
        i = bisect.bisect_right(self.changes, (t_s, math.inf)) - 1
        return self.changes[i][1] if i >= 0 else 0.0

    def energy_share(self, night_s: float) -> float:
        """Mean level over the night as a share of 100 %."""
        total = 0.0
        for (t, level), nxt in zip(self.changes, self.changes[1:] + [(night_s, 0.0)],
                                   strict=True):
            total += level * (min(nxt[0], night_s) - min(t, night_s))
        return total / (100.0 * night_s)


@dataclass(frozen=True)
class DarkArrival:
    trip: int
    mode: str
    node_id: str
    t_s: float
    level: float


@dataclass
class NightResult:
    energy_share: float  # of every lamp at full all night
    arrivals: int
    dark: list[DarkArrival]
    by_mode: dict[str, int]
    # The oracle's (gateway/lighting/energy.py: each pole at its active level
    # exactly while someone is near it, idle otherwise), of full all night.
    oracle_share: float | None = None

    @property
    def saving(self) -> float:
        return 1.0 - self.energy_share

    @property
    def oracle_ratio(self) -> float | None:
        """Ours / the oracle's energy: 1.0 would be perfect knowledge."""
        if not self.oracle_share:
            return None
        return self.energy_share / self.oracle_share


def near_intervals(scene: Scene, near_m: float = 10.0) -> dict[str, list[tuple[float, float]]]:
    """When someone is within near_m of each pole (seconds after the night's
    start, within the night), from where everyone is: what only an oracle
    knows; the poles know it from their sensors, late and in part."""
    near: dict[str, list[tuple[float, float]]] = {p.node_id: [] for p in scene.poles}
    by_street: dict[str, list[Pole]] = {}
    for p in scene.poles:
        by_street.setdefault(p.street, []).append(p)
    for trip in scene.trips:
        length = scene.street(trip.street).length_m
        half = near_m / trip.speed_mps
        for p in by_street[trip.street]:
            at = trip.reaches(p.along_m, length)
            a, b = max(0.0, at - half), min(scene.night_s, at + half)
            if a < b:
                near[p.node_id].append((a, b))
    return near


def judge(scene: Scene, traces: dict[str, LampTrace], active_pct: dict[str, float],
          range_m: float = 10.0, delay_s: float = 0.5) -> NightResult:
    """Energy against every lamp at full all night, and every arrival of every
    person at every pole on their way, checked against the pole's active level.
    The first pole a person meets, where they enter the scene, is not judged
    (nor any within a sensor's range and response time of their entry): in
    the street they came from they would have been seen already."""
    dark: list[DarkArrival] = []
    by_mode: dict[str, int] = {}
    arrivals = 0
    poles_by_street: dict[str, list[Pole]] = {}
    for p in scene.poles:
        poles_by_street.setdefault(p.street, []).append(p)
    for i, trip in enumerate(scene.trips):
        length = scene.street(trip.street).length_m
        entry_m = range_m + trip.speed_mps * delay_s
        poles = poles_by_street[trip.street]
        first = min(poles, key=lambda p: p.along_m if trip.upward else length - p.along_m)
        for p in poles:
            at = trip.reaches(p.along_m, length)
            if at >= scene.night_s or p is first \
                    or (p.along_m if trip.upward else length - p.along_m) < entry_m:
                continue
            arrivals += 1
            by_mode[trip.mode] = by_mode.get(trip.mode, 0) + 1
            level = traces[p.node_id].level_at(at)
            if level + 1e-9 < active_pct[p.node_id]:
                dark.append(DarkArrival(i, trip.mode, p.node_id, at, level))
    energy = sum(traces[p.node_id].energy_share(scene.night_s) for p in scene.poles) \
        / len(scene.poles)
    return NightResult(energy, arrivals, dark, by_mode)
