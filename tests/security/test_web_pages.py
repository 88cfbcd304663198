"""Attacks on the web app's pages over real HTTP against a real gateway: every
page forbids scripts, styles and connections from anywhere but the gateway;
a path that climbs out of the assets finds nothing; a forged or ended
session opens no screen; a role opens only the screens its table allows."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from conftest import RunningGateway, launch_gateway

from sim.screens import PASSWORD, make_accounts


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    gateway = launch_gateway(tmp_path_factory.mktemp("pages"))
    try:
        make_accounts(gateway.db)
        yield gateway
    finally:
        gateway.stop()


def session(gw: RunningGateway, user: str) -> httpx.Client:
    r = httpx.post(f"{gw.http_url}/api/v1/session", timeout=30,
                   json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return httpx.Client(base_url=gw.http_url, timeout=30,
                        cookies={"kvarter_session": r.cookies["kvarter_session"]})


def test_every_page_allows_nothing_but_the_gateway(gw: RunningGateway) -> None:
    with session(gw, "admin") as admin:
        for path in ("/login", "/desk", "/nodes"):
            r = admin.get(path)
            assert r.status_code == 200, path
            csp = r.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "script-src 'self'" in csp
            assert "frame-ancestors 'none'" in csp and "unsafe" not in csp
            assert r.headers["cache-control"] == "no-store"
            assert "http://" not in r.text and "https://" not in r.text


@pytest.mark.parametrize("path", [
    "/static/../site.py", "/static/%2e%2e/site.py", "/static/..%2fsite.py",
    "/static/js/../../site.py", "/vendor/leaflet/../../../package.json",
    "/vendor/leaflet/%2e%2e/%2e%2e/%2e%2e/pyproject.toml", "/static//etc/passwd",
])
def test_no_path_climbs_out_of_the_assets(gw: RunningGateway, path: str) -> None:
    r = httpx.get(f"{gw.http_url}{path}", timeout=30)
    assert r.status_code == 404, (path, r.status_code)
    assert "import" not in r.text and "root:" not in r.text


def test_a_forged_or_ended_session_opens_no_screen(gw: RunningGateway) -> None:
    forged = httpx.Client(base_url=gw.http_url, timeout=30,
                          cookies={"kvarter_session": "not-a-session"})
    for path in ("/desk", "/nodes", "/crew"):
        r = forged.get(path)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"
    planner = session(gw, "planner")
    assert planner.get("/desk").status_code == 200
    r = planner.delete("/api/v1/session", headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403  # a logout too needs the session's CSRF token
    assert planner.get("/desk").status_code == 200
    csrf = planner.get("/api/v1/me").json()["csrf_token"]
    assert planner.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert planner.get("/desk").status_code == 303


@pytest.mark.parametrize("user, opens", [
    ("admin", {"/desk", "/nodes"}), ("operator", {"/desk", "/nodes"}),
    ("planner", {"/desk", "/nodes"}), ("technician", {"/desk", "/nodes"}),
    ("crew", {"/crew"}),
])
def test_each_role_opens_the_screens_of_its_table_only(gw: RunningGateway, user: str,
                                                       opens: set[str]) -> None:
    with session(gw, user) as who:
        for path in ("/desk", "/nodes", "/crew"):
            r = who.get(path)
            assert r.status_code == (200 if path in opens else 403), (user, path)
            if r.status_code == 403:
                assert f"Not for a {user} account" in r.text and "<script" not in r.text


def test_the_root_sends_each_account_to_its_own_screen(gw: RunningGateway) -> None:
    assert httpx.get(f"{gw.http_url}/", timeout=30).headers["location"] == "/login"
    for user, home in (("admin", "/desk"), ("operator", "/desk"), ("planner", "/desk"),
                       ("technician", "/nodes"), ("crew", "/crew")):
        with session(gw, user) as who:
            assert who.get("/").headers["location"] == home, user
