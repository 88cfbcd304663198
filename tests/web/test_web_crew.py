"""The crew's phone (390 x 844) in a real browser against a real gateway:
its page, and taps kept on the phone while it has no signal and recorded
exactly once when it has.

The route and the stops' routes (GET /api/v1/routes/mine, POST
/api/v1/stops/{stop_id}/emptied|unreachable) are not in this gateway yet:
until they are, a stand-in in the browser answers them by their contract,
recording each client_id once as the gateway is to, and can lose the
network or an answer on the way. Everything else (the login, the page, its
scripts, the session) is the real gateway's."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, Route, expect
from web_support import District, Screen, browser, district, open_screen, screens

from sim import browser as chromium

__all__ = ["browser", "district", "screens"]  # the fixtures, used by name


@dataclass
class StandIn:
    """The route API's contract, answered in the browser."""
    route: dict[str, object]
    recorded: dict[str, dict[str, object]] = field(default_factory=dict)  # by client_id
    posts: list[str] = field(default_factory=list)  # every POST that reached it
    network_down: bool = False
    lose_next_answer: bool = False

    def routes_mine(self, r: Route) -> None:
        if self.network_down:
            r.abort("internetdisconnected")
            return
        r.fulfill(status=200, content_type="application/json", body=json.dumps(self.route))

    def stop(self, r: Route) -> None:
        if self.network_down:
            r.abort("internetdisconnected")
            return
        body = json.loads(r.request.post_data or "{}")
        stop_id, action = r.request.url.rsplit("/", 2)[-2:]
        self.posts.append(body["client_id"])
        first = body["client_id"] not in self.recorded
        if first:
            self.recorded[body["client_id"]] = {"stop_id": stop_id, "action": action,
                                                "reason": body.get("reason")}
        if self.lose_next_answer:
            self.lose_next_answer = False
            r.abort("connectionreset")  # recorded, but the phone never hears so
            return
        r.fulfill(status=201 if first else 409, content_type="application/json",
                  body=json.dumps({"client_id": body["client_id"]}))


@pytest.fixture
def crew(browser: Browser, district: District,
         screens: list[Screen]) -> Iterator[tuple[Screen, StandIn]]:
    bins = district.made.district.bins[:5]
    now = time.time()
    stand_in = StandIn({"truck": "truck-1", "stops": [
        {"stop_id": f"S{i + 1}", "bin_id": b.node_id, "order": i + 1,
         "expected_at": now + i * 600, "lat": b.lat, "lon": b.lon,
         "street": f"Gata {i + 1}", "required": i < 3, "geo": f"geo:{b.lat},{b.lon}"}
        for i, b in enumerate(bins)]})
    s = open_screen(browser, district, None, chromium.PHONE, path="/login")
    screens.append(s)
    s.context.route("**/api/v1/routes/mine", stand_in.routes_mine)
    s.context.route("**/api/v1/stops/*/*", stand_in.stop)
    s.page.fill("input[name=username]", "crew")
    s.page.fill("input[name=password]", district.made.password)
    s.page.click("button[type=submit]")
    s.page.wait_for_url("**/crew")
    s.page.wait_for_selector("body[data-ready]")
    yield s, stand_in


def test_the_crew_page_without_a_route_says_so(browser: Browser, district: District,
                                                screens: list[Screen]) -> None:
    s = open_screen(browser, district, "crew", chromium.PHONE)
    screens.append(s)
    assert s.page.url.endswith("/crew")
    s.page.wait_for_selector("body[data-ready]")
    expect(s.page.locator("h1")).to_have_text("Today's route · truck-1")
    expect(s.page.locator("#sync")).to_have_text("Every tap is recorded at the gateway.")
    assert s.page.locator("#route-error").is_visible() or s.page.locator("#stops li").count()


def test_the_route_shows_each_stop_in_order_with_a_maps_link(
        crew: tuple[Screen, StandIn]) -> None:
    s, stand_in = crew
    stops = s.page.locator("#stops li")
    expect(stops).to_have_count(5)
    expect(s.page.locator("#stops .order")).to_have_text(["1", "2", "3", "4", "5"])
    first = stand_in.route["stops"][0]  # type: ignore[index]
    assert s.page.locator("li[data-stop=S1] a.geo").get_attribute("href") == first["geo"]
    expect(s.page.locator("li.optional")).to_have_count(2)
    expect(s.page.locator("#route-map path.stop")).to_have_count(5)
    assert not s.errors, s.errors
    s.shot("crew-route", full_page=True)


def test_two_taps_one_without_signal_are_recorded_exactly_once(
        crew: tuple[Screen, StandIn]) -> None:
    s, stand_in = crew
    page = s.page
    page.click("li[data-stop=S1] button.emptied")
    expect(page.locator("li[data-stop=S1]")).to_contain_text("recorded")
    # No signal: the tap is kept on the phone, shown as done, not lost.
    s.context.set_offline(True)
    stand_in.network_down = True
    page.select_option("li[data-stop=S2] select", "blocked")
    page.click("li[data-stop=S2] button.unreachable")
    expect(page.locator("#sync")).to_have_attribute("data-waiting", "1")
    expect(page.locator("li[data-stop=S2]")).to_contain_text("kept on the phone")
    expect(page.locator("li[data-stop=S2] button")).to_have_count(0)
    s.shot("crew-offline", full_page=True)
    # Signal again: sent, once.
    stand_in.network_down = False
    s.context.set_offline(False)
    expect(page.locator("#sync")).to_have_attribute("data-waiting", "0")
    expect(page.locator("li[data-stop=S2]")).to_contain_text("recorded")
    assert sorted((r["stop_id"], r["action"], r["reason"])
                  for r in stand_in.recorded.values()) == [
        ("S1", "emptied", None), ("S2", "unreachable", "blocked")]
    assert len(stand_in.posts) == len(set(stand_in.posts)) == 2
    # The phone remembers after a reload: nothing is sent again.
    page.reload()
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("li[data-stop=S1]")).to_contain_text("Emptied")
    expect(page.locator("#sync")).to_have_attribute("data-waiting", "0")
    assert len(stand_in.posts) == 2
    # The browser tells of the loads that failed without signal; nothing else.
    assert all("ERR_INTERNET_DISCONNECTED" in e for e in s.errors), s.errors


def test_a_tap_whose_answer_is_lost_is_sent_again_and_recorded_once(
        crew: tuple[Screen, StandIn]) -> None:
    s, stand_in = crew
    stand_in.lose_next_answer = True
    s.page.click("li[data-stop=S3] button.emptied")
    expect(s.page.locator("#sync")).to_have_attribute("data-waiting", "1")
    # The phone tries again (on coming online, as here, or every 20 s).
    s.context.set_offline(True)
    s.context.set_offline(False)
    expect(s.page.locator("#sync")).to_have_attribute("data-waiting", "0")
    assert len(stand_in.posts) == 2 and len(set(stand_in.posts)) == 1
    assert len(stand_in.recorded) == 1


def test_the_page_opens_without_signal_and_keeps_the_taps_made_there(
        crew: tuple[Screen, StandIn]) -> None:
    s, stand_in = crew
    page = s.page
    page.wait_for_selector("body[data-offline-ready]")
    # A reload in a dead spot: the page, its route and its buttons are still there.
    s.context.set_offline(True)
    stand_in.network_down = True
    page.reload()
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#stops li")).to_have_count(5)
    page.click("li[data-stop=S4] button.emptied")
    expect(page.locator("#sync")).to_have_attribute("data-waiting", "1")
    assert stand_in.posts == []
    s.shot("crew-reloaded-offline", full_page=True)
    stand_in.network_down = False
    s.context.set_offline(False)
    expect(page.locator("#sync")).to_have_attribute("data-waiting", "0")
    assert [r["stop_id"] for r in stand_in.recorded.values()] == ["S4"]
    assert len(stand_in.posts) == 1
