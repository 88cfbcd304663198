"""A real mosquitto broker receives what the gateway accepts."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from conftest import free_tcp_port, launch_gateway, subscriber

from firmware import codec
from firmware.lighting import payload as light_codec
from firmware.proto import coap
from gateway.records import Node
from sim.broker import start_mosquitto


def post(port: int, path: bytes, node: bytes, payload: bytes) -> str:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(5)
    msg = coap.Message(coap.CON, coap.POST, 0x1111, b"\x01",
                       [(coap.OPT_URI_PATH, path), (coap.OPT_URI_PATH, node)], payload)
    sock.send(coap.encode(msg))
    reply = coap.decode(sock.recv(1500))
    sock.close()
    return coap.code_str(reply.code)


def test_accepted_report_is_published_and_rejected_one_is_not(tmp_path: Path,
                                                              mosquitto: int) -> None:
    client, inbox = subscriber(mosquitto, "kvarter/#")
    gw = launch_gateway(tmp_path, "--mqtt", "127.0.0.1", "--mqtt-port", str(mosquitto),
                        "--district", "norrmalm")
    try:
        gw.register(Node("B0042", "bin", 59.33, 18.06, "240L"))
        report = codec.BinReport(77, 1_790_000_000, 81.5, 9, 3580, None,
                                 codec.BIN_FLAG_THRESHOLD)
        assert post(gw.port, b"b", b"B0042", b"\x01\x02") == "4.00"
        assert post(gw.port, b"b", b"B0042", codec.encode_bin_report(report)) == "2.04"
        msg = inbox.get(timeout=10)
        assert msg.topic == "kvarter/norrmalm/bin/B0042/report"
        body = json.loads(msg.payload)
        assert body["fill_pct"] == 81.5 and body["seq"] == 77
        assert body["measured_at"] == 1_790_000_000 and body["battery_mv"] == 3580
        assert inbox.empty()  # the malformed report was not published
    finally:
        assert gw.stop() == 0
        client.loop_stop()
        client.disconnect()


def test_a_poles_presence_events_are_never_published_one_by_one(tmp_path: Path,
                                                                 mosquitto: int) -> None:
    # Presence leaves the gateway only as counts per zone and interval
    # (tests/gateway/lighting/test_light_mqtt.py): a pole's events with their
    # times and speeds would let a walker be followed from pole to pole.
    client, inbox = subscriber(mosquitto, "kvarter/+/light/#")
    gw = launch_gateway(tmp_path, "--mqtt", "127.0.0.1", "--mqtt-port", str(mosquitto))
    try:
        gw.register(Node("L7", "light", 59.33, 18.06, "street-1"))
        event = codec.PresenceEvent(5, 1_790_000_100, 3, 100, 1.4)
        assert post(gw.port, b"p", b"L7", codec.encode_presence(event)) == "2.04"
        status = light_codec.Status(6, 1_790_000_200, 40, 1000, 0x01)
        assert post(gw.port, b"s", b"L7", light_codec.encode_status(status)) == "2.04"
        msg = inbox.get(timeout=10)
        assert msg.topic == "kvarter/district/light/L7/state"
        assert json.loads(msg.payload)["seq"] == 6
        assert inbox.empty()
    finally:
        gw.stop()
        client.loop_stop()
        client.disconnect()


def test_reports_accepted_while_the_broker_is_away_are_published_when_it_returns(
        tmp_path: Path) -> None:
    port = free_tcp_port()
    gw = launch_gateway(tmp_path, "--mqtt", "127.0.0.1", "--mqtt-port", str(port))
    broker = None
    try:
        gw.register(Node("B5", "bin", 60.0, 17.0))
        report = codec.BinReport(3, 1_790_000_000, 20.0)
        # No broker yet: the report is still stored and acknowledged.
        assert post(gw.port, b"b", b"B5", codec.encode_bin_report(report)) == "2.04"
        broker = start_mosquitto(port, tmp_path)
        client, inbox = subscriber(port, "kvarter/#")
        body = json.loads(inbox.get(timeout=40).payload)
        assert body["node"] == "B5" and body["seq"] == 3
        client.loop_stop()
        client.disconnect()
    finally:
        gw.stop()
        if broker is not None:
            broker.terminate()
            broker.wait(timeout=10)
