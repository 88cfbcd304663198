"""`kvarter sim ...`: run a simulated district against a gateway."""

from __future__ import annotations

import time
from pathlib import Path

import click

from gateway.coap.client import RegistryError
from sim.district import build
from sim.district_day import format_outcome, run_district
from sim.virtual_node import VirtualNode, VirtualNodeError
from tools.cli.options import EXIT_PARTIAL, fail, parse_hostport
from tools.cli.progress import progress


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
@click.option("--site", "site_file", type=click.Path(path_type=Path), metavar="FILE",
              help="Site profile with the [technician] credential the nodes are registered "
                   "with; else $KVARTER_SITE, else ./kvarter-site.toml.")
@click.option("--registered", is_flag=True,
              help="Simulate the bins the gateway already has (your city's imported file) "
                   "instead of a generated district; bins with real nodes are left to them.")
def run(gateway: str, bins: int, lights: int, hours: float, report_interval_s: int,
        seed: int, site_file: Path | None, registered: bool) -> None:
    """Register a district with a running gateway and simulate it. Exit
    status 3 when the gateway refused reports or some were never delivered."""
    from sim.registered import NoRegisteredBins, run_registered
    from tools.field.errors import FieldError
    from tools.field.site import find_site, need_technician

    source = click.get_current_context().get_parameter_source
    if registered and any(source(p) is not click.core.ParameterSource.DEFAULT
                          for p in ("bins", "lights")):
        raise click.ClickException("--registered simulates the gateway's own bins: "
                               "leave out --bins and --lights")
    left: list[str] = []
    try:
        technician = need_technician(find_site(site_file))
        if registered:
            with progress(f"simulating {hours:g} h of the gateway's registered bins"):
                done = run_registered(parse_hostport(gateway), hours, seed, report_interval_s,
                                     technician=technician)
            outcome, left = done.outcome, done.left_to_their_nodes
        else:
            with progress(f"simulating {hours:g} h of {bins} bins and {lights} lights"):
                outcome = run_district(parse_hostport(gateway), bins, lights, hours, seed,
                                       report_interval_s, technician=technician)
    except (FieldError, RegistryError, NoRegisteredBins) as e:
        raise click.ClickException(str(e)) from None
    click.echo(format_outcome(outcome))
    if left:
        shown = ", ".join(left[:5]) + (" ..." if len(left) > 5 else "")
        click.echo(f"left to their own nodes {len(left)} bin(s) with a real node's key "
                   f"({shown})")
    if outcome.reports_failed:
        click.echo(f"Error: {outcome.reports_failed} report(s) did not reach the gateway's "
                   "data: see its log", err=True)
        raise SystemExit(EXIT_PARTIAL)


@sim.command()
@click.option("--bins", default=120, show_default=True, type=click.IntRange(1, 5000))
@click.option("--weeks", default=4, show_default=True, type=click.IntRange(1, 52))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--out", "out_dir", default="var/waste", show_default=True,
              type=click.Path(path_type=Path), help="Where the plot goes.")
@click.option("--norrmalm", is_flag=True,
              help="Bins at Norrmalm's real places (its waste baskets, then addresses; "
                   "OpenStreetMap, ODbL), routed along its streets (at most 1,036 bins).")
def waste(bins: int, weeks: int, seed: int, out_dir: Path, norrmalm: bool) -> None:
    """Compare emptying policies (fixed daily, forecast, oracle) on simulated weeks."""
    from sim import norrmalm as real
    from sim.district import DEFAULT_CENTRE
    from sim.fill_model import profiles
    from sim.waste import Fleet, compare, route_days
    from sim.waste_report import plot, table

    days = weeks * 7
    try:
        district = real.build(bins, 0, 1, seed=seed) if norrmalm else build(bins, 0, 1,
                                                                            seed=seed)
    except real.NorrmalmError as e:
        raise fail(str(e)) from None
    fills = profiles(district.bins, days, seed=seed)
    results = compare(fills, days, seed=seed)
    positions = {b.node_id: (b.lat, b.lon) for b in district.bins}
    fleet = Fleet(real.DEPOT if norrmalm else DEFAULT_CENTRE, trucks=max(2, bins // 50),
                  capacity_l=20_000)
    streets = real.driving_streets() if norrmalm else None
    with progress("routing each day's emptyings") as shown:
        for k, r in enumerate(results, start=1):
            shown.update(f"policy {k} of {len(results)}")
            route_days(r, fills, positions, fleet, streets=streets)
    if norrmalm:
        click.echo(f"{real.NAME}: {real.describe_bins(bins)}, routed along its streets; "
                   f"{real.CREDIT}")
    click.echo(table(results, days, bins))
    click.echo(f"plot: {plot(results, out_dir / 'policies.png')}")


def _wifi_networks(values: tuple[str, ...]) -> dict[str, str]:
    networks = {}
    for value in values:
        ssid, sep, password = value.partition(":")
        if not sep or not ssid:
            raise click.BadParameter(f"{value!r} is not SSID:PASSWORD (e.g. city-iot:secret)",
                                     param_hint="--wifi")
        networks[ssid] = password
    return networks


@sim.command("node")
@click.option("--wifi", multiple=True, metavar="SSID:PASSWORD",
              help="A Wi-Fi network in the node's reach (repeatable).")
@click.option("--fill-mm", default=600, show_default=True, type=click.IntRange(0, 10000),
              help="Distance from the fill sensor down to the rubbish.")
@click.option("--battery-mv", default=3600, show_default=True, type=click.IntRange(0, 5000))
@click.option("--serial", default="pty", show_default=True, type=click.Choice(["pty", "socket"]),
              help="A pty like a USB serial adapter, or a TCP port (socket://HOST:PORT).")
@click.option("--max-sleep", "max_sleep_s", type=click.FloatRange(0), default=None,
              help="Cut every deep sleep to at most this many seconds.")
@click.option("--dir", "workdir", default="var/vnode", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Where the node's serial log and settings go.")
def node(wifi: tuple[str, ...], fill_mm: int, battery_mv: int, serial: str,
         max_sleep_s: float | None, workdir: Path) -> None:
    """Start a virtual ESP32 node running MicroPython on a serial device, for
    mpremote and the node tools; prints the device. Ctrl-C stops it."""
    try:
        with VirtualNode(workdir, wifi=_wifi_networks(wifi), fill_mm=fill_mm,
                         battery_mv=battery_mv, serial=serial, max_sleep_s=max_sleep_s) as vn:
            click.echo(vn.device)
            click.echo(f"virtual node running (serial log: {vn.log_path}); Ctrl-C stops it",
                       err=True)
            try:
                while vn.running():
                    time.sleep(0.5)
            except KeyboardInterrupt:
                return
            raise VirtualNodeError(f"the virtual node stopped: {vn.host_error()}")
    except VirtualNodeError as e:
        raise click.ClickException(str(e)) from None
