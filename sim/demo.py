"""The demo: a real gateway process serving a simulated district over
loopback CoAP, with an account of every role on its HTTP API.

The district is a real one, Norrmalm in Stockholm (sim/norrmalm.py, from
OpenStreetMap): its streets imported into the gateway as `kvarter streets
import` does, its bins at the mapped waste baskets and at street addresses,
its light poles along its named roads, and the gateway named after it (its
settings beside the database, which the commands read with it), so that
route sheets and the crews' screen name real streets.

`run_once` simulates the last hours in accelerated time and stops (for
scripts and CI). `run_live` does the same, then leaves the gateway serving
and the district going on in real time (virtual time follows the wall clock)
until it is interrupted (Ctrl-C, SIGTERM): the web app then shows a district
that moves. What the person sees is handed to `say` (lines for standard
output) and `status` (a progress line), so that this module prints nothing."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.accounts import ROLES, hash_password
from gateway.coap.client import register_nodes
from gateway.security.technician import TechnicianCredential
from gateway.storage.store import Store
from gateway.storage.summary import format_summary
from sim import norrmalm
from sim.district import District, Passer
from sim.district_day import format_outcome, run_district
from sim.gateway_process import (
    free_tcp_port,
    start_gateway_on_free_ports,
    stop_gateway,
    technician_for,
)
from sim.runner import BinDevice, LightDevice, Outcome, Simulation

DEFAULT_HTTP_PORT = 8080
DEMO_CREW = "truck-1"  # the first truck of `kvarter routes plan`
# How long the live district can go on: its passers are drawn up front.
LIVE_HOURS = 14 * 24
# Longest wait in real time between two looks at the clock and the sockets.
LIVE_TICK_S = 0.5

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    password: str
    crew: str | None = None


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: the demo stops cleanly."""


# --- the data and the accounts ---------------------------------------------------------

def fresh_database(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / "gateway.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return db


def make_accounts(db: Path) -> list[DemoAccount]:
    """One account per role, each with a password made for this run (the
    demo's data is new each run), kept beside the database (owner-only) too."""
    accounts = [DemoAccount(role, role, secrets.token_urlsafe(12),
                            DEMO_CREW if role == "crew" else None) for role in ROLES]
    with Store(db) as store:
        for a in accounts:
            store.add_user(a.username, a.role, a.crew, hash_password(a.password))
    path = accounts_path(db)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as f:
        f.write("".join(f"{a.username} {a.password} {a.role}"
                        + (f" crew {a.crew}" if a.crew else "") + "\n" for a in accounts))
    return accounts


def settings_path(db: Path) -> Path:
    return db.with_name("gateway.toml")


def import_district(db: Path) -> list[str]:
    """Norrmalm's streets into the gateway's data, and the gateway's settings
    naming the district beside the database; the gateway's extra arguments."""
    with Store(db) as store:
        store.save_streets(norrmalm.streets_text(),
                           f"{shown_path(norrmalm.STREETS)} ({norrmalm.CREDIT})")
    path = settings_path(db)
    # TOML's basic strings take a path as JSON writes it.
    path.write_text("# The demo's gateway: its district's name (MQTT topics, route sheets, "
                    "crews' messages) and its data.\n"
                    f'[gateway]\ndistrict = "{norrmalm.NAME}"\n'
                    f"db_path = {json.dumps(str(db.resolve()))}\n", encoding="utf-8")
    return ["--config", str(path)]


def district_lines(bins: int, lights: int) -> list[str]:
    poles = f"; {lights} light poles along its streets" if lights else ""
    return [f"district           {norrmalm.NAME}, Stockholm: {norrmalm.describe_bins(bins)}"
            f"{poles}",
            f"                   {norrmalm.CREDIT}"]


def plan_line(shown: str) -> str:
    """Today's routes for the demo's bins, with a sheet naming real streets."""
    lat, lon = norrmalm.DEPOT
    folder = shown_path(Path(shown).parent / "routes")
    return (f"  .venv/bin/kvarter routes plan --config {shown_path(Path(shown).parent)}"
            f"/gateway.toml --depot {lat},{lon} --trucks 2 --capacity 20000 --out {folder}")


def accounts_path(db: Path) -> Path:
    return db.with_name("accounts.txt")


def http_port(wanted: int | None) -> int:
    """The port asked for, else 8080 when it is free, else any free one."""
    if wanted is not None:
        return wanted
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", DEFAULT_HTTP_PORT))
        except OSError:
            return free_tcp_port()
    return DEFAULT_HTTP_PORT


def shown_path(path: Path) -> str:
    """A path as the person typed it: relative to here when it is below here."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def account_lines(accounts: list[DemoAccount], db: Path) -> list[str]:
    lines = [f"accounts (passwords made for this run, also in {accounts_path(db)}):"]
    for a in accounts:
        crew = f"  (crew {a.crew})" if a.crew else ""
        lines.append(f"  {a.role:<11} user {a.username:<11} password {a.password}{crew}")
    return lines


# --- one accelerated run ------------------------------------------------------------------

def run_once(data_dir: Path, bins: int, lights: int, hours: float, say: Say,
             status: Say) -> int:
    """The last `hours` simulated in accelerated time, then a summary; the
    gateway is stopped. Returns the exit status: 0 when the gateway stopped
    cleanly and took every report."""
    district = norrmalm.build(bins, lights, hours, seed=1)
    db = fresh_database(data_dir)
    accounts = make_accounts(db)
    status(f"importing {norrmalm.NAME}'s streets")
    settings = import_district(db)
    status("starting the gateway")
    started = start_gateway_on_free_ports(db, *settings)
    gateway, port = started.proc, started.port
    try:
        status(f"simulating {hours:g} h of {bins} bins and {lights} lights")
        outcome = run_district(("127.0.0.1", port), bins, lights, hours, seed=1,
                               technician=technician_for(db), district=district)
    finally:
        code = stop_gateway(gateway)
    with Store(db) as store:
        summary = format_summary(store.summary(), db)
    shown = shown_path(db)
    say("\n".join([
        f"kvarter demo: a gateway on coap://127.0.0.1:{port} served a simulated district",
        "",
        *district_lines(bins, lights),
        format_outcome(outcome),
        summary,
        f"gateway exit       {'clean' if code == 0 else f'code {code}'}",
        "",
        *account_lines(accounts, Path(shown)),
        "",
        "next:",
        f"  .venv/bin/kvarter gateway summary --db {shown}",
        f"  .venv/bin/kvarter gateway nodes --db {shown}",
        f"  .venv/bin/kvarter gateway reports --db {shown} --limit 10",
        plan_line(shown),
        f"  .venv/bin/kvarter gateway run --config {settings_path(Path(shown))}   "
        "# its gateway again, on port 5683",
        "  .venv/bin/kvarter sim run --gateway 127.0.0.1:5683 --bins 200 --hours 48",
    ]))
    return 0 if code == 0 and not outcome.reports_failed else 1


# --- the live district --------------------------------------------------------------------

class LiveSimulation(Simulation):
    """The district's simulation, whose virtual time, once it has caught up,
    follows the wall clock: its start is a real moment, so that every
    report's time is a real one."""

    def follow_clock(self, stopped: Callable[[], bool], tick: Callable[[], None]) -> None:
        """Run in real time until stopped() or the end of the district's hours."""
        while not stopped():
            now_ms = int((time.time() - self.clock.start_unix) * 1000)
            if now_ms >= self.end_ms:
                return
            self.run_until(now_ms / 3_600_000)
            # Nothing is due before now: the clock may stand at now, so that
            # what arrives is handled at the time it arrives.
            self.clock.advance_to(now_ms)
            due = self.engine.next_ms()
            wait = LIVE_TICK_S if due is None else min(LIVE_TICK_S,
                                                       max(0.0, (due - now_ms) / 1000))
            for key, _ in self._selector.select(wait):
                self._deliver_one(key.data)
            tick()

    def _deliver_one(self, dev: BinDevice | LightDevice) -> None:
        if isinstance(dev, LightDevice):
            self._poll_light(dev)
        else:
            self._poll_bin(dev)

    def outcome(self, hours: float) -> Outcome:
        assert self._started is not None
        return Outcome(hours, time.monotonic() - self._started, self.bins, self.lights)

    def close(self) -> None:
        for hal in [b.hal for b in self.bins] + [lt.hal for lt in self.lights]:
            hal.net.close()
        self._selector.close()


def live_district(bins: int, lights: int, hours: float, start: int) -> District:
    """The district with passers for the accelerated hours and the live ones
    after, at the rates of the hour of day they fall in: the simulator's
    passers count hours from midnight, so those of the hours before `start`
    in its day are dropped and the others moved back."""
    into_day = start % 86400
    district = norrmalm.build(bins, lights, hours + LIVE_HOURS + into_day / 3600 + 1, seed=1)
    district.passers = [Passer(p.start_s - into_day, p.speed_mps, p.upward)
                        for p in district.passers if p.start_s >= into_day]
    return district


def run_live(data_dir: Path, bins: int, lights: int, hours: float, port_http: int | None,
             say: Say, status: Say, stopped: Callable[[], bool]) -> int:
    """The last `hours` in accelerated time, then the district live until
    stopped() (or Interrupted/KeyboardInterrupt, which end it the same way).
    Returns the exit status: 0 when the gateway stopped cleanly."""
    start = int(time.time() - hours * 3600)
    district = live_district(bins, lights, hours, start)
    db = fresh_database(data_dir)
    accounts = make_accounts(db)
    web = http_port(port_http)
    gateway: subprocess.Popen[bytes] | None = None
    sim: LiveSimulation | None = None
    code = 0
    try:
        status(f"importing {norrmalm.NAME}'s streets")
        settings = import_district(db)
        status("starting the gateway")
        started = start_gateway_on_free_ports(db, *settings, "--http-port", str(web))
        gateway, port = started.proc, started.port
        technician: TechnicianCredential = technician_for(db)
        kids: dict[str, str] = {}
        status(f"registering {bins + lights} nodes")
        asyncio.run(register_nodes("127.0.0.1", port, district.nodes(keyed=True), kids=kids,
                                   technician=technician))
        sim = LiveSimulation(district, ("127.0.0.1", port), hours + LIVE_HOURS, start,
                             kids=kids)
        step = max(hours / 48, 0.25)
        done = 0.0
        while done < hours and not stopped():
            done = min(hours, done + step)
            status(f"simulating the last {hours:g} h: {done:g} h done")
            sim.run_until(done)
        if stopped():
            return 0
        with Store(db) as store:
            summary = format_summary(store.summary(), db)
        shown = shown_path(db)
        url = f"http://127.0.0.1:{web}"
        say("\n".join([
            f"kvarter demo: a gateway on coap://127.0.0.1:{port} serves a simulated district",
            "",
            *district_lines(bins, lights),
            format_outcome(sim.outcome(hours)),
            summary,
            "",
            f"web app            {url}/",
            f"HTTP API           {url}/api/v1/health (OpenAPI: {url}/api/openapi.json)",
            *account_lines(accounts, Path(shown)),
            "",
            "the district goes on live, in real time, until Ctrl-C; meanwhile, in another "
            "terminal:",
            "  .venv/bin/kvarter gateway summary      # the demo's database, found without --db",
            "  .venv/bin/kvarter lights status",
            "  .venv/bin/kvarter bins status",
            plan_line(shown) + "   # then log in as crew",
        ]))
        began = time.time()

        def tick() -> None:
            o = sim.outcome(hours) if sim is not None else None
            if o is not None:
                status(f"live for {time.time() - began:.0f} s: {o.reports_acked} bin reports "
                       f"and {o.presence_sent} presence events sent in all")

        sim.follow_clock(stopped, tick)
    except (KeyboardInterrupt, Interrupted):
        # The stop is under way: a second Ctrl-C must not cut it short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    finally:
        if sim is not None:
            sim.close()
        if gateway is not None:
            code = stop_gateway(gateway)
    return 0 if code == 0 else 1
