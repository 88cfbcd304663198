"""Which bins go on a plan, as routing stops: every bin (a fixed round), or
the ones the forecast says must go today plus those worth a detour."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from gateway.records import Node
from gateway.waste.bin_types import Catalogue
from gateway.waste.forecast import Forecaster
from gateway.waste.planning import DEFAULT_PLAN, PlanSettings, select
from gateway.waste.routing import Stop

StopSelector = Callable[[Sequence[Node], Catalogue], list[Stop]]


def stops_for_all_bins(nodes: Sequence[Node], catalogue: Catalogue) -> list[Stop]:
    """Every bin node as a required stop, with what its type holds when full."""
    stops = []
    for n in nodes:
        if n.role != "bin":
            continue
        bin_type = catalogue.for_kind(n.kind)
        stops.append(Stop(n.node_id, n.lat, n.lon, litres=bin_type.holds_l, required=True,
                          service_s=bin_type.service_s, kind=n.kind or bin_type.name,
                          address=n.address))
    return stops


def forecast_selector(forecaster: Forecaster, shift_start: float,
                      settings: PlanSettings = DEFAULT_PLAN) -> StopSelector:
    """Stops for the bins the daily plan picks (gateway/waste/planning.py): required
    when a bin could be full before the next service, optional with a prize
    when it is worth taking. Litres are what the bin is expected to hold."""
    def choose(nodes: Sequence[Node], catalogue: Catalogue) -> list[Stop]:
        by_id = {n.node_id: n for n in nodes if n.role == "bin"}
        stops = []
        for c in select(forecaster, by_id, shift_start, settings):
            n = by_id[c.node_id]
            bin_type = catalogue.for_kind(n.kind)
            known = not math.isnan(c.expected_pct)
            share = min(100.0, max(c.expected_pct, 0.0)) / 100 if known else 1.0
            stops.append(Stop(n.node_id, n.lat, n.lon,
                              litres=max(1, math.ceil(bin_type.holds_l * share)),
                              required=c.required, prize=round(c.prize_m),
                              service_s=bin_type.service_s, kind=n.kind or bin_type.name,
                              expected_fill_pct=min(100.0, c.expected_pct) if known else None,
                              address=n.address))
        return stops
    return choose
