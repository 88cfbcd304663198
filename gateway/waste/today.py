"""Today's plan from what the gateway has stored: the forecast as of now
(every report, then what crews recorded) and the routes for the bins it picks."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from gateway.records import Node
from gateway.storage.store import Store
from gateway.streets.driving import DrivingStreets
from gateway.waste.bin_types import Catalogue
from gateway.waste.forecast import Forecaster
from gateway.waste.routing import (
    DEFAULT_CIRCUITY,
    DEFAULT_SPEED_KMH,
    Progress,
    RoutePlan,
    Stop,
    Truck,
    plan_routes,
)
from gateway.waste.stops import StopSelector, stops_for_all_bins


def plan_for_nodes(nodes: Sequence[Node], catalogue: Catalogue, depot: tuple[float, float],
                   trucks: Sequence[Truck], *, select: StopSelector = stops_for_all_bins,
                   all_required: bool = False, circuity: float = DEFAULT_CIRCUITY,
                   speed_kmh: float = DEFAULT_SPEED_KMH,
                   time_limit_s: float | None = None,
                   on_progress: Progress | None = None,
                   notes: Mapping[str, str] | None = None,
                   streets: DrivingStreets | None = None) -> RoutePlan:
    """The plan for the bins `select` puts on it, along the streets when
    given; all_required makes every selected bin a required stop. A kind the
    catalogue lacks is planned as generic, and named once in the plan's
    problems."""
    stops = stops_for(nodes, catalogue, select, all_required, notes)
    plan = plan_routes(depot, stops, trucks, circuity=circuity, speed_kmh=speed_kmh,
                       time_limit_s=time_limit_s, on_progress=on_progress, streets=streets)
    plan.problems.extend(unknown_kinds(nodes, catalogue))
    return plan


def stops_for(nodes: Sequence[Node], catalogue: Catalogue, select: StopSelector,
              all_required: bool = False, notes: Mapping[str, str] | None = None) -> list[Stop]:
    """The stops `select` puts on a plan, required all if asked, each with
    the last crew's note."""
    stops = select(nodes, catalogue)
    if all_required:
        stops = [replace(s, required=True) for s in stops]
    if notes:
        stops = [replace(s, note=notes.get(s.node_id, "")) for s in stops]
    return stops


def unknown_kinds(nodes: Sequence[Node], catalogue: Catalogue) -> list[str]:
    """One line per bin type the catalogue lacks."""
    unknown = catalogue.unknown_kinds(n.kind for n in nodes if n.role == "bin")
    generic = catalogue.generic
    return [f"type {kind!r} ({n} bin(s)) is not in the bin catalogue: planned as "
            f"'{generic.name}' ({generic.volume_l} L): give its volume_l in a catalogue file "
            "(--types), here or at import"
            for kind, n in sorted(unknown.items())]


# Readings (and crews' records) dated later than now plus this are not
# learnt from: the same clock skew the gateway accepts in a report.
FORECAST_SKEW_S = 300.0


def forecast_from(store: Store, now: float | None = None) -> Forecaster:
    """The forecast as of now: every stored report, then what crews recorded.
    Nothing dated in the future counts (Forecaster's not_after)."""
    now = time.time() if now is None else now
    forecaster = Forecaster(utc_offset_h=local_utc_offset_h(), not_after=now + FORECAST_SKEW_S)
    forecaster.feed(store.fill_history())
    for node_id, at, outcome, _ in store.visits():
        if outcome == "emptied":
            forecaster.mark_emptied(node_id, at)
    return forecaster


def local_utc_offset_h() -> float:
    offset = datetime.now().astimezone().utcoffset()
    return offset.total_seconds() / 3600 if offset else 0.0
