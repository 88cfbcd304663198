"""The web app's screens in Chromium (Debian's, driven by Playwright) against
a real gateway serving a district: each screen's first contentful paint, the
median of several loads after a first one that warms the gateway's caches,
and how long the desk takes to draw its whole map."""

from __future__ import annotations

import statistics
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.report import line
from sim import browser as chromium
from sim.gateway_process import start_gateway_on_free_ports, stop_gateway
from sim.screens import PASSWORD, populate

LOADS = 7
BINS = 400
LIGHTS = 120
# (screen, account, viewport)
SCREENS = [("login", None, chromium.DESKTOP), ("desk", "admin", chromium.DESKTOP),
           ("nodes", "technician", chromium.DESKTOP), ("crew", "crew", chromium.PHONE)]

_FCP = ("() => { const e = performance.getEntriesByName('first-contentful-paint')[0];"
        " return e ? e.startTime : null; }")
_READY = ("() => performance.getEntriesByName('desk-ready')[0]?.startTime ?? null")


def _measure(url: str) -> list[str]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = chromium.launch(p)
        try:
            drawn: list[float] = []
            for name, user, viewport in SCREENS:
                paints = []
                for i in range(LOADS + 1):
                    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
                    if user is not None:
                        r = context.request.post(f"{url}/api/v1/session",
                                                 data={"username": user, "password": PASSWORD})
                        assert r.ok, r.text()
                    page = context.new_page()
                    page.goto(f"{url}/{name}", wait_until="load")
                    if user is not None:
                        page.wait_for_selector("body[data-ready]", timeout=60_000)
                    fcp = page.evaluate(_FCP)
                    if name == "desk":
                        ready = page.evaluate(_READY)
                        if i and ready is not None:
                            drawn.append(float(ready))
                    context.close()
                    if i and fcp is not None:  # the first load warms up
                        paints.append(float(fcp))
                if not paints:
                    raise RuntimeError(f"Chromium reported no first contentful paint for "
                                       f"the {name} screen")
                out.append(line(f"web.fcp_{name}", statistics.median(paints), "ms", "<", 1000))
            out.append(line("web.desk_map_drawn", statistics.median(drawn), "ms", "<", 3000))
        finally:
            browser.close()
    return out


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "gateway.sqlite"
        # The district's nodes have no keys and report unprotected (as the
        # tests' do): the screens' speed is measured, not OSCORE's.
        started = start_gateway_on_free_ports(db, "--oscore", "optional")
        gateway, port, http = started.proc, started.port, started.http_port
        try:
            populate(db, ("127.0.0.1", port), bins=BINS, lights=LIGHTS)
            # Playwright's sync API wants a thread with no event loop of its own.
            with ThreadPoolExecutor(1) as pool:
                return pool.submit(_measure, f"http://127.0.0.1:{http}").result()
        finally:
            stop_gateway(gateway)
