"""`kvarter gateway ...`: run the gateway and look at what it stored."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import click

from firmware import codec
from gateway import logs as gateway_logs
from gateway.config import GatewayConfigError, GatewayStartError
from gateway.security.technician import TechnicianCredential
from gateway.storage.migrations import SchemaError
from gateway.storage.store import Store
from gateway.storage.summary import format_summary
from gateway.storage.technicians import TechnicianError, TechnicianRow
from tools.cli.options import (
    config_option,
    db_option,
    echo_json,
    fail,
    iso_time,
    json_option,
    load_config,
    open_store,
    utc_time,
)


@click.group()
def gateway() -> None:
    """Run the district gateway and inspect its data."""


@gateway.command()
@config_option
@db_option
@click.option("--host", "bind_host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="UDP port for CoAP (default 5683).")
@click.option("--mqtt", "mqtt_host", help="MQTT broker host to publish reports to.")
@click.option("--mqtt-port", type=int, help="MQTT broker port (default 1883).")
@click.option("--mqtt-ngsi-ld/--no-mqtt-ngsi-ld", "mqtt_ngsi_ld", default=None,
              help="Publish the NGSI-LD entities' updates on MQTT as well, retained "
                   "(default: off; docs/open-data.md).")
@click.option("--district", help="District name, used in MQTT topics.")
@click.option("--radio", help="Serial port of the LoRa radio bridge, e.g. /dev/ttyUSB0.")
@click.option("--radio-baud", type=int, help="Its speed (default 115200).")
@click.option("--max-clock-ahead", "max_clock_ahead_s", type=float,
              help="Seconds a report's time may be ahead of the gateway's clock (default 300).")
@click.option("--max-report-age", "max_report_age_s", type=float,
              help="Seconds a report's time may be behind the gateway's clock "
                   "(default 864000, 10 days).")
@click.option("--max-nodes", type=int, help="Most nodes the registry takes (default 10000).")
@click.option("--presence-keep-days", type=float,
              help="Days raw presence events are kept, then deleted (default 7; "
                   "docs/privacy.md).")
@click.option("--oscore", type=click.Choice(["required", "optional"]),
              help="'optional' also takes unprotected reports from nodes without a key, "
                   "while a district is moved over (default required).")
@click.option("--log-file", type=click.Path(path_type=Path),
              help="Log to this file, rotated (default: standard error).")
@click.option("--http-host", help="Address of the HTTP API (default 127.0.0.1).")
@click.option("--http-port", type=int, help="TCP port of the HTTP API (default 8080).")
@click.option("--http/--no-http", "http", default=None,
              help="Serve the HTTP API (default: on).")
@click.option("--ready-file", type=click.Path(path_type=Path, dir_okay=False),
              help="Once serving, write the CoAP and HTTP ports here as JSON "
                   "(for supervisors and scripts; useful with --port 0).")
@click.option("--parent", "parent_pid", type=click.IntRange(min=1),
              help="Stop cleanly once process PARENT, which started this gateway, has "
                   "ended (for scripts and simulators: a script killed outright leaves "
                   "no gateway behind).")
def run(config: Path | None, ready_file: Path | None, parent_pid: int | None,
        **overrides: object) -> None:
    """Serve nodes over CoAP, and people over HTTP, until Ctrl-C or SIGTERM."""
    # Imported here: the running gateway brings the web framework, which
    # every other command can do without (seconds at each start).
    from gateway.app import serve

    cfg = load_config(config, **overrides)
    try:
        cfg.check_to_serve()
    except GatewayConfigError as e:
        raise fail(str(e)) from None
    if ready_file is not None and not os.access(ready_file.parent, os.W_OK | os.X_OK):
        # Checked before anything starts: written only once the gateway serves.
        raise fail(f"cannot write the ready file {ready_file}: its directory is missing or "
                   "not writable; give a --ready-file in a writable directory")
    _resolves(cfg.bind_host, cfg.port, "--host")
    if cfg.mqtt_host:
        _resolves(cfg.mqtt_host, cfg.mqtt_port, "--mqtt")
    try:
        gateway_logs.setup(cfg.log_file, cfg.log_max_bytes, cfg.log_backups)
    except OSError as e:
        raise fail(f"cannot write the log {cfg.log_file}: {e.strerror or e}") from None
    if parent_pid is not None:
        _stop_with(parent_pid)
    try:
        asyncio.run(serve(cfg, ready_file))
        gateway_logs.flush()
    except SchemaError as e:
        raise fail(f"{cfg.db_path}: {e}") from None
    except GatewayStartError as e:
        raise fail(str(e)) from None
    except sqlite3.DatabaseError as e:
        raise fail(f"{cfg.db_path} is not a gateway database ({e}); "
                   "give another --db") from None
    except OSError as e:
        raise fail(
            f"cannot listen on {cfg.bind_host}:{cfg.port}: {e.strerror or e}; "
            "is another gateway running? choose another --port") from None


def _stop_with(parent_pid: int) -> None:
    """Once the parent has ended this process is someone else's child: then
    stop as at SIGTERM (the parent may have been killed without a chance to
    stop the gateway it started)."""
    if os.getppid() != parent_pid:
        raise fail(f"--parent {parent_pid}: that process did not start this gateway or has "
                   "already ended; give the starting process's id, or leave --parent out")

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _resolves(host: str, port: int, option: str) -> None:
    """A host name that resolves to no address fails here, in one line."""
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as e:
        why = e.strerror if isinstance(e, socket.gaierror) else str(e)
        raise fail(f"{option} {host!r} does not resolve to an address ({why}); "
                   "give an IP address or a name this machine can resolve") from None


@gateway.command()
@config_option
@db_option
@json_option
def nodes(config: Path | None, db_path: Path | None, as_json: bool) -> None:
    """List the registered nodes."""
    with open_store(config, db_path) as store:
        nodes = store.nodes()
    if as_json:
        echo_json([{"node_id": n.node_id, "role": n.role, "lat": n.lat, "lon": n.lon,
                    "kind": n.kind, "addr": n.addr} for n in nodes])
        return
    if not nodes:
        click.echo("no nodes registered yet: 'kvarter node provision' or 'kvarter bins import'")
    for n in nodes:
        addr = f" (addr {n.addr})" if n.addr is not None else ""
        click.echo(f"{n.node_id:<16} {n.role:<6} {n.lat:10.6f} {n.lon:11.6f} {n.kind}{addr}")


@gateway.group()
def technician() -> None:
    """Technicians' and operators' credentials for registering and listing nodes."""


def _technician_store(config: Path | None, db_path: Path | None) -> Store:
    """The gateway's database, made if there is none yet: credentials may be
    given before the gateway first runs."""
    return open_store(config, db_path, may_create=True)


@contextmanager
def _credential_out(out: Path | None) -> Iterator[Callable[[TechnicianRow, str], None]]:
    """Hands a new credential out: its lines printed, or written to a new
    file (0600) that is made before the credential, so that a credential is
    never made that could not be handed out."""
    fd = None
    if out is not None:
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise fail(f"{out} exists already: give a new file for --out") from None
        except OSError as e:
            raise fail(f"cannot write {out}: {e.strerror or e}") from None

    def hand_out(row: TechnicianRow, what: str) -> None:
        assert row.secret is not None
        lines = TechnicianCredential(row.name, row.kid, bytes.fromhex(row.secret)).toml()
        if fd is None:
            click.echo(f"technician {row.name}: {what} (kid {row.kid.hex()}); these lines go "
                       f"into {row.name}'s site profile on one laptop only, readable by its "
                       "owner only (chmod 600):")
            click.echo(lines, nl=False)
            return
        os.write(fd, lines.encode())
        click.echo(f"technician {row.name}: {what} (kid {row.kid.hex()}), written to {out} "
                   f"(owner-only); its lines go into {row.name}'s site profile on one laptop "
                   "only")

    done = False
    try:
        yield hand_out
        done = True
    finally:
        if fd is not None:
            os.close(fd)
            if not done and out is not None:
                out.unlink(missing_ok=True)


out_option = click.option("--out", type=click.Path(path_type=Path),
                          help="Write the site profile lines to this new file (0600) "
                               "instead of printing them.")


@technician.command("add")
@click.argument("name")
@config_option
@db_option
@out_option
def technician_add(name: str, config: Path | None, db_path: Path | None,
                   out: Path | None) -> None:
    """Make a credential for NAME (one laptop): random secret, unique kid."""
    with _technician_store(config, db_path) as store:
        with _credential_out(out) as hand_out:
            try:
                row = store.add_technician(name)
            except TechnicianError as e:
                raise fail(str(e)) from None
            hand_out(row, "new credential")


@technician.command("rotate")
@click.argument("name")
@config_option
@db_option
@out_option
def technician_rotate(name: str, config: Path | None, db_path: Path | None,
                      out: Path | None) -> None:
    """Give NAME a new credential; the old one is revoked at once."""
    with _technician_store(config, db_path) as store:
        with _credential_out(out) as hand_out:
            try:
                row = store.rotate_technician(name)
            except TechnicianError as e:
                raise fail(str(e)) from None
            hand_out(row, "new credential, the old one revoked")


@technician.command("revoke")
@click.argument("name")
@config_option
@db_option
def technician_revoke(name: str, config: Path | None, db_path: Path | None) -> None:
    """Revoke NAME's credential: a running gateway refuses it from the next request."""
    with _technician_store(config, db_path) as store:
        if not store.revoke_technician(name):
            raise fail(f"no active technician {name!r}: 'kvarter gateway technician list' "
                       "shows who has a credential")
    click.echo(f"technician {name}: credential revoked; the gateway refuses it from the next "
               "request on")


@technician.command("list")
@config_option
@db_option
@json_option
def technician_list(config: Path | None, db_path: Path | None, as_json: bool) -> None:
    """Every credential ever made: name, kid, made, revoked."""
    with _technician_store(config, db_path) as store:
        rows = store.technicians()
    if as_json:
        echo_json([{"name": r.name, "kid": r.kid.hex(), "created_at": iso_time(r.created_at),
                    "revoked_at": iso_time(r.revoked_at),
                    "state": "active" if r.revoked_at is None else "revoked"} for r in rows])
        return
    if not rows:
        click.echo("no technician credentials yet: 'kvarter gateway technician add NAME'")
        return
    click.echo(f"{'name':<20} {'kid':<6} {'made':<20}  state")
    for r in rows:
        state = "active" if r.revoked_at is None else "revoked " + utc_time(r.revoked_at)
        click.echo(f"{r.name:<20} {r.kid.hex():<6} {utc_time(r.created_at):<20}  {state}")


@gateway.command()
@config_option
@db_option
@json_option
def summary(config: Path | None, db_path: Path | None, as_json: bool) -> None:
    """What the gateway has stored so far."""
    with open_store(config, db_path) as store:
        s = store.summary()
        path = store.path
    if as_json:
        echo_json({**{k: v for k, v in asdict(s).items() if k != "bins_over_threshold"},
                   "bins_over_threshold": [{"node_id": n, "fill_pct": f}
                                           for n, f in s.bins_over_threshold],
                   "data": str(path)})
        return
    click.echo(format_summary(s, path))


@gateway.command()
@config_option
@db_option
@click.option("--node", "node_id", help="Only this node's reports.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100000))
@json_option
def reports(config: Path | None, db_path: Path | None, node_id: str | None, limit: int,
            as_json: bool) -> None:
    """The latest bin reports, newest first."""
    with open_store(config, db_path) as store:
        rows = store.recent_bin_reports(node_id, limit)
        known = node_id is None or any(n.node_id == node_id for n in store.nodes())
    if not known:
        raise fail(f"no node {node_id!r}: 'kvarter gateway nodes' lists them")
    if as_json:
        echo_json([{"node_id": node, "seq": seq, "measured_at": iso_time(measured),
                    "fill_pct": fill, "battery_mv": battery,
                    "flags": describe_flags(flags).split()}
                   for node, seq, measured, fill, battery, flags in rows])
        return
    if not rows:
        raise click.ClickException(
            f"no reports from {node_id}" if node_id else "no bin reports stored yet")
    click.echo(f"{'node':<10} {'seq':>5} {'measured':<23} {'fill':>6} {'battery':>8}  flags")
    for node, seq, measured, fill, battery, flags in rows:
        when = utc_time(measured, seconds=True)
        fill_text = "fault" if fill is None else f"{fill:.1f}%"
        batt = "-" if battery is None else f"{battery / 1000:.2f} V"
        click.echo(f"{node:<10} {seq:>5} {when:<23} {fill_text:>6} {batt:>8}  "
                   f"{describe_flags(flags)}")


FLAG_NAMES = [(codec.BIN_FLAG_THRESHOLD, "over-threshold"), (codec.BIN_FLAG_FAST_RISE, "fast-rise"),
              (codec.BIN_FLAG_FIRE, "FIRE"), (codec.BIN_FLAG_TILT, "tilted"),
              (codec.BIN_FLAG_LID_OPEN, "lid-open"), (codec.BIN_FLAG_SENSOR_FAULT, "sensor-fault"),
              (codec.BIN_FLAG_BOOT, "boot"), (codec.BIN_FLAG_QUEUE_DROPPED, "queue-dropped")]


def describe_flags(flags: int) -> str:
    return " ".join(name for bit, name in FLAG_NAMES if flags & bit)
