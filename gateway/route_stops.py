"""Which bins go on a plan, as routing stops.

For now every registered bin is emptied, counted as full. The forecast of
how full each bin will be replaces this with a function of the same shape
(a StopSelector), passed to `kvarter routes plan`'s planning function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gateway.bin_types import Catalogue
from gateway.registry import Node
from gateway.routing import Stop

StopSelector = Callable[[Sequence[Node], Catalogue], list[Stop]]


def stops_for_all_bins(nodes: Sequence[Node], catalogue: Catalogue) -> list[Stop]:
    """Every bin node as a required stop, with what its type holds when full."""
    stops = []
    for n in nodes:
        if n.role != "bin":
            continue
        bin_type = catalogue.for_kind(n.kind)
        stops.append(Stop(n.node_id, n.lat, n.lon, litres=bin_type.holds_l, required=True,
                          service_s=bin_type.service_s, kind=n.kind or bin_type.name))
    return stops
