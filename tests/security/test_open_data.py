"""The open data (NGSI-LD, and the daily files) answers anyone on the network
without an account: what an attacker can try there. The nodes' keys never
come out, a closed type is not reached by id, pattern or paging, a query
built to make the gateway work hard is refused before any work, a file name
never reaches another file, and days far off are refused."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import httpx
import pytest
from conftest import RunningGateway, launch_gateway

from gateway.records import Node
from sim.screens import ACCOUNTS, PASSWORD, make_accounts

NGSI = "/ngsi-ld/v1"
KEYS = {f"B{i:04d}": secrets.token_hex(16) for i in range(1, 6)} | {
    f"L{i:04d}": secrets.token_hex(16) for i in range(1, 4)}
NODES = [Node(n, "bin" if n[0] == "B" else "light", 59.33 + i * 0.001, 18.06,
              "240L" if n[0] == "B" else "harbour", key=k)
         for i, (n, k) in enumerate(KEYS.items())]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    g = launch_gateway(tmp_path_factory.mktemp("open-data"))
    try:
        g.register(*NODES)
        yield g
    finally:
        g.stop()


def anyone(gw: RunningGateway) -> httpx.Client:
    return httpx.Client(base_url=gw.http_url, timeout=30)


def test_no_key_comes_out_of_any_entity_for_anyone(gw: RunningGateway) -> None:
    make_accounts(gw.db)
    clients = [anyone(gw)]
    for name, _, _ in ACCOUNTS:  # each role's session, as its screens hold it
        r = httpx.post(f"{gw.http_url}/api/v1/session", timeout=30,
                       json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        clients.append(httpx.Client(base_url=gw.http_url, timeout=30,
                                    cookies={"kvarter_session": r.cookies["kvarter_session"]}))
    bodies = []
    for c in clients:
        with c:
            for fmt in ({}, {"options": "keyValues"}):
                r = c.get(f"{NGSI}/entities", params={"idPattern": ".*", "limit": 1000, **fmt})
                assert r.status_code == 200, r.text
                bodies.append(r.text)
                for e in r.json():
                    one = c.get(f"{NGSI}/entities/{e['id']}", params=fmt)
                    assert one.status_code == 200, one.text
                    bodies.append(one.text)
            bodies.append(c.get(f"{NGSI}/types", params={"details": "true"}).text)
    assert len(bodies) > 2 * len(NODES)
    text = "\n".join(bodies).lower()
    assert not [n for n, k in KEYS.items() if k in text]


@pytest.mark.parametrize("path, params", [
    ("/entities/urn:ngsi-ld:Device:B0001", {}),
    ("/entities", {"type": "Device"}),
    ("/entities", {"type": "Device", "idPattern": ".*", "limit": 1000}),
])
def test_a_closed_type_is_not_reached_without_an_account(gw: RunningGateway, path: str,
                                                         params: dict[str, object]) -> None:
    with anyone(gw) as c:
        r = c.get(NGSI + path, params=params)
    assert r.status_code == 401, r.text
    # Nothing of the device (its id may come back: the caller sent it).
    assert "deviceState" not in r.text and "location" not in r.text


def test_paging_and_patterns_never_reach_a_closed_type(gw: RunningGateway) -> None:
    seen = []
    with anyone(gw) as c:
        for offset in range(0, 40, 3):
            r = c.get(f"{NGSI}/entities", params={"idPattern": ".*Device.*|.*",
                                                  "offset": offset, "limit": 3})
            if r.status_code == 400:  # alternation is refused outright
                r = c.get(f"{NGSI}/entities", params={"idPattern": ".*", "offset": offset,
                                                      "limit": 3})
            assert r.status_code == 200, r.text
            seen += [e["type"] for e in r.json()]
    assert seen and "Device" not in seen


@pytest.mark.parametrize("params", [
    # Patterns that backtrack exponentially in a regular-expression engine.
    {"idPattern": "(a+)+$"},
    {"idPattern": "(.*a){20}"},
    {"idPattern": "^(a|aa)+$"},
    # A regular expression inside q, run on every entity.
    {"q": 'name~="(a+)+$"'},
    # More than a page may hold, and nonsense paging.
    {"limit": 100_000},
    {"offset": -1},
    {"limit": 10, "offset": 10**18},
    # A polygon of more points than any district's outline, a huge distance,
    # a broken geometry.
    {"georel": "within", "geometry": "Polygon",
     "coordinates": "[[" + ",".join(f"[{i % 90},{i % 45}]" for i in range(2_000)) + "]]"},
    {"georel": "near;maxDistance==1e308", "geometry": "Point", "coordinates": "[18.06,59.33]"},
    {"georel": "near;maxDistance==100", "geometry": "Point", "coordinates": "[18.06,"},
])
def test_a_query_built_to_cost_the_gateway_is_refused(gw: RunningGateway,
                                                     params: dict[str, object]) -> None:
    with anyone(gw) as c:
        r = c.get(f"{NGSI}/entities", params=params)
        assert r.status_code in (400, 414), (params, r.status_code, r.text[:200])
        assert "Traceback" not in r.text
        # And the gateway still answers the next caller.
        assert c.get(f"{NGSI}/types").status_code == 200


# --- the daily open-data files (GET /api/v1/open-data/{day}/{file}) ---------------------

FILES = "/api/v1/open-data"
DAY = (date.today() - timedelta(days=1)).isoformat()


def raw_get(gw: RunningGateway, path: str) -> tuple[int, bytes]:
    """A GET sent byte for byte as written, with no client resolving dots
    or encoding: what an attacker's own tool sends."""
    with socket.create_connection(("127.0.0.1", int(gw.http_url.rsplit(":", 1)[1])),
                                  timeout=30) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                  .encode("latin-1"))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("name", [
    "../gateway.sqlite", "..%2Fgateway.sqlite", "%2e%2e%2fgateway.sqlite",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%5c..%5cgateway.sqlite", "bins.csv%00.json",
    "%2Fetc%2Fpasswd", "datapackage.json%2F..%2F..%2Fgateway.toml", "....//gateway.sqlite",
    "bins.csv/..", ".bins.csv.part", "BINS.CSV", "gateway.sqlite", "%2e%2e",
])
def test_a_file_name_never_reaches_another_file(gw: RunningGateway, name: str) -> None:
    status, body = raw_get(gw, f"{FILES}/{DAY}/{name}")
    assert status in (404, 422), (name, status, body[:200])
    assert b"SQLite format" not in body and b"root:" not in body and b"[gateway]" not in body
    assert b"Traceback" not in body
    assert raw_get(gw, "/api/v1/health")[0] == 200


@pytest.mark.parametrize("day, status", [
    ("0001-01-01", 404), ("1970-01-01", 404), ("9999-12-31", 404), ("2026-00-10", 404),
    ("2026-02-29", 404), ("-001-01-01", 422), ("99999-01-01", 422), ("2026-1-1", 422),
    ("2026-01-01" + "0" * 5000, 422), ("%00%00%00%00%00%00%00%00%00%00", 422),
])
def test_days_far_off_or_not_days_are_refused_before_any_work(gw: RunningGateway, day: str,
                                                              status: int) -> None:
    got, body = raw_get(gw, f"{FILES}/{day}")
    assert got == status, (day, got, body[:200])
    assert b"Traceback" not in body
    assert raw_get(gw, "/api/v1/health")[0] == 200


def test_many_days_asked_at_once_are_answered_and_the_gateway_goes_on(
        gw: RunningGateway) -> None:
    days = [(date.today() - timedelta(days=d)).isoformat() for d in range(40)]
    with anyone(gw) as c:
        bodies = []
        for day in days:  # more days than are kept: each made, old ones let go
            r = c.get(f"{FILES}/{day}/presence.csv")
            assert r.status_code == 200, r.text
            bodies.append(r.text)
    # The same day asked by many at once is made once and answered alike.
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: httpx.get(f"{gw.http_url}{FILES}/{DAY}/bins.csv",
                                                timeout=60), range(24)))
    assert {r.status_code for r in got} == {200} and len({r.content for r in got}) == 1
    with anyone(gw) as c:
        assert c.get("/api/v1/health").status_code == 200


def test_no_key_comes_out_of_any_daily_file(gw: RunningGateway) -> None:
    texts = []
    with anyone(gw) as c:
        for day in (DAY, date.today().isoformat()):
            doc = c.get(f"{FILES}/{day}")
            assert doc.status_code == 200, doc.text
            texts.append(doc.text)
            for resource in doc.json()["resources"]:
                r = c.get(f"{FILES}/{day}/{resource['path']}")
                assert r.status_code == 200, r.text
                texts.append(r.text)
    text = "\n".join(texts).lower()
    assert "b0001" in text  # the bins are there
    assert not [n for n, k in KEYS.items() if k in text]
