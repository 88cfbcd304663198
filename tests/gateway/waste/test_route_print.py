"""The route sheets in a real browser (Debian's Chromium driven by
Playwright): printed to A4 PDF they take at most one page per 30 stops of a
truck, and on a phone 390 px wide nothing runs off the screen. The plans are
city-sized: five trucks and 1,375 stops over a town about 8 km across, on a
grid of streets, as Gävle's bins give."""

from __future__ import annotations

import math
import os
import random
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from gateway.waste.route_sheets import PART_STOPS, MapStreet, route_sheets_html
from gateway.waste.routing import RoutePlan, Stop, Truck, TruckRoute, Unserved
from sim import browser as chromium

ROOT = Path(__file__).resolve().parents[3]
SHOTS = Path(os.environ.get("KVARTER_TEST_OUTPUT", ROOT / "build" / "test-output")) / "sheets"
DEPOT = (60.6749, 17.1413)
M_PER_DEG = 111_320.0
KINDS = ["Big Belly källsorteringskärl", "Hags - Rosen", "Byarum", "Hags - Bermuda 60 L"]
STREETS = ["Drottninggatan", "Nygatan", "Kungsgatan", "Norra Kopparslagargatan",
           "Södra Skeppsbrogatan", "Ruddammsgatan", "Hamntorget", "Stortorget"]
LEAVE = datetime(2026, 9, 21, 7, 0)


def at(north_m: float, east_m: float) -> tuple[float, float]:
    return (DEPOT[0] + north_m / M_PER_DEG,
            DEPOT[1] + east_m / (M_PER_DEG * math.cos(math.radians(DEPOT[0]))))


def grid_streets(half_m: float = 4000, every_m: float = 250) -> list[MapStreet]:
    lines = []
    k = int(half_m // every_m)
    for i in range(-k, k + 1):
        lines.append(MapStreet((at(i * every_m, -half_m), at(i * every_m, half_m)), i % 4 == 0))
        lines.append(MapStreet((at(-half_m, i * every_m), at(half_m, i * every_m)), True))
    return lines


def truck_route(name: str, stops: list[Stop], speed_ms: float = 25 / 3.6) -> TruckRoute:
    """A route through the stops in the order given, measured as the planner
    measures it (straight line times 1.3 at town speed)."""
    points = [DEPOT, *((s.lat, s.lon) for s in stops), DEPOT]
    legs = []
    for (a, b), (c, d) in zip(points, points[1:], strict=False):
        metres = 1.3 * math.hypot((c - a) * M_PER_DEG,
                                  (d - b) * M_PER_DEG * math.cos(math.radians(a)))
        legs.append(round(metres / speed_ms))
    dist = round(sum(legs) * speed_ms)
    return TruckRoute(Truck(name, 60_000, 10 * 3600), tuple(stops), dist, sum(legs),
                      sum(s.service_s for s in stops), sum(s.litres for s in stops),
                      tuple(legs))


def city_plan(trucks: int = 5, stops: int = 1375, seed: int = 7) -> RoutePlan:
    """Stops spread over the town as a city's bins are (dense in the middle),
    each truck a sector of it, visited by angle then distance: routes that
    cross the centre, where labels pile up."""
    rnd = random.Random(seed)
    made = []
    for i in range(stops):
        r = 3800 * rnd.random() ** 1.6
        a = rnd.uniform(0, 2 * math.pi)
        lat, lon = at(r * math.sin(a), r * math.cos(a))
        note = ("unreachable 2026-09-20 09:40: blocked by a parked car"
                if i % 97 == 0 else "")
        address = (f"{rnd.choice(STREETS)} {rnd.randint(1, 60)}" if i % 3 else
                   f"{rnd.choice(STREETS)}, 40 m from {rnd.choice(STREETS)}")
        made.append((a, r, Stop(f"G{i + 1:04d}", lat, lon, 70, required=i % 5 != 0,
                                kind=KINDS[i % len(KINDS)], expected_fill_pct=40 + i % 60,
                                address=address, note=note)))
    made.sort(key=lambda t: t[0])
    per = math.ceil(stops / trucks)
    routes = []
    for k in range(trucks):
        mine = made[k * per:(k + 1) * per]
        mine.sort(key=lambda t: (round(t[0] * 8 / (2 * math.pi / trucks)), t[1]))
        routes.append(truck_route(f"truck-{k + 1}", [s for *_, s in mine]))
    left = Stop("G9999", *at(3900, 3900), 70, kind="Byarum", address="Nygatan 1")
    return RoutePlan(DEPOT, routes, [Unserved(left, "no time: the shifts are full")])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = chromium.launch(p)
        try:
            yield b
        finally:
            b.close()


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF, counted from its page objects (Chromium writes them
    uncompressed), checked against the page tree's own count."""
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
    counts = [int(c) for c in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data)]
    counts += [int(c) for c in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", data)]
    assert pages > 0 and (not counts or max(counts) == pages), (pages, counts)
    return pages


def printed_pages(browser: Browser, html: str) -> int:
    page = browser.new_page()
    try:
        page.set_content(html, wait_until="load")
        return pdf_pages(page.pdf(format="A4", prefer_css_page_size=True))
    finally:
        page.close()


def pages_per_truck(browser: Browser, plan: RoutePlan) -> list[int]:
    """Each truck's sheets printed alone (a truck starts on a page of its own,
    so their sum is the whole plan's)."""
    return [printed_pages(browser, route_sheets_html(
        RoutePlan(plan.depot, [r]), "2026-09-21", "Gävle", streets=grid_streets(),
        leave_at=LEAVE)) for r in plan.routes]


def test_a_city_plan_prints_at_most_one_page_per_30_stops(browser: Browser) -> None:
    plan = city_plan()
    assert plan.stops_served == 1375
    per_truck = pages_per_truck(browser, plan)
    for r, pages in zip(plan.routes, per_truck, strict=True):
        assert pages <= math.ceil(len(r.stops) / PART_STOPS), (r.truck.name, pages)
    whole = printed_pages(browser, route_sheets_html(plan, "2026-09-21", "Gävle",
                                                     streets=grid_streets(), leave_at=LEAVE))
    # The bins left out take a page of their own at the end.
    assert whole == sum(per_truck) + 1 <= 5 * math.ceil(275 / PART_STOPS) + 1


@pytest.mark.parametrize("stops", [1, 29, 30, 31, 60])
def test_a_small_route_prints_on_as_few_pages(browser: Browser, stops: int) -> None:
    plan = city_plan(trucks=1, stops=stops, seed=stops)
    [pages] = pages_per_truck(browser, plan)
    assert pages == math.ceil(stops / PART_STOPS)


def phone(browser: Browser, html: str) -> Page:
    context = browser.new_context(viewport=chromium.PHONE)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_content(html, wait_until="load")
    return page


def test_on_a_phone_every_stop_is_a_card_within_the_screen(browser: Browser) -> None:
    plan = city_plan(trucks=2, stops=90)
    html = route_sheets_html(plan, "2026-09-21", "Gävle", streets=grid_streets(),
                             leave_at=LEAVE)
    page = phone(browser, html)
    try:
        width = chromium.PHONE["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.evaluate("document.body.scrollWidth") <= width
        rows = page.locator("tbody tr")
        assert rows.count() == 91  # the stops, and the bin left out
        # A card: its order, time, must/if time, place, bin, type and fill,
        # each readable (not shrunk) and inside the screen.
        first = rows.nth(0)
        text = first.inner_text()
        assert re.match(r"1\s+07:\d\d\s+(● must|○ if time)", text), text
        for cell in ("td.n", "td.t", "td.m", "td.p", "td.b", "td.k", "td.f"):
            box = first.locator(cell).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, cell
            size = first.locator(cell).evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
            assert size >= 13, (cell, size)
        noted = page.locator("tr", has_text="blocked by a parked car").first
        assert "⚠ unreachable" in noted.inner_text()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "route-sheet-phone.png"))
    finally:
        page.context.close()


def test_the_overview_labels_never_cover_each_other(browser: Browser) -> None:
    plan = city_plan()
    html = route_sheets_html(RoutePlan(plan.depot, plan.routes[:1]), "2026-09-21", "Gävle",
                             streets=grid_streets(), leave_at=LEAVE)
    page = browser.new_page()
    try:
        page.set_content(html, wait_until="load")
        overview = page.locator("figure.whole svg").first
        boxes = [b for b in (t.bounding_box() for t in overview.locator("text.cluster").all())
                 if b is not None]
        assert len(boxes) >= 10
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                apart = (a["x"] + a["width"] <= b["x"] + 0.5 or b["x"] + b["width"] <= a["x"] + 0.5
                         or a["y"] + a["height"] <= b["y"] + 0.5
                         or b["y"] + b["height"] <= a["y"] + 0.5)
                assert apart, (a, b)
        labels = overview.locator("text.cluster").all_text_contents()
        assert any("–" in t for t in labels)  # nearby stops merged
    finally:
        page.close()
