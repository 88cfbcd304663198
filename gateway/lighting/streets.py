"""Streets and the poles along them: which poles are a pole's neighbours, and
how far along the street each one is.

The streets are the district's (gateway/streets/geometry.py). Each light
pole (a registry node of role 'light') is snapped to the nearest street
within SNAP_M; a pole further from every street is left out of the wave (it
still lights itself on its own detection) and named in one line. Streets
that share an end, or pass within JOIN_M of each other, or cross, are
joined, so that the wave goes round corners and across junctions.

For every pole the network keeps two lists of the poles reachable from it,
nearest first, with the distance along the streets: one going "down" the
pole's street (towards its first coordinate) and one going "up" (towards
its last). The presence event's direction flags ("towards higher pole
numbers") mean "up": the order in which the street is drawn. Past a junction
a list holds the poles of every branch, since nobody knows which way a
walker will turn.

Pure logic: no CoAP, no SQLite.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.records import Node
from gateway.streets.geometry import (
    METRES_PER_DEGREE,
    Point,
    Street,
    StreetFile,
    StreetsError,
    read_streets,
)
from gateway.streets.geometry import Grid as _Grid
from gateway.streets.geometry import nearest as _nearest
from gateway.streets.geometry import project as _project

__all__ = ["METRES_PER_DEGREE", "Network", "Placement", "Point", "Street", "StreetFile",
           "StreetsError", "build_network", "load_network", "read_streets"]

SNAP_M = 25.0  # a pole further than this from every street is not placed
JOIN_M = 5.0  # street ends this close to another street are joined to it
JUNCTION_NEAR_M = 15.0  # a pole this close to a junction stands at it
HORIZON_M = 300.0  # neighbour lists reach this far along the streets
MAX_SIDE_POLES = 40  # and hold at most this many poles each


@dataclass(frozen=True)
class Placement:
    node_id: str
    street: int  # index into Network.streets
    along_m: float
    offset_m: float  # distance from the pole to the street


@dataclass
class Network:
    streets: list[Street]
    placements: dict[str, Placement]
    # node id -> (down, up): [(distance along the streets m, node id)], nearest first
    sides: dict[str, tuple[list[tuple[float, str]], list[tuple[float, str]]]]
    junctions: int
    problems: list[str]
    # Poles at a junction: which street someone is on there is not known, so
    # neither is what "up" means for them.
    at_junction: set[str] = field(default_factory=set)
    spacing_m: float = 30.0  # the usual distance between neighbouring poles (median)

    def neighbours(self, node_id: str, up: bool) -> list[tuple[float, str]]:
        return self.sides[node_id][1 if up else 0]

    def order(self) -> list[tuple[str, list[str]]]:
        """(street name, its poles in the order of their distance along it)."""
        by_street: dict[int, list[Placement]] = defaultdict(list)
        for p in self.placements.values():
            by_street[p.street].append(p)
        return [(self.streets[i].name, [p.node_id for p in sorted(ps, key=lambda p: p.along_m)])
                for i, ps in sorted(by_street.items())]


# --- the network ---------------------------------------------------------------------

def build_network(sf: StreetFile, nodes: Iterable[Node], snap_m: float = SNAP_M,
                  join_m: float = JOIN_M) -> Network:
    streets = sf.streets
    problems = list(sf.problems)
    grid = _Grid(streets, max(snap_m, join_m))
    placements: dict[str, Placement] = {}
    for n in sorted(nodes, key=lambda n: n.node_id):
        if n.role != "light":
            continue
        p = _project(sf.origin, n.lat, n.lon)
        hit = _nearest(streets, grid, p)
        if hit is None or hit[0] > snap_m:
            far = f"more than {snap_m:.0f}" if hit is None else f"{hit[0]:.0f}"
            problems.append(f"pole {n.node_id} is {far} m from the nearest street (at most "
                            f"{snap_m:.0f} m): correct its position or add its street; it "
                            "lights only on its own detections")
            continue
        placements[n.node_id] = Placement(n.node_id, hit[1], hit[2], hit[0])

    # Graph vertices: ("P", node id) for poles, ("J", street, along) for a
    # street's side of a junction. Edges: consecutive vertices along a street;
    # the two sides of a junction (the gap between the streets).
    junction_edges: list[tuple[tuple[object, ...], tuple[object, ...], float]] = []
    marks: dict[int, list[tuple[float, tuple[object, ...]]]] = defaultdict(list)

    def join(sa: int, aa: float, sb: int, ab: float, gap: float) -> None:
        va, vb = ("J", sa, round(aa, 3)), ("J", sb, round(ab, 3))
        marks[sa].append((aa, va))
        marks[sb].append((ab, vb))
        junction_edges.append((va, vb, gap))

    for si, st in enumerate(streets):
        for end, along in ((st.points[0], 0.0), (st.points[-1], st.length)):
            hit = _nearest(streets, grid, end, skip=si)
            if hit is not None and hit[0] <= join_m:
                join(si, along, hit[1], hit[2], hit[0])
    for sa, ka, sb, kb, (ta, tb) in grid.crossings(streets):
        A, B = streets[sa], streets[sb]
        join(sa, A.cum[ka] + ta * (A.cum[ka + 1] - A.cum[ka]),
             sb, B.cum[kb] + tb * (B.cum[kb + 1] - B.cum[kb]), 0.0)

    adj: dict[tuple[object, ...], list[tuple[tuple[object, ...], float]]] = defaultdict(list)
    # For each pole: its neighbour vertex down and up its own street.
    first_step: dict[str, tuple[list[tuple[tuple[object, ...], float]],
                                list[tuple[tuple[object, ...], float]]]] = {}
    at_junction: set[str] = set()
    for pl in placements.values():
        marks[pl.street].append((pl.along_m, ("P", pl.node_id)))
    for items in marks.values():
        items.sort(key=lambda it: (it[0], str(it[1])))
        for (a1, v1), (a2, v2) in zip(items, items[1:], strict=False):
            adj[v1].append((v2, a2 - a1))
            adj[v2].append((v1, a2 - a1))
        for k, (a, v) in enumerate(items):
            if v[0] == "P":
                near = [items[j] for j in range(max(0, k - 8), min(len(items), k + 9))]
                if any(u[0] == "J" and abs(b - a) <= JUNCTION_NEAR_M for b, u in near):
                    at_junction.add(str(v[1]))
                down = [(items[k - 1][1], a - items[k - 1][0])] if k > 0 else []
                up = [(items[k + 1][1], items[k + 1][0] - a)] if k + 1 < len(items) else []
                first_step[str(v[1])] = (down, up)
    for va, vb, gap in junction_edges:
        adj[va].append((vb, gap))
        adj[vb].append((va, gap))

    sides = {}
    for node_id, (down, up) in first_step.items():
        sides[node_id] = (_reach(adj, ("P", node_id), down), _reach(adj, ("P", node_id), up))
    gaps = sorted(side[0][0] for both in sides.values() for side in both if side)
    spacing = gaps[len(gaps) // 2] if gaps else 30.0
    return Network(streets, placements, sides, len(junction_edges), problems, at_junction,
                   spacing)


def _reach(adj: dict[tuple[object, ...], list[tuple[tuple[object, ...], float]]],
           start: tuple[object, ...], first: list[tuple[tuple[object, ...], float]]
           ) -> list[tuple[float, str]]:
    """Poles reachable from start whose path begins with `first`, nearest
    first, within HORIZON_M (Dijkstra)."""
    dist: dict[tuple[object, ...], float] = {start: 0.0}
    heap: list[tuple[float, int, tuple[object, ...]]] = []
    counter = 0
    for v, w in first:
        dist[v] = w
        heap.append((w, counter, v))
        counter += 1
    heapq.heapify(heap)
    done: set[tuple[object, ...]] = {start}
    out: list[tuple[float, str]] = []
    while heap and len(out) < MAX_SIDE_POLES:
        d, _, v = heapq.heappop(heap)
        if v in done or d > HORIZON_M:
            continue
        done.add(v)
        if v[0] == "P":
            out.append((d, str(v[1])))
        for u, w in adj.get(v, ()):
            nd = d + w
            if u not in done and nd < dist.get(u, math.inf) and nd <= HORIZON_M:
                dist[u] = nd
                counter += 1
                heapq.heappush(heap, (nd, counter, u))
    return out


def load_network(geojson: bytes | str, nodes: Iterable[Node]) -> Network:
    return build_network(read_streets(geojson), nodes)
