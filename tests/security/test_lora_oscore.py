"""Attacks over the air on a district's LoRa nodes with OSCORE: the real
gateway process with its radio on a pty (the test plays the radio bridge),
and the node the firmware's own BinNode on its own LoRa link. Whoever has a
radio can forge an answer with the tag of a node's public id, record a
node's frame and send it again, or send a report in a node's name; none of
it may set a node's clock or spreading factor, drop a report from its queue
or store a report."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RunningGateway
from radiokit import Bridge, LoraBin, bin_frame, kid_of, oscore_radio_gateway, stored

from firmware.lora import bridge_frame as bf
from firmware.lora import link as lora_link
from firmware.lora import plan as radio_plan
from firmware.proto import coap
from gateway.records import Node
from sim.gateway_process import gateway_log_path

KEY = "8f1e0c2d3b4a59687766554433221100"
LATER = 2000000000  # 2033: where a forger would move the node's clock


def forged_answer(request: bytes, code: int = coap.CHANGED, sf: int = 12) -> bytes:
    """The answer anyone can make from a frame heard on the air: its message
    id, and link feedback with the tag of the node's public id."""
    req = coap.decode(request)
    return coap.encode(coap.Message(coap.ACK, code, req.mid, req.token, [],
                                    lora_link.encode_feedback(
                                        10, sf, lora_link.node_tag("B0001"), LATER)))


def hello(bridge: Bridge) -> None:
    bridge.write(bf.encode_hello(bridge.ms, [(radio_plan.UPLINK_KHZ, sf)
                                             for sf in range(7, 13)]))


@pytest.fixture
def air(tmp_path: Path) -> Iterator[tuple[RunningGateway, Bridge, Path]]:
    link = tmp_path / "radio"
    bridge = Bridge(link)
    gw = oscore_radio_gateway(tmp_path, link)
    gw.register(Node("B0001", "bin", 60.67, 17.14, "240L", key=KEY))
    hello(bridge)
    yield gw, bridge, link
    if gw.proc.poll() is None:
        gw.stop()


def test_a_forged_lora_answer_sets_neither_the_clock_nor_the_spreading_factor(
        air: tuple[RunningGateway, Bridge, Path]) -> None:
    gw, bridge, _ = air
    node = LoraBin("B0001", KEY, kid_of(gw.db, "B0001"))
    node.wake()
    frame = node.last_sent()
    t0 = node.hal.clock.time()
    # The forger answers first, faster than the gateway: SF12 and 2033.
    assert node.hear(forged_answer(frame))
    assert node.hal.net.sf == 9 and abs(node.hal.clock.time() - t0) < 5
    assert len(node.queued_seqs()) == 1
    # The gateway's own answer is the one taken.
    bridge.rx(frame, sf=9, snr_q=40)
    assert not node.hear(bridge.next_tx().frame)
    assert node.queued_seqs() == [] and len(stored(gw.db)) == 1
    assert node.hal.net.sf == 7 and abs(node.hal.clock.time() - time.time()) < 60


def test_a_forged_refusal_over_lora_never_drops_a_fire_report(
        air: tuple[RunningGateway, Bridge, Path]) -> None:
    gw, bridge, _ = air
    node = LoraBin("B0001", KEY, kid_of(gw.db, "B0001"), temp_c=90)
    node.wake()
    fire = node.queued_seqs()[0]
    # Every transmission is answered 4.00 by the forger, at once; the gateway
    # hears none of them (jammed).
    busy = True
    while busy:
        node.hear(forged_answer(node.last_sent(), code=coap.BAD_REQUEST))
        busy = node.wait()
    assert node.queued_seqs() == [fire]
    assert node.node is not None and not node.node.refused
    node.sleep()
    # At its next wake the FIRE report reaches the gateway and is stored.
    node.wake()
    while True:
        bridge.rx(node.last_sent())
        if not node.hear(bridge.next_tx().frame):
            break
    seqs = [seq for _, seq, _ in stored(gw.db)]
    assert fire in seqs and node.queued_seqs() == []


def test_a_spoofed_or_replayed_report_over_lora_is_not_stored_even_after_a_crash(
        air: tuple[RunningGateway, Bridge, Path], tmp_path: Path) -> None:
    gw, bridge, link = air
    node = LoraBin("B0001", KEY, kid_of(gw.db, "B0001"))
    # Unprotected, in the node's name: not answered (an answer would spend
    # the gateway's duty cycle on the attacker), stored nowhere.
    bridge.rx(bin_frame("B0001", seq=77, mid=0x0777, when=int(time.time())))
    assert bridge.quiet() and stored(gw.db) == []
    # The node's own report, recorded off the air.
    node.wake()
    recorded = node.last_sent()
    bridge.rx(recorded)
    assert not node.hear(bridge.next_tx().frame)
    assert len(stored(gw.db)) == 1
    # Sent again under new message ids: replays, unanswered, not stored.
    for mid in (b"\x12\x34", b"\x43\x21"):
        bridge.rx(recorded[:2] + mid + recorded[4:])
    assert bridge.quiet() and len(stored(gw.db)) == 1
    # The gateway crashes: no replay window kept. The recorded frame now
    # draws only a challenge that only the node can read.
    gw.proc.send_signal(signal.SIGKILL)
    gw.proc.wait()
    gw = oscore_radio_gateway(tmp_path, link)
    try:
        hello(bridge)
        bridge.rx(recorded[:2] + b"\x55\x55" + recorded[4:])
        challenge = coap.decode(bridge.next_tx().frame)
        assert challenge.options[0][0] == 9 and len(stored(gw.db)) == 1
        # The node's next report: challenged, proved fresh, stored.
        node.sleep()
        node.wake()
        while True:
            bridge.rx(node.last_sent())
            if not node.hear(bridge.next_tx().frame):
                break
        assert node.queued_seqs() == [] and len(stored(gw.db)) == 2
        assert any("asks for proof of freshness" in ln for ln in node.hal.lines)
        log = gateway_log_path(gw.db).read_text(errors="replace")
        assert "Traceback" not in log
    finally:
        if gw.proc.poll() is None:
            gw.stop()
