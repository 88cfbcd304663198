"""The zone editor on the desk in a real browser (Debian's Chromium under
Playwright) against a real gateway: the operator's invalid change refused
with the gateway's one-line reason, a valid one with its energy effect
before it is saved, saved, pushed to poles running the light node firmware
with each pole's acknowledgement and running revision; energy per zone per
night against full and the oracle; no editor for a planner or a crew."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from lightkit import RealPole, register_keyed
from playwright.sync_api import Browser, expect
from web_support import (
    District,
    Screen,
    browser,
    district,
    off_the_loop,
    open_screen,
    screens,
)

from firmware import codec
from firmware.lighting import payload as light_codec
from gateway.records import Node, PresenceRecord, StatusRecord
from gateway.storage.store import Store
from sim import browser as chromium
from sim.district import DEFAULT_CENTRE, node_key, offset

__all__ = ["browser", "district", "screens"]  # the fixtures, used by name

ZONE = "park"
POLES = ("P1", "P2", "P3")  # P3 is registered and never heard from
# Tall enough for the editor, its poles and the energy table beside the map.
TALL = {"width": 1280, "height": 1300}
HOUR = 3600


def api_as(d: District, user: str) -> httpx.Client:
    r = httpx.post(f"{d.url}/api/v1/session", timeout=30,
                   json={"username": user, "password": d.made.password})
    assert r.status_code == 200, r.text
    return httpx.Client(base_url=d.url, timeout=30,
                        headers={"X-CSRF-Token": r.json()["csrf_token"]},
                        cookies={"kvarter_session": r.cookies["kvarter_session"]})


def history(now: float) -> list[StatusRecord | PresenceRecord]:
    """Three days of the park's poles: a status every half hour whose energy
    counter rises while the lamps are lit (local evening to morning), and
    someone passing each pole a few times an evening."""
    out: list[StatusRecord | PresenceRecord] = []
    start = (int(now) // HOUR - 3 * 24) * HOUR
    for k, pid in enumerate(POLES[:2]):
        energy_dwh, seq = 1000 * (k + 1), 0
        for t in range(start, int(now) - HOUR, HOUR // 2):
            hour = time.gmtime(t).tm_hour
            lit = hour >= 15 or hour < 7
            if lit:
                energy_dwh += 40 * 10 * (25 if hour % 3 else 60) // 100 // 2  # 40 W at 25-60 %
            seq += 1
            out.append(StatusRecord(pid, light_codec.Status(
                seq, t, 25 if lit else 0, energy_dwh, light_codec.STATUS_NIGHT if lit else 0), t))
            if lit and hour in (16, 17, 18) and t % HOUR == 0:
                for walker in range(3):
                    at = t + walker * 600 + k * 20
                    out.append(PresenceRecord(pid, codec.PresenceEvent(
                        seq * 10 + walker, at, 1, 100, 1.4), at))
    return out


@pytest.fixture(scope="module")
def park(district: District) -> Iterator[list[RealPole]]:
    """Three poles of zone "park" on a street of the district, keyed as
    provisioning keys them; two run the light node firmware."""
    gw = district.gw
    lat0, lon0 = DEFAULT_CENTRE
    nodes = []
    for i, pid in enumerate(POLES):
        lat, lon = offset(lat0, lon0, -200.0 + 30 * i, 0.0)
        nodes.append(Node(pid, "light", lat, lon, ZONE, 201 + i, node_key(pid)))
    kids = off_the_loop(lambda: register_keyed(gw, *nodes))
    with Store(gw.db) as store:
        store.insert(history(time.time()))
    real = [RealPole(pid, gw, 201 + i, kids[pid]) for i, pid in enumerate(POLES[:2])]
    try:
        for p in real:
            p.status()  # the gateway learns where each is
        for p in real:
            p.wait(lambda n: n.zone_key is not None)  # the gateway's key push is through
        yield real
    finally:
        for p in real:
            p.close()


def ready(s: Screen) -> None:
    s.page.wait_for_selector("body[data-ready]", timeout=30_000)


def kwh(text: str, label: str) -> float:
    m = re.search(r"([\d.]+) kWh " + label, text)
    assert m, text
    return float(m.group(1))


def test_the_operator_changes_a_zone_sees_its_effect_saves_and_pushes_it(
        browser: Browser, district: District, park: list[RealPole],
        screens: list[Screen]) -> None:
    s = open_screen(browser, district, "operator", TALL)
    screens.append(s)
    ready(s)
    page = s.page
    editor = page.locator("#zone-editor")
    expect(editor).to_be_hidden()
    page.locator(f"#zones tr[data-zone={ZONE}] button").click()
    expect(editor).to_be_visible()
    expect(page.locator("#zone-revision")).to_contain_text("revision 0")
    # Its poles as the gateway knows them, before anything is pushed.
    expect(page.locator("#zone-poles li")).to_have_count(3)
    expect(page.locator("#zone-poles li[data-node=P3]")).to_contain_text("offline")
    # The key push gave the running poles the zone's defaults (revision 0).
    expect(page.locator("#zone-poles li[data-node=P1] .running")).to_have_text(
        "running revision 0")
    expect(page.locator("#zone-poles li[data-node=P3] .running")).to_have_text(
        "no revision acknowledged")

    # An invalid change: the gateway's own one-line reason, nothing to save.
    with api_as(district, "operator") as op:
        reason = op.post(f"/api/v1/zones/{ZONE}/check", json={"idle_pct": 120}).json()["detail"]
    page.fill("#zone-form input[name=idle_pct]", "120")
    page.click("#zone-check")
    shown = page.locator("#zone-reason")
    expect(shown).to_have_text(reason)
    assert "\n" not in reason and reason.startswith(f"zone {ZONE}: ")
    expect(page.locator("#zone-save")).to_be_disabled()
    # A number that is not one is told as plainly, before asking the gateway.
    page.fill("#zone-form input[name=idle_pct]", "ten")
    page.click("#zone-check")
    expect(shown).to_contain_text('Idle %: "ten" is not a whole number')
    s.shot("desk-zone-invalid")

    # A valid change: what changes, and its energy effect before saving.
    page.fill("#zone-form input[name=idle_pct]", "10")
    page.fill("#zone-form input[name=active_pct]", "80")
    page.click("#zone-check")
    line = page.locator("#zone-effect-line")
    expect(line).to_be_visible()
    expect(shown).to_be_hidden()
    expect(page.locator("#zone-effect ul.changes li")).to_have_text(
        ["idle 20 % → 10 %", "active 100 % → 80 %"])
    with api_as(district, "operator") as op:
        effect = op.post(f"/api/v1/zones/{ZONE}/effect", params={"days": 7},
                         json={"idle_pct": 10, "active_pct": 80}).json()
        assert op.get(f"/api/v1/zones/{ZONE}").json()["revision"] == 0  # nothing saved yet
    text = line.inner_text()
    assert effect["events"] > 0 and effect["change_kwh"] < 0
    assert f"{effect['events']} presence events" in text
    assert abs(kwh(text, "now") - effect["now_kwh"]) <= 0.01
    assert abs(kwh(text, "with the change") - effect["proposed_kwh"]) <= 0.01
    expect(line).to_have_class("saves")

    # Saved, with the operator's name in the zone's log.
    page.click("#zone-save")
    expect(page.locator("#zone-saved")).to_contain_text("Saved as revision 1")
    expect(page.locator("#zone-revision")).to_have_text("revision 1")
    expect(page.locator(f"#zones tr[data-zone={ZONE}] td").nth(1)).to_have_text("1")
    with api_as(district, "operator") as op:
        log = op.get(f"/api/v1/zones/{ZONE}/log").json()["items"]
    assert {(e["who"], e["revision"], e["setting"]) for e in log} == {
        ("operator", 1, "idle"), ("operator", 1, "active")}

    # Pushed to the poles: each one's own answer and the revision it runs.
    page.click("#zone-push")
    expect(page.locator("#zone-push-summary")).to_have_text(
        "2 of 3 poles acknowledged revision 1", timeout=30_000)
    for pid in POLES[:2]:
        row = page.locator(f"#zone-poles li[data-node={pid}]")
        expect(row).to_have_class("ack")
        expect(row.locator(".outcome")).to_have_text("acknowledged")
        expect(row.locator(".running")).to_have_text("running revision 1")
    p3 = page.locator("#zone-poles li[data-node=P3]")
    expect(p3).to_have_class("no-ack")
    expect(p3.locator(".outcome")).to_contain_text("never heard from")
    expect(p3.locator(".running")).to_have_text("no revision acknowledged")
    # The firmware runs what the operator saved.
    for p in park:
        with p.lock:
            profile = p.node.profile
        assert (profile.idle_pct, profile.active_pct, profile.revision) == (10, 80, 1)
    # The browser logs the refused check's answer; nothing else went wrong.
    assert [e for e in s.errors if "status of 422" not in e] == [], s.errors
    assert len(s.errors) == 1, s.errors
    page.locator("#zone-editor").scroll_into_view_if_needed()
    s.shot("desk-zone-editor")


def test_the_desk_shows_energy_per_zone_per_night_against_full_and_the_oracle(
        browser: Browser, district: District, park: list[RealPole],
        screens: list[Screen]) -> None:
    s = open_screen(browser, district, "admin", TALL)
    screens.append(s)
    ready(s)
    with api_as(district, "admin") as admin:
        nights = admin.get("/api/v1/energy", params={"nights": 7}).json()
    measured = [n for n in nights if n["zone"] == ZONE and n["poles_reporting"]]
    assert len(measured) >= 2 and any(n["complete"] for n in measured), measured
    table = s.page.locator("#energy")
    expect(table).to_be_visible()
    expect(table.locator("tr.zone-head")).to_have_text(
        [f"zone {z}" for z in sorted({n["zone"] for n in nights})])
    for n in measured:
        cells = table.locator(f"tr[data-zone={ZONE}][data-night='{n['night']}'] td")
        expect(cells.nth(1)).to_have_text(f"{n['measured_wh'] / 1000:.2f}")
        if not n["complete"]:
            # Tonight's full and oracle figures grow while the night goes on:
            # the page read them a moment before this test did.
            for i, shape in ((2, r"\d+\.\d\d"), (3, r"\d+\.\d\d"), (4, r"(\d+ %|—)"),
                             (5, r"(\d+\.\d\d×|—)")):
                expect(cells.nth(i)).to_have_text(re.compile(rf"^{shape}$"))
            continue
        expect(cells.nth(2)).to_have_text(f"{n['full_wh'] / 1000:.2f}")
        expect(cells.nth(3)).to_have_text(f"{n['oracle_wh'] / 1000:.2f}")
        saving, ratio = n["saving_pct"], n["oracle_ratio"]
        expect(cells.nth(4)).to_have_text("—" if saving is None else f"{saving:.0f} %")
        expect(cells.nth(5)).to_have_text("—" if ratio is None else f"{ratio:.2f}×")
    assert any(n["saving_pct"] and n["oracle_ratio"] for n in measured), measured
    # Only nights with figures; the district's own poles reported once each.
    expect(table.locator(f"tr[data-zone={ZONE}][data-night]")).to_have_count(len(measured))
    expect(table.locator("tr.empty[data-zone=street-1]")).to_have_text(
        "no pole reported twice in a night of the last 7")
    assert not s.errors, s.errors
    table.scroll_into_view_if_needed()
    s.shot("desk-zone-energy")


def test_a_planner_and_a_crew_get_no_zone_editor(
        browser: Browser, district: District, screens: list[Screen]) -> None:
    s = open_screen(browser, district, "planner")
    screens.append(s)
    ready(s)
    for part in ("#zones", "#zone-editor", "#energy"):
        expect(s.page.locator(part)).to_be_hidden()
    assert s.page.locator("#zones button").count() == 0
    # Nor may its session change a zone by hand, token and all.
    with api_as(district, "planner") as planner:
        assert planner.post(f"/api/v1/zones/{ZONE}/check", json={"idle_pct": 5}).status_code == 403
        assert planner.patch(f"/api/v1/zones/{ZONE}", json={"idle_pct": 5}).status_code == 403
    assert not s.errors, s.errors
    crew = open_screen(browser, district, "crew", chromium.PHONE)
    screens.append(crew)
    answer = crew.page.goto(f"{district.url}/desk")
    assert answer is not None and answer.status == 403
    assert crew.page.locator("#zone-editor").count() == 0
    for path in (f"/api/v1/zones/{ZONE}", "/api/v1/energy"):
        r = crew.context.request.get(f"{district.url}{path}")
        assert r.status == 403 and "crew" in r.json()["detail"], path
