"""The bins a gateway already has (a city's imported file) made to report
with simulated fill, so that a user with their own city sees the whole chain
work: `kvarter sim run --registered`."""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import dataclass

from gateway.coap.client import list_nodes, register_nodes
from gateway.records import Node
from gateway.security.technician import TechnicianCredential
from sim.district import District, SimBin, node_key
from sim.runner import Outcome, Simulation


class NoRegisteredBins(Exception):
    """The gateway has no bin the simulator may speak for."""


@dataclass
class RegisteredRun:
    outcome: Outcome
    # Bins with a real node's key: the simulator cannot speak for them (and
    # must not), so they are left to their nodes.
    left_to_their_nodes: list[str]


def simulated_bins(nodes: list[Node], seed: int) -> list[SimBin]:
    """Each registered bin at its registered place, with a fill of its own:
    the same for the same seed, as the generated district's."""
    rng = random.Random(seed)
    out = []
    for n in nodes:
        busy = rng.choice((0.6, 1.0, 1.0, 1.6, 2.5))
        out.append(SimBin(n.node_id, n.lat, n.lon, n.kind, initial_fill_pct=rng.uniform(0, 55),
                          fill_rate_pct_per_h=busy * rng.uniform(0.8, 1.6)))
    return out


def run_registered(gateway: tuple[str, int], hours: float, seed: int,
                   report_interval_s: int = 3600, *,
                   technician: TechnicianCredential) -> RegisteredRun:
    """Fit every registered bin without a node with a simulated node (its
    key registered, as provisioning does: the gateway takes a first key for
    a place registered without one) and run `hours` of reports from them.
    Raises NoRegisteredBins, or RegistryError when the gateway cannot be
    reached or refuses."""
    host, port = gateway
    nodes = asyncio.run(list_nodes(host, port, technician=technician))
    bins = [n for n in nodes if n.role == "bin"]
    if not bins:
        raise NoRegisteredBins(
            f"the gateway at {host}:{port} has no registered bins: import your city's file "
            "first ('kvarter bins import FILE'), or run without --registered")
    kids: dict[str, str] = {}
    refused: dict[str, str] = {}
    keyed = [Node(n.node_id, "bin", n.lat, n.lon, n.kind, key=node_key(n.node_id))
             for n in bins]
    asyncio.run(register_nodes(host, port, keyed, kids=kids, technician=technician,
                               refused=refused))
    fitted = [n for n in bins if n.node_id in kids]
    if not fitted:
        raise NoRegisteredBins(
            f"all {len(bins)} registered bins have real nodes with keys of their own: "
            "the simulator speaks for none of them")
    district = District(simulated_bins(fitted, seed), [], [], 0.0)
    # The days just past, from midnight UTC, as `kvarter sim run` simulates.
    start = (int(time.time()) // 86400 - math.ceil(hours / 24)) * 86400
    sim = Simulation(district, gateway, hours, start, report_interval_s, seed, kids=kids)
    return RegisteredRun(sim.run(), sorted(refused))
