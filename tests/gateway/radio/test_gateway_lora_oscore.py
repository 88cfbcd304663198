"""OSCORE over LoRa at the gateway: the real gateway process on a pty radio
line, the node the firmware's own BinNode on its LoRa link. A protected
report is unprotected with the node's context, stored once, and answered in
the compact form, protected, with the link feedback inside; what does not
verify gets no answer over the air and is logged once per kind."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RunningGateway
from radiokit import Bridge, FakeHal, FakeModem, LoraBin, kid_of, oscore_radio_gateway, stored

from firmware.lighting.node import LightNode
from firmware.lora import bridge_frame as bf
from firmware.lora import plan as radio_plan
from firmware.lora.link import RESPONSE_LEN
from firmware.lora.net import LoraNet
from firmware.proto import coap
from firmware.settings import Config
from gateway.records import Node
from sim.gateway_process import gateway_log_path

KEY = "000102030405060708090a0b0c0d0e0f"


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[tuple[RunningGateway, Bridge, LoraBin]]:
    link = tmp_path / "radio"
    bridge = Bridge(link)
    gw = oscore_radio_gateway(tmp_path, link)
    gw.register(Node("B0001", "bin", 60.67, 17.14, "240L", key=KEY))
    bridge.write(bf.encode_hello(bridge.ms, [(radio_plan.UPLINK_KHZ, sf)
                                             for sf in range(7, 13)]))
    yield gw, bridge, LoraBin("B0001", KEY, kid_of(gw.db, "B0001"))
    if gw.proc.poll() is None:
        gw.stop()
    assert "Traceback" not in gateway_log_path(gw.db).read_text(errors="replace")


def test_a_protected_report_over_lora_is_stored_once_and_answered_protected(
        keyed: tuple[RunningGateway, Bridge, LoraBin]) -> None:
    gw, bridge, node = keyed
    node.wake()
    frame = node.last_sent()
    assert len(frame) <= 40  # the budget for a protected bin report on air
    bridge.rx(frame, sf=9, snr_q=-20)
    tx = bridge.next_tx()
    seq = node.queued_seqs()[0]
    assert [r[:2] for r in stored(gw.db)] == [("B0001", seq)]
    assert (tx.freq_khz, tx.sf) == (radio_plan.DOWNLINK_KHZ, radio_plan.downlink_sf(9))
    # The compact form: the request's message id, the OSCORE option (empty:
    # the request's nonce reused) and the ciphertext, nothing else.
    ack = coap.decode(tx.frame)
    request = coap.decode(frame)
    assert (ack.mtype, ack.mid, ack.token, ack.code) == (coap.ACK, request.mid, b"",
                                                         coap.CHANGED)
    assert ack.options == [(9, b"")] and len(tx.frame) == RESPONSE_LEN
    # The node did not hear it and sends the same bytes again: the same
    # answer, stored once.
    bridge.rx(frame, sf=9, snr_q=-20)
    assert bridge.next_tx().frame == tx.frame
    assert len(stored(gw.db)) == 1
    # The node verifies it and takes the feedback inside: -5 dB at SF9 is
    # 2.5 dB short of the margin, one step slower; the gateway's time.
    assert not node.hear(tx.frame)
    assert node.queued_seqs() == [] and node.hal.net.sf == 10
    assert abs(node.hal.clock.time() - time.time()) < 60


def test_frames_that_do_not_verify_get_no_answer_and_are_logged_once(
        keyed: tuple[RunningGateway, Bridge, LoraBin]) -> None:
    gw, bridge, node = keyed
    node.wake()
    frame = node.last_sent()
    tampered = frame[:-1] + bytes((frame[-1] ^ 1,))  # one bit of the tag
    unknown_kid = frame.replace(bytes.fromhex(kid_of(gw.db, "B0001")) + b"\xff",
                                b"\x7e\xff", 1)
    for _ in range(2):
        bridge.rx(tampered)
        bridge.rx(unknown_kid)
    assert bridge.quiet() and stored(gw.db) == []
    bridge.rx(frame)
    assert coap.decode(bridge.next_tx().frame).options == [(9, b"")]
    # The recorded frame under another message id is not a retransmission:
    # a replay, unanswered.
    bridge.rx(frame[:2] + b"\x55\x55" + frame[4:])
    assert bridge.quiet() and len(stored(gw.db)) == 1
    assert gw.stop() == 0
    lines = gateway_log_path(gw.db).read_text(errors="replace").splitlines()
    radio_line = next(ln for ln in lines if "radio: {" in ln)
    for kind in ("does not verify", "names a kid no registered node has", "is a replay"):
        assert sum(kind in ln for ln in lines) == 1, (kind, lines)
    for count in ("'lora:oscore: not verified': 2", "'lora:oscore: unknown kid': 2",
                  "'lora:oscore: replay': 1"):
        assert count in radio_line, (count, radio_line)


def test_a_protected_presence_event_with_no_response_is_not_answered(
        tmp_path: Path) -> None:
    link = tmp_path / "radio"
    bridge = Bridge(link)
    gw = oscore_radio_gateway(tmp_path, link)
    try:
        gw.register(Node("L1", "light", 60.67, 17.14, "street-1", key=KEY))
        hal = FakeHal()
        hal.clock.unix = int(time.time())
        modem = FakeModem(hal.clock)
        hal.net = LoraNet(modem, "L1", hal.clock, hal.log, sf=7, listen=True)
        light = LightNode(Config({"id": "L1", "role": "light", "transport": "lora",
                                  "key": KEY, "kid": kid_of(gw.db, "L1")}), hal)
        hal.presence.trigger()
        light.poll()
        event = modem.sent()[-1]
        assert coap.decode(event).mtype == coap.NON and coap.decode(event).options[0][0] == 9
        bridge.rx(event, sf=7, snr_q=20)
        assert bridge.quiet()
        assert gw.stop() == 0
        radio_line = next(ln for ln in gateway_log_path(gw.db).read_text().splitlines()
                          if "radio: {" in ln)
        assert "'lora:not answered (No-Response)': 1" in radio_line
    finally:
        if gw.proc.poll() is None:
            gw.stop()


def test_the_signal_of_the_nodes_own_uplink_is_kept_for_the_technician_and_forgeries_are_not(
        keyed: tuple[RunningGateway, Bridge, LoraBin]) -> None:
    gw, bridge, node = keyed
    node.wake()
    frame = node.last_sent()
    bridge.rx(frame, sf=10, snr_q=-30, rssi=-117)
    bridge.next_tx()
    # Frames in its name that do not verify, heard loud: not its signal.
    tampered = frame[:-1] + bytes((frame[-1] ^ 1,))
    bridge.rx(tampered, sf=7, snr_q=40, rssi=-40)
    bridge.rx(frame[:2] + b"\x55\x55" + frame[4:], sf=7, snr_q=40, rssi=-40)  # a replay
    assert bridge.quiet()
    assert gw.stop() == 0  # what the link log holds is written at the stop
    with sqlite3.connect(gw.db) as conn:
        row = conn.execute("SELECT node_id, via, rssi_dbm, snr_q, sf FROM node_links").fetchall()
    assert row == [("B0001", "lora", -117, -30, 10)]
