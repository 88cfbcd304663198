"""The crew's phone (390 x 844) in a real browser against a real gateway with
a real plan made by a planner: today's route for the account's truck, taps
kept on the phone while it has no signal, and each tap stored exactly once
in the gateway's bin visits, even when the answer to it was lost."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Route, expect
from web_support import District, Screen, browser, district, open_screen, screens

from sim import browser as chromium

__all__ = ["browser", "district", "screens"]  # the fixtures, used by name

TRUCK = "truck-1"  # the crew account's truck (sim/screens.py)


def planner(district: District) -> httpx.Client:
    """The planner's browser session, as the desk holds it."""
    r = httpx.post(f"{district.url}/api/v1/session", timeout=30,
                   json={"username": "planner", "password": district.made.password})
    assert r.status_code == 200, r.text
    return httpx.Client(base_url=district.url, timeout=120,
                        cookies={"kvarter_session": r.cookies["kvarter_session"]},
                        headers={"X-CSRF-Token": r.json()["csrf_token"]})


def make_plan(district: District, trucks: int, afresh: bool = True,
              start: str | None = None) -> dict[str, Any]:
    """A new plan for the day, every stop still to do: planned afresh (the
    district's day may be under way from other screens' tests), unless
    asked to continue it; start: the shift's start, "HH:MM" today."""
    bins = district.made.district.bins
    depot = {"lat": sum(b.lat for b in bins) / len(bins),
             "lon": sum(b.lon for b in bins) / len(bins)}
    with planner(district) as client:
        r = client.post("/api/v1/plans", json={
            "depot": depot, "trucks": trucks, "capacity_l": 20000, "shift_h": 8,
            "every_bin": True, "time_limit_s": 0.5, "afresh": afresh,
            **({"start": start} if start else {})})
    assert r.status_code == 201, r.text
    return dict(r.json())


def visits(district: District, plan_id: int) -> list[tuple[str, str, str, str]]:
    """The gateway's bin visits on a plan: (client id, bin, outcome, reason)."""
    db = sqlite3.connect(f"file:{district.gw.db}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in db.execute(  # type: ignore[misc]
            "SELECT client_id, node_id, outcome, note FROM bin_visits WHERE plan_id = ? "
            "ORDER BY id", (plan_id,))]
    finally:
        db.close()


@pytest.fixture(scope="module")
def plan(district: District) -> dict[str, Any]:
    return make_plan(district, trucks=1)


@pytest.fixture
def crew(browser: Browser, district: District, screens: list[Screen],
         plan: dict[str, Any]) -> Iterator[tuple[Screen, list[str]]]:
    """The crew's page on its route; the route's bins in order."""
    s = open_screen(browser, district, None, chromium.PHONE, path="/login")
    screens.append(s)
    s.page.fill("input[name=username]", "crew")
    s.page.fill("input[name=password]", district.made.password)
    s.page.click("button[type=submit]")
    s.page.wait_for_url("**/crew")
    s.page.wait_for_selector("body[data-ready]")
    r = s.context.request.get(f"{district.url}/api/v1/routes/today/{TRUCK}")
    assert r.status == 200, r.text()
    route = r.json()
    assert route["plan_id"] == plan["id"]
    yield s, [st["node_id"] for st in route["stops_in_order"]]


def test_the_crew_page_without_a_plan_says_so(browser: Browser, district: District,
                                              screens: list[Screen]) -> None:
    s = open_screen(browser, district, "crew", chromium.PHONE)
    screens.append(s)
    assert s.page.url.endswith("/crew")
    s.page.wait_for_selector("body[data-ready]")
    expect(s.page.locator("h1")).to_have_text(f"Today's route · {TRUCK}")
    expect(s.page.locator("#sync")).to_have_text("Every tap is recorded at the gateway.")
    expect(s.page.locator("#route-error")).to_contain_text("no plan has been made for today")
    expect(s.page.locator("#stops li")).to_have_count(0)
    # The gateway's 404 for the route is the page's message, not a script error.
    assert all("404" in e for e in s.errors), s.errors


def test_the_route_shows_each_stop_in_order_with_a_maps_link(
        crew: tuple[Screen, list[str]], plan: dict[str, Any]) -> None:
    s, bins = crew
    n = next(r["stops"] for r in plan["routes"] if r["truck"] == TRUCK)
    assert n == len(bins) >= 5, plan["routes"]
    expect(s.page.locator("#stops li")).to_have_count(n)
    expect(s.page.locator("#stops .order")).to_have_text([str(i) for i in range(1, n + 1)])
    expect(s.page.locator("#stops li").first).to_have_attribute("data-stop", bins[0])
    href = s.page.locator(f"li[data-stop={bins[0]}] a.geo").get_attribute("href")
    assert href is not None and href.startswith("geo:")
    expect(s.page.locator("#subtitle")).to_contain_text(f"{TRUCK} · plan {plan['id']}")
    expect(s.page.locator("#route-map path.stop")).to_have_count(n)
    assert not s.errors, s.errors
    s.shot("crew-route")


def test_two_taps_one_without_signal_are_recorded_exactly_once(
        crew: tuple[Screen, list[str]], district: District, plan: dict[str, Any]) -> None:
    s, bins = crew
    page, first, second = s.page, bins[0], bins[1]
    page.click(f"li[data-stop={first}] button.emptied")
    expect(page.locator(f"li[data-stop={first}]")).to_contain_text("recorded")
    # No signal: the tap is kept on the phone, shown as done, not lost.
    s.context.set_offline(True)
    page.select_option(f"li[data-stop={second}] select", "blocked by a parked car")
    page.click(f"li[data-stop={second}] button.unreachable")
    expect(page.locator("#sync")).to_have_attribute("data-waiting", "1")
    expect(page.locator(f"li[data-stop={second}]")).to_contain_text("kept on the phone")
    expect(page.locator(f"li[data-stop={second}] button")).to_have_count(0)
    assert [v[1] for v in visits(district, plan["id"])] == [first]
    page.evaluate("window.scrollTo(0, 0)")
    s.shot("crew-offline")
    # Signal again: sent, and stored once.
    s.context.set_offline(False)
    expect(page.locator("#sync")).to_have_attribute("data-waiting", "0")
    expect(page.locator(f"li[data-stop={second}]")).to_contain_text("recorded")
    stored = visits(district, plan["id"])
    assert [v[1:] for v in stored] == [(first, "emptied", ""),
                                       (second, "unreachable", "blocked by a parked car")]
    assert len({v[0] for v in stored}) == 2
    # The phone remembers after a reload, and the gateway's route agrees: nothing is sent again.
    page.reload()
    page.wait_for_selector("body[data-ready]")
    expect(page.locator(f"li[data-stop={first}]")).to_contain_text("Emptied")
    expect(page.locator("#sync")).to_have_attribute("data-waiting", "0")
    assert visits(district, plan["id"]) == stored
    route = s.context.request.get(f"{district.url}/api/v1/routes/today/{TRUCK}").json()
    status = {st["node_id"]: st["status"] for st in route["stops_in_order"]}
    assert (status[first], status[second]) == ("emptied", "unreachable")
    # The browser tells of the loads that failed without signal; nothing else.
    assert all("ERR_INTERNET_DISCONNECTED" in e for e in s.errors), s.errors


def test_a_tap_whose_answer_is_lost_is_sent_again_and_recorded_once(
        crew: tuple[Screen, list[str]], district: District, plan: dict[str, Any]) -> None:
    s, bins = crew
    stop = bins[2]
    sent: list[str] = []

    def lose_the_answer(r: Route) -> None:
        # The record reaches the gateway; its answer never reaches the phone.
        sent.append(r.request.post_data_json["id"])
        answer = r.fetch()
        assert answer.status == 201, answer.text()
        r.abort("connectionreset")

    answers: list[tuple[int, str]] = []
    s.page.on("response", lambda a: answers.append((a.status, a.request.post_data_json["id"]))
              if a.url.endswith("/api/v1/visits") else None)
    s.context.route("**/api/v1/visits", lose_the_answer, times=1)
    with s.page.expect_event("requestfailed",
                             lambda r: r.url.endswith("/api/v1/visits")):
        s.page.click(f"li[data-stop={stop}] button.emptied")
    expect(s.page.locator(f"li[data-stop={stop}]")).to_contain_text("kept on the phone")
    assert [v[1] for v in visits(district, plan["id"])].count(stop) == 1
    # The phone tries again (on coming online, as here, or every 20 s): the
    # gateway has the id already (200) and stores nothing new.
    s.context.set_offline(True)
    s.context.set_offline(False)
    expect(s.page.locator("#sync")).to_have_attribute("data-waiting", "0")
    assert answers == [(200, sent[0])]
    expect(s.page.locator(f"li[data-stop={stop}]")).to_contain_text("recorded")
    stored = [v for v in visits(district, plan["id"]) if v[1] == stop]
    assert stored == [(sent[0], stop, "emptied", "")]


def test_an_id_stored_for_another_record_is_shown_as_not_recorded(
        crew: tuple[Screen, list[str]], district: District, plan: dict[str, Any]) -> None:
    s, bins = crew
    stop, other = bins[3], bins[0]
    taken = next(v[0] for v in visits(district, plan["id"]) if v[1] == other)

    def reuse_an_id(r: Route) -> None:
        # A phone whose ids repeat (a restored backup): the gateway must say so.
        body = {**r.request.post_data_json, "id": taken}
        r.continue_(post_data=json.dumps(body))

    s.context.route("**/api/v1/visits", reuse_an_id, times=1)
    s.page.click(f"li[data-stop={stop}] button.emptied")
    line = s.page.locator(f"li[data-stop={stop}] .state-line.error")
    expect(line).to_contain_text("not recorded")
    expect(line).to_contain_text("give each record a new id")
    # Still to do: the buttons are back, and nothing was stored for it.
    expect(s.page.locator(f"li[data-stop={stop}] button.emptied")).to_have_count(1)
    expect(s.page.locator("#sync")).to_have_attribute("data-waiting", "0")
    assert stop not in [v[1] for v in visits(district, plan["id"])]


def test_a_tap_made_as_a_sync_ends_is_sent_at_once(browser: Browser, district: District,
                                                   screens: list[Screen]) -> None:
    """The phone's queue (queue.js) in the browser, with its real locks and
    storage: a tap made just after a pass of the sender has found nothing to
    send, before that pass has ended, is sent by a pass of its own, not left
    for the next retry (on the crew's page 20 s later)."""
    s = open_screen(browser, district, "crew", chromium.PHONE)
    screens.append(s)
    s.page.wait_for_selector("body[data-ready]")
    outcome = s.page.evaluate("""async () => {
      const { TapQueue } = await import("/static/js/queue.js");
      const sent = [];
      const send = async (tap) => { sent.push(tap.node_id); return { status: 201 }; };
      let queue = null;
      let late = null;
      // localStorage, with a tap made the moment the sender has looked at
      // an empty queue (the pass is still holding its lock then).
      const storage = {
        getItem(key) {
          const kept = localStorage.getItem(key);
          if (key === queue.key && queue.syncing && late === null) {
            late = Promise.resolve().then(() => {
              queue.add(1, "LATE", "emptied");
              return queue.sync(send);
            });
          }
          return kept;
        },
        setItem(key, value) { localStorage.setItem(key, value); },
      };
      queue = new TapQueue("a-tap-made-late", storage);
      const first = await queue.sync(send);
      const left = await late;
      return { first, left, sent, waiting: queue.waiting().length };
    }""")
    assert outcome == {"first": 0, "left": 0, "sent": ["LATE"], "waiting": 0}


def test_the_page_opens_without_signal_and_keeps_the_taps_made_there(
        crew: tuple[Screen, list[str]], district: District, plan: dict[str, Any]) -> None:
    s, bins = crew
    page, stop = s.page, bins[4]
    page.wait_for_selector("body[data-offline-ready]")
    before = visits(district, plan["id"])
    # A reload in a dead spot: the page, its route and its buttons are still there.
    s.context.set_offline(True)
    page.reload()
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#stops li")).to_have_count(len(bins))
    page.click(f"li[data-stop={stop}] button.emptied")
    expect(page.locator("#sync")).to_have_attribute("data-waiting", "1")
    assert visits(district, plan["id"]) == before
    s.shot("crew-reloaded-offline")
    s.context.set_offline(False)
    expect(page.locator("#sync")).to_have_attribute("data-waiting", "0")
    new = visits(district, plan["id"])[len(before):]
    assert [v[1:3] for v in new] == [(stop, "emptied")]


def test_a_new_plan_shows_on_the_phone_live(crew: tuple[Screen, list[str]],
                                            district: District, plan: dict[str, Any]) -> None:
    s, bins = crew
    expect(s.page.locator("#subtitle")).to_have_attribute("data-plan", str(plan["id"]))
    again = make_plan(district, trucks=1)
    n = next(r["stops"] for r in again["routes"] if r["truck"] == TRUCK)
    # No reload: the "route" event on the live stream brings the new route.
    expect(s.page.locator("#subtitle")).to_have_attribute("data-plan", str(again["id"]))
    expect(s.page.locator("#stops li")).to_have_count(n)
    expect(s.page.locator("#stops li.done")).to_have_count(0)  # planned afresh
    expect(s.page.locator("#route-map path.stop")).to_have_count(n)
    assert not s.errors, s.errors


def test_a_tap_kept_on_the_phone_through_a_re_plan_is_not_asked_for_again(
        browser: Browser, district: District, screens: list[Screen]) -> None:
    """A crew taps a bin while its taps cannot get through; meanwhile the
    planner plans the day again (it continues the plan the tap was made on).
    The phone shows the new route with that bin kept on the phone, not to do,
    so nobody empties it twice; once sent, the tap counts on the new route.
    Last in this module: it leaves a re-planned day behind."""
    first = make_plan(district, trucks=1)
    s = open_screen(browser, district, "crew", chromium.PHONE)
    screens.append(s)
    page = s.page
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#subtitle")).to_have_attribute("data-plan", str(first["id"]))
    stops = s.context.request.get(f"{district.url}/api/v1/routes/today/{TRUCK}").json()
    stop = stops["stops_in_order"][1]["node_id"]
    # The taps do not get through (a dead spot for posts, the live stream still up).
    s.context.route("**/api/v1/visits", lambda r: r.abort("internetdisconnected"))
    page.click(f"li[data-stop={stop}] button.emptied")
    expect(page.locator(f"li[data-stop={stop}]")).to_contain_text("kept on the phone")
    # The day planned again, under way since an hour ago (or since midnight).
    now = time.time()
    midnight = time.mktime(time.localtime(now)[:3] + (0, 0, 0, 0, 0, -1))
    started = time.strftime("%H:%M", time.localtime(max(now - 3600, midnight)))
    again = make_plan(district, trucks=1, afresh=False, start=started)
    assert again["settings"]["continues"] == first["id"], again["settings"]
    expect(page.locator("#subtitle")).to_have_attribute("data-plan", str(again["id"]))
    item = page.locator(f"li[data-stop={stop}]")
    expect(item).to_contain_text("kept on the phone")
    expect(item.locator("button")).to_have_count(0)
    # Through again: sent once, on the plan it was made on, and done on the new route.
    s.context.unroute("**/api/v1/visits")
    s.context.set_offline(True)
    s.context.set_offline(False)
    expect(page.locator("#sync")).to_have_attribute("data-waiting", "0")
    expect(item).to_contain_text("Emptied")
    expect(item.locator("button")).to_have_count(0)
    assert [v[1:3] for v in visits(district, first["id"])] == [(stop, "emptied")]
    route = s.context.request.get(f"{district.url}/api/v1/routes/today/{TRUCK}").json()
    assert route["plan_id"] == again["id"]
    assert {st["node_id"]: st["status"] for st in route["stops_in_order"]}[stop] == "emptied"
