"""Every route against every role, over real HTTP against a real gateway: the
route answers the roles that may use it, 403 to the others, 401 to nobody
logged in. The table below is written out by hand, apart from the gateway's
own role table, and must name every route the gateway's spec has."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from api_support import ROLES, Accounts, assert_problem, make_accounts
from conftest import launch_gateway

from gateway.records import Node

EVERYONE = frozenset(ROLES)
ADMIN = frozenset({"admin"})

# (method, path as in the spec, path to call, JSON body, roles allowed)
ROUTES: list[tuple[str, str, str, Any, frozenset[str]]] = [
    ("GET", "/api/v1/me", "/api/v1/me", None, EVERYONE),
    ("PUT", "/api/v1/me/password", "/api/v1/me/password",
     {"current_password": "not the password", "new_password": "another long password"},
     EVERYONE),
    ("GET", "/api/v1/me/tokens", "/api/v1/me/tokens", None, EVERYONE),
    ("POST", "/api/v1/me/tokens", "/api/v1/me/tokens", {"name": "probe"}, EVERYONE),
    ("DELETE", "/api/v1/me/tokens/{token_id}", "/api/v1/me/tokens/999999", None, EVERYONE),
    ("DELETE", "/api/v1/session", "/api/v1/session", None, EVERYONE),
    ("GET", "/api/v1/users", "/api/v1/users", None, ADMIN),
    ("POST", "/api/v1/users", "/api/v1/users",
     {"username": "probe", "role": "planner", "password": "a long enough password"}, ADMIN),
    ("GET", "/api/v1/users/{username}", "/api/v1/users/crew", None, ADMIN),
    ("PATCH", "/api/v1/users/{username}", "/api/v1/users/crew", {}, ADMIN),
    ("GET", "/api/v1/nodes", "/api/v1/nodes", None,
     frozenset({"admin", "technician", "operator", "planner"})),
    ("GET", "/api/v1/nodes/{node_id}", "/api/v1/nodes/B0001", None,
     frozenset({"admin", "technician", "operator", "planner"})),
    ("GET", "/api/v1/bins", "/api/v1/bins", None,
     frozenset({"admin", "operator", "planner", "technician"})),
    ("GET", "/api/v1/bins/{node_id}", "/api/v1/bins/B0001", None,
     frozenset({"admin", "operator", "planner", "technician"})),
    ("GET", "/api/v1/bins/{node_id}/reports", "/api/v1/bins/B0001/reports", None,
     frozenset({"admin", "operator", "planner", "technician"})),
    ("GET", "/api/v1/alarms", "/api/v1/alarms", None,
     frozenset({"admin", "operator", "planner", "technician"})),
    ("POST", "/api/v1/alarms/{node_id}/{alarm}/ack", "/api/v1/alarms/B0001/fire/ack", {},
     frozenset({"admin", "operator", "planner"})),
    ("GET", "/api/v1/map", "/api/v1/map", None,
     frozenset({"admin", "operator", "planner", "technician"})),
    # No truck: refused after the role is checked, before planning.
    ("POST", "/api/v1/plans", "/api/v1/plans",
     {"depot": {"lat": 59.3, "lon": 18.0}, "capacity_l": 1000, "start": "06:00", "trucks": 0},
     frozenset({"admin", "planner"})),
    ("GET", "/api/v1/plans/today", "/api/v1/plans/today", None,
     frozenset({"admin", "planner"})),
    ("GET", "/api/v1/plans/{plan_id}", "/api/v1/plans/1", None,
     frozenset({"admin", "planner"})),
    ("GET", "/api/v1/routes/today", "/api/v1/routes/today", None,
     frozenset({"admin", "planner", "crew"})),
    # The crew's own truck: the account's crew is truck-1.
    ("GET", "/api/v1/routes/today/{truck}", "/api/v1/routes/today/truck-1", None,
     frozenset({"admin", "planner", "crew"})),
    ("POST", "/api/v1/visits", "/api/v1/visits",
     {"id": "6f1c1a3e-1d2b-4c5d-8e9f-0a1b2c3d4e5f", "plan_id": 1, "node_id": "B0001",
      "outcome": "emptied"}, frozenset({"admin", "planner", "crew"})),
    ("GET", "/api/v1/lights", "/api/v1/lights", None,
     frozenset({"admin", "operator", "technician"})),
    ("GET", "/api/v1/zones", "/api/v1/zones", None, frozenset({"admin", "operator"})),
    ("GET", "/api/v1/zones/{name}", "/api/v1/zones/street-1", None,
     frozenset({"admin", "operator"})),
    ("GET", "/api/v1/zones/{name}/log", "/api/v1/zones/street-1/log", None,
     frozenset({"admin", "operator"})),
    ("POST", "/api/v1/zones/{name}/check", "/api/v1/zones/street-1/check", {"idle_pct": 10},
     frozenset({"admin", "operator"})),
    ("POST", "/api/v1/zones/{name}/effect", "/api/v1/zones/street-1/effect", {"idle_pct": 10},
     frozenset({"admin", "operator"})),
    ("PATCH", "/api/v1/zones/{name}", "/api/v1/zones/street-1", {},
     frozenset({"admin", "operator"})),
    ("POST", "/api/v1/zones/{name}/push", "/api/v1/zones/street-1/push?timeout=1", None,
     frozenset({"admin", "operator"})),
    ("GET", "/api/v1/energy", "/api/v1/energy", None, frozenset({"admin", "operator"})),
    ("GET", "/api/v1/presence", "/api/v1/presence", None, frozenset({"admin", "operator"})),
    ("GET", "/api/v1/events", "/api/v1/events", None, EVERYONE),
    ("GET", "/api/v1/streets", "/api/v1/streets", None, EVERYONE),
]
# NGSI-LD (/ngsi-ld/v1): anyone reads what the city declares open; the
# other entity types by role, in NGSI_TYPES below.
NGSI = [("GET", "/ngsi-ld/v1/entities"), ("GET", "/ngsi-ld/v1/entities/{entityId}"),
        ("GET", "/ngsi-ld/v1/types")]
# The daily open-data files: anyone fetches the datasets the city declares
# open (by default, as open as the NGSI-LD entities of the same data: all
# of them); a closed one by role (tests/api/test_api_open_data_files.py).
OPEN_DATA = [("GET", "/api/v1/open-data/{day}"), ("GET", "/api/v1/open-data/{day}/{file}")]
PUBLIC = [("GET", "/api/v1/health"), ("POST", "/api/v1/session"), *NGSI, *OPEN_DATA]
# (entity type, one of its entities, roles that may read it when it is not
# open): the roles that read what it shows.
NGSI_TYPES: list[tuple[str, str, frozenset[str]]] = [
    ("WasteContainer", "urn:ngsi-ld:WasteContainer:B0001",
     frozenset({"admin", "operator", "planner", "technician"})),
    ("Streetlight", "urn:ngsi-ld:Streetlight:L0001",
     frozenset({"admin", "operator", "technician"})),
    ("StreetlightGroup", "urn:ngsi-ld:StreetlightGroup:street-1",
     frozenset({"admin", "operator"})),
    ("Device", "urn:ngsi-ld:Device:B0001",
     frozenset({"admin", "technician", "operator", "planner"})),
]
OPEN_BY_DEFAULT = {"WasteContainer", "Streetlight", "StreetlightGroup"}


@pytest.fixture(scope="module")
def accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Accounts]:
    gw = launch_gateway(tmp_path_factory.mktemp("roles"))
    try:
        gw.register(Node("B0001", "bin", 59.33, 18.06, "240L"),
                    Node("L0001", "light", 59.33, 18.07, "street-1"))
        acc = make_accounts(gw)
        yield acc
        acc.close()
    finally:
        gw.stop()


def call(client: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    if path.endswith("/events"):
        # A live stream: its status and headers are all this needs.
        with client.stream(method, path) as r:
            r.read() if r.status_code != 200 else None
            return r
    return client.request(method, path, json=body)


def test_the_table_names_every_route_of_the_spec(accounts: Accounts) -> None:
    spec = httpx.get(f"{accounts.gw.http_url}/api/openapi.json").json()
    in_spec = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    in_table = {(m, p) for m, p, *_ in ROUTES} | set(PUBLIC)
    assert in_spec == in_table


@pytest.mark.parametrize("method, spec_path, path, body, allowed", ROUTES,
                         ids=[f"{m} {p}" for m, p, *_ in ROUTES])
def test_every_role_is_allowed_or_refused(accounts: Accounts, method: str, spec_path: str,
                                          path: str, body: Any,
                                          allowed: frozenset[str]) -> None:
    with httpx.Client(base_url=accounts.gw.http_url, timeout=30) as nobody:
        assert_problem(call(nobody, method, path, body), 401)
    for role in ROLES:
        # A program's token (a session is checked the same way; its CSRF
        # has tests of its own).
        r = call(accounts.tokens[role], method, path, body)
        if role in allowed:
            assert r.status_code not in (401, 403), (role, r.status_code, r.text)
            assert r.status_code < 500, (role, r.text)
        else:
            detail = assert_problem(r, 403)
            assert role in detail


def test_a_crew_gets_403_from_the_zones_and_its_own_account(accounts: Accounts) -> None:
    crew = accounts.sessions["crew"]
    me = crew.get("/api/v1/me").json()
    assert me["role"] == "crew" and me["crew"] == "truck-1"
    assert "zones.change" not in me["permissions"]
    assert "routes.read-own" in me["permissions"]
    assert_problem(crew.get("/api/v1/zones"), 403)


def test_the_role_table_says_who_changes_zones_and_registers_nodes(
        accounts: Accounts) -> None:
    perms = {role: set(accounts.sessions[role].get("/api/v1/me").json()["permissions"])
             for role in ROLES}
    assert {r for r in ROLES if "zones.change" in perms[r]} == {"admin", "operator"}
    assert {r for r in ROLES if "nodes.register" in perms[r]} == {"admin", "technician"}
    assert {r for r in ROLES if "users.manage" in perms[r]} == {"admin"}
    assert {r for r in ROLES if "routes.read-own" in perms[r]} == {"crew"}


def test_the_health_route_needs_no_account(accounts: Accounts) -> None:
    r = httpx.get(f"{accounts.gw.http_url}/api/v1/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


@pytest.mark.parametrize("kind, entity, allowed", NGSI_TYPES, ids=[t for t, *_ in NGSI_TYPES])
def test_ngsi_ld_types_are_open_or_read_by_role(accounts: Accounts, kind: str, entity: str,
                                                allowed: frozenset[str]) -> None:
    paths = [f"/ngsi-ld/v1/entities?type={kind}", f"/ngsi-ld/v1/entities/{entity}"]
    with httpx.Client(base_url=accounts.gw.http_url, timeout=30) as nobody:
        for path in paths:
            r = nobody.get(path)
            if kind in OPEN_BY_DEFAULT:
                assert r.status_code == 200, r.text
            else:
                assert r.status_code == 401, r.text
        types = nobody.get("/ngsi-ld/v1/types").json()["typeList"]
        assert (kind in types) == (kind in OPEN_BY_DEFAULT)
    for role in ROLES:
        client = accounts.tokens[role]
        for path in paths:
            r = client.get(path)
            if kind in OPEN_BY_DEFAULT or role in allowed:
                assert r.status_code == 200, (role, r.text)
            else:
                assert r.status_code == 403, (role, r.text)
                assert role in r.json()["detail"]
        types = client.get("/ngsi-ld/v1/types").json()["typeList"]
        assert (kind in types) == (kind in OPEN_BY_DEFAULT or role in allowed)


def test_the_daily_open_data_files_are_open_by_default_to_anyone_and_every_role(
        accounts: Accounts) -> None:
    day = (date.today() - timedelta(days=1)).isoformat()
    files = ["bins.csv", "bins.geojson", "bin-fill.csv", "emptyings.csv",
             "lighting-energy.csv", "presence.csv", "datapackage.json"]
    with httpx.Client(base_url=accounts.gw.http_url, timeout=30) as nobody:
        clients = [nobody, *accounts.tokens.values()]
        for client in clients:
            r = client.get(f"/api/v1/open-data/{day}")
            assert r.status_code == 200, r.text
            assert len(r.json()["resources"]) == len(files) - 1
            for name in files:
                assert client.get(f"/api/v1/open-data/{day}/{name}").status_code == 200, name
