"""The pages and their assets, mounted on the API's app. Which account asks
is told by the API (a function it hands over), so this package knows neither
sessions nor storage; which page a role may open follows the role table."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from gateway.accounts import Permission, allowed

log = logging.getLogger("gateway.web")

ASSETS = Path(__file__).parent / "assets"
# The project's npm dependencies (package.json), installed by `make setup`
# beside the package in a checkout.
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
VENDOR = {"leaflet": NODE_MODULES / "leaflet" / "dist"}

# The pages are small and change with the gateway: always asked again.
NO_STORE = {"Cache-Control": "no-store"}
# A script or style may come from the gateway alone; the map draws no tiles
# from anywhere (its base layer is the gateway's own streets).
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")


@dataclass(frozen=True)
class Screen:
    path: str
    file: str
    title: str
    # Any one of these lets a role open the page.
    needs: tuple[Permission, ...]


SCREENS = (
    Screen("/desk", "desk.html", "the operator's and planner's desk",
           (Permission.BINS_READ, Permission.LIGHTS_READ)),
    Screen("/nodes", "nodes.html", "the technician's nodes", (Permission.NODES_READ,)),
    Screen("/crew", "crew.html", "the crew's route", (Permission.ROUTES_READ_OWN,)),
)
BY_PATH = {s.path: s for s in SCREENS}


def may_open(role: str, screen: Screen) -> bool:
    return any(allowed(role, p) for p in screen.needs)


def home(role: str) -> str:
    """The page a role lands on after logging in."""
    if role == "crew":
        return "/crew"
    if role == "technician":
        return "/nodes"
    return "/desk" if may_open(role, BY_PATH["/desk"]) else "/nodes"


def screens_for(role: str) -> list[Screen]:
    return [s for s in SCREENS if may_open(role, s)]


# Who is logged in: the account's role, or None (no session, or it ended).
WhoAmI = Callable[[Request], str | None]


def _page(name: str) -> FileResponse:
    return FileResponse(ASSETS / name, media_type="text/html; charset=utf-8",
                        headers={**NO_STORE, "Content-Security-Policy": CSP})


def _refused(role: str, screen: Screen) -> HTMLResponse:
    links = "".join(f'<li><a href="{s.path}">{escape(s.title)}</a></li>'
                    for s in screens_for(role))
    body = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>Not for this account - kvarter</title>'
            f'<link rel="stylesheet" href="/static/base.css"></head>'
            f'<body class="refused"><main><h1>Not for a {escape(role)} account</h1>'
            f'<p>{escape(screen.title.capitalize())} is not open to a {escape(role)} '
            f'account; ask an administrator for an account with that role.</p>'
            f'<ul>{links}</ul><p><a href="/login">Log in as someone else</a></p></main>'
            f'</body></html>')
    return HTMLResponse(body, status_code=403,
                        headers={**NO_STORE, "Content-Security-Policy": CSP})


def install(app: FastAPI, whoami: WhoAmI) -> None:
    """The pages at /, /login and each screen's path; the app's own assets
    under /static, the npm libraries under /vendor/<name>."""
    for name, folder in VENDOR.items():
        if not folder.is_dir():
            log.warning("web app: %s is missing (%s); the map cannot be drawn: run "
                        "`make setup`", name, folder)
        app.mount(f"/vendor/{name}", StaticFiles(directory=folder, check_dir=False),
                  name=f"vendor-{name}")
    app.mount("/static", StaticFiles(directory=ASSETS), name="static")

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> Response:
        role = whoami(request)
        return RedirectResponse("/login" if role is None else home(role), status_code=303)

    @app.get("/sw.js", include_in_schema=False)
    def service_worker() -> Response:
        # At the root, so that it may keep the crew's page (/crew) too.
        return FileResponse(ASSETS / "sw.js", media_type="text/javascript",
                            headers={"Cache-Control": "no-cache"})

    @app.get("/login", include_in_schema=False)
    def login_page() -> Response:
        return _page("login.html")

    def screen_route(screen: Screen) -> Callable[[Request], Response]:
        def show(request: Request) -> Response:
            role = whoami(request)
            if role is None:
                return RedirectResponse(f"/login?next={screen.path}", status_code=303)
            if not may_open(role, screen):
                return _refused(role, screen)
            return _page(screen.file)
        return show

    for screen in SCREENS:
        app.add_api_route(screen.path, screen_route(screen), methods=["GET"],
                          include_in_schema=False)
