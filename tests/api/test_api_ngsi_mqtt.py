"""The NGSI-LD entities on MQTT, as a city platform subscribed to the broker
receives them: a real gateway process publishing to a real mosquitto, each
entity's message checked against the FIWARE Smart Data Models' schemas and
against the form context brokers give their MQTT notifications (metadata and
an NGSI-LD Notification body); an update after a bin report and after a
zone's change, the retained state for a platform that subscribes later, only
the types asked for, and settings that cannot be used refused in one line.
The feed itself on a real database: a pass sends what changed, and nothing
when nothing has."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import paho.mqtt.client as mqtt
import pytest
from api_support import post_report
from conftest import launch_gateway, one_line_error, subscriber
from hypothesis import given
from hypothesis import strategies as st
from lightkit import lights_cli, ok
from smart_data_models import validate

from firmware import codec
from firmware.lighting import payload as light_codec
from gateway.api.bin_cache import BinForecasts, BinStates
from gateway.api.ngsi_feed import NgsiFeed
from gateway.opendata.entities import Entity
from gateway.publish.ngsi_ld import LINK, entity_topic, topic_level
from gateway.records import BinRecord, Node, PresenceRecord, StatusRecord
from gateway.storage.store import Store

NOW = int(time.time())
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
BIN = Node("B0042", "bin", 59.33, 18.06, "240L")
POLES = [Node("L0001", "light", 59.331, 18.07, "harbour"),
         Node("L0002", "light", 59.331, 18.072, "harbour")]


def config(tmp_path: Path, broker: int, *lines: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text("\n".join(["[gateway]", 'district = "norrmalm"', "mqtt_host = \"127.0.0.1\"",
                               f"mqtt_port = {broker}", "mqtt_ngsi_ld = true", *lines]) + "\n")
    return path


def entity_of(msg: mqtt.MQTTMessage) -> dict[str, Any]:
    """The entity in a message, once the message is checked to be what a
    context broker's MQTT notification is."""
    message = json.loads(msg.payload)
    assert message["metadata"] == {"Content-Type": "application/json", "Link": LINK}
    body = message["body"]
    assert body["type"] == "Notification"
    assert body["id"].startswith("urn:ngsi-ld:Notification:")
    assert body["subscriptionId"] == "urn:ngsi-ld:Subscription:kvarter:norrmalm"
    assert ISO_MS.fullmatch(body["notifiedAt"]), body["notifiedAt"]
    assert len(body["data"]) == 1
    entity: dict[str, Any] = body["data"][0]
    assert msg.topic == entity_topic("kvarter", "norrmalm", entity["type"], entity["id"])
    return entity


class Seen:
    """Every message a subscriber has had, in order, kept: one batch may
    carry several entities, and a test looks for each in turn."""

    def __init__(self, inbox: queue.Queue[mqtt.MQTTMessage]) -> None:
        self.inbox = inbox
        self.messages: list[mqtt.MQTTMessage] = []

    def wait_for(self, topic: str, until: Any = lambda e: True, timeout_s: float = 30.0
                 ) -> dict[str, Any]:
        """The first entity on topic, had or to come, that satisfies until."""
        deadline = time.monotonic() + timeout_s
        i = 0
        while True:
            while i < len(self.messages):
                msg = self.messages[i]
                i += 1
                if msg.topic == topic and msg.payload:
                    entity = entity_of(msg)
                    if until(entity):
                        return entity
            try:
                self.messages.append(self.inbox.get(
                    timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"nothing on {topic} as expected") from None


def bin_report(seq: int, fill: float, flags: int = 0) -> bytes:
    return codec.encode_bin_report(codec.BinReport(seq, NOW - 600 + seq, fill, 21, 3600, 0,
                                                   flags))


# Without the HTTP API the updates learn the bins' forecasts themselves.
@pytest.mark.parametrize("http", ["true", "false"])
def test_a_bin_report_updates_its_waste_container(tmp_path: Path, mosquitto: int,
                                                  http: str) -> None:
    client, inbox = subscriber(mosquitto, "kvarter/+/ngsi-ld/#")
    seen = Seen(inbox)
    cfg = config(tmp_path, mosquitto, 'mqtt_ngsi_ld_types = ["WasteContainer", "Device"]',
                 f"http = {http}")
    gw = launch_gateway(tmp_path, "--config", str(cfg))
    try:
        gw.register(BIN)
        topic = "kvarter/norrmalm/ngsi-ld/WasteContainer/urn:ngsi-ld:WasteContainer:B0042"
        # Registered: the container is there before it has reported.
        entity = seen.wait_for(topic)
        assert "fillingLevel" not in entity
        validate(entity, normalized=True)
        assert post_report(gw, b"b", "B0042", bin_report(1, 81.5, codec.BIN_FLAG_FIRE)) == "2.04"
        entity = seen.wait_for(topic, lambda e: "fillingLevel" in e)
        validate(entity, normalized=True)
        assert entity["fillingLevel"]["value"] == 0.815
        assert entity["status"]["value"] == "burning"
        assert entity["temperature"]["value"] == 21
        # Its node, an account's type on the HTTP API, goes out as asked.
        device = seen.wait_for("kvarter/norrmalm/ngsi-ld/Device/urn:ngsi-ld:Device:B0042",
                             lambda e: "dateLastValueReported" in e)
        validate(device, normalized=True)
        # Emptied: the next report is a fall, and the fire is out.
        assert post_report(gw, b"b", "B0042", bin_report(2, 3.0), mid=2) == "2.04"
        entity = seen.wait_for(topic, lambda e: e.get("fillingLevel", {}).get("value") == 0.03
                               and "dateLastEmptying" in e)
        assert entity["status"]["value"] == "ok"
        assert entity["dateLastEmptying"]["value"]["@value"] == \
            entity["fillingLevel"]["observedAt"]
        validate(entity, normalized=True)
        # Only the types asked for: no pole, no zone.
        assert not [m.topic for m in seen.messages if "/Streetlight" in m.topic]
    finally:
        assert gw.stop() == 0
        client.loop_stop()
        client.disconnect()


def test_a_zones_change_updates_its_streetlights_and_group(tmp_path: Path,
                                                           mosquitto: int) -> None:
    client, inbox = subscriber(mosquitto, "kvarter/+/ngsi-ld/#")
    seen = Seen(inbox)
    gw = launch_gateway(tmp_path, "--config", str(config(tmp_path, mosquitto)))
    try:
        gw.register(*POLES)
        ok(lights_cli(gw.db, "zone", "set", "harbour", "--hours", "always", "--idle", "40",
                      "--who", "test"))
        for pole in ("L0001", "L0002"):
            light = seen.wait_for(
                f"kvarter/norrmalm/ngsi-ld/Streetlight/urn:ngsi-ld:Streetlight:{pole}",
                lambda e: e["illuminanceLevel"]["value"] == 0.4)
            assert light["powerState"]["value"] == "on"
            validate(light, normalized=True)
        group_topic = ("kvarter/norrmalm/ngsi-ld/StreetlightGroup/"
                       "urn:ngsi-ld:StreetlightGroup:harbour")
        group = seen.wait_for(group_topic, lambda e: e["illuminanceLevel"]["value"] == 0.4)
        assert group["switchingMode"]["value"] == ["always-ON"]
        validate(group, normalized=True)
        ok(lights_cli(gw.db, "zone", "set", "harbour", "--idle", "0", "--who", "test"))
        group = seen.wait_for(group_topic, lambda e: e["powerState"]["value"] == "off")
        validate(group, normalized=True)
    finally:
        assert gw.stop() == 0
        client.loop_stop()
        client.disconnect()


def test_a_platform_that_subscribes_later_gets_the_current_state(tmp_path: Path,
                                                                 mosquitto: int) -> None:
    early, inbox = subscriber(mosquitto, "kvarter/+/ngsi-ld/#")
    seen = Seen(inbox)
    cfg = config(tmp_path, mosquitto, 'mqtt_ngsi_ld_format = "keyValues"')
    gw = launch_gateway(tmp_path, "--config", str(cfg))
    late: mqtt.Client | None = None
    try:
        gw.register(BIN, *POLES)
        assert post_report(gw, b"b", "B0042", bin_report(1, 55.0)) == "2.04"
        bin_topic = "kvarter/norrmalm/ngsi-ld/WasteContainer/urn:ngsi-ld:WasteContainer:B0042"
        seen.wait_for(bin_topic, lambda e: e.get("fillingLevel") == 0.55)
        seen.wait_for("kvarter/norrmalm/ngsi-ld/StreetlightGroup/"
                 "urn:ngsi-ld:StreetlightGroup:harbour")
        late, retained = subscriber(mosquitto, "kvarter/norrmalm/ngsi-ld/#")
        got: dict[str, dict[str, Any]] = {}
        while len(got) < 4:  # the bin, its two poles, their zone
            msg = retained.get(timeout=10)
            assert msg.retain, msg.topic
            got[msg.topic] = entity_of(msg)
        kinds = sorted(e["type"] for e in got.values())
        # Only the open types by default: a node (Device) needs an account.
        assert kinds == ["Streetlight", "Streetlight", "StreetlightGroup", "WasteContainer"]
        assert got[bin_topic]["fillingLevel"] == 0.55
        for entity in got.values():
            validate(entity, normalized=False)
    finally:
        assert gw.stop() == 0
        for c in (early, late):
            if c is not None:
                c.loop_stop()
                c.disconnect()


def kvarter(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("lines, expect", [
    (['mqtt_host = "127.0.0.1"', 'mqtt_ngsi_ld = "yes"'], "mqtt_ngsi_ld must be true or false"),
    (['mqtt_host = "127.0.0.1"', 'mqtt_ngsi_ld_format = "compact"'],
     "mqtt_ngsi_ld_format must be"),
    (['mqtt_host = "127.0.0.1"', 'mqtt_ngsi_ld_types = ["Bins"]'],
     "mqtt_ngsi_ld_types must be a list of"),
    (['mqtt_host = "127.0.0.1"', 'mqtt_ngsi_ld_types = "Device"'],
     "mqtt_ngsi_ld_types must be a list of"),
    (["mqtt_ngsi_ld = true"], "mqtt_ngsi_ld publishes on the MQTT broker: set mqtt_host"),
])
def test_settings_that_cannot_be_used_get_one_line(tmp_path: Path, lines: list[str],
                                                   expect: str) -> None:
    cfg = tmp_path / "gateway.toml"
    cfg.write_text("\n".join(["[gateway]", *lines]) + "\n")
    assert expect in one_line_error(kvarter("gateway", "run", "--config", str(cfg),
                                            "--db", str(tmp_path / "g.sqlite")))


def test_the_command_lines_switch_needs_a_broker_too(tmp_path: Path) -> None:
    line = one_line_error(kvarter("gateway", "run", "--mqtt-ngsi-ld",
                                  "--db", str(tmp_path / "g.sqlite")))
    assert "set mqtt_host (--mqtt)" in line


@given(st.text(max_size=60))
def test_any_id_is_one_topic_level_and_comes_back(name: str) -> None:
    level = topic_level(name)
    assert not set(level) & set("/+#\x00")
    assert unquote(level) == name
    topic = entity_topic("kvarter", "norrmalm", "WasteContainer", f"urn:ngsi-ld:X:{name}")
    assert topic.split("/")[:4] == ["kvarter", "norrmalm", "ngsi-ld", "WasteContainer"]
    assert len(topic.split("/")) == 5


@given(st.lists(st.text(max_size=8), min_size=2, max_size=2, unique=True))
def test_two_ids_never_share_a_topic(names: list[str]) -> None:
    a, b = (entity_topic("k", "d", "T", n) for n in names)
    assert a != b


class Taken:
    """What a feed hands out, with room for `room` entities (None: any)."""

    def __init__(self, room: int | None = None) -> None:
        self.room = room
        self.entities: list[Entity] = []
        self.gone_ids: list[str] = []

    def offer(self, entity: Entity) -> bool:
        if self.room is not None and len(self.entities) >= self.room:
            return False
        self.entities.append(entity)
        return True

    def gone(self, entity_type: str, entity_id: str) -> bool:
        self.gone_ids.append(entity_id)
        return True

    def ids(self) -> list[str]:
        out = [e["id"] for e in self.entities]
        self.entities.clear()
        return out


def test_a_pass_sends_what_changed_and_no_presence_makes_one(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.sqlite")
    try:
        for node in (BIN, *POLES):
            store.register(node)
        out = Taken()
        feed = NgsiFeed(store, BinStates(), BinForecasts(), out, rest_per_pass=0)
        feed.step()
        first = out.ids()
        assert sorted(first) == sorted([
            "urn:ngsi-ld:WasteContainer:B0042", "urn:ngsi-ld:Device:B0042",
            "urn:ngsi-ld:Streetlight:L0001", "urn:ngsi-ld:Device:L0001",
            "urn:ngsi-ld:Streetlight:L0002", "urn:ngsi-ld:Device:L0002",
            "urn:ngsi-ld:StreetlightGroup:harbour"])
        assert feed.step() == 0 and feed.passes == 1  # nothing changed: no pass at all
        # A walker passes a pole: nothing any entity shows, and no pass.
        store.insert([PresenceRecord("L0001", codec.PresenceEvent(1, NOW - 5, 1, 100, 1.4),
                                     NOW - 4)])
        assert feed.step() == 0 and feed.passes == 1 and out.ids() == []
        # A bin report: its container and its node.
        store.insert([BinRecord("B0042", codec.BinReport(1, NOW - 60, 70.0, 20, 3600, 0, 0),
                                NOW - 59)])
        feed.step()
        assert sorted(out.ids()) == ["urn:ngsi-ld:Device:B0042",
                                     "urn:ngsi-ld:WasteContainer:B0042"]
        # A pole's status report: its node alone (its light is the zone's).
        store.insert([StatusRecord("L0002", light_codec.Status(1, NOW - 30, 20, 1000, 0x01),
                                   NOW - 29)])
        feed.step()
        assert out.ids() == ["urn:ngsi-ld:Device:L0002"]
    finally:
        store.close()


def test_what_the_broker_cannot_take_now_goes_on_the_next_pass(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.sqlite")
    try:
        for node in (BIN, *POLES):
            store.register(node)
        out = Taken(room=3)
        feed = NgsiFeed(store, BinStates(), BinForecasts(), out, rest_per_pass=0)
        assert feed.step() == 3
        out.room = None
        assert feed.step() == 4  # the rest, though nothing new was stored
        assert feed.step() == 0
    finally:
        store.close()


def test_an_entity_gone_is_cleared(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.sqlite")
    try:
        for node in POLES:
            store.register(node)
        out = Taken()
        feed = NgsiFeed(store, BinStates(), BinForecasts(), out, max_age_s=0,
                        rest_per_pass=0)
        feed.step()
        assert "urn:ngsi-ld:StreetlightGroup:harbour" in out.ids()
        for node in POLES:  # both poles to another zone: the harbour has none left
            store.register(Node(node.node_id, "light", node.lat, node.lon, "quay"))
        feed.step()
        assert sorted(out.ids()) == ["urn:ngsi-ld:Streetlight:L0001",
                                     "urn:ngsi-ld:Streetlight:L0002",
                                     "urn:ngsi-ld:StreetlightGroup:quay"]
        assert out.gone_ids == ["urn:ngsi-ld:StreetlightGroup:harbour"]
        feed.step()
        assert out.ids() == [] and out.gone_ids == ["urn:ngsi-ld:StreetlightGroup:harbour"]
    finally:
        store.close()


def test_a_pass_waits_its_turn_however_often_nodes_report(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.sqlite")
    try:
        store.register(BIN)
        out = Taken()
        # A pass's rest is as many times as long as it took: here, forever.
        feed = NgsiFeed(store, BinStates(), BinForecasts(), out, rest_per_pass=1e9)
        assert feed.step() == 2 and feed.passes == 1  # the first pass: no rest after it
        store.insert([BinRecord("B0042", codec.BinReport(1, NOW - 60, 70.0, 20, 3600, 0, 0),
                                NOW - 59)])
        assert feed.step() == 2 and feed.passes == 2
        store.insert([BinRecord("B0042", codec.BinReport(2, NOW - 30, 72.0, 20, 3600, 0, 0),
                                NOW - 29)])
        assert feed.step() == 0 and feed.passes == 2
    finally:
        store.close()
