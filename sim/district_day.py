"""A simulated district against a running gateway: its nodes registered,
then its days run in virtual time (the demo, `kvarter sim run`, the benchmarks)."""

from __future__ import annotations

import asyncio
import math
import time

from gateway.coap.client import register_nodes
from gateway.security.technician import TechnicianCredential
from sim.district import District, build
from sim.runner import Outcome, Simulation


def run_district(gateway: tuple[str, int], bins: int, lights: int, hours: float,
                 seed: int, report_interval_s: int = 3600, *,
                 technician: TechnicianCredential,
                 district: District | None = None) -> Outcome:
    """district: where the bins and poles stand (default: a generated
    district of `bins` and `lights`)."""
    if district is None:
        district = build(bins, lights, hours, seed=seed)
    # RegistryError when the gateway cannot be reached or refuses a node.
    # Registered with their keys, as provisioning does: the gateway answers
    # each node's kid, and the nodes speak OSCORE.
    kids: dict[str, str] = {}
    asyncio.run(register_nodes(gateway[0], gateway[1], district.nodes(keyed=True), kids=kids,
                               technician=technician))
    # The simulated days are the days just past, starting at midnight UTC, so
    # reports carry real dates and none lies in the future.
    start = (int(time.time()) // 86400 - math.ceil(hours / 24)) * 86400
    sim = Simulation(district, gateway, hours, start, report_interval_s, seed, kids=kids)
    return sim.run()


def format_outcome(o: Outcome) -> str:
    return "\n".join([
        f"simulated          {o.virtual_hours:g} h in {o.real_seconds:.1f} s "
        f"({len(o.bins)} bin nodes, {len(o.lights)} light nodes)",
        f"bin reports acked  {o.reports_acked} (gave up on {o.reports_failed})",
        f"presence events    {o.presence_sent} sent",
        f"lamp energy        {o.light_energy_ratio * 100:.0f}% of lamps at full all the time",
    ])
