"""Privacy by design (docs/privacy.md), attacked: a lone walker down an
empty street at night, and an attacker who tries to rebuild the walk from
everything the gateway offers outside itself: every MQTT topic (a real
mosquitto, '#'), the NGSI-LD entities there among them, every GET of the
HTTP API as each role (admin, operator, planner, crew, technician) with
every pole and zone put in its path, the zone effect replay, each role's
live stream while the walker walks, and the day's open-data files (written
by `kvarter export open-data`, and fetched from the API by anyone and by
each role). The poles send their presence events as poles do: protected
with their own keys, each with its time, speed and direction.

The attack must fail: no output holds one of the walker's times (measured
or received) beside a pole of the street, nothing holds a speed, and the
street's presence counts are suppressed (one person, under the threshold of
five). A busy street beside it shows that counts do leave the gateway."""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from api_support import ROLES, kvarter, listen_events, make_accounts
from conftest import launch_gateway, subscriber
from lightkit import FakeLight, geojson, lights_cli, ok, pole, register_keyed, wait_for_addresses

from firmware import codec
from gateway.opendata.export.files import TABLES
from gateway.privacy import last_closed
from sim.district import node_key

STREET = [f"N{i:02d}" for i in range(1, 11)]  # the empty street, a pole every 25 m
MARKET = ["M1", "M2"]  # a busy street
SPACING_M = 25.0
WALK_MPS = 1.4

TIME_LIKE = (1_000_000_000, 4_000_000_000)
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")


def times_in(value: Any) -> Iterator[float]:
    """Every number or ISO time in a JSON value that could be a time."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        if TIME_LIKE[0] <= value <= TIME_LIKE[1]:
            yield float(value)
    elif isinstance(value, str):
        for m in ISO.findall(value):
            try:
                yield datetime.fromisoformat(m.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    elif isinstance(value, dict):
        for v in value.values():
            yield from times_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from times_in(v)


def holders(value: Any, ids: set[str]) -> Iterator[Any]:
    """The innermost objects that name one of the poles anywhere inside: a
    pole's row, or a table's columns."""
    if isinstance(value, dict):
        inner = [h for v in value.values() for h in holders(v, ids)]
        if inner:
            yield from inner
        elif any(named(v, ids) for v in value.values()):
            yield value
    elif isinstance(value, list):
        for v in value:
            yield from holders(v, ids)


def named(value: Any, ids: set[str]) -> bool:
    if isinstance(value, str):
        return value in ids
    if isinstance(value, list):
        return any(named(v, ids) for v in value)
    return False


def keys_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from keys_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from keys_in(v)


def next_message(inbox: queue.Queue[Any], messages: list[tuple[str, Any]]
                 ) -> tuple[str, Any] | None:
    """The next MQTT message within a second (its topic and JSON body, kept
    in messages too), or None."""
    try:
        msg = inbox.get(timeout=1)
    except queue.Empty:
        return None
    got = (msg.topic, json.loads(msg.payload) if msg.payload else None)
    messages.append(got)
    return got


def ngsi_entities_until(inbox: queue.Queue[Any], messages: list[tuple[str, Any]],
                        ids: set[str]) -> dict[str, Any]:
    """Every MQTT message until the NGSI-LD entities of these ids are out,
    the nodes' Devices heard from (their status reports) and the zones lit
    always (as the test sets them); each id's latest entity. The messages
    are kept in messages."""
    latest: dict[str, Any] = {}
    deadline = time.monotonic() + 60

    def settled() -> bool:
        return ids <= set(latest) and all(
            e["deviceState"]["value"] == "ok" for e in latest.values() if e["type"] == "Device"
        ) and all(e["switchingMode"]["value"] == ["always-ON"] for e in latest.values()
                  if e["type"] == "StreetlightGroup")

    while not settled():
        assert time.monotonic() < deadline, sorted(ids - set(latest))
        got = next_message(inbox, messages)
        if got is None:
            continue
        topic, body = got
        if "/ngsi-ld/" in topic and body:
            entity = body["body"]["data"][0]
            latest[entity["id"]] = entity
    return latest


def test_a_lone_walker_cannot_be_followed_from_what_leaves_the_gateway(
        tmp_path: Path, mosquitto: int) -> None:
    config = tmp_path / "gateway.toml"
    # The NGSI-LD entities on MQTT too, every type, the nodes' Devices with
    # them: what a broker whose ACLs let everyone read would hand out.
    config.write_text('[gateway]\ndistrict = "natt"\nlight_interval_s = 0.5\n'
                      'mqtt_ngsi_ld = true\nmqtt_ngsi_ld_types = ["WasteContainer", '
                      '"Streetlight", "StreetlightGroup", "Device"]\n')
    client, inbox = subscriber(mosquitto, "#")
    gw = launch_gateway(tmp_path, "--config", str(config), "--mqtt", "127.0.0.1",
                        "--mqtt-port", str(mosquitto), virtual_time=False, oscore="required")
    street_entities = {f"urn:ngsi-ld:{kind}:{n}" for n in STREET
                       for kind in ("Streetlight", "Device")}
    lights: list[FakeLight] = []
    streams: list[tuple[str, httpx.Client, threading.Thread,
                        queue.Queue[tuple[str, dict[str, Any]]]]] = []
    try:
        nodes = [pole(n, SPACING_M * (i + 1), 0, "nattgatan", i + 1, node_key(n))
                 for i, n in enumerate(STREET)]
        nodes += [pole(n, SPACING_M * (i + 1), 300, "torget", 20 + i, node_key(n))
                  for i, n in enumerate(MARKET)]
        kids = register_keyed(gw, *nodes)
        for zone in ("nattgatan", "torget"):
            ok(lights_cli(gw.db, "zone", "set", zone, "--hours", "always", "--who", "test"))
        streets = tmp_path / "streets.geojson"
        streets.write_text(geojson([("Nattgatan", [(0.0, 0.0), (300.0, 0.0)]),
                                    ("Torget", [(0.0, 300.0), (100.0, 300.0)])]))
        ok(lights_cli(gw.db, "streets", "import", str(streets)))
        lights = [FakeLight(n.node_id, gw, node_key(n.node_id), kids[n.node_id])
                  for n in nodes]
        by_id = {f.node_id: f for f in lights}
        for f in lights:
            f.status(1)
        wait_for_addresses(gw.db, len(lights))
        acc = make_accounts(gw)
        for role in ROLES:
            got: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
            ready = threading.Event()
            c = httpx.Client(base_url=gw.http_url, headers=dict(acc.tokens[role].headers))
            t = threading.Thread(target=listen_events, args=(c, got, ready), daemon=True)
            t.start()
            assert ready.wait(30), role
            streams.append((role, c, t, got))
        # Every pole's entities on MQTT, as they stand before the walk.
        messages: list[tuple[str, Any]] = []
        ngsi_before = ngsi_entities_until(inbox, messages, {
            *(f"urn:ngsi-ld:Streetlight:{n}" for n in STREET + MARKET),
            *(f"urn:ngsi-ld:Device:{n}" for n in STREET + MARKET),
            "urn:ngsi-ld:StreetlightGroup:nattgatan", "urn:ngsi-ld:StreetlightGroup:torget"})
        walk_from = len(messages)  # the messages from here on came with the walk
        time.sleep(1.5)  # the status reports' times are behind us

        # The walk: down the street in the quarter hour just over (the poles
        # send what they measured then), and again now, in the one under way.
        sent_from = time.time()
        q0 = last_closed(sent_from) - 900
        walks = [q0 + 200, int(sent_from)]
        past_walk: list[int] = []  # the times of the walk in the quarter hour over
        seq = 2
        for start in walks:
            for i, node_id in enumerate(STREET):
                at = start + round(i * SPACING_M / WALK_MPS)
                if start == walks[0]:
                    past_walk.append(at)
                by_id[node_id].presence(seq, codec.PRESENCE_SOURCE_RADAR | codec.PRESENCE_DIR_UP,
                                        speed=WALK_MPS, at=at)
            seq += 1
        # And in the last hour that is over, which the day's open-data files
        # count (they count whole hours).
        h0 = last_closed(sent_from, 3600) - 3600
        for i, node_id in enumerate(STREET):
            at = h0 + 600 + round(i * SPACING_M / WALK_MPS)
            past_walk.append(at)
            by_id[node_id].presence(seq, codec.PRESENCE_SOURCE_RADAR | codec.PRESENCE_DIR_UP,
                                    speed=WALK_MPS, at=at)
        seq += 1
        # The market: six people pass M1 and M2 in the same quarter hour.
        for f in (by_id["M1"], by_id["M2"]):
            f.presence(2, count=3, at=q0 + 300)
            f.presence(3, count=3, at=q0 + 360)
            # And six in the hour over, for the files.
            f.presence(4, count=3, at=h0 + 300)
            f.presence(5, count=3, at=h0 + 360)
        sent_until = time.time()

        # MQTT: everything until both zones' counts of that quarter hour are
        # out and the market's shows its six people.
        counts: dict[str, dict[str, Any]] = {}
        for topic, body in messages:  # those had before the walk: a count may not change
            if topic.endswith("/counts") and body["from"] == q0:
                counts[body["zone"]] = body
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
                counts.get("torget", {}).get("people") != 6 or "nattgatan" not in counts):
            got = next_message(inbox, messages)
            if got is None:
                continue
            topic, body = got
            if topic.endswith("/counts") and body["from"] == q0:
                counts[body["zone"]] = body
        assert counts.get("torget", {}).get("people") == 6, counts  # counts do leave
        assert counts["nattgatan"]["suppressed"] is True
        assert counts["nattgatan"]["people"] is None and counts["nattgatan"]["events"] is None

        # The web API, as every role, every GET with every pole and zone.
        spec = acc.tokens["admin"].get("/api/openapi.json").json()
        answers: list[tuple[str, str, Any]] = []
        fills = {"node_id": STREET + MARKET, "name": ["nattgatan", "torget"],
                 "zone": ["nattgatan", "torget"],
                 # The open data's entities (NGSI-LD), each pole, node and zone.
                 "entityId": [f"urn:ngsi-ld:{kind}:{n}" for n in STREET + MARKET
                              for kind in ("Streetlight", "Device")]
                 + [f"urn:ngsi-ld:StreetlightGroup:{z}" for z in ("nattgatan", "torget")]}
        for role in ROLES:
            http = acc.tokens[role]
            for path, ops in spec["paths"].items():
                if "get" not in ops or path.endswith("/events"):
                    continue
                params = re.findall(r"{(\w+)}", path)
                if any(p not in fills for p in params):
                    continue
                urls = [path]
                for p in params:
                    urls = [u.replace(f"{{{p}}}", v) for u in urls for v in fills[p]]
                for url in urls:
                    r = http.get(url, params={"since": q0 - 86400, "limit": 100}
                                 if url.endswith("/presence") else {"limit": 100})
                    if r.headers.get("content-type", "").startswith("application/json"):
                        answers.append((role, url, r.json()))
                    for extra in ({"interval": 900}, {"zone": "nattgatan", "interval": 900}):
                        if url.endswith("/presence"):
                            r = http.get(url, params={"since": q0 - 900, **extra})
                            answers.append((role, url, r.json()))
            r = http.post("/api/v1/zones/nattgatan/effect", json={"hold_s": 30})
            answers.append((role, "effect", r.json()))
        assert any(url.endswith("/presence") and body for _, url, body in answers)

        # The day's open-data files, as the command writes them and as the
        # API serves them to anyone and to every role.
        day = datetime.fromtimestamp(h0).astimezone().date().isoformat()
        out = tmp_path / "open-data"
        proc = kvarter("export", "open-data", "--config", str(config), "--db", str(gw.db),
                       "--day", day, "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        exported = [(f"kvarter export {p.name}", p.name, p.read_text(encoding="utf-8"))
                    for p in sorted(out.iterdir())]
        with httpx.Client(base_url=gw.http_url, timeout=60) as nobody:
            for who, http in [("anyone", nobody), *acc.tokens.items()]:
                for name in [p.name for p in sorted(out.iterdir())]:
                    r = http.get(f"/api/v1/open-data/{day}/{name}")
                    assert r.status_code == 200, (who, name, r.text)
                    exported.append((f"{who} GET open-data {name}", name, r.text))
        files: list[tuple[str, Any]] = []
        for where, name, text in exported:
            if name.endswith(".csv"):
                table = next(t for t in TABLES if t.csv_name == name)
                files.append((where, table.read_csv(text)))
            else:
                files.append((where, json.loads(text)))
        presence_rows = [row for where, body in files if where.endswith("presence.csv")
                         for row in body]
        assert any(row["zone"] == "torget" and row["people"] for row in presence_rows)
        assert {row["zone"] for row in presence_rows} == {"nattgatan", "torget"}
        # Nothing in the files names a pole.
        assert not [where for where, body in files if list(holders(body, set(STREET)))]

        # Each role's live stream while the walker walked.
        for _, c, _, _ in streams:
            c.close()
        for _, _, t, _ in streams:
            t.join(timeout=5)

        outputs = [(f"mqtt {topic}", body) for topic, body in messages]
        outputs += [(f"{role} GET {url}", body) for role, url, body in answers]
        outputs += files
        for role, _, _, q in streams:
            while not q.empty():
                outputs.append((f"{role} stream", q.get()))
        assert len(outputs) > 50

        # The NGSI-LD entities of the street's poles: none published while
        # the walker walked (a message sent then would time the walk even
        # if it said nothing of it), and each as it was before.
        during = [(topic, body) for topic, body in messages if "/ngsi-ld/" in topic
                  and body and any(sent_from - 0.5 <= t <= sent_until + 5
                                   for t in times_in(body["body"]["notifiedAt"]))]
        assert not [t for t, b in during if any(holders(b, street_entities))], during
        for topic, body in messages[walk_from:]:
            if "/ngsi-ld/" in topic and body:
                entity = body["body"]["data"][0]
                assert entity == ngsi_before.get(entity["id"], entity), topic

        street = set(STREET) | street_entities
        forbidden = set(past_walk)
        for where, body in outputs:
            # No speed, in any form, anywhere.
            assert not [k for k in keys_in(body) if "speed" in k.lower()], where
            # None of the times the walker passed a pole in the quarter hour
            # over, anywhere, but on a quarter hour's edge (the walk now
            # is told apart below, beside the poles: anything now-stamped
            # would match it).
            for t in times_in(body):
                assert round(t) not in forbidden or t % 900 == 0, (where, t)
            # Beside the street's poles: no time from when the walk was sent
            # (a received time) but a quarter hour's edge.
            for holder in holders(body, street):
                for t in times_in(holder):
                    assert not (sent_from - 0.5 <= t <= sent_until + 5) or t % 900 == 0, \
                        (where, t, holder)
            # The street's counts are suppressed wherever they appear.
            for h in holders(body, {"nattgatan"}):
                if isinstance(h, dict) and "people" in h:
                    assert h["people"] is None and h.get("events") is None, (where, h)
    finally:
        for _, c, _, _ in streams:
            c.close()
        for f in lights:
            f.close()
        gw.stop()
        client.loop_stop()
        client.disconnect()
