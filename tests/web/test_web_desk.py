"""The operator's and planner's desk in a real browser (Debian's Chromium under
Playwright) against a real gateway: the map drawn from the API's one map
answer, alarms acknowledged on one desk and seen so on another at once,
today's plan truck by truck with each stop a crew records, and a bin's fill
history with its forecast."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from playwright.sync_api import Browser, expect
from web_support import DISTRICT_NAME, District, Screen, browser, district, open_screen, screens

__all__ = ["browser", "district", "screens"]  # the fixtures, used by name


def api_as(d: District, user: str) -> httpx.Client:
    r = httpx.post(f"{d.url}/api/v1/session", timeout=30,
                   json={"username": user, "password": d.made.password})
    assert r.status_code == 200, r.text
    return httpx.Client(base_url=d.url, timeout=120,
                        cookies={"kvarter_session": r.cookies["kvarter_session"]},
                        headers={"X-CSRF-Token": r.json()["csrf_token"]})


def ready(s: Screen) -> None:
    s.page.wait_for_selector("body[data-ready]", timeout=30_000)


def test_the_desk_draws_its_map_from_the_one_map_answer(
        browser: Browser, district: District, screens: list[Screen]) -> None:
    s = open_screen(browser, district, "admin")
    screens.append(s)
    asked: list[str] = []
    s.context.on("request", lambda r: asked.append(r.url.removeprefix(district.url)))
    s.page.reload()
    ready(s)
    s.page.wait_for_selector("body[data-forecast]", timeout=60_000)
    assert "/api/v1/map" in asked
    # Not the listings, page after page: the map's one answer.
    assert not [u for u in asked if u.startswith(("/api/v1/bins?", "/api/v1/lights"))], asked
    with api_as(district, "admin") as admin:
        answer = admin.get("/api/v1/map").json()
    assert answer["forecast_at"] is not None
    assert s.page.locator("path.bin").count() == len(answer["bins"]["node_id"])
    assert s.page.locator("path.pole").count() == len(answer["poles"]["node_id"])
    now = time.time()
    soon = sum(1 for t in answer["bins"]["full_at"] if t is not None and t <= now + 86400)
    expect(s.page.locator("path.bin.soon")).to_have_count(soon)
    # The district by the name its people use, not "the district".
    expect(s.page.locator("#district")).to_have_text(DISTRICT_NAME)
    expect(s.page.locator("header.bar .brand")).to_have_text(f"kvarter · {DISTRICT_NAME}")
    assert DISTRICT_NAME in s.page.title()
    assert not s.errors, s.errors


def _alarm(client: httpx.Client, node_id: str, alarm: str) -> dict[str, Any]:
    items = client.get("/api/v1/alarms", params={"limit": 1000}).json()["items"]
    return next(a for a in items if a["node_id"] == node_id and a["alarm"] == alarm)


def test_an_alarm_acknowledged_on_one_desk_shows_who_and_when_on_another(
        browser: Browser, district: District, screens: list[Screen]) -> None:
    with api_as(district, "admin") as admin:
        items = admin.get("/api/v1/alarms", params={"limit": 1000}).json()["items"]
    fire = next(a for a in items if a["alarm"] == "fire" and not a["acknowledged"])
    node = fire["node_id"]
    operator = open_screen(browser, district, "operator")
    planner = open_screen(browser, district, "planner")
    technician = open_screen(browser, district, "technician", path="/desk")
    screens.extend([operator, planner, technician])
    for s in (operator, planner, technician):
        ready(s)
    for s in (operator, planner):
        expect(s.page.locator("header .live.on")).to_be_visible()
    line = f"#alarms li[data-node={node}][data-alarm=fire]"
    # A technician reads the alarms but acknowledges none.
    expect(technician.page.locator(line)).to_have_count(1)
    expect(technician.page.locator("#alarms button.ack")).to_have_count(0)
    expect(planner.page.locator(f"{line} button.ack")).to_have_count(1)
    operator.page.locator(f"{line} button.ack").click()
    # Recorded at once: who and when, on this desk and, live, on the other.
    expect(operator.page.locator(f"{line} .who-ack")).to_contain_text("operator")
    expect(planner.page.locator(f"{line} .who-ack")).to_contain_text("operator")
    expect(planner.page.locator(f"{line} button.ack")).to_have_count(0)
    expect(technician.page.locator(f"{line} .who-ack")).to_contain_text("operator")
    with api_as(district, "admin") as admin:
        stored = _alarm(admin, node, "fire")
    assert stored["acknowledged"] is True and stored["acknowledged_by"] == "operator"
    # Acknowledged alarms go below the others.
    acked = operator.page.locator("#alarms li").evaluate_all(
        "ls => ls.map(l => l.classList.contains('acknowledged'))")
    assert acked == sorted(acked) and acked[-1] is True
    expect(operator.page.locator("#alarm-count")).to_contain_text("not acknowledged")
    for s in (operator, planner, technician):
        assert not s.errors, s.errors
    operator.page.locator(line).scroll_into_view_if_needed()
    operator.shot("desk-alarm-acknowledged")


def _visit(client: httpx.Client, plan_id: int, node_id: str, outcome: str,
           reason: str | None = None) -> None:
    r = client.post("/api/v1/visits", json={
        "id": str(uuid.uuid4()), "plan_id": plan_id, "node_id": node_id, "outcome": outcome,
        **({"reason": reason} if reason else {})})
    assert r.status_code == 201, r.text


def test_the_planner_sees_todays_plan_truck_by_truck_and_each_stop_live(
        browser: Browser, district: District, screens: list[Screen]) -> None:
    centre = district.made.district.bins[0]
    with api_as(district, "planner") as planner:
        r = planner.post("/api/v1/plans", json={
            "depot": {"lat": centre.lat, "lon": centre.lon}, "trucks": 2, "capacity_l": 8000,
            "shift_h": 8, "every_bin": True, "time_limit_s": 1})
        assert r.status_code == 201, r.text
        plan = r.json()
        routes = {t["truck"]: planner.get(f"/api/v1/routes/today/{t['truck']}").json()
                  for t in plan["routes"]}
    s = open_screen(browser, district, "planner")
    screens.append(s)
    ready(s)
    page = s.page
    expect(page.locator("body[data-plan]")).to_have_attribute("data-plan", str(plan["id"]))
    trucks = page.locator("#plan-trucks details")
    expect(trucks).to_have_count(len(routes))
    busy = max(routes.values(), key=lambda r: len(r["stops_in_order"]))
    stops = busy["stops_in_order"]
    assert len(stops) >= 2
    block = page.locator(f"#plan-trucks details[data-truck='{busy['truck']}']")
    block.locator("summary").click()
    items = block.locator("ol.plan-stops li")
    expect(items).to_have_count(len(stops))
    # In the order to visit, each required or optional as planned.
    assert items.evaluate_all("ls => ls.map(l => l.dataset.node)") == [
        st["node_id"] for st in stops]
    required = sum(1 for st in stops if st["required"])
    expect(block.locator("li.required")).to_have_count(required)
    expect(block.locator("li.optional")).to_have_count(len(stops) - required)
    expect(block.locator("summary")).to_contain_text(f"{len(stops)} left")
    expect(page.locator("header .live.on")).to_be_visible()
    # A crew (here its planner, for any truck) records two stops: shown live.
    first, second = stops[0]["node_id"], stops[1]["node_id"]
    with api_as(district, "planner") as planner:
        _visit(planner, plan["id"], first, "emptied")
        _visit(planner, plan["id"], second, "unreachable", "blocked by a parked car")
    expect(block.locator(f"li[data-node={first}]")).to_have_attribute("data-status", "emptied")
    unreachable = block.locator(f"li[data-node={second}]")
    expect(unreachable).to_have_attribute("data-status", "unreachable")
    expect(unreachable).to_contain_text("blocked by a parked car")
    expect(block.locator("summary .figures")).to_contain_text("1 emptied, 1 unreachable")
    expect(block.locator("summary .figures")).to_contain_text(f"{len(stops) - 2} left")
    s.shot("desk-planner-plan")
    # A new plan replaces it on the open desk: the day planned again, its
    # shift under way since an hour ago (or since midnight).
    now = time.time()
    midnight = time.mktime(time.localtime(now)[:3] + (0, 0, 0, 0, 0, -1))
    started = time.strftime("%H:%M", time.localtime(max(now - 3600, midnight)))
    with api_as(district, "planner") as planner:
        r = planner.post("/api/v1/plans", json={
            "depot": {"lat": centre.lat, "lon": centre.lon}, "trucks": 2, "capacity_l": 8000,
            "shift_h": 8, "every_bin": True, "time_limit_s": 1, "start": started})
        assert r.status_code == 201, r.text
    again = r.json()
    expect(page.locator("body[data-plan]")).to_have_attribute("data-plan", str(again["id"]))
    expect(page.locator("#plan-trucks details")).to_have_count(len(again["routes"]))
    # Planned again during the day: it goes on from the trucks' recorded
    # stops and the desk says per truck what changed.
    assert again["settings"].get("continues") == plan["id"], again["settings"]
    assert again["changes"], again
    expect(page.locator("#plan-changes li")).to_have_text(again["changes"])
    s.shot("desk-planner-replan")
    assert not s.errors, s.errors


def test_an_operator_sees_no_plan_and_a_bins_chart_shows_its_forecast(
        browser: Browser, district: District, screens: list[Screen]) -> None:
    s = open_screen(browser, district, "operator")
    screens.append(s)
    ready(s)
    expect(s.page.locator("#plan")).to_be_hidden()
    with api_as(district, "operator") as operator:
        b = operator.get("/api/v1/bins/B0001").json()
        since = int(time.time()) - 7 * 86400
        history = operator.get("/api/v1/bins/B0001/reports",
                               params={"since": since, "limit": 1000}).json()
    s.page.locator("path.bin[data-node=B0001]").click()
    chart = s.page.locator("#bin-chart svg")
    expect(chart).to_have_attribute("aria-label", f"fill history, {history['total']} reports")
    assert b["forecast"]["level_in_24h_pct"] is not None
    expect(s.page.locator("#bin-chart polyline.forecast")).to_have_count(1)
    expect(s.page.locator("#bin-facts")).to_contain_text(b["kind"])
    assert not s.errors, s.errors
