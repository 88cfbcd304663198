"""The light wave's parts from what is stored: the street network with the
poles placed on it, the poles, and the zones, with each problem in one line."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.lighting.streets import Network, StreetsError, load_network
from gateway.lighting.wave import Pole
from gateway.lighting.zones import Zone, ZoneBook, ZoneError
from gateway.records import Node


def build_wave_parts(nodes: Mapping[str, Node], streets: tuple[int, str, str] | None,
                     zone_rows: list[tuple[str, str, int]]
                     ) -> tuple[Network | None, dict[str, Pole], ZoneBook, list[str]]:
    """The network, poles and zones from what is stored; problems in one line
    each. Pure (runs in a worker thread)."""
    problems: list[str] = []
    zones = {}
    for name, settings, revision in zone_rows:
        try:
            zones[name] = Zone.from_json(settings, revision)
        except (ZoneError, ValueError, TypeError) as e:
            problems.append(f"zone {name}: stored settings unusable ({e}); defaults used")
    poles = {n.node_id: Pole(n.node_id, n.addr, n.kind, n.lat, n.lon)
             for n in nodes.values() if n.role == "light" and n.addr is not None}
    network = None
    if streets is not None:
        try:
            network = load_network(streets[1], nodes.values())
            problems.extend(network.problems)
        except StreetsError as e:
            problems.append(f"streets from {streets[2]}: {e}")
    return network, poles, ZoneBook(zones), problems
