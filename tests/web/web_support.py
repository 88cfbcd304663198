"""The web app in a real browser: Debian's Chromium driven by Playwright
against a real gateway process serving a district (sim/screens.py) with an
account of every role. Each test saves screenshots of what it saw under
build/test-output/web (KVARTER_TEST_OUTPUT to put them elsewhere)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
from conftest import RunningGateway, launch_gateway
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from sim import browser as chromium
from sim.screens import ScreensDistrict, populate

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("KVARTER_TEST_OUTPUT", ROOT / "build" / "test-output")) / "web"


@dataclass
class District:
    gw: RunningGateway
    made: ScreensDistrict

    @property
    def url(self) -> str:
        return self.gw.http_url


@dataclass
class Screen:
    """A logged-in page, and every error its scripts met."""
    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)

    def shot(self, name: str, full_page: bool = False) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


# The name people know the district by, on every screen's bar and the desk.
DISTRICT_NAME = "Östra Norrmalm"


# Per test module: Playwright's sync API holds an event loop in the test
# thread while its browser is open, and one such loop at a time.
@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[District]:
    where = tmp_path_factory.mktemp("web")
    config = where / "gateway.toml"
    config.write_text(f'[gateway]\ndistrict_name = "{DISTRICT_NAME}"\n')
    gw = launch_gateway(where, "--config", str(config))
    try:
        yield District(gw, populate(gw.db, gw.addr))
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def browser(district: District) -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread from here on:
    # the district (whose set-up runs asyncio) is made first.
    with sync_playwright() as p:
        b = chromium.launch(p)
        try:
            yield b
        finally:
            b.close()


def off_the_loop(work: Callable[[], T]) -> T:
    """Work that runs asyncio itself (a node's report over CoAP), in a thread
    of its own: Playwright's loop holds the test's thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result(timeout=60)


def open_screen(browser: Browser, district: District, user: str | None,
                viewport: dict[str, int] = chromium.DESKTOP, path: str = "/") -> Screen:
    """A fresh browser context; logged in as `user` through the login page
    (as a person would), landing where the gateway sends that account."""
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = context.new_page()
    screen = Screen(context, page)

    def console(m: ConsoleMessage) -> None:
        # No plan made for today yet is the API's 404, which the desk shows
        # as such; Chromium logs every answer that is not 2xx all the same.
        no_plan = "404" in m.text and m.location.get("url", "").endswith("/api/v1/plans/today")
        if m.type == "error" and not no_plan:
            screen.errors.append(m.text)

    page.on("console", console)
    page.on("pageerror", lambda e: screen.errors.append(str(e)))
    page.goto(district.url + path)
    if user is not None:
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", district.made.password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
    return screen


@pytest.fixture
def screens(browser: Browser) -> Iterator[list[Screen]]:
    """Screens a test opens, closed after it."""
    opened: list[Screen] = []
    yield opened
    for s in opened:
        s.context.close()
