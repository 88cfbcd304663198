"""What people read, from reports that came over CoAP to a real gateway: nodes
and their health page by page, bins with fill, forecast and alarms, light
states, presence counts per zone (never per pole), and the live stream that
tells of a new report as it is stored. Every kind of error as a problem."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import aiocoap
import httpx
import pytest
from api_support import Accounts, assert_problem, listen_events, make_accounts, post_report
from conftest import RunningGateway, launch_gateway, managed
from radiokit import wait_until

from firmware import codec
from firmware.lighting import payload as light_codec
from gateway.records import Node, SelfTest

T0 = 1790000000
H0 = T0 - T0 % 3600  # presence is counted over whole hours of the clock
BINS = [Node(f"B{i:04d}", "bin", 59.33 + i / 1000, 18.06, "240L") for i in range(1, 8)]
POLES = [Node("L0001", "light", 59.34, 18.07, "harbour"), Node("L0002", "light", 59.34, 18.08)]


def bin_report(seq: int, fill: float, flags: int = 0, battery_mv: int = 3600,
               t: int = T0) -> bytes:
    return codec.encode_bin_report(codec.BinReport(seq, t + seq * 60, fill, 21, battery_mv,
                                                   0, flags))


def presence(seq: int, t: int, count: int) -> bytes:
    return codec.encode_presence(codec.PresenceEvent(seq, t, count, 100, 1.4))


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Accounts]:
    gw = launch_gateway(tmp_path_factory.mktemp("data"))
    try:
        gw.register(*BINS, *POLES)
        for seq, fill in enumerate((10.0, 20.0, 35.5), start=1):
            assert post_report(gw, b"b", "B0001", bin_report(seq, fill)) == "2.04"
        assert post_report(gw, b"b", "B0002", bin_report(1, 50.0, codec.BIN_FLAG_FIRE)) == "2.04"
        assert post_report(gw, b"b", "B0003", bin_report(1, 5.0, battery_mv=3100)) == "2.04"
        # Two technicians' laptops give self-tests: B0001's passed on Wi-Fi at
        # -58 dBm, B0003's failed its sensor where the Wi-Fi is weak.
        for node, result in (("B0001", SelfTest(T0, True, (), "3f9a2c1d4e5f", -58)),
                             ("B0003", SelfTest(T0 + 60, False, ("sensor",), None, -86))):
            assert str(managed(gw, aiocoap.PUT, f"nodes/{node}/selftest",
                               result.to_json()).code) == "2.04 Changed"
        # Two intervals of an hour in the harbour zone, one in the default zone.
        for seq, (node, t, n) in enumerate([("L0001", H0 + 10, 2), ("L0001", H0 + 20, 4),
                                            ("L0001", H0 + 3700, 4), ("L0002", H0 + 30, 3)],
                                           start=1):
            assert post_report(gw, b"p", node, presence(seq, t, n)) in ("2.04", "2.01"), node
        acc = make_accounts(gw)
        yield acc
        acc.close()
    finally:
        gw.stop()


def test_nodes_come_page_by_page_with_their_health(district: Accounts) -> None:
    tech = district.tokens["technician"]
    first = tech.get("/api/v1/nodes", params={"limit": 5}).json()
    second = tech.get("/api/v1/nodes", params={"limit": 5, "offset": 5}).json()
    assert first["total"] == second["total"] == len(BINS) + len(POLES)
    ids = [n["node_id"] for n in first["items"] + second["items"]]
    assert ids == sorted(n.node_id for n in BINS + POLES)
    b1 = next(n for n in first["items"] if n["node_id"] == "B0001")
    assert b1["online"] is True and b1["battery_mv"] == 3600 and b1["last_contact"]
    b7 = tech.get("/api/v1/nodes/B0007").json()
    assert b7["online"] is False and b7["last_contact"] is None
    lights = tech.get("/api/v1/nodes", params={"role": "light"}).json()
    assert [n["node_id"] for n in lights["items"]] == ["L0001", "L0002"]
    assert "B9999" in assert_problem(tech.get("/api/v1/nodes/B9999"), 404)


def test_each_node_says_its_link_firmware_self_test_and_what_needs_attention(
        district: Accounts) -> None:
    tech = district.tokens["technician"]
    # The links are written a few seconds after the uplinks, off their path.
    wait_until("the links to be stored", lambda: tech.get(
        "/api/v1/nodes/B0001").json()["link"] == "wifi")
    b1 = tech.get("/api/v1/nodes/B0001").json()
    assert (b1["link"], b1["rssi_dbm"], b1["snr_db"], b1["sf"]) == ("wifi", None, None, None)
    assert b1["firmware"] == "3f9a2c1d4e5f" and b1["pending"] is False
    assert b1["selftest"] == {"at": T0, "ok": True, "failed": [], "wifi_dbm": -58,
                              "by": "tester"}
    assert b1["attention"] == []
    b3 = tech.get("/api/v1/nodes/B0003").json()
    assert b3["selftest"]["failed"] == ["sensor"] and b3["firmware"] is None
    assert b3["attention"] == ["low battery", "weak signal", "self-test failed"]
    # Registered, never heard from: pending, not "offline".
    b7 = tech.get("/api/v1/nodes/B0007").json()
    assert b7["pending"] is True and b7["link"] is None and b7["attention"] == []
    everyone = tech.get("/api/v1/nodes", params={"limit": 100}).json()["items"]
    # The poles have sent presence events only: a pole's contact is its
    # status reports, never the times of its detections (docs/privacy.md).
    assert {n["node_id"] for n in everyone if n["pending"]} == {"B0004", "B0005", "B0006",
                                                                "B0007", "L0001", "L0002"}
    # An older result delivered late (a laptop that was away) does not hide
    # the newer one; a node the gateway does not have is refused.
    gw_late = SelfTest(T0 - 3600, False, ("battery",))
    assert str(managed(district.gw, aiocoap.PUT, "nodes/B0001/selftest",
                       gw_late.to_json()).code) == "2.04 Changed"
    assert tech.get("/api/v1/nodes/B0001").json()["selftest"]["ok"] is True
    answer = managed(district.gw, aiocoap.PUT, "nodes/B9999/selftest", gw_late.to_json())
    assert str(answer.code) == "4.04 Not Found" and b"register it first" in answer.payload


def test_bins_carry_fill_forecast_and_alarms(district: Accounts) -> None:
    planner = district.tokens["planner"]
    page = planner.get("/api/v1/bins").json()
    by_id = {b["node_id"]: b for b in page["items"]}
    assert page["total"] == len(BINS)
    assert by_id["B0001"]["fill_pct"] == 35.5 and by_id["B0001"]["alarms"] == []
    assert set(by_id["B0001"]["forecast"]) == {"level_in_24h_pct", "full_at", "full_within_24h"}
    assert by_id["B0002"]["alarms"] == ["fire"]
    assert by_id["B0003"]["alarms"] == ["low-battery"]
    assert by_id["B0004"]["alarms"] == ["offline"] and by_id["B0004"]["fill_pct"] is None
    reports = planner.get("/api/v1/bins/B0001/reports", params={"limit": 2}).json()
    assert reports["total"] == 3
    assert [r["fill_pct"] for r in reports["items"]] == [35.5, 20.0]
    alarms = planner.get("/api/v1/alarms").json()["items"]
    assert alarms[0] == {**alarms[0], "node_id": "B0002", "alarm": "fire"}
    kinds = {(a["node_id"], a["alarm"]) for a in alarms}
    assert ("B0003", "low-battery") in kinds and ("B0007", "offline") in kinds
    assert_problem(planner.get("/api/v1/bins/L0001"), 404)


def test_light_states_and_zones_are_read(district: Accounts) -> None:
    operator = district.tokens["operator"]
    lights = operator.get("/api/v1/lights").json()
    assert {(x["node_id"], x["zone"]) for x in lights["items"]} == {
        ("L0001", "harbour"), ("L0002", "default")}
    zones = {z["name"]: z for z in operator.get("/api/v1/zones").json()}
    assert set(zones) == {"default", "harbour"}
    assert zones["harbour"]["poles"] == 1 and zones["harbour"]["revision"] == 0
    assert operator.get("/api/v1/zones/harbour/log").json()["total"] == 0
    assert_problem(operator.get("/api/v1/zones/nowhere"), 404)


def test_presence_is_counted_per_zone_and_interval_never_per_pole(district: Accounts) -> None:
    operator = district.tokens["operator"]
    r = operator.get("/api/v1/presence", params={"since": H0 + 5, "until": H0 + 7300,
                                                 "interval": 3600})
    assert r.status_code == 200
    counts = r.json()
    # Whole hours of the clock; fewer than 5 people suppressed, not 0.
    hidden = {"suppressed": True, "people": None, "events": None, "detections": None}
    assert counts == [
        {"zone": "default", "start": H0, "end": H0 + 3600, **hidden},
        {"zone": "harbour", "start": H0, "end": H0 + 3600, "suppressed": False, "people": 6,
         "events": 2, "detections": 6},
        {"zone": "harbour", "start": H0 + 3600, "end": H0 + 7200, **hidden},
    ]
    assert "L0001" not in r.text and "L0002" not in r.text
    # Finer than a quarter hour would tell one passer-by from another.
    assert_problem(operator.get("/api/v1/presence", params={"interval": 60}), 422)
    assert_problem(operator.get("/api/v1/presence", params={"interval": 1000}), 422)
    quarters = operator.get("/api/v1/presence", params={"since": H0, "until": H0 + 900,
                                                        "interval": 900}).json()
    assert quarters == [{"zone": "default", "start": H0, "end": H0 + 900, **hidden},
                        {"zone": "harbour", "start": H0, "end": H0 + 900, "suppressed": False,
                         "people": 6, "events": 2, "detections": 6}]
    # An empty span has no counts.
    assert operator.get("/api/v1/presence", params={"since": T0 + 10, "until": T0}).json() == []




def test_the_live_stream_tells_of_a_report_as_it_is_stored(district: Accounts) -> None:
    got: queue.Queue[tuple[str, dict[str, object]]] = queue.Queue()
    ready = threading.Event()
    gw: RunningGateway = district.gw
    client = httpx.Client(base_url=gw.http_url,
                          headers=dict(district.tokens["planner"].headers))
    listener = threading.Thread(target=listen_events, args=(client, got, ready), daemon=True)
    listener.start()
    try:
        assert ready.wait(30)
        report = bin_report(10, 88.0, codec.BIN_FLAG_TILT, t=int(time.time()) - 3600)
        assert post_report(gw, b"b", "B0005", report) == "2.04"
        kind, data = got.get(timeout=30)
        assert kind == "bin-report" and data["node_id"] == "B0005" and data["fill_pct"] == 88.0
        assert got.get(timeout=30) == ("alarm", {"node_id": "B0005", "alarm": "tilt",
                                                 "measured_at": data["measured_at"]})
    finally:
        client.close()
        listener.join(30)


def test_every_error_is_a_problem_with_one_line(district: Accounts) -> None:
    admin = district.tokens["admin"]
    url = district.gw.http_url
    assert_problem(httpx.get(f"{url}/api/v1/bins"), 401)
    assert_problem(district.tokens["crew"].get("/api/v1/bins"), 403)
    assert_problem(admin.get("/api/v1/no/such/thing"), 404)
    r = admin.put("/api/v1/nodes")
    assert_problem(r, 405)
    assert "GET" in r.headers["allow"]
    detail = assert_problem(admin.get("/api/v1/nodes", params={"limit": "many"}), 422)
    assert detail.startswith("query parameter limit")
    detail = assert_problem(admin.post("/api/v1/users", content=b"{not json",
                                       headers={"content-type": "application/json"}), 422)
    assert "not valid JSON" in detail
    detail = assert_problem(admin.post("/api/v1/users", json={"role": "crew"}), 422)
    assert "missing" in detail and "more problem" in detail
    assert_problem(admin.post("/api/v1/users", json={"username": "admin", "role": "admin",
                                                     "password": "a long password"}), 409)


def test_each_role_hears_only_the_events_it_may_read(district: Accounts) -> None:
    gw: RunningGateway = district.gw
    streams = {}
    for role in ("operator", "planner"):
        got: queue.Queue[tuple[str, dict[str, object]]] = queue.Queue()
        ready = threading.Event()
        client = httpx.Client(base_url=gw.http_url,
                              headers=dict(district.tokens[role].headers))
        thread = threading.Thread(target=listen_events, args=(client, got, ready), daemon=True)
        thread.start()
        assert ready.wait(30)
        streams[role] = (client, thread, got)
    try:
        # A bin report, a pole's status, another bin report: the operator at
        # the control desk hears all three in turn; the planner hears the
        # two bin reports and never the pole's.
        t = int(time.time()) - 60
        assert post_report(gw, b"b", "B0006", bin_report(1, 40.0, t=t)) == "2.04"
        status = light_codec.encode_status(light_codec.Status(1, t, 70, 1234))
        assert post_report(gw, b"s", "L0001", status) == "2.04"
        assert post_report(gw, b"b", "B0006", bin_report(2, 45.0, t=t + 1)) == "2.04"
        operator, planner = streams["operator"][2], streams["planner"][2]
        kind, data = operator.get(timeout=30)
        assert (kind, data["node_id"]) == ("bin-report", "B0006")
        kind, data = operator.get(timeout=30)
        assert (kind, data["node_id"], data["level_pct"]) == ("light-state", "L0001", 70)
        assert operator.get(timeout=30)[0] == "bin-report"
        for _ in range(2):
            kind, data = planner.get(timeout=30)
            assert (kind, data["node_id"]) == ("bin-report", "B0006")
    finally:
        for client, thread, _ in streams.values():
            client.close()
            thread.join(30)
