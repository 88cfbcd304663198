"""The open data (NGSI-LD) answers anyone on the network without an account:
what an attacker can try there. The nodes' keys never come out, a closed
type is not reached by id, pattern or paging, and a query built to make the
gateway work hard is refused before any work."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

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
