"""The lighting side of the API over real HTTP against a real gateway: a zone
change checked as the operator's CLI checks it (the same one-line reasons),
its energy effect from the CLI's own replay, saved with the account's name in
the zone log, pushed by the gateway to poles running the light node firmware,
each pole's acknowledgement and running revision in the answer and on the
live stream; each pole's state; energy per zone per night against full all
night and the oracle."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import Accounts, assert_problem, make_accounts
from conftest import launch_gateway, one_line_error
from lightkit import RealPole, geojson, lights_cli, ok, pole, register_keyed

from firmware import codec
from firmware.lighting import payload as light_codec
from gateway.lighting.nightly import night_of
from gateway.records import PresenceRecord, StatusRecord
from gateway.storage.store import Store
from sim.district import node_key

ZONES = "/api/v1/zones"


@pytest.fixture(scope="module")
def accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Accounts]:
    # Presence events kept as a city's gateway keeps them (a simulation's
    # gateway keeps its simulated days').
    gw = launch_gateway(tmp_path_factory.mktemp("lights"), "--presence-keep-days", "7")
    try:
        acc = make_accounts(gw)
        yield acc
        acc.close()
    finally:
        gw.stop()


def test_a_change_is_checked_as_the_cli_checks_it_and_nothing_is_saved(
        accounts: Accounts) -> None:
    gw = accounts.gw
    gw.register(pole("K1", 0, 0, "kvarn"))
    op = accounts.sessions["operator"]
    for body, args in [
        ({"idle_pct": 120}, ["--idle", "120"]),
        ({"idle_pct": 60, "active_pct": 50}, ["--idle", "60", "--active", "50"]),
        ({"steps": ["23:00-05:00=10/5"]}, ["--step", "23:00-05:00=10/5"]),
        ({"hours": "dusk"}, ["--hours", "dusk"]),
        ({"hold_s": -5}, ["--hold", "-5"]),
        ({"timezone": "Mars/Olympus"}, ["--timezone", "Mars/Olympus"]),
        # A directory of the time zone database, not a zone: a traceback once.
        ({"timezone": "Europe"}, ["--timezone", "Europe"]),
    ]:
        detail = assert_problem(op.post(f"{ZONES}/kvarn/check", json=body), 422)
        assert detail.startswith("zone kvarn: "), detail
        reason = detail.removeprefix("zone kvarn: ")
        cli = one_line_error(lights_cli(gw.db, "zone", "set", "kvarn", *args, "--who", "x"))
        assert cli.endswith(f"zone kvarn not changed: {reason}"), (cli, reason)
    # A typo is refused, not ignored.
    assert "idle" in assert_problem(op.post(f"{ZONES}/kvarn/check", json={"idle": 10}), 422)
    r = op.post(f"{ZONES}/kvarn/check",
                json={"idle_pct": 10, "steps": ["23:00-05:00=5/60"], "hours": "always"})
    assert r.status_code == 200, r.text
    check = r.json()
    assert check["zone"]["idle_pct"] == 10 and check["zone"]["steps"] == ["23:00-05:00=5/60"]
    assert {"setting": "idle", "old": "20 %", "new": "10 %"} in check["changes"]
    assert {c["setting"] for c in check["changes"]} == {"idle", "steps", "hours"}
    zone = op.get(f"{ZONES}/kvarn").json()
    assert zone["revision"] == 0 and zone["idle_pct"] == 20
    assert op.get(f"{ZONES}/kvarn/log").json()["total"] == 0
    assert_problem(op.post(f"{ZONES}/nowhere/check", json={}), 404)


def test_a_change_is_saved_with_the_accounts_name_and_a_stale_one_refused(
        accounts: Accounts) -> None:
    accounts.gw.register(pole("S1", 0, 0, "strand"))
    op, admin = accounts.sessions["operator"], accounts.sessions["admin"]
    r = op.patch(f"{ZONES}/strand", json={"idle_pct": 15, "hold_s": 90, "expect_revision": 0})
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["zone"]["revision"] == 1 and saved["zone"]["idle_pct"] == 15
    assert [c["setting"] for c in saved["changes"]] == ["idle", "hold"]
    # Made against revision 0, which is gone: refused, nothing saved.
    detail = assert_problem(op.patch(f"{ZONES}/strand",
                                     json={"idle_pct": 30, "expect_revision": 0}), 409)
    assert "revision 1" in detail
    assert_problem(op.patch(f"{ZONES}/strand", json={"active_pct": 5}), 422)
    r = admin.patch(f"{ZONES}/strand", json={"active_pct": 90})
    assert r.status_code == 200 and r.json()["zone"]["revision"] == 2
    same = op.patch(f"{ZONES}/strand", json={"active_pct": 90}).json()
    assert same["changes"] == [] and same["zone"]["revision"] == 2
    log = op.get(f"{ZONES}/strand/log").json()
    assert log["total"] == 3
    assert [(e["who"], e["revision"], e["setting"], e["old"], e["new"]) for e in log["items"]] == [
        ("admin", 2, "active", "100 %", "90 %"), ("operator", 1, "hold", "60 s", "90 s"),
        ("operator", 1, "idle", "20 %", "15 %")]
    # The CLI reads what the API saved.
    assert "revision 2" in ok(lights_cli(accounts.gw.db, "zone", "show", "strand"))
    # A cookie session's change without its CSRF token is refused.
    bare = httpx.Client(base_url=accounts.gw.http_url, cookies=op.cookies)
    assert_problem(bare.patch(f"{ZONES}/strand", json={"idle_pct": 10}), 403)
    bare.close()
    assert_problem(op.patch(f"{ZONES}/nowhere", json={"idle_pct": 10}), 404)


def _kwh(line: str) -> float:
    m = re.search(r"([-+]?\d+\.\d+) kWh", line)
    assert m, line
    return float(m.group(1))


def test_the_effect_of_a_change_is_the_clis_replay(accounts: Accounts, tmp_path: Path) -> None:
    gw = accounts.gw
    op = accounts.sessions["operator"]
    nodes = [pole(f"E{i}", 30.0 * (i + 1), 3.0, "gata", addr=100 + i) for i in range(8)]
    gw.register(*nodes)
    ok(lights_cli(gw.db, "zone", "set", "gata", "--hours", "always", "--who", "test"))
    detail = assert_problem(op.post(f"{ZONES}/gata/effect", json={"idle_pct": 10}), 409)
    assert "no streets imported" in detail
    streets = tmp_path / "streets.geojson"
    streets.write_text(geojson([("Storgatan", [(0.0, 0.0), (270.0, 0.0)])]))
    ok(lights_cli(gw.db, "streets", "import", str(streets)))
    now = int(time.time())
    records = []
    for walker in range(200):  # walkers along the street over the last days
        t0 = now - 6 * 86400 + walker * 2500
        for i in range(8):
            records.append(PresenceRecord(f"E{i}", codec.PresenceEvent(
                walker * 8 + i, t0 + int(i * 30 / 1.4), 1, 100), t0 + i * 30 / 1.4))
    with Store(gw.db) as store:
        store.insert(records)
    r = op.post(f"{ZONES}/gata/effect", json={"idle_pct": 10})
    assert r.status_code == 200, r.text
    effect = r.json()
    assert effect["poles"] == 8 and effect["events"] == 1600 and effect["days"] == 7
    assert effect["change_kwh"] < 0 and effect["change_pct"] < 0
    assert effect["changes"] == [{"setting": "idle", "old": "20 %", "new": "10 %"}]
    cli = ok(lights_cli(gw.db, "zone", "effect", "gata", "--idle", "10")).splitlines()
    assert abs(_kwh(cli[1]) - effect["now_kwh"]) <= 0.01
    assert abs(_kwh(cli[2]) - effect["proposed_kwh"]) <= 0.01
    longer = op.post(f"{ZONES}/gata/effect", params={"days": 3}, json={"hold_s": 600}).json()
    assert longer["change_kwh"] > 0 and longer["days"] == 3
    # Presence events are kept 7 days (docs/privacy.md): more is not there.
    assert "only 7 days of presence events are kept" in assert_problem(
        op.post(f"{ZONES}/gata/effect", params={"days": 8}, json={"hold_s": 600}), 409)
    assert "idle level" in assert_problem(
        op.post(f"{ZONES}/gata/effect", json={"idle_pct": 101}), 422)
    # Nothing was saved.
    assert op.get(f"{ZONES}/gata").json()["idle_pct"] == 20


class LiveStream:
    """The live stream (GET /api/v1/events) read in a thread until a
    zone-push event that `done` accepts."""

    def __init__(self, client: httpx.Client, done: Any) -> None:
        self.client, self.done = client, done
        self.connected = threading.Event()
        self.found: dict[str, Any] | None = None
        self.kinds: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.connected.wait(30), "the live stream did not open"

    def _read(self) -> None:
        kind = None
        with self.client.stream("GET", "/api/v1/events", timeout=None) as r:
            for line in r.iter_lines():
                if line.startswith(": connected"):
                    self.connected.set()
                elif line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                    self.kinds.append(kind)
                elif line.startswith("data: ") and kind == "zone-push":
                    data = json.loads(line.removeprefix("data: "))
                    if self.done(data):
                        self.found = data
                        return


def test_a_push_reaches_real_poles_and_tells_each_ones_running_revision(
        accounts: Accounts) -> None:
    gw = accounts.gw
    op = accounts.sessions["operator"]
    kids = register_keyed(gw, *(pole(n, 30.0 * i, 0, "park", 21 + i, node_key(n))
                                for i, n in enumerate(("P1", "P2", "P3"))))
    real = [RealPole(n, gw, 21 + i, kids[n]) for i, n in enumerate(("P1", "P2"))]
    try:
        for p in real:
            p.status()  # the gateway learns where each is; P3 is never heard from
        for p in real:
            p.wait(lambda n: n.zone_key is not None)  # the gateway's key push is through
        saved = op.patch(f"{ZONES}/park", json={"idle_pct": 12, "active_pct": 80}).json()
        revision = saved["zone"]["revision"]
        live = LiveStream(accounts.tokens["operator"],
                          lambda d: d["zone"] == "park" and d["revision"] == revision
                          and d["total"] == 2)
        r = op.post(f"{ZONES}/park/push", params={"timeout": 5})
        assert r.status_code == 200, r.text
        pushed = r.json()
        assert pushed["zone"] == "park" and pushed["revision"] == revision
        assert (pushed["acknowledged"], pushed["total"]) == (2, 3)
        by_pole = {p["node_id"]: p for p in pushed["poles"]}
        for n in ("P1", "P2"):
            assert by_pole[n] == {"node_id": n, "outcome": "acknowledged", "acknowledged": True,
                                  "running_revision": revision}
        assert by_pole["P3"]["acknowledged"] is False
        assert by_pole["P3"]["outcome"].startswith("never heard from")
        assert by_pole["P3"]["running_revision"] is None
        # The firmware runs what was pushed.
        for p in real:
            with p.lock:
                profile = p.node.profile
            assert (profile.idle_pct, profile.active_pct, profile.revision) == (12, 80, revision)
        live.thread.join(30)
        assert live.found is not None, live.kinds
        assert [(p["node_id"], p["acknowledged"], p["running_revision"])
                for p in live.found["poles"]] == [("P1", True, revision), ("P2", True, revision)]
        states = {s["node_id"]: s for s in
                  op.get("/api/v1/lights", params={"zone": "park"}).json()["items"]}
        assert states["P1"]["running_revision"] == revision == states["P1"]["zone_revision"]
        assert states["P1"]["online"] is True and states["P3"]["online"] is False
        assert states["P3"]["running_revision"] is None
        # A zone without poles has nothing to push; a crew may not push.
        ok(lights_cli(gw.db, "zone", "set", "tom", "--idle", "10", "--who", "test", "--create"))
        assert "no light poles" in assert_problem(op.post(f"{ZONES}/tom/push"), 409)
        assert_problem(accounts.sessions["crew"].post(f"{ZONES}/park/push"), 403)
    finally:
        for p in real:
            p.close()


def test_light_states_and_energy_per_night_against_full_and_the_oracle(
        accounts: Accounts) -> None:
    gw = accounts.gw
    op = accounts.sessions["operator"]
    gw.register(pole("N1", 0, 0, "natt"), pole("N2", 40, 0, "natt"))
    r = op.patch(f"{ZONES}/natt", json={"hours": "always", "timezone": "UTC", "lamp_w": 40,
                                        "idle_pct": 20, "active_pct": 100})
    assert r.status_code == 200, r.text
    now = time.time()
    # A night that is over, and long enough ago that nothing below from the
    # last hour falls in it.
    night = night_of("UTC", now) - timedelta(days=2)
    at = datetime(night.year, night.month, night.day, 18, tzinfo=UTC).timestamp()
    n1 = [(at, 1000), (at + 4 * 3600, 1500), (at + 12 * 3600, 300)]  # restarted at the end
    records: list[Any] = [
        StatusRecord("N1", light_codec.Status(i, int(t), 20, e, light_codec.STATUS_NIGHT), t)
        for i, (t, e) in enumerate(n1)]
    # N2 reported once that night (it does not count), and 44 minutes ago,
    # saying it hears no gateway.
    records.append(StatusRecord("N2", light_codec.Status(1, int(at), 20, 50), at))
    records.append(StatusRecord("N2", light_codec.Status(
        2, int(now - 44 * 60), 50, 60, light_codec.STATUS_OFFLINE), now - 44 * 60))
    for k in range(10):  # someone passes N1 at 2 m/s ten times
        t = at + 2 * 3600 + k * 600
        records.append(PresenceRecord("N1", codec.PresenceEvent(k, int(t), 1, 100, 2.0), t))
    with Store(gw.db) as store:
        store.insert(records)
    got = op.get("/api/v1/energy", params={"zone": "natt", "nights": 3})
    assert got.status_code == 200, got.text
    nights = got.json()
    assert [n["night"] for n in nights] == [(night + timedelta(days=d)).isoformat()
                                            for d in range(3)]
    e = nights[0]
    assert e["complete"] is True and nights[2]["complete"] is False
    assert (e["poles"], e["poles_reporting"]) == (2, 1)
    assert e["measured_wh"] == 80.0  # 500 and, after the restart, 300 tenths of a Wh
    assert e["full_wh"] == 480.0  # 40 W for the 12 h between its first and last report
    # Idle (20 %) for 12 h, and full for 10 s (20 m at 2 m/s) ten times.
    assert e["oracle_wh"] == round(40 * (0.2 * 12 + 0.8 * 100 / 3600), 1)
    assert e["saving_pct"] == round((1 - 80 / 480) * 100, 1)
    assert e["oracle_ratio"] == round(80 / e["oracle_wh"], 3)
    assert op.get("/api/v1/energy", params={"zone": "nowhere"}).json() == []
    everything = op.get("/api/v1/energy", params={"nights": 1}).json()
    assert {n["zone"] for n in everything} >= {"natt", "park"}
    states = {s["node_id"]: s for s in
              op.get("/api/v1/lights", params={"zone": "natt"}).json()["items"]}
    # Heard 44 minutes ago: online; last heard that night: offline.
    assert states["N2"]["online"] is True and states["N2"]["safe_profile"] is True
    assert states["N2"]["level_pct"] == 50
    assert states["N1"]["online"] is False and states["N1"]["safe_profile"] is False
    assert_problem(accounts.tokens["crew"].get("/api/v1/energy"), 403)
