"""The waste side of the API over real HTTP against a real gateway: today's
plan made by a planner (and by `kvarter routes plan`), each crew's route
stop by stop, stops recorded once however often a phone sends them, the live
stream telling each role what it may see, alarms acknowledged, a bin's fill
history for a chart, and the district's map."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_support import (
    PASSWORD,
    Accounts,
    assert_problem,
    kvarter,
    listen_events,
    login,
    make_accounts,
    post_report,
)
from conftest import RunningGateway, launch_gateway

from firmware import codec
from gateway.records import Node
from gateway.storage.store import Store

NOW = int(time.time())
# Eight bins along a street running east, two poles.
BINS = [Node(f"B{i:04d}", "bin", 59.3300, 18.0600 + i * 0.002, "240L") for i in range(1, 9)]
POLES = [Node("L0001", "light", 59.331, 18.07, "harbour"), Node("L0002", "light", 59.331, 18.08)]
STREETS = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"name": "Hamngatan"},
     "geometry": {"type": "LineString", "coordinates": [[18.060, 59.3301], [18.090, 59.3301]]}}]}
PLAN = {"depot": {"lat": 59.32, "lon": 18.05}, "trucks": 2, "capacity_l": 1000, "shift_h": 4,
        "every_bin": True, "all_required": True, "time_limit_s": 0.5}


def bin_report(seq: int, fill: float, flags: int = 0, t: int | None = None) -> bytes:
    when = (NOW - 3600 if t is None else t) + seq * 60
    return codec.encode_bin_report(codec.BinReport(seq, when, fill, 21, 3600, 0, flags))


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Accounts]:
    gw = launch_gateway(tmp_path_factory.mktemp("waste"))
    try:
        gw.register(*BINS, *POLES)
        with Store(gw.db) as store:
            store.save_streets(json.dumps(STREETS), "test")
        for node in BINS:
            assert post_report(gw, b"b", node.node_id, bin_report(1, 40.0)) == "2.04"
        acc = make_accounts(gw)
        r = acc.sessions["admin"].post("/api/v1/users", json={
            "username": "crew2", "role": "crew", "crew": "truck-2", "password": PASSWORD})
        assert r.status_code == 201, r.text
        acc.sessions["crew2"] = login(gw, "crew2")
        yield acc
        acc.close()
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def plan(district: Accounts) -> dict[str, Any]:
    r = district.tokens["planner"].post("/api/v1/plans", json=PLAN, timeout=120)
    assert r.status_code == 201, r.text
    return dict(r.json())


def route(client: httpx.Client, truck: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/routes/today/{truck}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_planner_makes_todays_plan_with_the_commands_settings(
        district: Accounts, plan: dict[str, Any]) -> None:
    assert [r["truck"] for r in plan["routes"]] == ["truck-1", "truck-2"]
    assert sum(r["stops"] for r in plan["routes"]) == len(BINS)
    assert plan["unserved"] == [] and plan["problems"] == []
    assert plan["made_by"].startswith("planner") and plan["settings"]["capacity_l"] == 1000
    today = district.tokens["admin"].get("/api/v1/plans/today").json()
    assert today["id"] == plan["id"] and today["routes"] == plan["routes"]
    assert district.tokens["planner"].get(f"/api/v1/plans/{plan['id']}").json() == today
    for role in ("crew", "operator", "technician"):
        assert_problem(district.tokens[role].post("/api/v1/plans", json=PLAN), 403)
    planner = district.sessions["planner"]
    for change, words in [({"depot": {"lat": 91, "lon": 18}}, "depot.lat"),
                          ({"trucks": 0}, "trucks"), ({"capacity_l": 10**8}, "capacity_l"),
                          ({"shift_h": 25}, "shift_h"), ({"start": "25:00"}, "start"),
                          ({"date": "2026-13-01"}, "date"), ({"lorries": 3}, "lorries")]:
        detail = assert_problem(planner.post("/api/v1/plans", json={**PLAN, **change}), 422)
        assert words in detail, detail
    assert_problem(planner.get("/api/v1/plans/999999"), 404)


def test_a_crew_reads_its_own_route_stop_by_stop(district: Accounts,
                                                 plan: dict[str, Any]) -> None:
    crew = district.sessions["crew"]
    mine = crew.get("/api/v1/routes/today").json()
    assert [r["truck"] for r in mine] == ["truck-1"]
    r1 = route(crew, "truck-1")
    stops = r1["stops_in_order"]
    assert len(stops) == r1["stops"] > 0
    assert [s["position"] for s in stops] == list(range(1, len(stops) + 1))
    times = [s["expected_at"] for s in stops]
    assert times == sorted(times) and times[0] >= plan["shift_start"]
    by_id = {b.node_id: b for b in BINS}
    for s in stops:
        b = by_id[s["node_id"]]
        assert (s["lat"], s["lon"]) == (b.lat, b.lon)
        assert s["geo"] == f"geo:{b.lat:.6f},{b.lon:.6f}"
        assert s["required"] is True and s["status"] == "pending"
        assert s["street"] == "Hamngatan"  # 11 m from its line
    assert_problem(crew.get("/api/v1/routes/today/truck-2"), 403)
    assert route(district.tokens["planner"], "truck-2")["truck"] == "truck-2"
    assert [r["truck"] for r in district.tokens["admin"].get("/api/v1/routes/today").json()] \
        == ["truck-1", "truck-2"]
    assert_problem(district.tokens["planner"].get("/api/v1/routes/today/truck-9"), 404)
    assert_problem(district.tokens["operator"].get("/api/v1/routes/today"), 403)
    assert_problem(crew.get("/api/v1/plans/today"), 403)


def visits_of(gw: RunningGateway, node_id: str) -> list[tuple[str, float, str, str]]:
    with Store(gw.db) as store:
        return [v for v in store.visits() if v[0] == node_id]


def test_a_stop_sent_twice_is_recorded_once(district: Accounts, plan: dict[str, Any]) -> None:
    crew, gw = district.sessions["crew"], district.gw
    first = route(crew, "truck-1")["stops_in_order"][0]["node_id"]
    tap = {"id": str(uuid.uuid4()), "plan_id": plan["id"], "node_id": first,
           "outcome": "emptied", "at": time.time() - 600}
    r = crew.post("/api/v1/visits", json=tap)
    assert r.status_code == 201, r.text
    again = crew.post("/api/v1/visits", json=tap)  # the phone did not hear the answer
    assert again.status_code == 200 and again.json() == r.json()
    assert [v[2] for v in visits_of(gw, first)] == ["emptied"]  # what the forecast reads
    assert r.json()["recorded_by"] == "crew" and r.json()["truck"] == "truck-1"
    stop = route(crew, "truck-1")["stops_in_order"][0]
    assert stop["status"] == "emptied" and stop["recorded_at"] == tap["at"]
    assert "another stop or outcome" in assert_problem(
        crew.post("/api/v1/visits", json={**tap, "outcome": "unreachable", "reason": "car"}),
        409)
    assert len(visits_of(gw, first)) == 1
    # A session's change without its CSRF token is refused, and stores nothing.
    with httpx.Client(base_url=gw.http_url, cookies=crew.cookies) as forged:
        assert "X-CSRF-Token" in assert_problem(
            forged.post("/api/v1/visits", json={**tap, "id": str(uuid.uuid4())}), 403)
    assert len(visits_of(gw, first)) == 1


def test_a_crew_records_its_own_routes_stops_only_and_says_why(
        district: Accounts, plan: dict[str, Any]) -> None:
    crew = district.sessions["crew"]
    theirs = route(district.tokens["planner"], "truck-2")["stops_in_order"][0]["node_id"]
    mine = route(crew, "truck-1")["stops_in_order"][-1]["node_id"]

    def tap(**fields: Any) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "plan_id": plan["id"], "node_id": mine,
                "outcome": "unreachable", "reason": "blocked by a car", **fields}

    assert_problem(crew.post("/api/v1/visits", json=tap(node_id=theirs)), 403)
    assert_problem(district.tokens["operator"].post("/api/v1/visits", json=tap()), 403)
    assert "reason" in assert_problem(crew.post("/api/v1/visits", json=tap(reason=" ")), 422)
    assert "future" in assert_problem(
        crew.post("/api/v1/visits", json=tap(at=time.time() + 3600)), 422)
    assert_problem(crew.post("/api/v1/visits", json=tap(id="not-a-uuid")), 422)
    assert_problem(crew.post("/api/v1/visits", json=tap(plan_id=999999)), 404)
    assert_problem(crew.post("/api/v1/visits", json=tap(node_id="B9999")), 404)
    assert crew.post("/api/v1/visits", json=tap()).status_code == 201
    last = route(crew, "truck-1")["stops_in_order"][-1]
    assert last["status"] == "unreachable" and last["reason"] == "blocked by a car"
    # A planner may record any truck's stop.
    r = district.tokens["planner"].post("/api/v1/visits", json=tap(node_id=theirs,
                                                                   outcome="emptied",
                                                                   reason=None))
    assert r.status_code == 201 and r.json()["truck"] == "truck-2"




def _next(got: queue.Queue[tuple[str, dict[str, Any]]],
          kinds: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """The next event of these kinds (reports of other tests may come between)."""
    while True:
        kind, data = got.get(timeout=60)
        if kind in kinds:
            return kind, data


def test_the_command_lines_plan_is_stored_and_each_role_hears_what_it_may(
        district: Accounts, plan: dict[str, Any]) -> None:
    gw = district.gw
    streams = {}
    clients = []
    for who in ("planner", "crew", "crew2", "operator"):
        got: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        ready = threading.Event()
        client = httpx.Client(base_url=gw.http_url, cookies=district.sessions[who].cookies)
        clients.append(client)
        threading.Thread(target=listen_events, args=(client, got, ready), daemon=True).start()
        assert ready.wait(30)
        streams[who] = got
    try:
        proc = kvarter("routes", "plan", "--db", str(gw.db), "--depot", "59.32,18.05",
                       "--trucks", "2", "--capacity", "1000", "--shift", "4", "--every-bin",
                       "--all-required", "--time-limit", "0.5", "--out", str(gw.db.parent / "p"))
        assert proc.returncode == 0, proc.stderr
        today = district.tokens["planner"].get("/api/v1/plans/today").json()
        assert today["id"] > plan["id"] and "command line" in today["made_by"]
        assert f"stored as plan {today['id']}" in proc.stdout
        kinds = ("plan", "route", "stop")
        kind, data = _next(streams["planner"], kinds)
        assert (kind, data["plan_id"]) == ("plan", today["id"])
        assert [_next(streams["planner"], kinds)[1]["truck"] for _ in range(2)] == \
            ["truck-1", "truck-2"]
        kind, data = _next(streams["crew"], kinds)
        assert (kind, data["truck"], data["plan_id"]) == ("route", "truck-1", today["id"])
        # truck-2's stop, then truck-1's: the crew of truck-1 hears its own only.
        theirs = route(district.tokens["planner"], "truck-2")["stops_in_order"][0]["node_id"]
        mine = route(district.tokens["planner"], "truck-1")["stops_in_order"][0]["node_id"]
        proc = kvarter("bins", "emptied", theirs, "--db", str(gw.db))
        assert proc.returncode == 0, proc.stderr
        tap = {"id": str(uuid.uuid4()), "plan_id": today["id"], "node_id": mine,
               "outcome": "emptied"}
        assert district.sessions["crew"].post("/api/v1/visits", json=tap).status_code == 201
        kind, data = _next(streams["crew"], kinds)
        assert (kind, data["node_id"], data["truck"]) == ("stop", mine, "truck-1")
        kind, data = _next(streams["crew2"], kinds)
        assert (kind, data["truck"]) == ("route", "truck-2")
        kind, data = _next(streams["crew2"], kinds)
        assert (kind, data["node_id"], data["outcome"]) == ("stop", theirs, "emptied")
        planner_stops = [_next(streams["planner"], kinds)[1]["node_id"] for _ in range(2)]
        assert planner_stops == [theirs, mine]
        # The command line's record shows on the stop too.
        assert route(district.tokens["planner"], "truck-2")["stops_in_order"][0]["status"] \
            == "emptied"
        # An alarm and its acknowledgement go to those who read alarms.
        assert post_report(gw, b"b", "B0007",
                           bin_report(7, 30.0, codec.BIN_FLAG_LID_OPEN)) == "2.04"
        seen = []
        while True:
            kind, data = streams["operator"].get(timeout=60)
            seen.append(kind)
            if kind == "alarm" and data["node_id"] == "B0007":
                break
        r = district.sessions["operator"].post("/api/v1/alarms/B0007/lid-open/ack",
                                               json={"note": "closing it"})
        assert r.status_code == 201, r.text
        kind, data = _next(streams["operator"], ("alarm-ack",))
        assert (data["node_id"], data["acknowledged_by"], data["note"]) == \
            ("B0007", "operator", "closing it")
        # The operator reads no routes: no plan, route or stop came before.
        assert not set(seen) & set(kinds), seen
        # Nor does a crew read bins or alarms: the next thing it hears is its stop.
        second = route(district.tokens["planner"], "truck-1")["stops_in_order"][1]["node_id"]
        tap = {**tap, "id": str(uuid.uuid4()), "node_id": second}
        assert district.tokens["planner"].post("/api/v1/visits", json=tap).status_code == 201
        kind, data = streams["crew"].get(timeout=60)
        assert (kind, data["node_id"], data["recorded_by"]) == ("stop", second, "planner")
    finally:
        for client in clients:
            client.close()


def test_nothing_to_plan_is_refused_in_one_line(tmp_path_factory: pytest.TempPathFactory,
                                                ) -> None:
    gw = launch_gateway(tmp_path_factory.mktemp("empty"))
    try:
        acc = make_accounts(gw)
        detail = assert_problem(acc.tokens["planner"].post("/api/v1/plans", json=PLAN), 409)
        assert "no bins registered" in detail
        assert "no plan has been made for today" in assert_problem(
            acc.tokens["planner"].get("/api/v1/plans/today"), 404)
        assert_problem(acc.tokens["crew"].get("/api/v1/routes/today/truck-1"), 404)
        acc.close()
    finally:
        gw.stop()


def alarms(client: httpx.Client, node_id: str) -> list[dict[str, Any]]:
    r = client.get("/api/v1/alarms")
    assert r.status_code == 200, r.text
    return [a for a in r.json()["items"] if a["node_id"] == node_id]


def test_an_alarm_is_acknowledged_by_whom_and_when_until_it_comes_again(
        district: Accounts) -> None:
    gw, operator = district.gw, district.sessions["operator"]
    assert post_report(gw, b"b", "B0008", bin_report(2, 60.0, codec.BIN_FLAG_FIRE)) == "2.04"
    assert post_report(gw, b"b", "B0008", bin_report(3, 61.0, codec.BIN_FLAG_FIRE)) == "2.04"
    (fire,) = alarms(operator, "B0008")
    assert fire["alarm"] == "fire" and fire["acknowledged"] is False
    assert fire["since"] == NOW - 3600 + 120  # the first report of the run that shows it
    assert_problem(district.tokens["technician"].post("/api/v1/alarms/B0008/fire/ack",
                                                      json={}), 403)
    assert_problem(district.tokens["crew"].post("/api/v1/alarms/B0008/fire/ack", json={}), 403)
    assert "does not show" in assert_problem(
        operator.post("/api/v1/alarms/B0008/tilt/ack", json={}), 409)
    assert_problem(operator.post("/api/v1/alarms/B9999/fire/ack", json={}), 404)
    r = operator.post("/api/v1/alarms/B0008/fire/ack", json={"note": "fire brigade called"})
    assert r.status_code == 201, r.text
    (fire,) = alarms(district.tokens["planner"], "B0008")
    assert fire["acknowledged"] is True and fire["acknowledged_by"] == "operator"
    assert fire["acknowledged_at"] >= fire["since"] and fire["note"] == "fire brigade called"
    only_open = district.tokens["admin"].get("/api/v1/alarms",
                                             params={"acknowledged": "false"}).json()
    assert all(a["node_id"] != "B0008" for a in only_open["items"])
    # The fire goes out, then comes back: a new alarm, not acknowledged.
    assert post_report(gw, b"b", "B0008", bin_report(4, 62.0)) == "2.04"
    assert alarms(operator, "B0008") == []
    assert post_report(gw, b"b", "B0008", bin_report(5, 63.0, codec.BIN_FLAG_FIRE)) == "2.04"
    (fire,) = alarms(operator, "B0008")
    assert fire["acknowledged"] is False and fire["since"] == NOW - 3600 + 300


def test_a_bins_fill_history_comes_as_a_chart_wants_it(district: Accounts) -> None:
    gw, planner = district.gw, district.tokens["planner"]
    for seq in range(2, 7):
        assert post_report(gw, b"b", "B0003", bin_report(seq, 40.0 + seq)) == "2.04"
    page = planner.get("/api/v1/bins/B0003/reports", params={"limit": 4}).json()
    assert page["total"] == 6 and len(page["items"]) == 4
    times = [r["measured_at"] for r in page["items"]]
    assert times == sorted(times, reverse=True)
    assert [r["fill_pct"] for r in page["items"]] == [46.0, 45.0, 44.0, 43.0]
    window = planner.get("/api/v1/bins/B0003/reports",
                         params={"since": NOW - 3600 + 120, "until": NOW - 3600 + 300}).json()
    assert [r["seq"] for r in window["items"]] == [4, 3, 2] and window["total"] == 3


def test_the_map_has_every_bin_and_pole_column_by_column(district: Accounts) -> None:
    operator, gw = district.tokens["operator"], district.gw
    assert_problem(district.tokens["crew"].get("/api/v1/map"), 403)
    assert post_report(gw, b"b", "B0006", bin_report(9, 77.5, codec.BIN_FLAG_TILT)) == "2.04"
    # Made again beside the requests: a few requests on, it shows the report.
    for _ in range(600):
        m = operator.get("/api/v1/map").json()
        bins = m["bins"]
        k = bins["node_id"].index("B0006")
        if bins["fill_pct"][k] == 77.5:
            break
        time.sleep(0.05)
    assert bins["node_id"] == [b.node_id for b in BINS]
    assert all(len(v) == len(BINS) for v in bins.values())
    assert bins["alarms"][k] == ["tilt"] and bins["alarm_state"][k] == "active"
    assert (bins["lat"][k], bins["lon"][k]) == (BINS[5].lat, BINS[5].lon)
    assert bins["alarm_state"][0] == "none" and bins["alarms"][0] == []
    assert all(t is None or t > 0 for t in bins["full_at"])
    poles = m["poles"]
    assert poles["node_id"] == ["L0001", "L0002"] and poles["online"] == [False, False]
    assert poles["level_pct"] == [None, None]
    # Each pole's zone (its kind; "default" without one), for the desk's tooltips.
    assert poles["zone"] == ["harbour", "default"]
    assert operator.post("/api/v1/alarms/B0006/tilt/ack", json={}).status_code == 201
    for _ in range(600):
        bins = operator.get("/api/v1/map").json()["bins"]
        if bins["alarm_state"][k] == "acknowledged":
            break
        time.sleep(0.05)
    assert bins["alarm_state"][k] == "acknowledged"
    # The forecast's "full by" is made in a process of its own, then shown.
    for _ in range(1200):
        m = operator.get("/api/v1/map").json()
        if m["forecast_at"] is not None:
            break
        time.sleep(0.05)
    assert m["forecast_at"] >= m["bins"]["measured_at"][0]


def test_an_unreachable_note_is_on_the_crews_screen_with_the_next_plan(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    gw = launch_gateway(tmp_path_factory.mktemp("note"))
    try:
        gw.register(*BINS)
        acc = make_accounts(gw)
        try:
            blocked = kvarter("bins", "unreachable", "B0003", "--db", str(gw.db), "--note",
                              "gate locked")
            assert blocked.returncode == 0, blocked.stderr
            r = acc.tokens["planner"].post("/api/v1/plans", json={**PLAN, "trucks": 1},
                                           timeout=120)
            assert r.status_code == 201, r.text
            stops = {s["node_id"]: s for s in route(acc.sessions["crew"],
                                                    "truck-1")["stops_in_order"]}
            note = stops["B0003"]["note"]
            assert note.startswith("unreachable ") and note.endswith(": gate locked")
            assert stops["B0003"]["status"] == "pending"  # a note from before this plan
            assert stops["B0004"]["note"] is None
        finally:
            acc.close()
    finally:
        gw.stop()


def test_a_day_under_way_is_re_planned_from_each_trucks_last_stop_unless_afresh(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """The issue's case over the API: two stops recorded emptied and one
    unreachable on truck-1, then the day planned again mid-shift: every
    truck keeps its route, done stops first, the rest in its order."""
    gw = launch_gateway(tmp_path_factory.mktemp("replan"))
    try:
        gw.register(*BINS)
        acc = make_accounts(gw)
        try:
            planner, crew = acc.tokens["planner"], acc.sessions["crew"]
            # A shift that started an hour ago, today: the day is under way.
            started = time.strftime("%H:%M", time.localtime(time.time() - 3600))
            asked = {**PLAN, "start": started}
            first = planner.post("/api/v1/plans", json=asked, timeout=120).json()
            assert first["changes"] == [] and "continues" not in first["settings"]
            before = {t: [s["node_id"] for s in route(planner, t)["stops_in_order"]]
                      for t in ("truck-1", "truck-2")}
            one = before["truck-1"]
            assert len(one) >= 3, before
            for node_id, outcome, reason in ((one[0], "emptied", None),
                                             (one[1], "emptied", None),
                                             (one[2], "unreachable", "parked car")):
                r = crew.post("/api/v1/visits", json={
                    "id": str(uuid.uuid4()), "plan_id": first["id"], "node_id": node_id,
                    "outcome": outcome, "reason": reason})
                assert r.status_code == 201, r.text
            again = planner.post("/api/v1/plans", json=asked, timeout=120)
            assert again.status_code == 201, again.text
            second = again.json()
            assert second["settings"]["continues"] == first["id"]
            assert second["changes"] == ["truck-1: unchanged", "truck-2: unchanged"]
            after = {t: route(planner, t)["stops_in_order"] for t in ("truck-1", "truck-2")}
            assert {t: [s["node_id"] for s in stops] for t, stops in after.items()} == before
            assert [s["status"] for s in after["truck-1"][:4]] == [
                "emptied", "emptied", "unreachable", "pending"]
            assert [r["done"] for r in second["routes"]] == [3, 0]
            # Asked to, the day starts again: every stop to do.
            fresh = planner.post("/api/v1/plans", json={**asked, "afresh": True}, timeout=120)
            assert fresh.status_code == 201, fresh.text
            assert fresh.json()["changes"] == [] and "continues" not in fresh.json()["settings"]
            assert [r["done"] for r in fresh.json()["routes"]] == [0, 0]
        finally:
            acc.close()
    finally:
        gw.stop()


def test_the_streets_come_with_the_credit_their_file_carries(district: Accounts) -> None:
    """Last in this module: it imports the streets again, with a credit."""
    crew = district.sessions["crew"]
    assert "attribution" not in crew.get("/api/v1/streets").json()
    credited = {**STREETS, "metadata": {"source": "OpenStreetMap contributors",
                                        "license": "ODbL-1.0"}}
    with Store(district.gw.db) as store:
        store.save_streets(json.dumps(credited), "test")
    body = crew.get("/api/v1/streets").json()
    assert body["attribution"] == "© OpenStreetMap contributors, ODbL-1.0"
    assert [f["properties"]["name"] for f in body["features"]] == ["Hamngatan"]
