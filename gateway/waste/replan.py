"""Re-planning a day in progress without reshuffling it.

A crew that has driven half its route must not be handed a new one because
two bins were emptied and one could not be reached: what it has done stays
done, what is left keeps its order, and each truck goes on from the last
stop it recorded. Only what forces a change changes one:

- a stop no longer wanted (emptied by another truck, no longer due) drops off;
- a route that no longer fits what is left of the shift or the load sheds its
  optional stops first (the costliest detour first), then required ones,
  which are offered to the other trucks;
- a new stop goes where inserting it costs the least driving, into a truck
  with room (an optional one only if the detour is worth its prize); a
  required stop no truck has room for is named, with the limit that bit.

Each truck's change is reported: stops added to it, stops dropped from the
plan, and stops moved between trucks. Tomorrow's plan starts afresh
(gateway.waste.routing.plan_routes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from gateway.waste.routing import Matrix, RoutePlan, Stop, Truck, TruckRoute, Unserved

# (lat, lon) points -> distance (m) and driving time (s) matrices between them,
# as gateway.waste.routing.travel_matrices gives them (or along streets).
Matrices = Callable[[Sequence[tuple[float, float]]], tuple[Matrix, Matrix]]


@dataclass(frozen=True)
class RouteInProgress:
    """One truck's route as planned, and how far its crew has got."""
    truck: Truck
    planned: tuple[str, ...]  # node ids in the planned order
    done: tuple[str, ...] = ()  # recorded (emptied or unreachable), oldest first
    used_s: int = 0  # of its shift, already spent
    used_l: int = 0  # of its capacity, already filled


@dataclass(frozen=True)
class RouteChange:
    truck: str
    added: tuple[str, ...] = ()  # new on the plan, given to this truck
    removed: tuple[str, ...] = ()  # planned for it, no longer on the plan
    moved_in: Mapping[str, str] = field(default_factory=dict)  # node id -> truck it came from
    moved_out: Mapping[str, str] = field(default_factory=dict)  # node id -> truck it went to

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed or self.moved_in or self.moved_out)

    def summary(self) -> str:
        """One line for the planner: what changed on this truck's route."""
        if self.unchanged:
            return f"{self.truck}: unchanged"
        parts = []
        if self.added:
            parts.append(f"{len(self.added)} added ({', '.join(self.added)})")
        if self.removed:
            parts.append(f"{len(self.removed)} removed ({', '.join(self.removed)})")
        if self.moved_in:
            parts.append(f"{len(self.moved_in)} moved in (" + ", ".join(
                f"{n} from {t}" for n, t in self.moved_in.items()) + ")")
        if self.moved_out:
            parts.append(f"{len(self.moved_out)} moved out (" + ", ".join(
                f"{n} to {t}" for n, t in self.moved_out.items()) + ")")
        return f"{self.truck}: " + "; ".join(parts)


@dataclass
class Replan:
    plan: RoutePlan  # each route: what is left to do, from the truck's last stop
    changes: list[RouteChange]


@dataclass
class _Route:
    truck: Truck
    start: int  # matrix index the truck goes on from
    left_s: int
    left_l: int
    order: list[int]  # matrix indices of the stops to visit
    # Matrix index -> place in the planned order, for the stops planned on
    # this truck: one that goes back on it goes back where it was.
    rank: dict[int, int] = field(default_factory=dict)


def replan(depot: tuple[float, float], progress: Sequence[RouteInProgress],
           stops: Sequence[Stop], done_at: Mapping[str, tuple[float, float]],
           matrices: Matrices) -> Replan:
    """The day's routes, re-planned from where each truck is. stops: what
    should be emptied today now (the selection as of now, without what was
    recorded); done_at: where each recorded stop stands, for the trucks'
    positions."""
    done = {n for p in progress for n in p.done}
    wanted = [s for s in stops if s.node_id not in done]
    index = {s.node_id: k + 1 for k, s in enumerate(wanted)}
    points = [depot] + [(s.lat, s.lon) for s in wanted]
    starts: list[int] = []
    for p in progress:
        if p.done and p.done[-1] in done_at:
            points.append(done_at[p.done[-1]])
            starts.append(len(points) - 1)
        else:
            starts.append(0)
    dist, dur = matrices(points)
    by_index = {k + 1: s for k, s in enumerate(wanted)}

    routes: list[_Route] = []
    taken: set[int] = set()
    for p, start in zip(progress, starts, strict=True):
        order = []
        for node_id in p.planned:
            k = index.get(node_id)
            if k is not None and k not in taken:
                order.append(k)
                taken.add(k)
        rank = {index[n]: i for i, n in enumerate(p.planned) if n in index}
        routes.append(_Route(p.truck, start, p.truck.shift_s - p.used_s,
                             p.truck.capacity_l - p.used_l, order, rank))

    def load(order: list[int]) -> int:
        return sum(by_index[k].litres for k in order)

    def time_of(r: _Route, order: list[int]) -> int:
        path = [r.start, *order, 0]
        drive = sum(int(dur[a, b]) for a, b in zip(path, path[1:], strict=False))
        return drive + sum(by_index[k].service_s for k in order)

    def fits(r: _Route, order: list[int]) -> bool:
        return load(order) <= r.left_l and time_of(r, order) <= r.left_s

    def detour(order: list[int], pos: int, start: int) -> int:
        path = [start, *order, 0]
        a, k, b = path[pos], path[pos + 1], path[pos + 2]
        return int(dist[a, k] + dist[k, b] - dist[a, b])

    # Routes that no longer fit shed stops: optional ones first, each time
    # the one whose detour costs most.
    shed: list[int] = []
    for r in routes:
        while r.order and not fits(r, r.order):
            optional = [i for i, k in enumerate(r.order) if not by_index[k].required]
            pool = optional or list(range(len(r.order)))
            worst = max(pool, key=lambda i: detour(r.order, i, r.start))
            shed.append(r.order.pop(worst))

    unplaced = [k for k in range(1, len(wanted) + 1) if k not in taken] + shed
    # Required first, the bulkiest first (hardest to place); then optional
    # ones by prize.
    unplaced.sort(key=lambda k: (not by_index[k].required,
                                 -by_index[k].litres if by_index[k].required
                                 else -by_index[k].prize))
    unserved: list[Unserved] = []
    optional_left = 0
    for k in unplaced:
        stop = by_index[k]
        best: tuple[int, _Route, int] | None = None
        short_of = set()
        for r in routes:
            if load(r.order) + stop.litres > r.left_l:
                short_of.add("capacity")
                continue
            # The time with the stop inserted is the time now plus its
            # detour: one pass over the route, not one per position.
            base = time_of(r, r.order) + stop.service_s
            path = [r.start, *r.order, 0]
            lo, hi = _keeping_order(r, k)
            for pos in range(lo, hi + 1):
                a, b = path[pos], path[pos + 1]
                if base + int(dur[a, k] + dur[k, b] - dur[a, b]) > r.left_s:
                    short_of.add("shift")
                    continue
                cost = int(dist[a, k] + dist[k, b] - dist[a, b])
                if best is None or cost < best[0]:
                    best = (cost, r, pos)
        if best is None or (not stop.required and best[0] > stop.prize):
            if stop.required:
                limit = " and ".join(sorted(short_of)) or "no truck"
                unserved.append(Unserved(stop, f"no truck has room left ({limit})"))
            else:
                optional_left += 1
            continue
        _, r, pos = best
        r.order.insert(pos, k)

    plan = RoutePlan(depot, [_truck_route(r, by_index, dist, dur) for r in routes],
                     unserved, optional_left=optional_left)
    return Replan(plan, _changes(progress, plan, done))


def _keeping_order(r: _Route, k: int) -> tuple[int, int]:
    """The positions (lo..hi) where stop k may go into r's order: anywhere
    for a stop new to this truck; for one planned on it, between the stops
    planned before it and those planned after it."""
    mine = r.rank.get(k)
    if mine is None:
        return 0, len(r.order)
    lo, hi = 0, len(r.order)
    for i, other in enumerate(r.order):
        theirs = r.rank.get(other)
        if theirs is None:
            continue
        if theirs < mine:
            lo = i + 1
        elif hi == len(r.order):
            hi = i
    return lo, hi


def _truck_route(r: _Route, by_index: Mapping[int, Stop], dist: Matrix,
                 dur: Matrix) -> TruckRoute:
    path = [r.start, *r.order, 0]
    legs = list(zip(path, path[1:], strict=False))
    return TruckRoute(r.truck, tuple(by_index[k] for k in r.order),
                      distance_m=sum(int(dist[a, b]) for a, b in legs),
                      driving_s=sum(int(dur[a, b]) for a, b in legs),
                      service_s=sum(by_index[k].service_s for k in r.order),
                      load_l=sum(by_index[k].litres for k in r.order),
                      legs_s=tuple(int(dur[a, b]) for a, b in legs))


def _changes(progress: Sequence[RouteInProgress], plan: RoutePlan,
             done: set[str]) -> list[RouteChange]:
    before = {p.truck.name: [n for n in p.planned if n not in done] for p in progress}
    after = {r.truck.name: [s.node_id for s in r.stops] for r in plan.routes}
    was_on = {n: t for t, ids in before.items() for n in ids}
    now_on = {n: t for t, ids in after.items() for n in ids}
    out = []
    for p in progress:
        name = p.truck.name
        mine_before, mine_after = set(before[name]), set(after[name])
        out.append(RouteChange(
            name,
            added=tuple(n for n in after[name] if n not in was_on),
            removed=tuple(n for n in before[name] if n not in now_on),
            moved_in={n: was_on[n] for n in after[name]
                      if n in was_on and was_on[n] != name and n not in mine_before},
            moved_out={n: now_on[n] for n in before[name]
                       if n in now_on and now_on[n] != name and n not in mine_after}))
    return out
