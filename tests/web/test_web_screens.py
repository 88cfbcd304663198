"""Each role's screen in a real browser (Debian's Chromium under Playwright)
against a real gateway: logging in and out, the desk's map with the
district's streets, bins and poles, a bin's history, live updates as a node
reports, the technician's nodes, and what a crew account may not open."""

from __future__ import annotations

import asyncio
import json
import math
import time

import httpx
import pytest
from playwright.sync_api import Browser, expect
from radiokit import wait_until
from web_support import (
    SHOTS,
    District,
    Screen,
    browser,
    district,
    off_the_loop,
    open_screen,
    screens,
)

from firmware import codec
from gateway.storage.store import Store
from sim import browser as chromium
from sim.screens import POLE_FOLD_M, POLE_SPACING_M, send_reports, streets_geojson

__all__ = ["browser", "district", "screens"]  # the fixtures, used by name


def api_as(d: District, user: str) -> httpx.Client:
    r = httpx.post(f"{d.url}/api/v1/session", timeout=30,
                   json={"username": user, "password": d.made.password})
    assert r.status_code == 200, r.text
    return httpx.Client(base_url=d.url, timeout=30,
                        cookies={"kvarter_session": r.cookies["kvarter_session"]})


def everything(client: httpx.Client, path: str) -> list[dict[str, object]]:
    page = client.get(path, params={"limit": 1000}).json()
    assert page["total"] == len(page["items"])
    return list(page["items"])


def ready(s: Screen) -> None:
    s.page.wait_for_selector("body[data-ready]", timeout=30_000)


def test_a_wrong_password_gets_one_line_and_no_session(browser: Browser, district: District,
                                                       screens: list[Screen]) -> None:
    s = open_screen(browser, district, None)
    screens.append(s)
    s.page.fill("input[name=username]", "planner")
    s.page.fill("input[name=password]", "not the password at all")
    s.page.click("button[type=submit]")
    error = s.page.locator("#error")
    expect(error).to_be_visible()
    assert "wrong user name or password" in error.inner_text()
    assert s.page.url.endswith("/login")
    assert not any(c["name"] == "kvarter_session" for c in s.context.cookies())
    s.shot("login-refused")


def test_the_admin_desk_draws_every_bin_and_pole_on_the_streets(
        browser: Browser, district: District, screens: list[Screen]) -> None:
    s = open_screen(browser, district, "admin")
    screens.append(s)
    assert s.page.url.endswith("/desk")
    ready(s)
    # The map's forecast is made in a process of its own, seconds after the
    # first map: the desk asks again until it has it.
    s.page.wait_for_selector("body[data-forecast]", timeout=60_000)
    with api_as(district, "admin") as admin:
        bins = everything(admin, "/api/v1/bins")
        poles = everything(admin, "/api/v1/lights")
        alarms = everything(admin, "/api/v1/alarms")
        streets = admin.get("/api/v1/streets").json()["features"]
    page = s.page
    made = district.made.district
    assert page.locator("path.street").count() == len(streets) > 10
    assert page.locator("path.bin").count() == len(bins) == len(made.bins)
    assert page.locator("path.pole").count() == len(poles) == len(made.poles)
    # Coloured by what the API says of each: the fill, the forecast, contact.
    assert page.locator("path.bin.fill-high").count() == sum(
        1 for b in bins if b["fill_pct"] is not None and b["fill_pct"] >= 80)
    assert page.locator("path.bin.fill-none").count() == sum(
        1 for b in bins if b["fill_pct"] is None) > 0
    soon = sum(1 for b in bins if b["forecast"]["full_within_24h"])
    assert page.locator("path.bin.soon").count() == soon > 0
    offline_poles = sum(1 for p in poles if not p["online"])
    assert page.locator("path.pole.off").count() == offline_poles > 0
    assert page.locator("#count-soon b").inner_text() == str(soon)
    # Every bin alarm, and each offline pole, in the alarm list.
    assert page.locator("#alarms li").count() == len(alarms) + offline_poles
    assert page.locator("#alarms .tag.fire").count() == sum(
        1 for a in alarms if a["alarm"] == "fire") > 0
    expect(page.locator("#zones tbody tr")).to_have_count(1)
    assert not s.errors, s.errors
    s.shot("desk-admin")


def test_no_script_style_or_map_tile_comes_from_outside_the_gateway(
        browser: Browser, district: District, screens: list[Screen]) -> None:
    context = browser.new_context(viewport=chromium.DESKTOP)  # type: ignore[arg-type]
    asked: list[str] = []
    context.on("request", lambda r: asked.append(r.url))
    s = Screen(context, context.new_page())
    screens.append(s)
    s.page.goto(f"{district.url}/login")
    s.page.fill("input[name=username]", "admin")
    s.page.fill("input[name=password]", district.made.password)
    s.page.click("button[type=submit]")
    ready(s)
    assert any("/vendor/leaflet/" in u for u in asked)
    assert asked and all(u.startswith(district.url) for u in asked), [
        u for u in asked if not u.startswith(district.url)]


def test_the_operator_sees_the_poles_the_bins_and_the_zones(
        browser: Browser, district: District, screens: list[Screen]) -> None:
    s = open_screen(browser, district, "operator")
    screens.append(s)
    assert s.page.url.endswith("/desk")
    ready(s)
    made = district.made.district
    assert s.page.locator("path.pole").count() == len(made.poles)
    assert s.page.locator("path.pole.on").count() == district.made.poles_reporting
    # The control desk shows the bins beside the poles.
    assert s.page.locator("path.bin").count() == len(made.bins)
    expect(s.page.locator("#zones")).to_be_visible()
    with api_as(district, "operator") as operator:
        bins_offline = sum(1 for a in everything(operator, "/api/v1/alarms")
                           if a["alarm"] == "offline")
    expect(s.page.locator("#alarms .tag.offline")).to_have_count(
        len(made.poles) - district.made.poles_reporting + bins_offline)
    assert not s.errors, s.errors
    s.shot("desk-operator")


def test_the_planner_opens_a_bins_fill_history_as_a_chart(
        browser: Browser, district: District, screens: list[Screen]) -> None:
    s = open_screen(browser, district, "planner")
    screens.append(s)
    ready(s)
    assert s.page.locator("path.pole").count() == 0
    assert s.page.locator("path.bin").count() == len(district.made.district.bins)
    with api_as(district, "planner") as planner:
        b1 = planner.get("/api/v1/bins/B0001/reports", params={"limit": 500}).json()
        b4 = planner.get("/api/v1/bins/B0004/reports", params={"limit": 500}).json()
    # A bin's marker on the map opens its facts and its history.
    s.page.locator("path.bin[data-node=B0001]").click()
    expect(s.page.locator("#bin-id")).to_have_text("B0001")
    chart = s.page.locator("#bin-chart svg")
    expect(chart).to_have_attribute("aria-label", f"fill history, {b1['total']} reports")
    points = s.page.locator("#bin-chart polyline.fill").get_attribute("points") or ""
    assert len(points.split()) == b1["total"] > 10
    # So does its line in the alarm list.
    s.page.locator("#alarms li", has_text="B0004").first.click()
    expect(s.page.locator("#bin-id")).to_have_text("B0004")
    expect(s.page.locator("#bin-facts")).to_contain_text("fire")
    expect(chart).to_have_attribute("aria-label", f"fill history, {b4['total']} reports")
    assert not s.errors, s.errors
    s.shot("desk-planner-bin-history")


def test_a_report_reaches_the_open_desk_live(browser: Browser, district: District,
                                             screens: list[Screen]) -> None:
    s = open_screen(browser, district, "admin")
    screens.append(s)
    ready(s)
    expect(s.page.locator("header .live.on")).to_be_visible()
    # B0002 reports itself full and burning, as its node would over CoAP.
    report = codec.encode_bin_report(codec.BinReport(
        500, int(time.time()), 97.0, 60, 3600, 0, codec.BIN_FLAG_FIRE))
    stored = off_the_loop(lambda: asyncio.run(
        send_reports(district.gw.addr, [("b", "B0002", report)])))
    assert stored == 1
    expect(s.page.locator("#alarms li.new", has_text="B0002")).to_have_count(1)
    expect(s.page.locator("#alarms li.new .tag.fire")).to_have_count(1)
    assert s.page.locator("path.bin.fill-high").count() >= 1
    s.shot("desk-live-alarm")


def lora_heard(district: District) -> list[str]:
    """Two poles heard over LoRa, as the gateway's radio path stores them
    (gateway/ingest/links.py; the path itself is tested on a real pty in
    tests/gateway/radio): one close to SF12's floor, one well above SF9's.
    Written once the gateway has noted every node's Wi-Fi link, so that it
    does not write over them."""
    with api_as(district, "technician") as tech:
        wait_until("the links to be stored", lambda: all(
            n["link"] == "wifi" for n in everything(tech, "/api/v1/nodes")
            if not n["pending"]))
    poles = [p.node_id for p in district.made.district.poles[2:4]]
    now = time.time()
    with Store(district.gw.db) as store:
        store.set_links([(poles[0], "lora", -126, -72, 12, now),
                         (poles[1], "lora", -98, 8, 9, now)])
    return poles


def test_the_technician_sees_every_node_with_its_health(
        browser: Browser, district: District, screens: list[Screen]) -> None:
    weak, strong = lora_heard(district)
    s = open_screen(browser, district, "technician")
    screens.append(s)
    assert s.page.url.endswith("/nodes")
    ready(s)
    made = district.made
    total = len(made.district.bins) + len(made.district.poles)
    expect(s.page.locator("#rows tr")).to_have_count(total)
    # Nodes never heard from are pending, listed with when they were
    # registered, and not counted offline.
    silent = (len(made.district.bins) - made.bins_reporting
              + len(made.district.poles) - made.poles_reporting)
    assert s.page.locator("#rows tr.pending").count() == silent > 0
    assert s.page.locator("#rows tr.offline").count() == 0
    expect(s.page.locator("#pending-list li[data-node]")).to_have_count(silent)
    expect(s.page.locator("#pending-list li").first).to_contain_text("registered")
    expect(s.page.locator("#pending")).to_contain_text("never heard from it")
    row = s.page.locator("#rows tr[data-node=B0006]")
    expect(row).to_contain_text("3.15 V")
    expect(row).to_contain_text("online")
    expect(row.locator("td.needs")).to_have_text("low battery")
    # Signal: LoRa figures from the radio bridge; Wi-Fi, the node's own at
    # its self-test.
    lora = s.page.locator(f"#rows tr[data-node={weak}]")
    for text in ("LoRa", "-126 dBm", "-18 dB", "SF12", "weak signal"):
        expect(lora).to_contain_text(text)
    tested = next(iter(made.selftests))
    wifi = s.page.locator(f"#rows tr[data-node={tested}]")
    expect(wifi).to_contain_text("Wi-Fi")
    expect(wifi.locator("td.rssi")).to_contain_text("dBm (Wi-Fi, self-test)")
    expect(wifi).to_contain_text("3f9a2c1d4e5f")
    expect(wifi).to_contain_text("passed")
    failed = next(n for n, t in made.selftests.items() if not t.ok)
    expect(s.page.locator(f"#rows tr[data-node={failed}] td.failed")).to_contain_text(
        "failed: sensor")
    # Needs attention: exactly the nodes the API says, those first.
    with api_as(district, "technician") as tech:
        needing = {n["node_id"] for n in everything(tech, "/api/v1/nodes") if n["attention"]}
    assert {weak, failed, "B0006"} <= needing and strong not in needing
    s.page.select_option("#state", "attention")
    expect(s.page.locator("#rows tr")).to_have_count(len(needing))
    assert set(s.page.locator("#rows tr").evaluate_all(
        "rows => rows.map(r => r.dataset.node)")) == needing
    s.shot("nodes-attention")
    s.page.select_option("#state", "")
    s.page.select_option("#sort", "signal")
    expect(s.page.locator("#rows tr").first).to_have_attribute("data-node", weak)
    s.page.select_option("#sort", "attention")
    s.page.select_option("#state", "pending")
    expect(s.page.locator("#rows tr")).to_have_count(silent)
    s.page.select_option("#state", "")
    s.page.fill("#filter", "L00")
    expect(s.page.locator("#rows tr")).to_have_count(len(made.district.poles))
    assert not s.errors, s.errors
    s.page.fill("#filter", "")
    s.shot("nodes-technician")


def test_the_technician_reads_the_nodes_on_a_phone(
        browser: Browser, district: District, screens: list[Screen]) -> None:
    s = open_screen(browser, district, "technician", chromium.PHONE)
    screens.append(s)
    ready(s)
    s.page.select_option("#state", "attention")
    first = s.page.locator("#rows tr").first
    expect(first.locator("td.needs")).not_to_have_text("—")
    # One card per node, each figure with its name, nothing wider than the
    # phone: no sideways scrolling in the rain.
    assert s.page.locator("table.nodes thead").is_hidden()
    box = first.bounding_box()
    assert box is not None and box["width"] <= chromium.PHONE["width"]
    label = first.locator("td.needs").evaluate(
        "td => getComputedStyle(td, '::before').content")
    assert label == '"Needs"'
    assert s.page.evaluate("document.documentElement.scrollWidth") <= chromium.PHONE["width"]
    assert not s.errors, s.errors
    s.shot("nodes-phone")


def test_a_crew_gets_its_route_page_no_desk_and_403_from_the_zones(
        browser: Browser, district: District, screens: list[Screen]) -> None:
    s = open_screen(browser, district, "crew", chromium.PHONE)
    screens.append(s)
    assert s.page.url.endswith("/crew")
    expect(s.page.locator("header nav a")).to_have_text(["Route"])
    answer = s.page.goto(f"{district.url}/desk")
    assert answer is not None and answer.status == 403
    assert s.page.locator("#map").count() == 0
    expect(s.page.locator("h1")).to_contain_text("Not for a crew account")
    s.shot("crew-refused-desk")
    # The zones' API refuses the crew's own session, from its own browser.
    r = s.context.request.get(f"{district.url}/api/v1/zones")
    assert r.status == 403 and "crew" in r.json()["detail"]
    r = s.context.request.get(f"{district.url}/api/v1/zones/street-1")
    assert r.status == 403
    answer = s.page.goto(f"{district.url}/nodes")
    assert answer is not None and answer.status == 403


def test_logging_out_ends_the_session(browser: Browser, district: District,
                                      screens: list[Screen]) -> None:
    s = open_screen(browser, district, "planner")
    screens.append(s)
    ready(s)
    s.page.click("#logout")
    s.page.wait_for_url("**/login")
    s.page.goto(f"{district.url}/desk")
    assert "/login?next=/desk" in s.page.url
    assert s.context.request.get(f"{district.url}/api/v1/me").status == 401


@pytest.mark.parametrize("path", ["/desk", "/nodes", "/crew"])
def test_a_screen_without_a_session_goes_to_the_login(browser: Browser, district: District,
                                                      screens: list[Screen], path: str) -> None:
    s = open_screen(browser, district, None, path=path)
    screens.append(s)
    assert s.page.url.endswith(f"/login?next={path}")
    expect(s.page.locator("#login")).to_be_visible()
    assert SHOTS  # where the screenshots go


@pytest.mark.parametrize("next_page", ["//elsewhere.invalid/desk", "/\\elsewhere.invalid",
                                       "http://elsewhere.invalid/", "javascript:alert(1)"])
def test_the_login_sends_nobody_off_the_gateway(browser: Browser, district: District,
                                                screens: list[Screen], next_page: str) -> None:
    s = open_screen(browser, district, None, path=f"/login?next={next_page}")
    screens.append(s)
    s.page.fill("input[name=username]", "planner")
    s.page.fill("input[name=password]", district.made.password)
    s.page.click("button[type=submit]")
    s.page.wait_for_url(f"{district.url}/desk")
    assert not s.errors, s.errors


def test_the_map_shows_the_credit_the_streets_file_carries(
        browser: Browser, district: District, screens: list[Screen]) -> None:
    """Last in this module: it imports the streets again, with a credit."""
    s = open_screen(browser, district, "planner")
    screens.append(s)
    ready(s)
    assert s.page.locator(".leaflet-control-attribution").count() == 0
    rows = math.ceil(len(district.made.district.poles) * POLE_SPACING_M / POLE_FOLD_M)
    credited = json.loads(streets_geojson(rows))
    credited["metadata"] = {"source": "OpenStreetMap contributors <b>x</b>",
                            "license": "ODbL-1.0"}
    with Store(district.gw.db) as store:
        store.save_streets(json.dumps(credited), "screens district, credited")
    s = open_screen(browser, district, "planner")
    screens.append(s)
    ready(s)
    credit = s.page.locator(".leaflet-control-attribution")
    expect(credit).to_have_text("© OpenStreetMap contributors <b>x</b>, ODbL-1.0")
    assert credit.locator("a").get_attribute("href") == \
        "https://www.openstreetmap.org/copyright"
    assert credit.locator("b").count() == 0  # the file's text, never its markup
    assert not s.errors, s.errors
    s.shot("desk-credit")
