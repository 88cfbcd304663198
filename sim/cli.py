"""`kvarter sim ...`: run a simulated district against a gateway."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import click

from gateway.cli import parse_hostport
from gateway.registry_client import RegistryError, register_nodes
from sim.district import build
from sim.runner import Outcome, Simulation


def run_district(gateway: tuple[str, int], bins: int, lights: int, hours: float,
                 seed: int, report_interval_s: int = 3600) -> Outcome:
    district = build(bins, lights, hours, seed=seed)
    try:
        asyncio.run(register_nodes(gateway[0], gateway[1], district.nodes()))
    except RegistryError as e:
        raise click.ClickException(str(e)) from None
    # The simulated days are the days just past, starting at midnight UTC, so
    # reports carry real dates and none lies in the future.
    start = (int(time.time()) // 86400 - math.ceil(hours / 24)) * 86400
    sim = Simulation(district, gateway, hours, start, report_interval_s, seed)
    return sim.run()


def format_outcome(o: Outcome) -> str:
    return "\n".join([
        f"simulated          {o.virtual_hours:g} h in {o.real_seconds:.1f} s "
        f"({len(o.bins)} bin nodes, {len(o.lights)} light nodes)",
        f"bin reports acked  {o.reports_acked} (gave up on {o.reports_failed})",
        f"presence events    {o.presence_sent} sent",
        f"lamp energy        {o.light_energy_ratio * 100:.0f}% of lamps at full all the time",
    ])


@click.group()
def sim() -> None:
    """Simulate a district of bin and light nodes running the real firmware."""


@sim.command()
@click.option("--gateway", "gateway", default="127.0.0.1:5683", show_default=True,
              help="The gateway's CoAP address, HOST:PORT.")
@click.option("--bins", default=60, show_default=True, type=click.IntRange(0, 5000))
@click.option("--lights", default=16, show_default=True, type=click.IntRange(0, 2000))
@click.option("--hours", default=24.0, show_default=True, type=click.FloatRange(0.01, 24 * 60))
@click.option("--interval", "report_interval_s", default=3600, show_default=True,
              type=click.IntRange(10, 86400), help="Bin report interval, seconds.")
@click.option("--seed", default=1, show_default=True, type=int)
def run(gateway: str, bins: int, lights: int, hours: float, report_interval_s: int,
        seed: int) -> None:
    """Register a district with a running gateway and simulate it."""
    outcome = run_district(parse_hostport(gateway), bins, lights, hours, seed,
                           report_interval_s)
    click.echo(format_outcome(outcome))


@sim.command()
@click.option("--bins", default=120, show_default=True, type=click.IntRange(1, 5000))
@click.option("--weeks", default=4, show_default=True, type=click.IntRange(1, 52))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--out", "out_dir", default="var/waste", show_default=True,
              type=click.Path(path_type=Path), help="Where the plot goes.")
def waste(bins: int, weeks: int, seed: int, out_dir: Path) -> None:
    """Compare emptying policies (fixed daily, forecast, oracle) on simulated weeks."""
    from sim.district import DEFAULT_CENTRE
    from sim.fill_model import profiles
    from sim.waste import Fleet, compare, route_days
    from sim.waste_report import plot, table

    days = weeks * 7
    district = build(bins, 0, 1, seed=seed)
    fills = profiles(district.bins, days, seed=seed)
    results = compare(fills, days, seed=seed)
    positions = {b.node_id: (b.lat, b.lon) for b in district.bins}
    fleet = Fleet(DEFAULT_CENTRE, trucks=max(2, bins // 50), capacity_l=20_000)
    with click.progressbar(results, label="routing each day's emptyings") as bar:
        for r in bar:
            route_days(r, fills, positions, fleet)
    click.echo(table(results, days, bins))
    click.echo(f"plot: {plot(results, out_dir / 'policies.png')}")
