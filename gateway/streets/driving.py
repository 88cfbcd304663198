"""Driving along the streets: the graph a refuse truck can drive, and the
shortest driving distance between any two points on it.

Which streets a truck drives: every street an OpenStreetMap export tags
with a road "highway" (residential, service, tertiary, ...); footways,
paths, cycleways, steps, pedestrian streets and platforms are left out, as
are streets closed to motor vehicles (access, vehicle or motor_vehicle
"no"). A file without highway tags (streets drawn by hand, a city's own
export) is driven everywhere.

One-way streets: "oneway" yes/true/1 allows the drawing direction only,
-1/reverse the opposite; a roundabout (junction=roundabout or circular) and
a motorway are one-way without saying so, as OpenStreetMap has it.

Junctions: streets join where they share a point (how OpenStreetMap draws
them), and where a street's end lies within JOIN_M of another street (how a
street drawn by hand meets its neighbour). Streets that merely cross are
joined only in a file that is not an OpenStreetMap export: in an export a
crossing without a shared point is a bridge or a tunnel.

Only the longest part of the network in which every junction can be reached
from every other (its largest strongly connected component) is used: a
fragment cut off at the edge of an export, or a one-way stub leading out of
it, would otherwise give points no way back.

A point is snapped to the nearest drivable street within SNAP_M; a point
further away has no driving distance here (NaN), and whoever asked falls
back to an estimate for it. Distances are computed with SciPy's Dijkstra
from the junctions next to the snapped points only, in chunks, so that a few
thousand points on a city's streets take seconds and bounded memory.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.streets.geometry import Grid, Street, StreetFile, nearest, project

SNAP_M = 150.0  # a point further than this from every drivable street is not on the streets
JOIN_M = 5.0  # a street's end this close to another street is joined to it
_SAMPLE_M = 20.0  # spacing of the points that index the streets for snapping
_KEY_M = 0.01  # points closer than this are the same point
# Dijkstra's output is kept to about this many cells at a time (x 8 bytes).
_CHUNK_CELLS = 20_000_000

ROADS = frozenset({
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified",
    "residential", "service", "living_street", "road", "busway"})
_NO = frozenset({"no", "private", "agricultural", "forestry"})

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def drivable(tags: dict[str, str]) -> bool:
    highway = tags.get("highway")
    if highway is not None and highway not in ROADS:
        return False
    return not any(tags.get(k) in _NO for k in ("motor_vehicle", "vehicle", "access"))


def directions(tags: dict[str, str]) -> tuple[bool, bool]:
    """(may drive in the drawing direction, may drive against it)."""
    oneway = tags.get("oneway", "").strip().lower()
    if oneway in ("yes", "true", "1"):
        return True, False
    if oneway in ("-1", "reverse"):
        return False, True
    if oneway in ("no", "false", "0"):
        return True, True
    implied = (tags.get("junction") in ("roundabout", "circular")
               or tags.get("highway") == "motorway")
    return True, not implied


def is_osm_export(sf: StreetFile) -> bool:
    return any(k in st.tags for st in sf.streets[:50] for k in ("osm_id", "@id"))


@dataclass(frozen=True)
class Piece:
    """A stretch of one street between two junctions (or ends)."""
    street: int
    k0: int  # first point index in the street
    k1: int  # last point index
    u: int  # graph node at k0
    v: int  # graph node at k1
    length: float
    forward: bool  # u -> v allowed
    backward: bool  # v -> u allowed


@dataclass(frozen=True)
class Snapped:
    piece: IntArray  # index into pieces, -1: not on the streets
    along: FloatArray  # metres from the piece's u
    offset: FloatArray  # metres from the point to the street


def _key(p: tuple[float, float]) -> tuple[int, int]:
    return (round(p[0] / _KEY_M), round(p[1] / _KEY_M))


class DrivingStreets:
    """The drivable streets of a StreetFile as a directed graph."""

    def __init__(self, sf: StreetFile, join_m: float = JOIN_M) -> None:
        self.origin = sf.origin
        streets = [Street(st.name, list(st.points), label=st.label, tags=st.tags)
                   for st in sf.streets if drivable(st.tags)]
        self.streets = streets
        self.one_way = sum(1 for st in streets if directions(st.tags) != (True, True))
        self.length_m = sum(st.length for st in streets)
        self.pieces: list[Piece] = []
        self.nodes = 0
        self.dropped_m = 0.0  # street metres outside the largest connected part
        self.turned_m = 0.0  # one-way metres taken as two-way at dead ends
        self.usable: list[bool] = []
        if not streets:
            self._index()
            return
        connectors = _join_ends(streets, join_m)
        if not is_osm_export(sf):
            _join_crossings(streets)
        uses: dict[tuple[int, int], int] = defaultdict(int)
        for st in streets:
            for p in st.points:
                uses[_key(p)] += 1
        for a, b, _ in connectors:  # a link's ends are junctions
            uses[_key(a)] += 1
            uses[_key(b)] += 1
        node_of: dict[tuple[int, int], int] = {}

        def node(p: tuple[float, float]) -> int:
            return node_of.setdefault(_key(p), len(node_of))

        for si, st in enumerate(streets):
            fwd, bwd = directions(st.tags)
            cuts = [0] + [k for k in range(1, len(st.points) - 1)
                          if uses[_key(st.points[k])] > 1] + [len(st.points) - 1]
            for k0, k1 in zip(cuts, cuts[1:], strict=False):
                self.pieces.append(Piece(si, k0, k1, node(st.points[k0]), node(st.points[k1]),
                                         st.cum[k1] - st.cum[k0], fwd, bwd))
        links = [(node(a), node(b), gap) for a, b, gap in connectors]
        self.nodes = len(node_of)
        self.turned_m = _turn_at_dead_ends(self.pieces, links)
        edges: list[tuple[int, int, float]] = []
        for pc in self.pieces:
            w = max(pc.length, 1e-3)  # SciPy's graphs take no zero weights
            if pc.forward:
                edges.append((pc.u, pc.v, w))
            if pc.backward:
                edges.append((pc.v, pc.u, w))
        for x, y, gap in links:
            edges += [(x, y, max(gap, 1e-3)), (y, x, max(gap, 1e-3))]
        self.graph = _graph(self.nodes, edges)
        from scipy.sparse.csgraph import connected_components  # see _graph
        _, labels = connected_components(self.graph, directed=True, connection="strong")
        # The largest by street length: in number of junctions a long
        # avenue counts for little.
        inside = [pc for pc in self.pieces if labels[pc.u] == labels[pc.v]]
        biggest = int(np.bincount([labels[pc.u] for pc in inside],
                                  weights=[pc.length for pc in inside]).argmax()) \
            if inside else 0
        self.usable = [labels[pc.u] == biggest and labels[pc.v] == biggest
                       for pc in self.pieces]
        self.dropped_m = sum(pc.length for pc, ok in zip(self.pieces, self.usable, strict=True)
                             if not ok)
        self._index()

    # --- snapping ------------------------------------------------------------------

    def _index(self) -> None:
        seg_a, seg_b, seg_piece, seg_along = [], [], [], []
        for i, pc in enumerate(self.pieces):
            if not self.usable[i]:
                continue
            st = self.streets[pc.street]
            for k in range(pc.k0, pc.k1):
                seg_a.append(st.points[k])
                seg_b.append(st.points[k + 1])
                seg_piece.append(i)
                seg_along.append(st.cum[k] - st.cum[pc.k0])
        self._a = np.array(seg_a, dtype=np.float64).reshape(-1, 2)
        self._d = np.array(seg_b, dtype=np.float64).reshape(-1, 2) - self._a
        self._seg_piece = np.array(seg_piece, dtype=np.int64)
        self._seg_along = np.array(seg_along, dtype=np.float64)
        samples, owner = [], []
        for s in range(len(self._a)):
            n = max(1, math.ceil(math.hypot(*self._d[s]) / _SAMPLE_M))
            for t in np.linspace(0.0, 1.0, n + 1):
                samples.append(self._a[s] + t * self._d[s])
                owner.append(s)
        self._owner = np.array(owner, dtype=np.int64)
        from scipy.spatial import cKDTree  # see _graph
        self._tree = cKDTree(np.array(samples).reshape(-1, 2)) if samples else None

    def snap(self, points: Sequence[tuple[float, float]], snap_m: float = SNAP_M) -> Snapped:
        """Each (lat, lon) point's place on the nearest usable drivable street."""
        n = len(points)
        piece = np.full(n, -1, dtype=np.int64)
        along = np.zeros(n)
        offset = np.full(n, np.inf)
        if self._tree is None or n == 0:
            return Snapped(piece, along, offset)
        xy = np.array([project(self.origin, lat, lon) for lat, lon in points]).reshape(-1, 2)
        k = min(32, len(self._owner))
        _, idx = self._tree.query(xy, k=k, distance_upper_bound=snap_m + _SAMPLE_M)
        idx = np.asarray(idx).reshape(n, k)
        valid = idx < len(self._owner)
        segs = self._owner[np.where(valid, idx, 0)]
        a, d = self._a[segs], self._d[segs]  # n x k x 2
        length2 = np.maximum((d ** 2).sum(axis=2), 1e-12)
        t = np.clip(((xy[:, None, :] - a) * d).sum(axis=2) / length2, 0.0, 1.0)
        gap = np.hypot(*np.moveaxis(a + d * t[..., None] - xy[:, None, :], 2, 0))
        gap = np.where(valid, gap, np.inf)
        best = gap.argmin(axis=1)
        rows = np.arange(n)
        offset = gap[rows, best]
        seg = segs[rows, best]
        on = offset <= snap_m
        piece = np.where(on, self._seg_piece[seg], -1)
        along = self._seg_along[seg] + t[rows, best] * np.sqrt(length2[rows, best])
        return Snapped(piece, np.where(on, along, 0.0), offset)

    # --- distances -----------------------------------------------------------------

    def distances(self, points: Sequence[tuple[float, float]],
                  snap_m: float = SNAP_M) -> tuple[FloatArray, Snapped]:
        """Metres of driving from every (lat, lon) point to every other, NaN in
        the rows and columns of points not on the streets; and the snap."""
        sn = self.snap(points, snap_m)
        n = len(points)
        on = np.flatnonzero(sn.piece >= 0)
        if len(on) == n and n:
            return self._between(sn.piece, sn.along), sn
        out = np.full((n, n), np.nan)
        if len(on):
            out[np.ix_(on, on)] = self._between(sn.piece[on], sn.along[on])
        return out, sn

    def _between(self, piece: IntArray, along: FloatArray) -> FloatArray:
        n = len(piece)
        length = np.array([p.length for p in self.pieces])[piece]
        fwd = np.array([p.forward for p in self.pieces])[piece]
        bwd = np.array([p.backward for p in self.pieces])[piece]
        u = np.array([p.u for p in self.pieces], dtype=np.int64)[piece]
        v = np.array([p.v for p in self.pieces], dtype=np.int64)[piece]
        inf = np.inf
        # Leaving a point: on to v (driving forward) or back to u (backward).
        exit_node = np.stack([v, u], axis=1)
        exit_cost = np.stack([np.where(fwd, length - along, inf), np.where(bwd, along, inf)],
                             axis=1)
        # Arriving at a point on piece p: from p's u (forward) or its v
        # (backward). Per piece, not per point: far fewer columns to search.
        pieces, col_piece = np.unique(piece, return_inverse=True)
        p_u = np.array([self.pieces[p].u for p in pieces], dtype=np.int64)
        p_v = np.array([self.pieces[p].v for p in pieces], dtype=np.int64)
        p_fwd = np.array([self.pieces[p].forward for p in pieces])
        p_bwd = np.array([self.pieces[p].backward for p in pieces])
        in_fwd = np.where(fwd, along, inf)  # from u to the point
        in_bwd = np.where(bwd, length - along, inf)  # from v to the point
        members: dict[int, IntArray] = {}
        order = np.argsort(col_piece, kind="stable")
        bounds = np.searchsorted(col_piece[order], np.arange(len(pieces) + 1))
        for k in range(len(pieces)):
            members[k] = order[bounds[k]:bounds[k + 1]]
        from scipy.sparse.csgraph import dijkstra  # see _graph
        out = np.empty((n, n))
        step = max(16, min(512, _CHUNK_CELLS // max(1, 2 * self.nodes)))
        for start in range(0, n, step):
            rows = order[start:start + step]  # neighbours share junctions: fewer sources
            sources, where = np.unique(exit_node[rows], return_inverse=True)
            where = where.reshape(len(rows), 2)
            from_src = dijkstra(self.graph, directed=True, indices=sources)
            # Shortest from each row's point to each piece's u and v.
            to_u = np.minimum(exit_cost[rows, 0, None] + from_src[where[:, 0]][:, p_u],
                              exit_cost[rows, 1, None] + from_src[where[:, 1]][:, p_u])
            to_v = np.minimum(exit_cost[rows, 0, None] + from_src[where[:, 0]][:, p_v],
                              exit_cost[rows, 1, None] + from_src[where[:, 1]][:, p_v])
            to_u[:, ~p_fwd] = inf
            to_v[:, ~p_bwd] = inf
            best = np.minimum(to_u[:, col_piece] + in_fwd[None, :],
                              to_v[:, col_piece] + in_bwd[None, :])
            # Two points on the same stretch of street, the second ahead.
            row_piece = col_piece[rows]
            for k in np.unique(row_piece):
                here = np.flatnonzero(row_piece == k)
                same = members[int(k)]
                ahead = along[same][None, :] - along[rows[here]][:, None]
                direct = np.full(ahead.shape, inf)
                if p_fwd[k]:
                    direct = np.where(ahead >= 0, ahead, direct)
                if p_bwd[k]:
                    direct = np.minimum(direct, np.where(ahead <= 0, -ahead, inf))
                block = np.ix_(here, same)
                best[block] = np.minimum(best[block], direct)
            best[np.arange(len(rows)), rows] = 0.0
            out[rows] = best
        return out


def _turn_at_dead_ends(pieces: list[Piece], links: list[tuple[int, int, float]]) -> float:
    """Make one-way stretches that lead to nothing, or come from nothing,
    two-way back to the nearest junction: the truck turns round there (and at
    the edge of an export, where a one-way street is cut, the way back is
    outside). Returns the metres so changed."""
    degree: dict[int, int] = defaultdict(int)
    for pc in pieces:
        degree[pc.u] += 1
        degree[pc.v] += 1
    for a, b, _ in links:
        degree[a] += 1
        degree[b] += 1
    turned = 0.0
    changed = True
    while changed:
        changed = False
        leaving: set[int] = {x for a, b, _ in links for x in (a, b)}
        arriving = set(leaving)
        for pc in pieces:
            if pc.forward:
                leaving.add(pc.u)
                arriving.add(pc.v)
            if pc.backward:
                leaving.add(pc.v)
                arriving.add(pc.u)
        for i, pc in enumerate(pieces):
            if pc.forward and pc.backward:
                continue
            if any(degree[x] <= 2 and (x not in leaving or x not in arriving)
                   for x in (pc.u, pc.v)):
                pieces[i] = replace(pc, forward=True, backward=True)
                turned += pc.length
                changed = True
    return turned


def _graph(n: int, edges: list[tuple[int, int, float]]) -> Any:
    """A CSR matrix with the shortest of parallel edges (a sparse matrix
    would add them up).

    SciPy is imported here and in the methods that need it, not at the top:
    it takes about a second to load, and every `kvarter` command and every
    gateway start would pay it, though most never build a street graph."""
    from scipy.sparse import coo_matrix
    r = np.array([e[0] for e in edges], dtype=np.int64)
    c = np.array([e[1] for e in edges], dtype=np.int64)
    w = np.array([e[2] for e in edges], dtype=np.float64)
    order = np.lexsort((w, c, r))
    r, c, w = r[order], c[order], w[order]
    first = np.ones(len(r), dtype=bool)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    return coo_matrix((w[first], (r[first], c[first])), shape=(n, n)).tocsr()


def _join_ends(streets: list[Street], join_m: float
               ) -> list[tuple[tuple[float, float], tuple[float, float], float]]:
    """Join each street end that shares no point with another street to the
    nearest other street within join_m: the point there is put into that
    street, and a link (end, point, gap) returned. Changes streets' points."""
    uses: dict[tuple[int, int], int] = defaultdict(int)
    for st in streets:
        for p in st.points:
            uses[_key(p)] += 1
    grid = Grid(streets, join_m)
    inserts: dict[int, list[tuple[int, float, tuple[float, float]]]] = defaultdict(list)
    links = []
    for si, st in enumerate(streets):
        for end in (st.points[0], st.points[-1]):
            if uses[_key(end)] > 1:
                continue
            hit = nearest(streets, grid, end, skip=si)
            if hit is None or hit[0] > join_m:
                continue
            gap, sj, at = hit
            other = streets[sj]
            k = max(0, min(len(other.points) - 2,
                           int(np.searchsorted(other.cum, at, side="right")) - 1))
            f = (at - other.cum[k]) / max(other.cum[k + 1] - other.cum[k], 1e-9)
            a, b = other.points[k], other.points[k + 1]
            p = (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]))
            inserts[sj].append((k, f, p))
            links.append((end, p, gap))
    _insert(streets, inserts)
    return links


def _join_crossings(streets: list[Street]) -> None:
    """Put a shared point where two streets' segments cross."""
    grid = Grid(streets, 0.0)
    inserts: dict[int, list[tuple[int, float, tuple[float, float]]]] = defaultdict(list)
    for sa, ka, sb, kb, (ta, tb) in grid.crossings(streets):
        A, B = streets[sa], streets[sb]
        if any(st.tags.get(t, "no") not in ("no", "0") for st in (A, B)
               for t in ("bridge", "tunnel", "layer")):
            continue
        a0, a1 = A.points[ka], A.points[ka + 1]
        p = (a0[0] + ta * (a1[0] - a0[0]), a0[1] + ta * (a1[1] - a0[1]))
        inserts[sa].append((ka, ta, p))
        inserts[sb].append((kb, tb, p))
    _insert(streets, inserts)


def _insert(streets: list[Street],
            inserts: dict[int, list[tuple[int, float, tuple[float, float]]]]) -> None:
    for si, items in inserts.items():
        st = streets[si]
        pts = list(st.points)
        # From the last segment back, so that earlier indices stay valid.
        for k, f, p in sorted(items, key=lambda it: (it[0], it[1]), reverse=True):
            if f <= 0:
                pts[k] = p
            elif f >= 1:
                pts[k + 1] = p
            else:
                pts.insert(k + 1, p)
        clean = [pts[0]] + [b for a, b in zip(pts, pts[1:], strict=False) if _key(a) != _key(b)]
        streets[si] = Street(st.name, clean, label=st.label, tags=st.tags)
