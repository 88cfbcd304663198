"""`kvarter routes ...`: plan the crews' routes and show them."""

from __future__ import annotations

import getpass
import json
import time
from datetime import date as Date
from datetime import datetime
from pathlib import Path

import click

from gateway.config import district_title
from gateway.publish.mqtt import PublishError, publish_retained
from gateway.storage.store import Store
from gateway.streets.driving import drivable
from gateway.streets.geometry import credit
from gateway.streets.network import DistrictStreets, district_streets
from gateway.waste.daily import (
    CAPACITY_MAX_L,
    CIRCUITY,
    DEFAULT_SHIFT_H,
    DEFAULT_START,
    SHIFT_H,
    SPEED_KMH,
    TIME_LIMIT_S,
    TRUCKS_MAX,
    PlanError,
    PlanRequest,
    make_plan,
    shift_start,
    store_plan,
)
from gateway.waste.route_sheets import MapStreet, crew_message, write_plan
from gateway.waste.routing import (
    DEFAULT_CIRCUITY,
    DEFAULT_SPEED_KMH,
    RoutePlan,
)
from tools.cli.options import (
    EXIT_PARTIAL,
    config_option,
    db_option,
    echo_json,
    gateway_config,
    json_option,
)
from tools.cli.progress import progress
from tools.cli.waste_options import load_catalogue, parse_latlon, types_option

# --- plan and show ------------------------------------------------------------------------

@click.group()
def routes() -> None:
    """Plan the crews' routes for emptying bins."""


@routes.command("plan")
@config_option
@db_option
@click.option("--depot", required=True, help="Where the trucks start and end: LAT,LON.")
@click.option("--trucks", default=1, show_default=True, type=click.IntRange(1, TRUCKS_MAX))
@click.option("--capacity", required=True, type=click.IntRange(1, CAPACITY_MAX_L),
              help="Litres of loose rubbish each truck takes.")
@click.option("--shift", default=DEFAULT_SHIFT_H, show_default=True,
              type=click.FloatRange(*SHIFT_H),
              help="Hours from leaving the depot to returning.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for routes.geojson, routes.gpx and route-sheets.html.")
@click.option("--all-required", is_flag=True,
              help="Every bin on the plan must be emptied (no optional stops).")
@click.option("--every-bin", is_flag=True,
              help="Put every registered bin on the plan (a fixed round), not only the "
                   "ones the forecast picks.")
@click.option("--start", default=DEFAULT_START, show_default=True,
              help="Today's shift start, local time HH:MM: the forecast looks ahead from it.")
@click.option("--afresh", is_flag=True,
              help="Plan the day's routes anew, even if crews are on them (by default a day "
                   "already planned is re-planned from each truck's last recorded stop).")
@click.option("--mqtt", "mqtt_host", help="Publish each crew's route to this MQTT broker "
                                          "(retained, so a crew's tablet gets it on connecting).")
@click.option("--mqtt-port", default=1883, show_default=True, type=click.IntRange(1, 65535))
@types_option
@click.option("--date", "day", default=lambda: Date.today().isoformat(),
              help="Date printed on the route sheets (default today).")
@click.option("--time-limit", type=click.FloatRange(*TIME_LIMIT_S),
              help="Seconds of route search [more the more bins: 12 s for 100, 25 s for "
                   "1,375, at most 45 s].")
@click.option("--speed", default=DEFAULT_SPEED_KMH, show_default=True,
              type=click.FloatRange(*SPEED_KMH), help="Average driving speed, km/h.")
@click.option("--circuity", default=DEFAULT_CIRCUITY, show_default=True,
              type=click.FloatRange(*CIRCUITY), help="Street distance / straight-line distance.")
@click.option("--district-name", metavar="TEXT",
              help="The district's name on the route sheets [the gateway's district_name "
                   "setting, else its district, else the streets file's name].")
def plan(config: Path | None, db_path: Path | None, depot: str, trucks: int, capacity: int,
         shift: float, out_dir: Path, all_required: bool, every_bin: bool, start: str,
         mqtt_host: str | None, mqtt_port: int, types_file: Path | None, day: str,
         time_limit: float | None, speed: float, circuity: float,
         district_name: str | None, afresh: bool) -> None:
    """Plan today's routes and write what the crews need. Run it again during
    the day to re-plan: what crews recorded stays done, each truck goes on
    from its last stop in the order it had, and what changed is said per
    truck (--afresh plans anew). The bin types
    stored at import count (--types overrides them). Exit status 3 when
    required bins are left out (the plan is still written, naming them, the
    limit that left them out and how many trucks would do)."""
    where = parse_latlon(depot)
    if district_name is not None and (not district_name.strip() or len(district_name) > 120
                                      or not district_name.isprintable()):
        raise click.ClickException(f"--district-name {district_name!r}: give one line of "
                                   "text of at most 120 characters")
    load_catalogue(types_file)  # a bad file is refused before anything is read
    cfg = gateway_config(config, db_path)
    parse_shift_start(start, day)
    if not cfg.db_path.exists():
        raise click.ClickException(f"no gateway data at {cfg.db_path}: give --db, or import "
                                   "bins with 'kvarter bins import' first")
    request = PlanRequest(where, trucks, capacity, shift, start, day, all_required, every_bin,
                          time_limit, speed, circuity, afresh)
    with Store(cfg.db_path) as store:
        try:
            request = request.checked()
            catalogue = load_catalogue(types_file, store.kind_specs())
            with progress(f"planning {trucks} truck(s)") as shown:
                result = make_plan(store, request, catalogue, on_progress=shown.update)
        except PlanError as e:
            raise click.ClickException(f"{e} (in {cfg.db_path})") from None
        # Kept in the gateway's database too: the crews' and planners'
        # screens show the latest plan of the day.
        now = time.time()
        stored = store_plan(store, request, result, _who(), now)
        stored_streets = store.streets()
        streets = district_streets(stored_streets)
    # The sheets give the times the stored plan gives: leaving at the shift's
    # start, or now when planning again later.
    leave_at = datetime.fromtimestamp(max(request.shift_start, now))
    name = district_title(district_name or cfg.district_name, cfg.district,
                          streets.file.name if streets else "")
    try:
        written = write_plan(result, out_dir, day, name, streets=map_streets(streets),
                             leave_at=leave_at,
                             credit=credit(stored_streets[1]) if stored_streets else None)
    except OSError as e:
        raise click.ClickException(f"cannot write to {out_dir}: {e.strerror or e}") from None
    click.echo(format_plan(result))
    click.echo(f"stored as plan {stored.id} of {stored.day} in {cfg.db_path}")
    click.echo("wrote " + ", ".join(str(p) for p in written))
    if mqtt_host:
        messages = [crew_message(route, cfg.district, day, where, cfg.mqtt_prefix)
                    for route in result.routes]
        try:
            topics = publish_retained(mqtt_host, mqtt_port, f"kvarter-routes-{cfg.district}",
                                      messages)
        except PublishError as e:
            raise click.ClickException(f"{e}; the route files are written: hand out the "
                                       "sheets, or publish again later") from None
        click.echo(f"published {len(topics)} route(s) to {mqtt_host}:{mqtt_port}")
    if result.unserved:
        # Written all the same (the crews can start), but a script must not
        # take it for a whole plan.
        click.echo(f"Error: {len(result.unserved)} required bin(s) left out of the plan: add a "
                   "truck (--trucks), larger ones (--capacity) or a longer --shift", err=True)
        raise SystemExit(EXIT_PARTIAL)


def map_streets(streets: DistrictStreets | None) -> list[MapStreet]:
    """The imported streets as the route sheets' maps draw them."""
    if streets is None:
        return []
    f = streets.file
    return [MapStreet(tuple(f.latlon(st)), drivable(st.tags)) for st in f.streets]


def _who() -> str:
    """Who made a plan on the command line: the login's user."""
    try:
        return f"{getpass.getuser()} (command line)"
    except (KeyError, OSError):
        return "command line"


def parse_shift_start(start: str, day: str) -> float:
    try:
        return shift_start(start, day)
    except PlanError:
        raise click.ClickException(
            f"--start {start!r} / --date {day!r}: give HH:MM and YYYY-MM-DD") from None


@routes.command("show")
@click.option("--out", "out_dir", default="var/routes", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Where the plan was written.")
@json_option
def show(out_dir: Path, as_json: bool) -> None:
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
    if as_json:
        echo_json(stops_json(data))
        return
    click.echo(format_stops(data))
    click.echo(f"print: {out_dir / 'route-sheets.html'} (open in a browser, print on A4)")


def _stops_by_truck(collection: dict[str, object]) -> dict[str, list[dict[str, object]]]:
    by_truck: dict[str, list[dict[str, object]]] = {}
    features = collection.get("features")
    for f in features if isinstance(features, list) else []:
        props = f.get("properties", {}) if isinstance(f, dict) else {}
        if f.get("geometry", {}).get("type") == "Point" and "order" in props:
            props = {**props, "lon_lat": f["geometry"].get("coordinates")}
            by_truck.setdefault(str(props.get("truck")), []).append(props)
    for stops in by_truck.values():
        stops.sort(key=lambda p: int(str(p["order"])))
    return by_truck


def stops_json(collection: dict[str, object]) -> list[dict[str, object]]:
    """The routes for --json: each truck's stops in order."""
    out: list[dict[str, object]] = []
    for truck, stops in _stops_by_truck(collection).items():
        rows: list[dict[str, object]] = []
        for p in stops:
            where = p.get("lon_lat")
            lon, lat = where[:2] if isinstance(where, list) and len(where) >= 2 else (None, None)
            rows.append({"order": p.get("order"), "node_id": p.get("node_id"),
                         "kind": p.get("kind"), "expected_fill_pct": p.get("expected_fill_pct"),
                         "required": p.get("required"), "place": p.get("address") or None,
                         "lat": lat, "lon": lon})
        out.append({"truck": truck, "stops": rows})
    return out


def format_stops(collection: dict[str, object]) -> str:
    by_truck = _stops_by_truck(collection)
    lines = []
    for truck, stops in by_truck.items():
        lines.append(f"{truck}: {len(stops)} stops")
        for p in stops:
            fill = p.get("expected_fill_pct")
            fill_text = f"{fill:.0f}%" if isinstance(fill, int | float) else "  ?"
            place = p.get("address") or ""
            lines.append(f"  {p['order']:>3}. {p.get('node_id')}  {fill_text:>4}  "
                         f"{p.get('kind', '')}" + (f"  {place}" if place else ""))
    return "\n".join(lines) if lines else "the plan has no stops"


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
                 f"{plan.seconds:.1f} s; distances "
                 + ("along the streets" if plan.distances == "streets" else
                    "as straight lines x circuity (no streets imported: "
                    "'kvarter streets import FILE')"))
    lines.extend(plan.problems)
    if plan.changes:
        lines.append("re-planned from each truck's last recorded stop (--afresh to plan anew):")
        lines.extend(f"  {c}" for c in plan.changes)
    return "\n".join(lines)
