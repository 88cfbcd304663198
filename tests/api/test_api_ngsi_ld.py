"""The NGSI-LD provider over real HTTP against a real gateway, as a city's
data platform reads it: the entities of the FIWARE Smart Data Models (checked
against the models' published JSON Schemas), queries by type,
id, pattern, attributes, q and geo-query, pages and counts, the @context in a
Link header or in the body, errors as NGSI-LD problem details, who may read
what, and no presence in anything."""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import Accounts, make_accounts, post_report
from conftest import launch_gateway
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from smart_data_models import validate

from firmware import codec
from firmware.lighting import payload as light_codec
from gateway.config import GatewayConfig, GatewayConfigError
from gateway.records import Node, PresenceRecord, StatusRecord
from gateway.storage.store import Store

NOW = int(time.time())
NGSI = "/ngsi-ld/v1"
LINK_REL = 'rel="http://www.w3.org/ns/json-ld#context"'
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
# Bins along a street running east, 0.002° of longitude (about 114 m) apart.
BINS = [Node(f"B{i:04d}", "bin", 59.3300, 18.0600 + i * 0.002, "240L") for i in range(1, 9)]
FILL = {"B0001": 10.0, "B0002": 85.0, "B0003": 95.0, "B0004": 50.0, "B0005": 81.0,
        "B0006": 20.0, "B0007": 90.0, "B0008": 70.0}
FLAGS = {"B0002": codec.BIN_FLAG_FIRE, "B0004": codec.BIN_FLAG_TILT,
         "B0006": codec.BIN_FLAG_LID_OPEN}
POLES = [Node("L0001", "light", 59.331, 18.07, "harbour"),
         Node("L0002", "light", 59.331, 18.072, "harbour"), Node("L0003", "light", 59.34, 18.1)]


def bin_report(seq: int, fill: float, flags: int = 0, t: int | None = None) -> bytes:
    when = NOW - 3600 + seq * 60 if t is None else t
    return codec.encode_bin_report(codec.BinReport(seq, when, fill, 21, 3600, 0, flags))


# B0008's last day: full, emptied, filling again (its last report is the 70 %).
HISTORY = [(20, 85.0), (16, 10.0), (12, 30.0), (8, 45.0), (4, 60.0)]


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Accounts]:
    gw = launch_gateway(tmp_path_factory.mktemp("ngsi"))
    try:
        gw.register(*BINS, *POLES)
        for k, (hours, fill) in enumerate(HISTORY):
            assert post_report(gw, b"b", "B0008", bin_report(
                k + 1, fill, t=NOW - hours * 3600), mid=k + 100) == "2.04"
        for node in BINS:
            seq = len(HISTORY) + 1 if node.node_id == "B0008" else 1
            code = post_report(gw, b"b", node.node_id,
                               bin_report(seq, FILL[node.node_id], FLAGS.get(node.node_id, 0)))
            assert code == "2.04"
        with Store(gw.db) as store:
            store.insert([StatusRecord(p.node_id, light_codec.Status(
                1, NOW - 300, 20, 1000, light_codec.STATUS_NIGHT), NOW - 300) for p in POLES])
        acc = make_accounts(gw)
        yield acc
        acc.close()
    finally:
        gw.stop()


def anyone(acc: Accounts) -> httpx.Client:
    return httpx.Client(base_url=acc.gw.http_url, timeout=30)


def get(client: httpx.Client, path: str, **params: Any) -> httpx.Response:
    return client.get(NGSI + path, params=params)


def ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


def ids(entities: list[dict[str, Any]]) -> list[str]:
    return [e["id"].rsplit(":", 1)[1] for e in entities]


def assert_ngsi_problem(r: httpx.Response, status: int, kind: str | None) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status
    assert body["type"] == (ERRORS + kind if kind else "about:blank"), body
    assert body["detail"] and "\n" not in body["detail"] and "Traceback" not in body["detail"]
    return str(body["detail"])


def test_every_entity_keeps_to_its_smart_data_model(district: Accounts) -> None:
    admin = district.tokens["admin"]
    for kind, count in (("WasteContainer", 8), ("Streetlight", 3), ("StreetlightGroup", 2),
                        ("Device", 11)):
        normalized = ok(get(admin, "/entities", type=kind, limit=100))
        simplified = ok(get(admin, "/entities", type=kind, limit=100, options="keyValues"))
        assert len(normalized) == len(simplified) == count, kind
        for e in normalized:
            validate(e, normalized=True)
        for e in simplified:
            validate(e, normalized=False)
        assert ok(get(admin, "/entities", type=kind, limit=100, format="simplified")) \
            == simplified


def test_a_bin_is_a_waste_container(district: Accounts) -> None:
    e = ok(get(anyone(district), "/entities/urn:ngsi-ld:WasteContainer:B0003"))
    assert e["id"] == "urn:ngsi-ld:WasteContainer:B0003" and e["type"] == "WasteContainer"
    assert e["fillingLevel"]["value"] == 0.95 and e["fillingLevel"]["observedAt"].endswith("Z")
    assert e["temperature"] == {"type": "Property", "value": 21, "unitCode": "CEL",
                                "observedAt": e["fillingLevel"]["observedAt"]}
    assert e["status"]["value"] == "ok"
    assert e["binCapacity"] == {"type": "Property", "value": 240.0, "unitCode": "LTR"}
    assert e["location"] == {"type": "GeoProperty",
                             "value": {"type": "Point", "coordinates": [18.066, 59.33]}}
    assert e["refDevice"] == {"type": "Relationship", "object": ["urn:ngsi-ld:Device:B0003"]}
    statuses = {x["id"]: x["status"] for x in ok(get(
        anyone(district), "/entities", type="WasteContainer", options="keyValues"))}
    assert statuses["urn:ngsi-ld:WasteContainer:B0002"] == "burning"
    assert statuses["urn:ngsi-ld:WasteContainer:B0004"] == "dropped"
    assert statuses["urn:ngsi-ld:WasteContainer:B0006"] == "lidOpen"


def test_the_forecast_gives_the_emptying_and_the_next_deadline(district: Accounts) -> None:
    # The API's own screens learn the bins' forecasts; the entities show
    # what was learnt when they are next made (at most 30 s on).
    full_at = ok(district.tokens["planner"].get("/api/v1/bins/B0008"))["forecast"]["full_at"]
    assert full_at is not None
    for _ in range(600):
        e = ok(get(anyone(district), "/entities/urn:ngsi-ld:WasteContainer:B0008",
                   options="keyValues"))
        if "nextActuationDeadline" in e:
            break
        time.sleep(0.1)
    # The forecast may be worked out again between the two requests, from
    # a later moment: the deadline agrees to the minute, not the second.
    deadline = calendar.timegm(time.strptime(e["nextActuationDeadline"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(deadline - full_at) <= 60, (e["nextActuationDeadline"], full_at)
    assert e["dateLastEmptying"] == time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                  time.gmtime(NOW - 16 * 3600))


def test_q_and_geo_queries_choose_the_bins(district: Accounts) -> None:
    c = anyone(district)
    full = ok(get(c, "/entities", type="WasteContainer", q="fillingLevel>0.8"))
    assert ids(full) == ["B0002", "B0003", "B0005", "B0007"]
    both = ok(get(c, "/entities", type="WasteContainer", q='fillingLevel>0.8;status=="ok"'))
    assert ids(both) == ["B0003", "B0005", "B0007"]
    either = ok(get(c, "/entities", type="WasteContainer",
                    q='fillingLevel<0.15|status=="burning"'))
    assert ids(either) == ["B0001", "B0002"]
    ranged = ok(get(c, "/entities", type="WasteContainer", q="fillingLevel==0.5..0.85"))
    assert ids(ranged) == ["B0002", "B0004", "B0005", "B0008"]
    listed = ok(get(c, "/entities", type="WasteContainer", q='status=="dropped","lidOpen"'))
    assert ids(listed) == ["B0004", "B0006"]
    # Within 150 m of B0003: B0002..B0004 (114 m apart).
    near = ok(get(c, "/entities", type="WasteContainer", georel="near;maxDistance==150",
                  geometry="Point", coordinates="[18.066,59.33]"))
    assert ids(near) == ["B0002", "B0003", "B0004"]
    near_full = ok(get(c, "/entities", type="WasteContainer", georel="near;maxDistance==150",
                       geometry="Point", coordinates="[18.066,59.33]", q="fillingLevel>0.8"))
    assert ids(near_full) == ["B0002", "B0003"]
    box = "[[[18.069,59.32],[18.077,59.32],[18.077,59.34],[18.069,59.34],[18.069,59.32]]]"
    within = ok(get(c, "/entities", type="WasteContainer,Streetlight", georel="within",
                    geometry="Polygon", coordinates=box, options="keyValues"))
    assert [e["id"] for e in within] == [
        "urn:ngsi-ld:Streetlight:L0001", "urn:ngsi-ld:Streetlight:L0002",
        "urn:ngsi-ld:WasteContainer:B0005", "urn:ngsi-ld:WasteContainer:B0006",
        "urn:ngsi-ld:WasteContainer:B0007", "urn:ngsi-ld:WasteContainer:B0008"]


def test_ids_patterns_attributes_and_types(district: Accounts) -> None:
    c = anyone(district)
    two = ok(get(c, "/entities", id="urn:ngsi-ld:WasteContainer:B0008,"
                                   "urn:ngsi-ld:Streetlight:L0001"))
    assert [e["id"] for e in two] == ["urn:ngsi-ld:Streetlight:L0001",
                                      "urn:ngsi-ld:WasteContainer:B0008"]
    pattern = ok(get(c, "/entities", type="WasteContainer", idPattern="B000[1-3]$"))
    assert ids(pattern) == ["B0001", "B0002", "B0003"]
    only = ok(get(c, "/entities", type="WasteContainer", attrs="fillingLevel", limit=1))
    assert set(only[0]) == {"id", "type", "fillingLevel"}
    expanded = ok(get(c, "/entities", type="https://smartdatamodels.org/dataModel."
                                           "WasteManagement/WasteContainer", limit=1))
    assert expanded[0]["type"] == "WasteContainer"
    group = ok(get(c, "/entities/urn:ngsi-ld:StreetlightGroup:harbour", options="keyValues"))
    assert group["refStreetlight"] == ["urn:ngsi-ld:Streetlight:L0001",
                                      "urn:ngsi-ld:Streetlight:L0002"]
    assert group["location"]["type"] == "MultiPoint"
    pole = ok(get(c, "/entities/urn:ngsi-ld:Streetlight:L0003", options="keyValues"))
    assert pole["refStreetlightGroup"] == "urn:ngsi-ld:StreetlightGroup:default"
    assert pole["powerState"] in ("on", "off") and 0 <= pole["illuminanceLevel"] <= 1
    assert ok(get(c, "/types")) == {"id": "urn:ngsi-ld:EntityTypeList:district",
                                    "type": "EntityTypeList",
                                    "typeList": ["Streetlight", "StreetlightGroup",
                                                 "WasteContainer"]}
    assert ok(get(district.tokens["technician"], "/types"))["typeList"] == [
        "Device", "Streetlight", "StreetlightGroup", "WasteContainer"]
    detailed = ok(get(c, "/types", details="true"))
    assert detailed[0] == {"id": "https://smartdatamodels.org/dataModel.Streetlighting/"
                                 "Streetlight", "type": "EntityType", "typeName": "Streetlight"}


def test_pages_and_counts(district: Accounts) -> None:
    c = anyone(district)
    r = get(c, "/entities", type="WasteContainer", limit=3, offset=2, count="true")
    assert ids(ok(r)) == ["B0003", "B0004", "B0005"]
    assert r.headers["NGSILD-Results-Count"] == "8"
    r = get(c, "/entities", type="WasteContainer", limit=0, count="true", q="fillingLevel>0.8")
    assert ok(r) == [] and r.headers["NGSILD-Results-Count"] == "4"
    assert "NGSILD-Results-Count" not in get(c, "/entities", type="WasteContainer").headers
    assert len(ok(get(c, "/entities", type="WasteContainer"))) == 8  # default 20
    assert ok(get(c, "/entities", type="WasteContainer", offset=100)) == []
    assert_ngsi_problem(get(c, "/entities", type="WasteContainer", limit=0), 400,
                        "BadRequestData")
    detail = assert_ngsi_problem(get(c, "/entities", type="WasteContainer", limit=1001), 400,
                                 "BadRequestData")
    assert "0..1000" in detail


def test_the_context_travels_in_a_link_or_in_the_body(district: Accounts) -> None:
    c = anyone(district)
    r = get(c, "/entities", type="WasteContainer", limit=1)
    assert r.headers["content-type"] == "application/json"
    assert LINK_REL in r.headers["link"] and "smartdatamodels.org/context.jsonld" in \
        r.headers["link"]
    assert "@context" not in ok(r)[0]
    r = c.get(f"{NGSI}/entities", params={"type": "WasteContainer", "limit": 1},
              headers={"Accept": "application/ld+json"})
    assert r.headers["content-type"] == "application/ld+json" and "link" not in r.headers
    assert ok(r)[0]["@context"] == ["https://smartdatamodels.org/context.jsonld",
                                    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"]
    r = c.get(f"{NGSI}/types", headers={"Accept": "application/ld+json"})
    assert "@context" in ok(r)
    assert_ngsi_problem(c.get(f"{NGSI}/types", headers={"Accept": "text/html"}), 406, None)


@pytest.mark.parametrize("params, words", [
    ({}, "type"),
    ({"type": "WasteContainer", "q": "fillingLevel>>0.8"}, "q:"),
    ({"type": "WasteContainer", "q": "status==ok"}, "quote"),
    ({"type": "WasteContainer", "q": "name~=\"x.*\""}, "not supported"),
    ({"type": "WasteContainer", "georel": "near;maxDistance==100", "geometry": "Point"},
     "together"),
    ({"type": "WasteContainer", "georel": "near;maxDistance==100", "geometry": "Point",
      "coordinates": "[59.33]"}, "position"),
    ({"type": "WasteContainer", "georel": "within", "geometry": "Polygon",
      "coordinates": "[[[18,59],[18.1,59],[18,59.1]]]"}, "at least 4"),
    ({"type": "WasteContainer", "georel": "intersects", "geometry": "Polygon",
      "coordinates": "[]"}, "not supported"),
    ({"type": "WasteContainer", "limit": "ten"}, "limit"),
    ({"type": "WasteContainer", "options": "concise"}, "options"),
    ({"type": "WasteContainer", "idPattern": "(a+)+$"}, "idPattern"),
    ({"id": "B0001"}, "URI"),
])
def test_bad_queries_are_bad_request_data(district: Accounts, params: dict[str, str],
                                          words: str) -> None:
    detail = assert_ngsi_problem(get(anyone(district), "/entities", **params), 400,
                                 "BadRequestData")
    assert words in detail


def test_an_unknown_entity_is_resource_not_found(district: Accounts) -> None:
    detail = assert_ngsi_problem(get(anyone(district), "/entities/urn:ngsi-ld:WasteContainer:X"),
                                 404, "ResourceNotFound")
    assert "urn:ngsi-ld:WasteContainer:X" in detail


def test_devices_need_an_account_that_may_read_the_nodes(district: Accounts) -> None:
    c = anyone(district)
    assert_ngsi_problem(get(c, "/entities", type="Device"), 401, None)
    assert_ngsi_problem(get(c, "/entities/urn:ngsi-ld:Device:B0001"), 401, None)
    assert_ngsi_problem(get(district.tokens["crew"], "/entities", type="Device"), 403, None)
    devices = ok(get(district.tokens["technician"], "/entities", type="Device",
                     options="keyValues"))
    assert {d["deviceState"] for d in devices} == {"ok"}
    # Without a type, each caller gets what it may read.
    everything = ok(get(c, "/entities", idPattern="B0001"))
    assert [e["type"] for e in everything] == ["WasteContainer"]
    theirs = ok(get(district.tokens["technician"], "/entities", idPattern="B0001"))
    assert [e["type"] for e in theirs] == ["Device", "WasteContainer"]
    # A credential that does not hold is refused, even for open data.
    bad = httpx.Client(base_url=district.gw.http_url,
                       headers={"Authorization": "Bearer kvt_nonsense"})
    assert_ngsi_problem(get(bad, "/entities", type="WasteContainer"), 401, None)


def test_no_presence_leaves_in_any_entity(district: Accounts) -> None:
    admin = district.tokens["admin"]

    def poles() -> list[dict[str, Any]]:
        return [e for kind in ("Streetlight", "StreetlightGroup", "Device")
                for e in ok(get(admin, "/entities", type=kind, limit=100))
                if ":L" in e["id"] or "StreetlightGroup" in e["id"]]

    before = poles()
    # Someone walks past the poles, and the light they report rises.
    now = time.time()
    with Store(district.gw.db) as store:
        records: list[Any] = [PresenceRecord(p.node_id, codec.PresenceEvent(
            10 + k, int(now) - 5, 1, 100, 1.4), now - 5) for k, p in enumerate(POLES)]
        records += [StatusRecord(p.node_id, light_codec.Status(
            2, int(now) - 2, 100, 1100, light_codec.STATUS_NIGHT), now - 2) for p in POLES]
        store.insert(records)
    # A bin report too: the entities are made again once it shows.
    assert post_report(district.gw, b"b", "B0001", bin_report(2, 33.0), mid=7) == "2.04"
    for _ in range(300):
        e = ok(get(admin, "/entities/urn:ngsi-ld:WasteContainer:B0001"))
        if e["fillingLevel"]["value"] == 0.33:
            break
        time.sleep(0.1)
    assert e["fillingLevel"]["value"] == 0.33
    after = poles()
    for b, a in zip(before, after, strict=True):
        assert {k: v for k, v in a.items() if k != "dateLastValueReported"} == \
            {k: v for k, v in b.items() if k != "dateLastValueReported"}
    text = str(after).lower()
    for word in ("presence", "speed", "count", "detect"):
        assert word not in text


def test_the_city_chooses_what_is_open(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[gateway]\nngsi_open_types = ["StreetlightGroup"]\n')
    gw = launch_gateway(tmp_path, "--config", str(config))
    try:
        gw.register(BINS[0], POLES[0])
        with httpx.Client(base_url=gw.http_url, timeout=30) as c:
            assert_ngsi_problem(get(c, "/entities", type="WasteContainer"), 401, None)
            assert ok(get(c, "/types"))["typeList"] == ["StreetlightGroup"]
            assert ids(ok(get(c, "/entities", type="StreetlightGroup"))) == ["harbour"]
    finally:
        gw.stop()


QUERY_TEXT = st.lists(st.sampled_from(list('fillingLevel.status;|()=!<>~,"\\ 0123456789-eTZ:')
                                      + ["..", "==", "fillingLevel", "status"]),
                      min_size=1, max_size=30).map("".join)
GEO_TEXT = st.lists(st.sampled_from(list("[],.-0123456789 ") + ["near;maxDistance==", "within",
                                                                  "18.06", "59.33"]),
                    max_size=20).map("".join)


@given(q=st.one_of(QUERY_TEXT, st.text(min_size=1, max_size=40)),
       georel=st.one_of(st.none(), GEO_TEXT), geometry=st.sampled_from([None, "Point",
                                                                        "Polygon", "Line"]),
       coordinates=st.one_of(st.none(), GEO_TEXT))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_queries_get_an_answer_or_a_400_never_a_500(
        district: Accounts, q: str, georel: str | None, geometry: str | None,
        coordinates: str | None) -> None:
    params = {k: v for k, v in {"type": "WasteContainer", "q": q, "georel": georel,
                                "geometry": geometry, "coordinates": coordinates}.items()
              if v is not None}
    r = anyone(district).get(f"{NGSI}/entities", params=params)
    if r.status_code != 200:
        assert_ngsi_problem(r, 400, "BadRequestData")


@pytest.mark.parametrize("value", [["Bins"], "WasteContainer", [1]])
def test_open_types_are_checked_when_the_gateway_starts(value: object) -> None:
    with pytest.raises(GatewayConfigError, match="ngsi_open_types must be a list of"):
        GatewayConfig(ngsi_open_types=value)  # type: ignore[arg-type]
