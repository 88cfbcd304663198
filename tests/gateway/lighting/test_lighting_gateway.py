"""Street lighting against real peers: a gateway process, the operator's CLI
as a process, and real UDP sockets standing in for light nodes."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from conftest import RunningGateway, one_line_error
from lightkit import FakeLight, geojson, lights_cli, ok, pole, wait_for_addresses

from firmware import codec
from firmware.lighting import payload as light_codec
from firmware.proto import coap
from gateway.coap.client import RegistryError, list_nodes, register_nodes
from gateway.records import Node, PresenceRecord
from gateway.storage.store import Store


def street_of_poles(gw: RunningGateway, tmp_path: Path, n: int = 10, zone: str = "street-1"
                    ) -> list[Node]:
    nodes = [pole(f"L{i}", 30.0 * (i + 1), 4.0, zone, addr=(100 + i if i % 2 else None))
             for i in range(n)]
    gw.register(*nodes)
    streets = tmp_path / "streets.geojson"
    streets.write_text(geojson([("Storgatan", [(0.0, 0.0), (30.0 * (n + 1), 0.0)])]))
    out = ok(lights_cli(gw.db, "streets", "import", str(streets)))
    assert f"placed {n} of {n} light poles" in out
    ok(lights_cli(gw.db, "zone", "set", zone, "--hours", "always", "--who", "test"))
    return nodes


def test_a_presence_event_brightens_three_poles_ahead_and_two_behind(
        gateway: RunningGateway, tmp_path: Path) -> None:
    street_of_poles(gateway, tmp_path)
    registered = {n.node_id: n for n in asyncio.run(
        list_nodes("127.0.0.1", gateway.port, technician=gateway.technician))}
    addrs = {i: registered[f"L{i}"].addr for i in range(10)}
    assert addrs[1] == 101 and addrs[3] == 103  # given
    # The others get the lowest free ones (registrations arrive in any order).
    assert sorted(addrs[i] for i in range(0, 10, 2)) == [1, 2, 3, 4, 5]
    fakes = [FakeLight(f"L{i}", gateway) for i in range(10)]
    try:
        for k, f in enumerate(fakes):
            f.status(k)
        wait_for_addresses(gateway.db, 10)
        got: dict[int, list[light_codec.Brighten]] = {}
        deadline = time.monotonic() + 15
        seq = 1
        while not got.get(5) and time.monotonic() < deadline:
            sent_at = time.monotonic()
            fakes[4].presence(seq, codec.PRESENCE_SOURCE_RADAR | codec.PRESENCE_DIR_UP, 1.4)
            seq += 1
            first = fakes[5].commands(1.0)
            if first:
                assert first[0][0] - sent_at < 0.2  # well within the latency budget
                got[5] = [b for _, b in first]
        assert got.get(5), "no command reached the pole ahead"
        for i, f in enumerate(fakes):
            if i != 5:
                got[i] = [b for _, b in f.commands(0.3)]
        lit = {i for i, cmds in got.items() if cmds}
        assert lit == {2, 3, 5, 6, 7}  # three ahead, two behind
        cmd = got[5][0]
        assert cmd.level_pct == 100 and cmd.hold_s >= 60
        assert sorted(cmd.targets) == sorted(addrs[i] for i in lit)
        for i in lit:
            assert got[i][0].command_id == cmd.command_id  # one group command
    finally:
        for f in fakes:
            f.close()


def test_short_addresses_are_unique(gateway: RunningGateway) -> None:
    gateway.register(Node("L1", "light", 59.33, 18.06, "z", 7))
    try:
        asyncio.run(register_nodes("127.0.0.1", gateway.port,
                                   [Node("L2", "light", 59.33, 18.06, "z", 7)],
                                   technician=gateway.technician))
        raise AssertionError("a taken address was accepted")
    except RegistryError as e:
        assert "addr 7 is already L1's" in str(e)


def test_an_old_database_gets_short_addresses_for_its_poles(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE nodes (node_id TEXT PRIMARY KEY, role TEXT NOT NULL, "
                     "lat REAL NOT NULL, lon REAL NOT NULL, kind TEXT NOT NULL DEFAULT '', "
                     "registered_at REAL NOT NULL)")
        conn.executemany("INSERT INTO nodes VALUES (?, ?, 60, 17, '', 0)",
                         [("L2", "light"), ("B1", "bin"), ("L1", "light")])
    store = Store(db)
    assert [(n.node_id, n.addr) for n in store.nodes()] == [("B1", None), ("L1", 1), ("L2", 2)]
    assert store.register_node(Node("L3", "light", 60, 17))[1].addr == 3
    store.close()


def test_zone_settings_are_checked_and_every_change_is_logged(tmp_path: Path) -> None:
    db = tmp_path / "gw.sqlite"
    Store(db).close()
    for args, expect in [
        (["--idle", "80", "--active", "50"], "idle level 80 % is above the active level 50 %"),
        (["--hold", "-5"], "hold must not be negative"),
        (["--idle", "120"], "idle level must be a whole percent 0..100, got 120"),
        (["--step", "23:00-05:00=10/5"], "step 23:00-05:00=10/5: idle level 10 % is above"),
        (["--hours", "25:00-06:00"], "hours '25:00' is not a time like 23:00"),
        (["--hours", "dusk"], "hours must be dusk-dawn, always or HH:MM-HH:MM"),
        (["--timezone", "Mars/Olympus"], "timezone 'Mars/Olympus' is unknown"),
    ]:
        line = one_line_error(lights_cli(db, "zone", "set", "park", *args, "--who", "anna",
                                        "--create"))
        assert expect in line, line
    # No pole is in it and it was never set: a name the operator mistyped.
    assert "no zone 'park'" in one_line_error(lights_cli(db, "zone", "log", "park"))
    assert "--create" in one_line_error(lights_cli(db, "zone", "set", "park", "--idle", "30",
                                                   "--who", "anna"))
    out = ok(lights_cli(db, "zone", "set", "park", "--idle", "30", "--hold", "90",
                        "--step", "23:00-05:00=10/60", "--who", "anna", "--create"))
    assert "idle 20 % -> 30 %" in out and "revision 1" in out
    ok(lights_cli(db, "zone", "set", "park", "--active", "80", "--who", "bo"))
    log = ok(lights_cli(db, "zone", "log", "park")).splitlines()
    assert len(log) == 4
    assert "anna" in log[0] and "idle: 20 % -> 30 %" in log[0]
    assert any("steps: none -> 23:00-05:00=10/60" in ln for ln in log)
    assert "bo" in log[3] and "r2" in log[3] and "active: 100 % -> 80 %" in log[3]
    show = ok(lights_cli(db, "zone", "show", "park"))
    assert "revision 2" in show and "by bo" in show and "hold           90 s" in show


def test_the_effect_of_a_change_comes_from_last_weeks_presence(tmp_path: Path) -> None:
    db = tmp_path / "gw.sqlite"
    store = Store(db)
    nodes = [pole(f"L{i}", 30.0 * (i + 1), 3.0, "street-1") for i in range(8)]
    for n in nodes:
        store.register(n)
    store.save_streets(geojson([("Storgatan", [(0.0, 0.0), (270.0, 0.0)])]), "test")
    now = int(time.time())
    records = []
    for walker in range(200):  # walkers along the street over the last days
        t0 = now - 6 * 86400 + walker * 2500
        for i in range(8):
            records.append(PresenceRecord(f"L{i}", codec.PresenceEvent(
                walker * 8 + i, t0 + int(i * 30 / 1.4), 1, 100), t0 + i * 30 / 1.4))
    store.insert(records)
    store.close()
    ok(lights_cli(db, "zone", "set", "street-1", "--hours", "always", "--who", "test"))
    lower = ok(lights_cli(db, "zone", "effect", "street-1", "--idle", "10"))
    assert "8 poles, 1600 presence events in the last 7 days replayed" in lower
    assert "energy now" in lower and "kWh" in lower
    change = lower.splitlines()[-1]
    assert "with the change" in change and "(-" in change and "%)" in change
    longer = ok(lights_cli(db, "zone", "effect", "street-1", "--hold", "600"))
    assert "(+" in longer.splitlines()[-1]
    err = one_line_error(lights_cli(db, "zone", "effect", "street-1", "--idle", "101"))
    assert "idle level must be a whole percent" in err


class AckingLight(FakeLight):
    """Answers every CON request with a piggybacked 2.04, as a node does."""

    def __init__(self, node_id: str, gw: RunningGateway) -> None:
        super().__init__(node_id, gw)
        self.received: list[bytes] = []
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                data, src = self.sock.recvfrom(1500)
            except (TimeoutError, OSError):
                continue
            msg = coap.decode(data)
            if msg.mtype == coap.CON and msg.path() == "z":
                self.received.append(msg.payload)
                self.sock.sendto(coap.encode(coap.Message(coap.ACK, 0x44, msg.mid, msg.token)),
                                 src)

    def close(self) -> None:
        self._stop = True
        self.thread.join(timeout=2)
        super().close()


def test_push_reports_which_poles_acknowledged_and_status_shows_each_pole(
        gateway: RunningGateway, tmp_path: Path) -> None:
    gateway.register(*(Node(n, "light", 59.33, 18.06, "park") for n in ("P1", "P2", "P3")))
    ok(lights_cli(gateway.db, "zone", "set", "park", "--idle", "15", "--active", "70",
                  "--who", "anna"))
    acking, silent = AckingLight("P1", gateway), FakeLight("P2", gateway)
    try:
        acking.status(1, level=15, energy_dwh=4321)
        silent.status(1)
        wait_for_addresses(gateway.db, 2)
        acking.start()
        proc = lights_cli(gateway.db, "zone", "push", "park", "--timeout", "2")
        # Done in part: 1 of 3 poles has the profile.
        assert proc.returncode == 3, proc.stderr
        assert "reached 1 of 3 poles" in proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0].split() == ["P1", "acknowledged"]
        assert lines[1].split()[:3] == ["P2", "no", "answer"]
        assert "never heard from" in lines[2]
        assert "zone park revision 1: 1 of 3 poles acknowledged" in lines[-1]
        profile = light_codec.decode_profile(acking.received[0])
        assert (profile.idle_pct, profile.active_pct, profile.revision) == (15, 70, 1)
        status = ok(lights_cli(gateway.db, "status")).splitlines()
        p1 = next(ln for ln in status if ln.startswith("P1"))
        assert "15%" in p1 and "432.1 Wh" in p1 and p1.endswith("ok")
        p3 = next(ln for ln in status if ln.startswith("P3"))
        assert "never" in p3 and p3.endswith("OFFLINE")
    finally:
        acking.close()
        silent.close()


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    db = tmp_path / "gw.sqlite"
    Store(db).close()
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": []}')
    assert "no usable LineString" in one_line_error(lights_cli(db, "streets", "import", str(bad)))
    assert "no light poles" in one_line_error(lights_cli(db, "zone", "push", "nowhere"))
    assert "no zone 'x'" in one_line_error(lights_cli(db, "zone", "effect", "x"))
    missing = tmp_path / "none.sqlite"
    assert "no gateway data" in one_line_error(lights_cli(missing, "status"))


def test_a_night_step_sends_its_levels_to_the_poles_of_the_zone(
        gateway: RunningGateway) -> None:
    # A step that is in force now (local time of the zone): a lower class.
    now = datetime.now(ZoneInfo("Europe/Stockholm"))
    minute = now.hour * 60 + now.minute
    start, end = (minute - 60) % 1440, (minute + 60) % 1440
    step = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}=10/60"
    gateway.register(Node("N1", "light", 59.33, 18.06, "night"))
    light = AckingLight("N1", gateway)
    try:
        light.status(1)
        wait_for_addresses(gateway.db, 1)
        light.start()
        ok(lights_cli(gateway.db, "zone", "set", "night", "--idle", "30", "--active", "100",
                      "--step", step, "--who", "test"))
        deadline = time.monotonic() + 10
        while not light.received and time.monotonic() < deadline:
            time.sleep(0.1)
        assert light.received, "the step's profile never reached the pole"
        profile = light_codec.decode_profile(light.received[0])
        assert (profile.idle_pct, profile.active_pct) == (10, 60)
        time.sleep(2.5)  # the step stays in force: nothing more is sent
        assert len(light.received) == 1
    finally:
        light.close()
