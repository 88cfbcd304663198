"""Norrmalm, Stockholm: a real district for the simulator and the demo, from
the OpenStreetMap extract the project carries in data/norrmalm (streets, the
30 waste baskets mapped there, 1,006 addresses).

Bins stand at real places: the 30 waste baskets first, then, when more are
asked for, at street addresses drawn at random (each address once), with the
address as the place a crew finds them by. Light poles stand along real named
streets, the longest roads first, one street after the other at the poles'
spacing; the simulated walkers pass them in that order (as along the
generated district's one street), while the gateway's light wave follows the
streets themselves. How fast each bin fills and who passes the poles are
drawn as for the generated district (sim/district.py), with the same seed:
the same fill rates, whichever district they stand in.

The data: © OpenStreetMap contributors, under the Open Database License
(ODbL) 1.0; data/norrmalm/README.md gives the credit in full. Whatever shows
the data carries CREDIT.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from gateway.streets.driving import DrivingStreets, drivable
from gateway.streets.geometry import METRES_PER_DEGREE, Street, read_streets
from sim.district import District, SimPole
from sim.district import build as build_generated

NAME = "Norrmalm"
DATA = Path(__file__).resolve().parent.parent / "data" / "norrmalm"
STREETS = DATA / "streets.geojson"
BASKETS = DATA / "waste-baskets.geojson"
ADDRESSES = DATA / "addresses.geojson"
CREDIT = ("map data © OpenStreetMap contributors, ODbL 1.0 "
          "(https://www.openstreetmap.org/copyright)")
# Where the trucks start: on Tegnérgatan, near the middle of the extract.
DEPOT = (59.3405, 18.0700)


class NorrmalmError(ValueError):
    """More bins or poles than the district has places for; the message says how many."""


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    address: str  # "" for a waste basket: its place is told from the streets
    basket: bool


def _points(path: Path) -> list[tuple[float, float, dict[str, object]]]:
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    return [(f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0],
             f.get("properties") or {}) for f in features]


@lru_cache(maxsize=1)
def baskets() -> tuple[Place, ...]:
    return tuple(Place(lat, lon, "", True) for lat, lon, _ in _points(BASKETS))


@lru_cache(maxsize=1)
def addresses() -> tuple[Place, ...]:
    out = []
    for lat, lon, props in _points(ADDRESSES):
        street, number = props.get("street"), props.get("housenumber")
        if isinstance(street, str) and street:
            text = f"{street} {number}" if isinstance(number, str) and number else street
            out.append(Place(lat, lon, text, False))
    return tuple(out)


def bin_places(n: int, seed: int = 1) -> list[Place]:
    """n places for bins: the waste baskets, then addresses at random."""
    real = list(baskets())
    if n <= len(real):
        return real[:n]
    more = list(addresses())
    if n > len(real) + len(more):
        raise NorrmalmError(f"Norrmalm has places for {len(real) + len(more)} bins "
                            f"({len(real)} waste baskets and {len(more)} addresses), "
                            f"not {n}: ask for fewer bins")
    return real + random.Random(seed).sample(more, n - len(real))


def describe_bins(n: int) -> str:
    """What the bins are, for people: how many baskets, how many at addresses."""
    b = min(n, len(baskets()))
    text = f"{n} bins at real places: {b} of the district's mapped waste baskets"
    return text + (f" and {n - b} at street addresses" if n > b else "")


@lru_cache(maxsize=1)
def streets_text() -> str:
    return STREETS.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def driving_streets() -> DrivingStreets:
    """The streets a refuse truck drives (the gateway's own graph)."""
    return DrivingStreets(read_streets(streets_text()))


def pole_places(n: int, spacing_m: float = 30.0) -> list[tuple[float, float]]:
    """n poles along the longest named roads, spacing_m apart on each."""
    sf = read_streets(streets_text())
    roads: list[Street] = sorted((st for st in sf.streets if st.label and drivable(st.tags)
                                  and "highway" in st.tags), key=lambda st: -st.length)
    lat0, lon0 = sf.origin
    per_lon = METRES_PER_DEGREE * math.cos(math.radians(lat0))
    out: list[tuple[float, float]] = []
    for st in roads:
        at = spacing_m / 2
        while at <= st.length and len(out) < n:
            k = min(len(st.points) - 2, max(0, next(
                i for i in range(len(st.cum) - 1) if st.cum[i + 1] >= at)))
            f = (at - st.cum[k]) / max(st.cum[k + 1] - st.cum[k], 1e-9)
            (x0, y0), (x1, y1) = st.points[k], st.points[k + 1]
            x, y = x0 + f * (x1 - x0), y0 + f * (y1 - y0)
            out.append((lat0 + y / METRES_PER_DEGREE, lon0 + x / per_lon))
            at += spacing_m
        if len(out) == n:
            return out
    raise NorrmalmError(f"Norrmalm's named roads take {len(out)} poles {spacing_m:g} m apart, "
                        f"not {n}: ask for fewer lights")


def build(bins: int, lights: int, hours: float, seed: int = 1,
          pole_spacing_m: float = 30.0) -> District:
    """The district of sim.district.build (fill rates, passers) standing in
    Norrmalm: bins at bin_places, poles at pole_places. NorrmalmError when
    the district has too few places."""
    places = bin_places(bins, seed)
    poles = pole_places(lights, pole_spacing_m) if lights else []
    made = build_generated(bins, lights, hours, seed=seed, pole_spacing_m=pole_spacing_m)
    made.bins = [replace(b, lat=p.lat, lon=p.lon, address=p.address)
                 for b, p in zip(made.bins, places, strict=True)]
    made.poles = [SimPole(p.node_id, lat, lon, p.along_m)
                  for p, (lat, lon) in zip(made.poles, poles, strict=True)]
    return made
