"""`kvarter bins ...` and `kvarter routes ...`: bringing a city's bins into
the registry, and planning the crews' routes to empty them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import date as Date
from datetime import datetime
from datetime import time as dtime
from pathlib import Path

import click
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.cli import config_option, db_option, load_config, parse_hostport
from gateway.coap.client import RegistryError, register_nodes
from gateway.records import Node
from gateway.storage.store import Store
from gateway.waste.bin_import import BBox, BinImportError, read_bins
from gateway.waste.bin_types import Catalogue, CatalogueError
from gateway.waste.forecast import Forecaster
from gateway.waste.route_sheets import crew_message, write_plan
from gateway.waste.routing import (
    DEFAULT_CIRCUITY,
    DEFAULT_SPEED_KMH,
    DEFAULT_TIME_LIMIT_S,
    RoutePlan,
    Truck,
    plan_routes,
)
from gateway.waste.stops import StopSelector, forecast_selector, stops_for_all_bins

types_option = click.option(
    "--types", "types_file", type=click.Path(path_type=Path),
    help="TOML file that overrides or extends the bin types (volumes, service times).")


def load_catalogue(path: Path | None) -> Catalogue:
    try:
        return Catalogue.load(path)
    except CatalogueError as e:
        raise click.ClickException(str(e)) from None


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
              help="Every bin on the plan must be emptied (no optional stops).")
@click.option("--every-bin", is_flag=True,
              help="Put every registered bin on the plan (a fixed round), not only the "
                   "ones the forecast picks.")
@click.option("--start", default="06:00", show_default=True,
              help="Today's shift start, local time HH:MM: the forecast looks ahead from it.")
@click.option("--mqtt", "mqtt_host", help="Publish each crew's route to this MQTT broker "
                                          "(retained, so a crew's tablet gets it on connecting).")
@click.option("--mqtt-port", default=1883, show_default=True, type=click.IntRange(1, 65535))
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
         shift: float, out_dir: Path, all_required: bool, every_bin: bool, start: str,
         mqtt_host: str | None, mqtt_port: int, types_file: Path | None, day: str,
         time_limit: float, speed: float, circuity: float) -> None:
    """Plan today's routes and write what the crews need. Run it again during
    the day to re-plan: bins recorded as emptied drop off."""
    where = parse_latlon(depot)
    catalogue = load_catalogue(types_file)
    cfg = load_config(config, db_path=db_path)
    shift_start = parse_shift_start(start, day)
    if not cfg.db_path.exists():
        raise click.ClickException(f"no gateway data at {cfg.db_path}: give --db, or import "
                                   "bins with 'kvarter bins import' first")
    store = Store(cfg.db_path)
    try:
        nodes = store.nodes()
        forecaster = forecast_from(store)
    finally:
        store.close()
    if not any(n.role == "bin" for n in nodes):
        raise click.ClickException(f"no bins registered in {cfg.db_path}: import them with "
                                   "'kvarter bins import'")
    fleet = [Truck(f"truck-{k}", capacity, round(shift * 3600)) for k in range(1, trucks + 1)]
    chooser = stops_for_all_bins if every_bin else forecast_selector(forecaster, shift_start)
    result = plan_for_nodes(nodes, catalogue, where, fleet, select=chooser,
                            all_required=all_required, circuity=circuity, speed_kmh=speed,
                            time_limit_s=time_limit)
    try:
        written = write_plan(result, out_dir, day, cfg.district)
    except OSError as e:
        raise click.ClickException(f"cannot write to {out_dir}: {e.strerror or e}") from None
    click.echo(format_plan(result))
    click.echo("wrote " + ", ".join(str(p) for p in written))
    if mqtt_host:
        topics = publish_routes(result, mqtt_host, mqtt_port, cfg.district, day, where,
                                cfg.mqtt_prefix)
        click.echo(f"published {len(topics)} route(s) to {mqtt_host}:{mqtt_port}")


def parse_shift_start(start: str, day: str) -> float:
    try:
        hh, mm = (int(x) for x in start.split(":"))
        when = datetime.combine(Date.fromisoformat(day), dtime(hh, mm))
    except ValueError:
        raise click.ClickException(
            f"--start {start!r} / --date {day!r}: give HH:MM and YYYY-MM-DD") from None
    return when.astimezone().timestamp()  # local time, as the crews keep it


def forecast_from(store: Store) -> Forecaster:
    """The forecast as of now: every stored report, then what crews recorded."""
    forecaster = Forecaster(utc_offset_h=local_utc_offset_h())
    forecaster.feed(store.fill_history())
    for node_id, at, outcome, _ in store.visits():
        if outcome == "emptied":
            forecaster.mark_emptied(node_id, at)
    return forecaster


def local_utc_offset_h() -> float:
    offset = datetime.now().astimezone().utcoffset()
    return offset.total_seconds() / 3600 if offset else 0.0


def publish_routes(plan: RoutePlan, host: str, port: int, district: str, day: str,
                   depot: tuple[float, float], prefix: str) -> list[str]:
    """Each crew's route, retained at QoS 1; waits until the broker has them."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kvarter-routes-{district}")
    try:
        client.connect(host, port)
    except OSError as e:
        raise click.ClickException(
            f"MQTT broker {host}:{port} cannot be reached ({e.strerror or e}); the route "
            "files are written: hand out the sheets, or publish again later") from None
    client.loop_start()
    topics = []
    try:
        for route in plan.routes:
            topic, payload = crew_message(route, district, day, depot, prefix)
            client.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
            topics.append(topic)
    finally:
        client.disconnect()
        client.loop_stop()
    return topics


@routes.command("show")
@click.option("--out", "out_dir", default="var/routes", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Where the plan was written.")
def show(out_dir: Path) -> None:
    """Today's routes, stop by stop, from the last plan written to --out."""
    path = out_dir / "routes.geojson"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise click.ClickException(f"no plan in {out_dir}: run 'kvarter routes plan' first") \
            from None
    except ValueError:
        raise click.ClickException(f"{path} is not a plan written by 'kvarter routes plan'") \
            from None
    click.echo(format_stops(data))
    click.echo(f"print: {out_dir / 'route-sheets.html'} (open in a browser, print on A4)")


def format_stops(collection: dict[str, object]) -> str:
    by_truck: dict[str, list[dict[str, object]]] = {}
    features = collection.get("features")
    for f in features if isinstance(features, list) else []:
        props = f.get("properties", {}) if isinstance(f, dict) else {}
        if f.get("geometry", {}).get("type") == "Point" and "order" in props:
            by_truck.setdefault(str(props.get("truck")), []).append(props)
    lines = []
    for truck, stops in by_truck.items():
        lines.append(f"{truck}: {len(stops)} stops")
        for p in sorted(stops, key=lambda p: int(str(p["order"]))):
            fill = p.get("expected_fill_pct")
            fill_text = f"{fill:.0f}%" if isinstance(fill, int | float) else "  ?"
            lines.append(f"  {p['order']:>3}. {p.get('node_id')}  {fill_text:>4}  "
                         f"{p.get('kind', '')}")
    return "\n".join(lines) if lines else "the plan has no stops"


# --- what crews report back ---------------------------------------------------------

def _record(config: Path | None, db_path: Path | None, node_id: str, at: str | None,
            outcome: str, note: str) -> None:
    cfg = load_config(config, db_path=db_path)
    if not cfg.db_path.exists():
        raise click.ClickException(f"no gateway data at {cfg.db_path}: give --db")
    when = time.time()
    if at:
        try:
            when = datetime.fromisoformat(at).astimezone().timestamp()
        except ValueError:
            raise click.ClickException(f"--at {at!r}: give a time like 2026-09-21T09:40") \
                from None
    store = Store(cfg.db_path)
    try:
        if node_id not in {n.node_id for n in store.nodes() if n.role == "bin"}:
            raise click.ClickException(f"no bin {node_id!r} in {cfg.db_path}: check the id on "
                                       "the route sheet")
        store.record_visit(node_id, when, outcome, note)
    finally:
        store.close()
    click.echo(f"{node_id}: {outcome} at {datetime.fromtimestamp(when):%Y-%m-%d %H:%M}")


@bins.command("status")
@config_option
@db_option
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, 100000))
def status(config: Path | None, db_path: Path | None, limit: int) -> None:
    """Each bin's last level and when the forecast expects it full, soonest first."""
    cfg = load_config(config, db_path=db_path)
    if not cfg.db_path.exists():
        raise click.ClickException(f"no gateway data at {cfg.db_path}: give --db")
    store = Store(cfg.db_path)
    try:
        nodes = [n for n in store.nodes() if n.role == "bin"]
        forecaster = forecast_from(store)
    finally:
        store.close()
    if not nodes:
        raise click.ClickException(f"no bins registered in {cfg.db_path}")
    rows = []
    for n in nodes:
        m = forecaster.bins.get(n.node_id)
        full = forecaster.crossing_time(n.node_id, 100.0)
        rows.append((full if full is not None else float("inf"), n.node_id,
                     m.last_level if m else None, m.last_t if m else None))
    rows.sort(key=lambda r: (r[3] is None, r[0], r[1]))  # bins never heard from last
    click.echo(f"{'bin':<10} {'level':>6} {'reported':<16} {'full at (forecast)':<18}")
    for full, node_id, level, last in rows[:limit]:
        level_text = "-" if level is None else f"{level:.0f}%"
        last_text = "never" if last is None else f"{datetime.fromtimestamp(last):%Y-%m-%d %H:%M}"
        if last is None:
            full_text = "unknown"
        elif full == float("inf"):
            full_text = "not within 2 weeks"
        else:
            full_text = f"{datetime.fromtimestamp(full):%Y-%m-%d %H:%M}"
        click.echo(f"{node_id:<10} {level_text:>6} {last_text:<16} {full_text:<18}")
    if len(rows) > limit:
        click.echo(f"... and {len(rows) - limit} more (--limit)")


@bins.command("emptied")
@config_option
@db_option
@click.argument("node_id")
@click.option("--at", help="When, local time (default now).")
def emptied(config: Path | None, db_path: Path | None, node_id: str, at: str | None) -> None:
    """Record that a crew emptied a bin (its sensor will say so too)."""
    _record(config, db_path, node_id, at, "emptied", "")


@bins.command("unreachable")
@config_option
@db_option
@click.argument("node_id")
@click.option("--at", help="When, local time (default now).")
@click.option("--note", default="", help="Why: blocked by a car, road works, ...")
def unreachable(config: Path | None, db_path: Path | None, node_id: str, at: str | None,
                note: str) -> None:
    """Record that a crew could not reach a bin: it stays on the next plan."""
    _record(config, db_path, node_id, at, "unreachable", note)


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
