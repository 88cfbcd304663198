"""`kvarter bins ...` and `kvarter routes ...`: bringing a city's bins into
the registry, and planning the crews' routes to empty them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import date as Date
from pathlib import Path

import click

from gateway.bin_import import BBox, BinImportError, read_bins
from gateway.bin_types import Catalogue, CatalogueError
from gateway.cli import config_option, db_option, load_config
from gateway.registry import Node
from gateway.registry_client import RegistryError, register_nodes
from gateway.route_output import write_plan
from gateway.route_stops import StopSelector, stops_for_all_bins
from gateway.routing import (
    DEFAULT_CIRCUITY,
    DEFAULT_SPEED_KMH,
    DEFAULT_TIME_LIMIT_S,
    RoutePlan,
    Truck,
    plan_routes,
)
from gateway.store import Store

types_option = click.option(
    "--types", "types_file", type=click.Path(path_type=Path),
    help="TOML file that overrides or extends the bin types (volumes, service times).")


def load_catalogue(path: Path | None) -> Catalogue:
    try:
        return Catalogue.load(path)
    except CatalogueError as e:
        raise click.ClickException(str(e)) from None


def parse_hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise click.ClickException(f"--gateway {value!r} is not HOST:PORT, e.g. 127.0.0.1:5683")
    return host.strip("[]"), int(port)


def parse_latlon(value: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in value.split(","))
    except ValueError:
        raise click.ClickException(
            f"--depot {value!r} is not LAT,LON in degrees, e.g. 60.6749,17.1413") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise click.ClickException(f"--depot {value!r}: latitude must be -90..90 and longitude "
                                   "-180..180 (is it LON,LAT? give LAT,LON)")
    return lat, lon


# --- bins ------------------------------------------------------------------------

@click.group()
def bins() -> None:
    """Bring a city's litter bins into the registry."""


@bins.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--prefix", required=True, help="Start of the node ids: G gives G0001, G0002, ...")
@click.option("--gateway", default="127.0.0.1:5683", show_default=True, help="HOST:PORT")
@types_option
@click.option("--bbox", help="minlon,minlat,maxlon,maxlat: bins outside are skipped.")
@click.option("--dry-run", is_flag=True, help="Check the file; register nothing.")
def import_(file: Path, prefix: str, gateway: str, types_file: Path | None, bbox: str | None,
            dry_run: bool) -> None:
    """Register the bins of a GeoJSON file of Point features (WGS84) with a
    gateway. Feature N becomes node <prefix>N; problems are printed one per
    line and the bins without problems are registered."""
    catalogue = load_catalogue(types_file)
    try:
        box = BBox.parse(bbox) if bbox else None
        result = read_bins(file, prefix, catalogue, box)
    except BinImportError as e:
        raise click.ClickException(str(e)) from None
    for line in result.problems:
        click.echo(line)
    for line in result.notices:
        click.echo(f"note: {line}")
    if not result.nodes:
        raise click.ClickException(f"no bins to register from {file}: see the problems above")
    if dry_run:
        click.echo(f"{result.features} features: {len(result.nodes)} bins would be registered, "
                   f"{result.skipped} skipped, {len(result.problems)} problem(s)")
        return
    host, port = parse_hostport(gateway)
    try:
        created = asyncio.run(register_nodes(host, port, result.nodes))
    except RegistryError as e:
        raise click.ClickException(str(e)) from None
    new = sum(created.values())
    click.echo(f"{result.features} features: {len(result.nodes)} bins registered at {gateway} "
               f"({new} new, {len(created) - new} updated), {result.skipped} skipped, "
               f"{len(result.problems)} problem(s)")


# --- routes ------------------------------------------------------------------------

@click.group()
def routes() -> None:
    """Plan the crews' routes for emptying bins."""


def plan_for_nodes(nodes: Sequence[Node], catalogue: Catalogue, depot: tuple[float, float],
                   trucks: Sequence[Truck], *, select: StopSelector = stops_for_all_bins,
                   all_required: bool = False, circuity: float = DEFAULT_CIRCUITY,
                   speed_kmh: float = DEFAULT_SPEED_KMH,
                   time_limit_s: float = DEFAULT_TIME_LIMIT_S) -> RoutePlan:
    """The plan for the bins `select` puts on it; all_required makes every
    selected bin a required stop."""
    stops = select(nodes, catalogue)
    if all_required:
        stops = [replace(s, required=True) for s in stops]
    return plan_routes(depot, stops, trucks, circuity=circuity, speed_kmh=speed_kmh,
                       time_limit_s=time_limit_s)


@routes.command("plan")
@config_option
@db_option
@click.option("--depot", required=True, help="Where the trucks start and end: LAT,LON.")
@click.option("--trucks", default=1, show_default=True, type=click.IntRange(1, 100))
@click.option("--capacity", required=True, type=click.IntRange(1, 10**7),
              help="Litres of loose rubbish each truck takes.")
@click.option("--shift", default=8.0, show_default=True, type=click.FloatRange(0.25, 24),
              help="Hours from leaving the depot to returning.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for routes.geojson, routes.gpx and route-sheets.html.")
@click.option("--all-required", is_flag=True,
              help="Every selected bin must be emptied (for now every registered bin is "
                   "selected, as a required stop).")
@types_option
@click.option("--date", "day", default=lambda: Date.today().isoformat(),
              help="Date printed on the route sheets (default today).")
@click.option("--time-limit", default=DEFAULT_TIME_LIMIT_S, show_default=True,
              type=click.FloatRange(0.1, 600), help="Seconds of route search.")
@click.option("--speed", default=DEFAULT_SPEED_KMH, show_default=True,
              type=click.FloatRange(1, 130), help="Average driving speed, km/h.")
@click.option("--circuity", default=DEFAULT_CIRCUITY, show_default=True,
              type=click.FloatRange(1, 5), help="Street distance / straight-line distance.")
def plan(config: Path | None, db_path: Path | None, depot: str, trucks: int, capacity: int,
         shift: float, out_dir: Path, all_required: bool, types_file: Path | None, day: str,
         time_limit: float, speed: float, circuity: float) -> None:
    """Plan routes for the registered bins and write what the crews need."""
    where = parse_latlon(depot)
    catalogue = load_catalogue(types_file)
    cfg = load_config(config, db_path=db_path)
    if not cfg.db_path.exists():
        raise click.ClickException(f"no gateway data at {cfg.db_path}: give --db, or import "
                                   "bins with 'kvarter bins import' first")
    store = Store(cfg.db_path)
    try:
        nodes = store.nodes()
    finally:
        store.close()
    if not any(n.role == "bin" for n in nodes):
        raise click.ClickException(f"no bins registered in {cfg.db_path}: import them with "
                                   "'kvarter bins import'")
    fleet = [Truck(f"truck-{k}", capacity, round(shift * 3600)) for k in range(1, trucks + 1)]
    result = plan_for_nodes(nodes, catalogue, where, fleet, all_required=all_required,
                            circuity=circuity, speed_kmh=speed, time_limit_s=time_limit)
    try:
        written = write_plan(result, out_dir, day, cfg.district)
    except OSError as e:
        raise click.ClickException(f"cannot write to {out_dir}: {e.strerror or e}") from None
    click.echo(format_plan(result))
    click.echo("wrote " + ", ".join(str(p) for p in written))


def format_plan(plan: RoutePlan) -> str:
    lines = []
    for r in plan.routes:
        minutes = round(r.duration_s / 60)
        lines.append(f"{r.truck.name:<10} {len(r.stops):>5} stops {r.distance_km:>7.1f} km "
                     f"{minutes // 60:>3} h {minutes % 60:02d} min "
                     f"{r.load_l:>8,} of {r.truck.capacity_l:,} L")
    served = plan.stops_served
    lines.append(f"{served} bins on {sum(1 for r in plan.routes if r.stops)} route(s), "
                 f"{len(plan.unserved)} required bin(s) not served, planned in "
                 f"{plan.seconds:.1f} s")
    lines.extend(plan.problems)
    return "\n".join(lines)
