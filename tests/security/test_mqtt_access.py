"""Attacks on what the gateway publishes: anyone on the network reading the
district's data from an open broker (or posing as the gateway), a broker
outage that fills the gateway's memory, and a pole's presence events that
let a walker be followed. The broker speaks TLS and wants a password, the
gateway has both, its queue is bounded, and presence leaves as counts only."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import free_tcp_port, launch_gateway
from security_support import log_text, mqtt_connect, post_report, start_tls_broker

from firmware import codec
from gateway.records import Node

PASSWORD = "correct horse battery staple"


def test_only_the_gateway_with_credentials_publishes_over_tls(tmp_path: Path) -> None:
    broker = start_tls_broker(tmp_path, "gateway", PASSWORD)
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[gateway]\ndistrict = "norrmalm"\nmqtt_tls_ca = "{broker.ca}"\n'
        f'mqtt_username = "gateway"\nmqtt_password = "{PASSWORD}"\n')
    clients = []
    try:
        anonymous, answer = mqtt_connect(broker, None, None)
        clients.append(anonymous)
        assert str(answer) != "Success", answer
        wrong, answer = mqtt_connect(broker, "gateway", "guess")
        clients.append(wrong)
        assert str(answer) != "Success", answer
        plain, answer = mqtt_connect(broker, "gateway", PASSWORD, tls=False)
        clients.append(plain)
        assert str(answer) != "Success", answer

        reader, answer = mqtt_connect(broker, "gateway", PASSWORD)
        clients.append(reader)
        assert str(answer) == "Success", answer
        inbox: list[tuple[str, bytes]] = []
        reader.on_message = lambda c, u, msg: inbox.append((msg.topic, msg.payload))
        reader.subscribe("kvarter/#", qos=1)
        time.sleep(0.3)

        gw = launch_gateway(tmp_path, "--config", str(config), "--mqtt", "127.0.0.1",
                            "--mqtt-port", str(broker.port))
        try:
            gw.register(Node("B0042", "bin", 59.33, 18.06, "240L"))
            report = codec.encode_bin_report(codec.BinReport(7, 0, 81.5))
            assert post_report(gw, b"b", "B0042", report)[0] == "2.04"
            deadline = time.monotonic() + 15
            while not inbox and time.monotonic() < deadline:
                time.sleep(0.05)
            assert inbox and inbox[0][0] == "kvarter/norrmalm/bin/B0042/report"
            assert json.loads(inbox[0][1])["fill_pct"] == 81.5
        finally:
            gw.stop()
        assert PASSWORD not in log_text(gw)
    finally:
        for c in clients:
            c.loop_stop()
            c.disconnect()
        broker.proc.terminate()
        broker.proc.wait(timeout=10)


def test_while_the_broker_is_away_the_queue_is_bounded_and_drops_are_logged(
        tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("[gateway]\nmqtt_queue_max = 3\n")
    gw = launch_gateway(tmp_path, "--config", str(config), "--mqtt", "127.0.0.1",
                        "--mqtt-port", str(free_tcp_port()))
    try:
        gw.register(Node("B5", "bin", 60.0, 17.0))
        for seq in range(1, 9):
            report = codec.encode_bin_report(codec.BinReport(seq, 0, 20.0 + seq))
            assert post_report(gw, b"b", "B5", report, mid=seq)[0] == "2.04"
    finally:
        gw.stop()
    text = log_text(gw)
    assert "MQTT broker away and 3 messages waiting: one dropped (5 so far)" in text
