"""`kvarter lights ...`: the lighting operator's commands.

Everything works on the gateway's SQLite file (--db or --config), which is
safe to write while the gateway runs (WAL): the running gateway notices new
streets and changed zones within a second and rebuilds its light wave.
`zone push` and `zone rekey` ask the running gateway through the same file:
only it holds the poles' OSCORE contexts, so only it can push a profile (and
the zone key inside it) protected.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from firmware.lighting import payload as light_codec
from gateway.lighting.zone_edit import (
    EffectError,
    differences,
    energy_effect,
    propose,
    stored_zone,
)
from gateway.lighting.zones import Zone, ZoneError
from gateway.privacy import last_closed
from gateway.storage.store import Store
from tools.cli.options import (
    EXIT_PARTIAL,
    config_option,
    db_option,
    echo_json,
    fail,
    gateway_config,
    iso_time,
    json_option,
    open_store,
    utc_time,
)
from tools.cli.progress import progress

OFFLINE_AFTER_S = 15 * 60  # not heard from for this long: shown as offline


def _when(t: float | None) -> str:
    return utc_time(t, seconds=True)


@click.group()
def lights() -> None:
    """Street lighting: streets and poles, zones, the light nodes."""


# --- streets ---------------------------------------------------------------------

@lights.group(hidden=True)
def streets() -> None:
    """The streets the poles stand along: `kvarter streets` (kept for scripts)."""


@streets.command("import", hidden=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option
@db_option
@click.option("--dry-run", is_flag=True, help="Check the file and the poles; store nothing.")
@click.pass_context
def streets_import(ctx: click.Context, file: Path, config: Path | None, db_path: Path | None,
                   dry_run: bool) -> None:
    """The same as `kvarter streets import`: one street network for the
    crews' routes and the poles."""
    from tools.cli.streets import streets_import as one_import

    ctx.invoke(one_import, file=file, config=config, db_path=db_path, dry_run=dry_run)


# --- zones ------------------------------------------------------------------------

def zone_options(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--idle", "idle_pct", type=int, help="Idle level, %."),
        click.option("--active", "active_pct", type=int, help="Active level, %."),
        click.option("--hold", "hold_s", type=int, help="Seconds at the active level."),
        click.option("--ramp-up", "ramp_up_s", type=float, help="Seconds idle to active."),
        click.option("--ramp-down", "ramp_down_s", type=int, help="Seconds back to idle."),
        click.option("--safe-idle", "safe_idle_pct", type=int,
                     help="Idle level while the gateway is away, %."),
        click.option("--offline-after", "offline_after_min", type=int,
                     help="Minutes without the gateway before the safe profile."),
        click.option("--hours", help="dusk-dawn, always, or HH:MM-HH:MM local time."),
        click.option("--dusk-offset", "dusk_offset_min", type=int,
                     help="Minutes after sunset to come on (negative: before)."),
        click.option("--dawn-offset", "dawn_offset_min", type=int,
                     help="Minutes after sunrise to go off (negative: before)."),
        click.option("--step", "steps", multiple=True,
                     help="Night step HH:MM-HH:MM=IDLE/ACTIVE; repeat; replaces the steps."),
        click.option("--no-steps", is_flag=True, help="Remove the night steps."),
        click.option("--lamp-w", "lamp_w", type=float, help="Lamp power at 100 %, W."),
        click.option("--timezone", help="Local time of the hours and steps."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _changes(given: dict[str, Any]) -> dict[str, Any]:
    """The options given, as a change for gateway/lighting/zone_edit.py."""
    changes = {k: v for k, v in given.items() if v is not None and k not in ("steps", "no_steps")}
    if given.get("no_steps"):
        changes["steps"] = []
    elif given.get("steps"):
        changes["steps"] = list(given["steps"])
    return changes


def _load_zone(store: Any, name: str) -> Zone:
    return stored_zone(store.zone_rows(), name)


def _zone_names(store: Store) -> set[str]:
    """The zones that exist: stored ones, and those light poles are in."""
    return ({row[0] for row in store.zone_rows()}
            | {n.kind for n in store.nodes() if n.role == "light" and n.kind})


def _known_zone(store: Store, name: str, create: bool = False) -> None:
    """A zone name that is neither stored nor any pole's is most likely a
    typo: refused, with the nearest names, unless --create says it is new."""
    names = _zone_names(store)
    if name in names or create:
        return
    near = difflib.get_close_matches(name, sorted(names), n=3)
    hint = (f"did you mean {' or '.join(near)}? " if near else "")
    known = f"zones here: {', '.join(sorted(names))}" if names else "no zones here yet"
    raise fail(f"no zone {name!r} (no light poles in it, never set); {hint}{known}; "
               "'lights zone set NAME --create' makes a new one")


def _checked(name: str) -> Zone:
    try:
        return Zone(name)
    except ZoneError as e:
        raise click.ClickException(str(e)) from None


@lights.group()
def zone() -> None:
    """A zone's levels, hours and hold: show, change, see the log and the effect."""


@zone.command("list")
@config_option
@db_option
@json_option
def zone_list(config: Path | None, db_path: Path | None, as_json: bool) -> None:
    """Every zone: its poles, revision, and hours."""
    with open_store(config, db_path) as store:
        names = sorted(_zone_names(store))
        zones = [_load_zone(store, n) for n in names]
        nodes = store.nodes()
    poles = {n: sum(1 for p in nodes if p.role == "light" and p.kind == n) for n in names}
    if as_json:
        echo_json([{"name": z.name, "poles": poles[z.name], "revision": z.revision,
                    "settings": z.settings()} for z in zones])
        return
    if not zones:
        click.echo("no zones yet: poles registered with a zone make one, or "
                   "'lights zone set NAME --create'")
        return
    click.echo(f"{'zone':<20} {'poles':>5} {'revision':>8}  hours")
    for z in zones:
        click.echo(f"{z.name:<20} {poles[z.name]:>5} {z.revision:>8}  {z.hours}")


@zone.command("show")
@click.argument("name")
@config_option
@db_option
@json_option
def zone_show(name: str, config: Path | None, db_path: Path | None, as_json: bool) -> None:
    """The zone's settings."""
    _checked(name)
    with open_store(config, db_path) as store:
        _known_zone(store, name)
        z = _load_zone(store, name)
        poles = sum(1 for n in store.nodes() if n.role == "light" and n.kind == name)
        log = store.zone_log(name)
    if as_json:
        echo_json({"name": name, "poles": poles, "revision": z.revision,
                   "changed_at": iso_time(log[-1][0]) if log else None,
                   "changed_by": log[-1][1] if log else None, "settings": z.settings()})
        return
    state = (f"revision {z.revision}, last changed {_when(log[-1][0])} by {log[-1][1]}"
             if log else "never changed: the defaults")
    click.echo(f"zone {name}: {poles} poles; {state}")
    for key, value in z.settings().items():
        click.echo(f"  {key:<14} {value}")


@zone.command("set")
@click.argument("name")
@zone_options
@click.option("--who", required=True, help="Who makes the change (kept in the log).")
@click.option("--create", is_flag=True,
              help="NAME is a new zone (else a name no pole is in and never set is refused "
                   "as a likely typo).")
@config_option
@db_option
def zone_set(name: str, who: str, create: bool, config: Path | None, db_path: Path | None,
             **given: Any) -> None:
    """Change some of a zone's settings; every change is logged."""
    _checked(name)
    if not who.strip():
        raise click.ClickException("--who must name who makes the change")
    with open_store(config, db_path) as store:
        _known_zone(store, name, create)
        old = _load_zone(store, name)
        try:
            new = propose(old, _changes(given))
        except ZoneError as e:
            raise click.ClickException(f"zone {name} not changed: {e}") from None
        diffs = differences(old, new)
        if not diffs:
            click.echo(f"zone {name}: nothing changed")
            return
        try:
            revision = store.save_zone(name, new.to_json(), who.strip(), diffs, old.revision)
        except ValueError as e:
            raise click.ClickException(str(e)) from None
    for k, a, b in diffs:
        click.echo(f"zone {name}: {k} {a} -> {b}")
    click.echo(f"zone {name}: revision {revision} by {who.strip()}; "
               f"'lights zone push {name}' sends it to the poles")


@zone.command("log")
@click.argument("name")
@config_option
@db_option
@json_option
def zone_log(name: str, config: Path | None, db_path: Path | None, as_json: bool) -> None:
    """Who changed what in the zone, and when (UTC)."""
    _checked(name)
    with open_store(config, db_path) as store:
        _known_zone(store, name)
        rows = store.zone_log(name)
    if as_json:
        echo_json([{"at": iso_time(at), "who": who, "revision": revision, "setting": setting,
                    "old": old, "new": new} for at, who, revision, setting, old, new in rows])
        return
    if not rows:
        click.echo(f"zone {name}: no changes recorded")
        return
    for at, who, revision, setting, old, new in rows:
        click.echo(f"{_when(at)}  r{revision:<3} {who:<12} {setting}: {old} -> {new}")


@zone.command("effect")
@click.argument("name")
@zone_options
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 60),
              help="Replay this many days of recorded presence, up to now: at most the "
                   "days the gateway keeps (presence_keep_days).")
@config_option
@db_option
@json_option
def zone_effect(name: str, days: int, config: Path | None, db_path: Path | None,
                as_json: bool, **given: Any) -> None:
    """The energy a change would save or cost, from the recorded presence
    events of the last days replayed through the light wave."""
    _checked(name)
    keep = gateway_config(config, db_path).presence_keep_days
    if days > keep:
        raise click.ClickException(
            f"only {keep:g} days of presence events are kept (presence_keep_days in the "
            f"gateway's settings): give --days {int(keep)} or fewer")
    with open_store(config, db_path) as store:
        _known_zone(store, name)
        current = _load_zone(store, name)
        try:
            proposed = propose(current, _changes(given))
        except ZoneError as e:
            raise click.ClickException(f"zone {name}: {e}") from None
        nodes = {n.node_id: n for n in store.nodes()}
        streets = store.streets()
        zone_rows = store.zone_rows()
        # Up to the quarter hour under way, as the HTTP API replays: the same
        # change gives the same figures on both.
        end = float(last_closed(time.time()))
        start = end - days * 86400
        events = [(n, float(t), c, s, f) for n, t, c, s, f in store.presence_between(start, end)]
    with progress(f"replaying {days} days of presence in zone {name}"):
        try:
            effect = energy_effect(nodes, streets, zone_rows, events, name, proposed, start, end)
        except EffectError as e:
            raise click.ClickException(str(e)) from None
    a, b = effect.now_wh / 1000, effect.proposed_wh / 1000
    if as_json:
        echo_json({"zone": name, "poles": effect.poles, "days": days,
                   "presence_events": effect.events, "from": iso_time(start),
                   "to": iso_time(end), "energy_now_kwh": round(a, 4),
                   "energy_changed_kwh": round(b, 4), "change_kwh": round(b - a, 4),
                   "change_pct": round(effect.change_pct, 2)
                   if effect.change_pct is not None else None})
        return
    click.echo(f"zone {name}: {effect.poles} poles, {effect.events} presence events in the "
               f"last {days} days replayed")
    click.echo(f"energy now          {a:.2f} kWh")
    pct = f"{effect.change_pct:+.1f} %" if effect.change_pct is not None else "n/a"
    click.echo(f"with the change     {b:.2f} kWh ({b - a:+.2f} kWh, {pct})")


TAKE_WAIT_S = 5.0  # the running gateway looks for requests every second


def _members(store: Store, name: str) -> list[str]:
    members = sorted(n.node_id for n in store.nodes() if n.role == "light" and n.kind == name)
    if not members:
        raise click.ClickException(f"zone {name} has no light poles")
    return members


def _ask_gateway(store: Store, name: str, timeout: float) -> dict[str, str]:
    """Have the running gateway push the zone's profile; its results."""
    with progress(f"pushing zone {name} through the running gateway") as shown:
        return _push_through_gateway(store, name, timeout, shown.update)


def _push_through_gateway(store: Store, name: str, timeout: float,
                          say: Callable[[str], None]) -> dict[str, str]:
    say("waiting for the gateway to take the request")
    request = store.request_zone_push(name, timeout)
    deadline = time.monotonic() + TAKE_WAIT_S
    while True:
        got = store.push_request(request)
        if got is not None and got.taken_at is not None:
            break
        if time.monotonic() >= deadline and store.cancel_push_request(request):
            raise click.ClickException(
                f"no running gateway took the push within {TAKE_WAIT_S:g} s; nothing was "
                "sent: start it on this data file ('kvarter gateway run'), which pushes "
                "protected (only it holds the poles' keys)")
        time.sleep(0.1)
    say("the gateway sends the profile, waiting for the poles' acknowledgements")
    deadline = time.monotonic() + timeout + 30
    while got is None or got.results is None:
        if time.monotonic() >= deadline:
            raise click.ClickException(f"the gateway took the push of zone {name} but has not "
                                       "finished it; see its log")
        time.sleep(0.1)
        got = store.push_request(request)
    return got.results


@zone.command("push")
@click.argument("name")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 300),
              help="Seconds to wait for each node's acknowledgement.")
@config_option
@db_option
@json_option
def zone_push(name: str, timeout: float, config: Path | None, db_path: Path | None,
              as_json: bool) -> None:
    """Have the running gateway send the zone's profile to each of its poles
    (CON POST /z, protected with each pole's own key, the zone key inside) and
    say which acknowledged. Exit status 0 when every pole acknowledged, 3
    when some did, 1 when none did."""
    _checked(name)
    with open_store(config, db_path) as store:
        _known_zone(store, name)
        z = _load_zone(store, name)
        members = _members(store, name)
        results = _ask_gateway(store, name, timeout)
    outcomes = {n: results.get(n, "never heard from: no address to send to") for n in members}
    acked = sum(1 for o in outcomes.values() if o == "acknowledged")
    if as_json:
        echo_json({"zone": name, "revision": z.revision, "poles": len(members),
                   "acknowledged": acked,
                   "results": [{"node_id": n, "outcome": o} for n, o in outcomes.items()]})
    else:
        for node_id, outcome in outcomes.items():
            click.echo(f"{node_id:<16} {outcome}")
        click.echo(f"zone {name} revision {z.revision}: {acked} of {len(members)} poles "
                   "acknowledged")
    if acked < len(members):
        # The poles that did not answer keep their old profile: a script
        # must not take the push as done.
        click.echo(f"Error: zone {name} revision {z.revision} reached {acked} of {len(members)} "
                   "poles; push again once the others are heard from", err=True)
        raise SystemExit(EXIT_PARTIAL if acked else 1)


@zone.command("rekey")
@click.argument("name")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 300),
              help="Seconds to wait for each node's acknowledgement.")
@config_option
@db_option
@json_option
def zone_rekey(name: str, timeout: float, config: Path | None, db_path: Path | None,
               as_json: bool) -> None:
    """Give the zone a new key for its group commands, and have the running
    gateway push it to the poles with their profile. The old key is erased at
    once: a pole that has not taken the new one gets no commands from the
    gateway until it does (it still lights on its own sensor)."""
    _checked(name)
    with open_store(config, db_path) as store:
        _known_zone(store, name)
        _load_zone(store, name)
        members = _members(store, name)
        gid = store.rekey_zone(name)
        if not as_json:
            click.echo(f"zone {name}: new key, gid {gid}")
        try:
            results = _ask_gateway(store, name, timeout)
        except click.ClickException as e:
            raise click.ClickException(f"zone {name} has its new key but it is not pushed yet: "
                                       f"{e.message}") from None
    acked = sum(1 for n in members if results.get(n) == "acknowledged")
    outcomes = {n: results.get(n, "never heard from: pushed when heard") for n in members}
    if as_json:
        # The new key is in force whoever acknowledged: the gateway hands it
        # to the others when they are heard from, so this exits 0.
        echo_json({"zone": name, "gid": gid, "poles": len(members), "acknowledged": acked,
                   "results": [{"node_id": n, "outcome": o} for n, o in outcomes.items()]})
        return
    for node_id, outcome in outcomes.items():
        click.echo(f"{node_id:<16} {outcome}")
    click.echo(f"zone {name} key gid {gid}: {acked} of {len(members)} poles acknowledged; "
               "the gateway pushes it to the others when it hears from them")


# --- status ----------------------------------------------------------------------

@lights.command("status")
@config_option
@db_option
@json_option
def status(config: Path | None, db_path: Path | None, as_json: bool) -> None:
    """Each pole: its level, when it was last heard, its energy, offline or not."""
    with open_store(config, db_path) as store:
        rows = store.light_rows()
    now = time.time()

    def offline(r: Any) -> bool:
        return r.last_seen is None or now - r.last_seen > OFFLINE_AFTER_S or bool(
            (r.flags or 0) & light_codec.STATUS_OFFLINE)

    if as_json:
        echo_json([{"node_id": r.node_id, "zone": r.zone, "addr": r.addr,
                    "level_pct": r.level_pct,
                    "energy_wh": None if r.energy_dwh is None else r.energy_dwh / 10,
                    "last_seen": iso_time(r.last_seen), "offline": offline(r)} for r in rows])
        return
    if not rows:
        raise click.ClickException("no light poles registered")
    click.echo(f"{'pole':<16} {'zone':<12} {'addr':>5} {'level':>6} {'energy':>10}  "
               f"{'last seen':<23}  state")
    for r in rows:
        level = "-" if r.level_pct is None else f"{r.level_pct}%"
        energy = "-" if r.energy_dwh is None else f"{r.energy_dwh / 10:.1f} Wh"
        click.echo(f"{r.node_id:<16} {r.zone or '-':<12} {r.addr or '-':>5} {level:>6} "
                   f"{energy:>10}  {_when(r.last_seen):<23}  "
                   f"{'OFFLINE' if offline(r) else 'ok'}")
