"""A day re-planned mid-shift, the issue's case on a whole city: every one
of Gävle's 1,375 bins (or, in a clone without that file, a town of the same
size) planned for four trucks through the gateway's own store, as
`kvarter routes plan` does; then truck-1's crew records its first two stops
emptied and the third unreachable, and the day is planned again. Measured
per truck: of the stops it had left, how many are still on its route in the
same relative order (the longest common subsequence of the two orders). A
plan made afresh from the same state is measured the same way, for what a
reshuffle would have been.

`.venv/bin/python -m bench.replan` (also in `make bench ONLY=waste`)."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.report import line
from bench.routing import GAVLE, TRUCKS, town
from gateway.records import Node
from gateway.storage.store import Store
from gateway.waste.bin_import import read_bins
from gateway.waste.bin_types import Catalogue
from gateway.waste.daily import PlanRequest, make_plan, store_plan

CAPACITY_L = 30_000
SHIFT_H = 8.0


def city_bins() -> tuple[str, list[Node]]:
    if GAVLE.exists():
        return "gavle", read_bins(GAVLE, "G", Catalogue.default()).nodes
    return "synthetic", [Node(s.node_id, "bin", s.lat, s.lon, "240L")
                         for s in town(1375, seed=1)]


def in_order(before: list[str], after: list[str]) -> int:
    """How many of `before` are in `after` in the same relative order."""
    where = {n: i for i, n in enumerate(after)}
    # Longest increasing run of positions (patience sorting): the longest
    # common subsequence of two orders without repeats.
    tails: list[int] = []
    for n in before:
        if n not in where:
            continue
        k = where[n]
        lo, hi = 0, len(tails)
        while lo < hi:
            mid = (lo + hi) // 2
            if tails[mid] < k:
                lo = mid + 1
            else:
                hi = mid
        if lo == len(tails):
            tails.append(k)
        else:
            tails[lo] = k
    return len(tails)


def routes(store: Store, plan_id: int) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in store.plan_stops(plan_id):
        out.setdefault(s.truck, []).append(s.node_id)
    return out


def measure() -> tuple[str, dict[str, tuple[int, int, int, int]], list[str]]:
    """(city, truck -> (stops left before, kept in order on the re-plan,
    kept in order afresh, on its route afresh at all), the re-plan's change
    lines)."""
    name, nodes = city_bins()
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "gateway.sqlite") as store:
        for n in nodes:
            store.register(n)
        depot = (statistics.median(n.lat for n in nodes),
                 statistics.median(n.lon for n in nodes))
        # A shift that started ten minutes ago, today.
        start = time.strftime("%H:%M", time.localtime(time.time() - 600))
        request = PlanRequest(depot, TRUCKS, CAPACITY_L, SHIFT_H, start,
                              every_bin=True).checked()
        first = store_plan(store, request, make_plan(store, request), "bench", time.time())
        before = routes(store, first.id)
        one = before["truck-1"]
        now = max(time.time(), first.made_at)
        store.record_visit(one[0], now + 0.1, "emptied")
        store.record_visit(one[1], now + 0.2, "emptied")
        store.record_visit(one[2], now + 0.3, "unreachable", "parked car")
        done = set(one[:3])
        second = store_plan(store, request, make_plan(store, request), "bench", time.time())
        again = routes(store, second.id)
        fresh_request = replace(request, afresh=True)
        fresh = routes(store, store_plan(store, fresh_request, make_plan(store, fresh_request),
                                         "bench", time.time()).id)
        out = {}
        for truck, planned in before.items():
            left = [n for n in planned if n not in done]
            after = [n for n in again.get(truck, []) if n not in done]
            anew = [n for n in fresh.get(truck, []) if n not in done]
            out[truck] = (len(left), in_order(left, after), in_order(left, anew),
                          len(set(left) & set(anew)))
        return name, out, list(second.outcome.get("changes", []))


def run() -> list[str]:
    name, trucks, changes = measure()
    left = sum(t[0] for t in trucks.values())
    kept = sum(t[1] for t in trucks.values())
    afresh = sum(t[2] for t in trucks.values())
    lines = [f"# {truck}: {n} stops left; re-planned: {k} of them still on it, in their "
             f"order; afresh: {a} in their order, {same} on it at all"
             for truck, (n, k, a, same) in trucks.items()]
    lines += [f"# {c}" for c in changes]
    lines.append(f"# planned afresh instead: {afresh / left:.3f} of the stops left kept "
                 "in their order")
    return lines + [
        # What no truck had time for any more (the shift's minutes already
        # gone) drops off; what stays keeps its order.
        line(f"waste.replan_{name}_stops_left_kept_in_order", kept / left, "share", ">=",
             0.95),
    ]


if __name__ == "__main__":
    for result in run():
        print(result, flush=True)
