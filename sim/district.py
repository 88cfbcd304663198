"""The virtual district: where its bins and light poles stand, how fast each
bin fills, and who walks or cycles past the poles."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

from gateway.records import Node

# Gävle's city centre: the default place for a simulated district.
DEFAULT_CENTRE = (60.6749, 17.1413)
METRES_PER_DEGREE = 111_320.0


def offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """A point east_m and north_m from (lat, lon), on a local flat plane."""
    return (lat + north_m / METRES_PER_DEGREE,
            lon + east_m / (METRES_PER_DEGREE * math.cos(math.radians(lat))))


@dataclass
class SimBin:
    node_id: str
    lat: float
    lon: float
    kind: str
    initial_fill_pct: float
    fill_rate_pct_per_h: float  # average over a day; busier by day than by night
    address: str = ""  # where a crew finds it ("Tegnérgatan 23"), when it stands at one

    def fill_at(self, hours: float) -> float:
        """Fill after `hours` since midnight of the first day. The rate follows
        r * (1 - cos(2 pi (h - 3) / 24)): nothing at 03:00, twice the mean at
        15:00, the mean over a day. This is its integral."""
        w = 2 * math.pi / 24
        filled = self.fill_rate_pct_per_h * (
            hours - (math.sin(w * (hours - 3)) - math.sin(w * -3)) / w)
        return min(100.0, self.initial_fill_pct + filled)


@dataclass
class SimPole:
    node_id: str
    lat: float
    lon: float
    along_m: float  # distance along the street from its first pole


@dataclass
class Passer:
    start_s: float  # virtual second at which they pass the street's start
    speed_mps: float
    upward: bool  # walking from the first pole towards the last


@dataclass
class District:
    bins: list[SimBin]
    poles: list[SimPole]
    passers: list[Passer]
    street_length_m: float

    def nodes(self, keyed: bool = False) -> list[Node]:
        """The registrations; keyed: with each node's key (node_key()), as
        provisioning registers them, so that the gateway gives each a kid."""
        def key(node_id: str) -> str | None:
            return node_key(node_id) if keyed else None

        return ([Node(b.node_id, "bin", b.lat, b.lon, b.kind, key=key(b.node_id),
                      address=b.address)
                 for b in self.bins]
                + [Node(p.node_id, "light", p.lat, p.lon, "street-1", key=key(p.node_id))
                   for p in self.poles])


def node_key(node_id: str) -> str:
    """A simulated node's key (32 hex digits), the same in every run: a
    simulation's, never a secret (provisioning makes real ones at random)."""
    return hashlib.sha256(f"kvarter simulated node {node_id}".encode()).hexdigest()[:32]


# People per hour on the street, hour by hour through a day starting at midnight.
HOURLY_PASSERS = [4, 2, 1, 1, 1, 3, 10, 30, 45, 30, 25, 30,
                  40, 35, 30, 35, 45, 50, 40, 30, 20, 15, 10, 6]


def build(bins: int, lights: int, hours: float, seed: int = 1,
          centre: tuple[float, float] = DEFAULT_CENTRE, pole_spacing_m: float = 30.0,
          street_fold_m: float | None = None) -> District:
    """street_fold_m: the poles' street turns into the next street north
    every so many metres (a serpentine), so that a long street of poles stays
    within the district, in reach of one gateway radio; None: one straight
    street."""
    rng = random.Random(seed)
    lat0, lon0 = centre
    sim_bins = []
    for i in range(bins):
        # Bins stand along a grid of streets 80 m apart within about 1 km.
        east = rng.uniform(-500, 500)
        north = float(round(rng.uniform(-500, 500) / 80) * 80)
        lat, lon = offset(lat0, lon0, east, north)
        busy = rng.choice((0.6, 1.0, 1.0, 1.6, 2.5))
        sim_bins.append(SimBin(f"B{i + 1:04d}", lat, lon, rng.choice(("140L", "240L", "360L")),
                               initial_fill_pct=rng.uniform(0, 55),
                               fill_rate_pct_per_h=busy * rng.uniform(0.8, 1.6)))
    poles = []
    for i in range(lights):
        along = i * pole_spacing_m
        east, north = -400.0 + along, -120.0
        if street_fold_m:
            row, pos = divmod(along, street_fold_m)
            east = -street_fold_m / 2 + (pos if row % 2 == 0 else street_fold_m - pos)
            north = -120 + row * 80
        lat, lon = offset(lat0, lon0, east, north)
        poles.append(SimPole(f"L{i + 1:04d}", lat, lon, along))
    passers = []
    t = 0.0
    while t < hours * 3600:
        rate = HOURLY_PASSERS[int(t // 3600) % 24] / 3600
        t += rng.expovariate(rate)
        cyclist = rng.random() < 0.3
        passers.append(Passer(t, rng.uniform(4, 6) if cyclist else rng.uniform(1.1, 1.6),
                              rng.random() < 0.5))
    length = (lights - 1) * pole_spacing_m if lights else 0.0
    return District(sim_bins, poles, [p for p in passers if p.start_s < hours * 3600], length)


def detection_times(district: District, sensor_range_m: float = 8.0) -> dict[str, list[float]]:
    """For each pole, the virtual seconds at which someone enters its sensor's range."""
    times: dict[str, list[float]] = {p.node_id: [] for p in district.poles}
    for passer in district.passers:
        for pole in district.poles:
            dist = pole.along_m if passer.upward else district.street_length_m - pole.along_m
            times[pole.node_id].append(
                passer.start_s + max(0.0, dist - sensor_range_m) / passer.speed_mps)
    for v in times.values():
        v.sort()
    return times
