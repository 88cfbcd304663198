"""The NGSI-LD entities on MQTT at a district's size: a real gateway process
with the API benchmark's district (10,000 bins with a week of reports each,
5,000 poles, bench/api.py) and mqtt_ngsi_ld on, every type, publishing to a
real mosquitto, and a subscriber on the entities' topics.

- first_state: from the gateway's start until the subscriber has every
  entity (30,001: a WasteContainer and a Device per bin, a Streetlight and a
  Device per pole, the one zone), which the gateway sends within half its
  MQTT queue per pass.
- report_to_entity: a bin's report sent over CoAP until its WasteContainer
  with the new fillingLevel reaches the subscriber, one report after
  another, each to another bin. The gateway looks for changes every second,
  but after a pass it rests ten times as long as the pass took (a tenth of a
  core at most for the updates), so this is about half that rest plus a
  pass over the district's entities."""

from __future__ import annotations

import json
import queue
import socket
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.api import BINS, POLES, _fill, _percentile
from bench.report import line
from firmware import codec
from firmware.proto import coap
from sim.broker import start_mosquitto
from sim.gateway_process import free_tcp_port, start_gateway_on_free_ports, stop_gateway

REPORTS = 40
ENTITIES = 2 * BINS + 2 * POLES + 1
FIRST_STATE_TARGET_S = 60.0
# A platform sees a bin's change within the half minute the HTTP provider's
# entities may be old (gateway/api/ngsi_cache.py, MAX_AGE_S).
REPORT_TARGET_MS = 30_000.0


def _subscribe(port: int) -> tuple[mqtt.Client, queue.Queue[tuple[float, str, bytes]]]:
    inbox: queue.Queue[tuple[float, str, bytes]] = queue.Queue()
    done: queue.Queue[bool] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-platform")
    client.on_message = lambda c, u, m: inbox.put((time.perf_counter(), m.topic,
                                                   bytes(m.payload)))
    client.on_subscribe = lambda *a: done.put(True)
    client.on_connect = lambda c, *a: c.subscribe("kvarter/+/ngsi-ld/#", qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    done.get(timeout=10)
    return client, inbox


def _report(port: int, node: str, seq: int, fill: float) -> None:
    report = codec.BinReport(seq, int(time.time()), fill, 12, 3600, 0, 0)
    msg = coap.Message(coap.CON, coap.POST, seq & 0xFFFF, b"\x01",
                       [(coap.OPT_URI_PATH, b"b"), (coap.OPT_URI_PATH, node.encode())],
                       codec.encode_bin_report(report))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        sock.settimeout(5.0)
        sock.send(coap.encode(msg))
        while True:
            reply = coap.decode(sock.recv(2048))
            if reply.code == 0:
                continue  # an empty ACK: the answer follows on its own, once stored
            if reply.mtype == coap.CON:
                sock.send(coap.encode(coap.Message(coap.ACK, 0, reply.mid, b"", [], b"")))
            assert reply.code == coap.CHANGED, (node, coap.code_str(reply.code))
            return


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "gateway.sqlite"
        _fill(db, time.time())
        broker_port = free_tcp_port()
        broker = start_mosquitto(broker_port, Path(tmp))
        client, inbox = _subscribe(broker_port)
        config = Path(tmp) / "gateway.toml"
        config.write_text("[gateway]\nmqtt_ngsi_ld = true\nmqtt_ngsi_ld_types = "
                          '["WasteContainer", "Streetlight", "StreetlightGroup", "Device"]\n')
        t0 = time.perf_counter()
        started = start_gateway_on_free_ports(
            db, "--config", str(config), "--mqtt", "127.0.0.1", "--mqtt-port",
            str(broker_port), "--oscore", "optional", virtual_time=False)
        try:
            topics: set[str] = set()
            last = t0
            while len(topics) < ENTITIES:
                last, topic, _ = inbox.get(timeout=120)
                topics.add(topic)
            first_s = last - t0
            times: list[float] = []
            for k in range(REPORTS):
                node = f"B{(k * 97) % BINS:05d}"
                fill = 50.0 + k % 40
                topic = f"kvarter/district/ngsi-ld/WasteContainer/urn:ngsi-ld:WasteContainer:{node}"
                sent = time.perf_counter()
                _report(started.port, node, 5000 + k, fill)
                while True:
                    at, got, payload = inbox.get(timeout=60)
                    if got == topic and json.loads(payload)["body"]["data"][0][
                            "fillingLevel"]["value"] == round(fill / 100, 3):
                        times.append((at - sent) * 1000)
                        break
        finally:
            stop_gateway(started.proc)
            client.loop_stop()
            client.disconnect()
            broker.terminate()
            broker.wait(timeout=10)
    return [
        line(f"ngsi_mqtt.first_state ({ENTITIES} entities)", first_s, "s", "<",
             FIRST_STATE_TARGET_S),
        line(f"ngsi_mqtt.report_to_entity_p99 (of {len(times)})", _percentile(times, 99), "ms",
             "<", REPORT_TARGET_MS),
        line("ngsi_mqtt.report_to_entity_p50", _percentile(times, 50), "ms", "<",
             REPORT_TARGET_MS),
    ]
