"""Where a point is, in words a crew can find: the nearest named street and
the distance to the nearest street crossing it ("Nygatan, 40 m from
Drottninggatan"), from the district's streets.

Every named street counts, footways and pedestrian streets too: a crew
walks the last metres. A crossing is a point two differently named streets
share (how OpenStreetMap draws a junction), a street's end within JOIN_M of
another, or, in a file that is not an OpenStreetMap export, two segments
that cross.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from gateway.streets.geometry import Grid, StreetFile, cross, nearest, project

NEAR_M = 60.0  # a point this close to a named street is on it
AWAY_M = 300.0  # further, up to this, it is "120 m from" the street (in a park, a yard)
JOIN_M = 5.0
AT_M = 10.0  # this close to the crossing street, the point is "at" it
LANDMARK_M = 500.0  # a crossing further than this is no help


def _key(p: tuple[float, float]) -> tuple[int, int]:
    return (round(p[0] * 100), round(p[1] * 100))


def rounded_m(metres: float) -> int:
    """Metres as a crew would say them: to 5 m under 100 m, to 10 m above."""
    step = 5 if metres < 100 else 10
    return int(step * round(metres / step))


class Places:
    def __init__(self, sf: StreetFile, near_m: float = NEAR_M) -> None:
        self.origin = sf.origin
        self.near_m = near_m
        named = [st for st in sf.streets if st.label]
        segments: list[tuple[int, tuple[float, float], tuple[float, float]]] = []
        for i, st in enumerate(named):
            for a, b in zip(st.points, st.points[1:], strict=False):
                segments.append((i, a, b))
        self._labels = [st.label for st in named]
        self._seg_street = np.array([s[0] for s in segments], dtype=np.int64)
        self._a = np.array([s[1] for s in segments], dtype=np.float64).reshape(-1, 2)
        self._d = np.array([s[2] for s in segments], dtype=np.float64).reshape(-1, 2) - self._a
        # label -> [(x, y, the other street's name)]
        crossings: dict[str, set[tuple[float, float, str]]] = defaultdict(set)
        at_point: dict[tuple[int, int], set[str]] = defaultdict(set)
        where: dict[tuple[int, int], tuple[float, float]] = {}
        for st in named:
            for p in st.points:
                at_point[_key(p)].add(st.label)
                where[_key(p)] = p
        for k, labels in at_point.items():
            if len(labels) > 1:
                for label in labels:
                    for other in labels - {label}:
                        crossings[label].add((*where[k], other))
        if named:
            grid = Grid(named, JOIN_M)
            for si, st in enumerate(named):
                for end in (st.points[0], st.points[-1]):
                    hit = nearest(named, grid, end, skip=si)
                    if hit is not None and hit[0] <= JOIN_M and named[hit[1]].label != st.label:
                        crossings[st.label].add((*end, named[hit[1]].label))
                        crossings[named[hit[1]].label].add((*end, st.label))
            if not any(k in st.tags for st in named[:50] for k in ("osm_id", "@id")):
                self._crossings_drawn(named, grid, crossings)
        self._crossings = {label: (np.array([(x, y) for x, y, _ in sorted(pts)]),
                                   [o for _, _, o in sorted(pts)])
                           for label, pts in crossings.items()}

    @staticmethod
    def _crossings_drawn(named: list, grid: Grid,  # type: ignore[type-arg]
                         crossings: dict[str, set[tuple[float, float, str]]]) -> None:
        seen: set[tuple[int, int, int, int]] = set()
        for cell in grid.cells.values():
            for i, (sa, ka) in enumerate(cell):
                for sb, kb in cell[i + 1:]:
                    A, B = named[sa], named[sb]
                    if A.label == B.label or (sa, ka, sb, kb) in seen:
                        continue
                    seen.add((sa, ka, sb, kb))
                    a0, a1 = A.points[ka], A.points[ka + 1]
                    hit = cross(a0, a1, B.points[kb], B.points[kb + 1])
                    if hit is not None:
                        x = a0[0] + hit[0] * (a1[0] - a0[0])
                        y = a0[1] + hit[0] * (a1[1] - a0[1])
                        crossings[A.label].add((x, y, B.label))
                        crossings[B.label].add((x, y, A.label))

    def street(self, lat: float, lon: float, within_m: float | None = None
               ) -> tuple[str, float, tuple[float, float]] | None:
        """(name, metres away, the nearest point on it) of the nearest named
        street within within_m (default near_m)."""
        if not len(self._a):
            return None
        p = np.array(project(self.origin, lat, lon))
        length2 = np.maximum((self._d ** 2).sum(axis=1), 1e-12)
        t = np.clip(((p - self._a) * self._d).sum(axis=1) / length2, 0.0, 1.0)
        foot = self._a + self._d * t[:, None]
        gap = np.hypot(*(foot - p).T)
        k = int(np.argmin(gap))
        if gap[k] > (self.near_m if within_m is None else within_m):
            return None
        return self._labels[self._seg_street[k]], float(gap[k]), (float(foot[k][0]),
                                                                 float(foot[k][1]))

    def place(self, lat: float, lon: float) -> str | None:
        """"Nygatan, 40 m from Drottninggatan", "Nygatan, at Drottninggatan",
        "Nygatan" (no crossing near), "120 m from Nygatan" (off the street), or
        None (no named street near)."""
        found = self.street(lat, lon, AWAY_M)
        if found is None:
            return None
        name, away, foot = found
        if away > self.near_m:
            return f"{rounded_m(away)} m from {name}"
        if name not in self._crossings:
            return name
        pts, others = self._crossings[name]
        gaps = np.hypot(pts[:, 0] - foot[0], pts[:, 1] - foot[1])
        k = int(np.argmin(gaps))
        metres = float(gaps[k])
        if not math.isfinite(metres) or metres > LANDMARK_M:
            return name
        if metres < AT_M:
            return f"{name}, at {others[k]}"
        return f"{name}, {rounded_m(metres)} m from {others[k]}"
