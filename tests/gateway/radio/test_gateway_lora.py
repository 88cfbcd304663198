"""The gateway's LoRa path over a real serial line: a pty pair stands for the
radio bridge's USB port. The test plays the bridge on the master side with the
firmware's own framing and CoAP encoder; the gateway is the real process."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import RunningGateway, launch_gateway
from lightkit import geojson, lights_cli, ok, pole
from radiokit import Bridge, _Hal, bin_frame, wait_until

from firmware import codec
from firmware.lighting import payload as light_codec
from firmware.lora import bridge_frame as bf
from firmware.lora import plan as radio_plan
from firmware.lora.airtime import airtime_us
from firmware.lora.link import RESPONSE_LEN, decode_feedback, node_tag
from firmware.net.uplink import Uplink
from firmware.proto import coap
from firmware.proto.paths import PRESENCE_PATH, STATUS_PATH
from gateway.radio.downlink import BridgeClock, Downlink
from gateway.radio.lora import ack_deadline_ms
from gateway.records import BinRecord, Node
from gateway.storage.store import Store
from sim.gateway_process import gateway_log_path

BIN = Node("B0001", "bin", 60.67, 17.14, "240L")


def stored(db: Path) -> list[tuple[str, int, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT node_id, seq, measured_at FROM bin_reports ORDER BY id").fetchall()


def log_text(gw: RunningGateway) -> str:
    return gateway_log_path(gw.db).read_text(errors="replace")


@pytest.fixture
def radio(tmp_path: Path) -> Iterator[tuple[RunningGateway, Bridge, Path]]:
    link = tmp_path / "radio"
    bridge = Bridge(link)
    gw = launch_gateway(tmp_path, "--radio", str(link))
    wait_until("the radio to open", lambda: f"radio on {link} open" in log_text(gw))
    gw.register(BIN)
    bridge.write(bf.encode_hello(bridge.ms, [(radio_plan.UPLINK_KHZ, sf)
                                             for sf in range(7, 13)]))
    yield gw, bridge, link
    if gw.proc.poll() is None:
        gw.stop()
    assert "Traceback" not in log_text(gw)


def test_a_report_over_lora_is_stored_once_and_acknowledged_with_link_feedback(
        radio: tuple[RunningGateway, Bridge, Path]) -> None:
    gw, bridge, _ = radio
    frame = bin_frame("B0001", seq=1, mid=0x1234)
    assert len(frame) <= 25  # the budget for a bin report on air
    bridge.rx(frame, sf=9, snr_q=-20)
    tx = bridge.next_tx()
    assert stored(gw.db) == [("B0001", 1, 1790000000)]
    assert (tx.freq_khz, tx.sf) == (radio_plan.DOWNLINK_KHZ, radio_plan.downlink_sf(9))
    ack = coap.decode(tx.frame)
    assert (ack.mtype, ack.mid, ack.token, coap.code_str(ack.code)) == \
        (coap.ACK, 0x1234, b"", "2.04")
    feedback = decode_feedback(ack.payload)
    assert feedback.tag == node_tag("B0001")
    assert feedback.snr_db == -5
    # -5 dB at SF9 is 7.5 dB above its floor, 2.5 dB short of the 10 dB margin:
    # one step slower.
    assert feedback.sf == 10
    assert abs(feedback.time - time.time()) < 3600

    # The node did not hear the ACK and sends the same frame again.
    bridge.rx(frame, sf=9, snr_q=-20)
    again = bridge.next_tx()
    assert again.frame == tx.frame and again.sf == radio_plan.downlink_sf(9)
    assert stored(gw.db) == [("B0001", 1, 1790000000)]


def test_a_node_heard_loud_is_told_to_speed_up(
        radio: tuple[RunningGateway, Bridge, Path]) -> None:
    gw, bridge, _ = radio
    for seq in range(1, 5):
        bridge.rx(bin_frame("B0001", seq=seq, mid=100 + seq), sf=12, snr_q=40)
        feedback = decode_feedback(coap.decode(bridge.next_tx().frame).payload)
    # +10 dB at SF12 is 30 dB above its floor: 20 dB of margin, 6 steps of 3 dB.
    assert (feedback.snr_db, feedback.sf) == (10, 7)
    assert len(stored(gw.db)) == 4


def test_bad_input_is_counted_logged_once_and_the_gateway_keeps_serving(
        radio: tuple[RunningGateway, Bridge, Path]) -> None:
    gw, bridge, _ = radio
    bridge.rx(bin_frame("B0001", seq=1, mid=1))
    bridge.next_tx()
    bad_crc = bytearray(bf.encode_rx(1, radio_plan.UPLINK_KHZ, 7, -80, 0, b"\x40\x02\x00\x01"))
    bad_crc[4] ^= 0x10
    bad = [
        b"\x00\x13garbage \xDB\x42 on the line\xC0",  # bad escape
        bytes(bad_crc),
        bf.slip(b"\x09unknown kind"),
        b"\xC0" + b"\x41" * 600 + b"\xC0",  # longer than any frame
        bf.encode_rx(1, radio_plan.UPLINK_KHZ, 7, -80, 0, b"\xff\xfe\xfd\xfc\xfb"),  # not CoAP
    ]
    for _ in range(2):
        for data in bad:
            bridge.write(data)
        # Not registered: counted and logged once, and not answered, since
        # an answer would spend the downlink duty cycle for anyone's frame.
        bridge.rx(bin_frame("B9999", seq=1, mid=7))
    bridge.rx(bin_frame("B0001", seq=2, mid=2))
    answer = coap.decode(bridge.next_tx().frame)
    assert coap.code_str(answer.code) == "2.04" and answer.mid == 2
    assert [r[:2] for r in stored(gw.db)] == [("B0001", 1), ("B0001", 2)]
    assert bridge.quiet()

    gw.stop()
    lines = log_text(gw).splitlines()
    radio_line = next(ln for ln in lines if "radio: {" in ln)
    for kind in (": garbage", ": bad crc", ": unknown kind", ": too long", "is not CoAP",
                 "'B9999', which is not registered"):
        assert sum(kind in ln for ln in lines) == 1, (kind, lines)
    for count in ("'serial:garbage': 2", "'serial:bad crc': 2", "'serial:unknown kind': 2",
                  "'serial:too long': 2", "'lora:undecodable': 2", "'lora:unknown node': 2"):
        assert count in radio_line, (count, radio_line)


def test_the_radio_unplugged_and_plugged_back_is_picked_up_by_itself(
        radio: tuple[RunningGateway, Bridge, Path]) -> None:
    gw, bridge, link = radio
    bridge.rx(bin_frame("B0001", seq=1, mid=1))
    bridge.next_tx()
    bridge.unplug(link)
    wait_until("the gateway to notice", lambda: f"radio on {link} lost" in log_text(gw))

    bridge = Bridge(link)
    wait_until("the gateway to reconnect", lambda: f"radio on {link} back" in log_text(gw))
    bridge.rx(bin_frame("B0001", seq=2, mid=2))
    assert coap.code_str(coap.decode(bridge.next_tx().frame).code) == "2.04"
    assert [r[:2] for r in stored(gw.db)] == [("B0001", 1), ("B0001", 2)]
    log = log_text(gw)
    assert log.count(f"radio on {link} lost") == 1
    assert log.count(f"radio on {link} back") == 1


def test_a_report_without_time_sent_again_with_a_new_message_id_is_stored_once(
        radio: tuple[RunningGateway, Bridge, Path]) -> None:
    # A node without a clock that rebooted resends its queued report under a
    # new message id: only the store can tell it is the same report.
    gw, bridge, _ = radio
    bridge.rx(bin_frame("B0001", seq=9, mid=500, when=0))
    bridge.next_tx()
    bridge.rx(bin_frame("B0001", seq=9, mid=900, when=0))
    assert coap.code_str(coap.decode(bridge.next_tx().frame).code) == "2.04"
    bridge.rx(bin_frame("B0001", seq=10, mid=901, when=0))  # the next report
    bridge.next_tx()
    assert [r[:2] for r in stored(gw.db)] == [("B0001", 9), ("B0001", 10)]


def test_store_takes_reports_without_time_as_duplicates_only_within_two_days(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "g.sqlite")
    store.register(BIN)
    t0 = 1790000000.0

    def rec(received: float, seq: int = 3, fill: float = 50.0, when: int = 0) -> BinRecord:
        return BinRecord("B0001", codec.BinReport(seq, when, fill, 8, 3600), received)

    assert store.insert([rec(t0), rec(t0 + 5)]) == [True, False]
    assert store.insert([rec(t0 + 60, fill=51.0)]) == [True]
    assert store.insert([rec(t0 + 60, seq=4)]) == [True]
    assert store.insert([rec(t0 + 3 * 86400)]) == [True]
    # Reports with a time keep the usual rule.
    assert store.insert([rec(t0, when=1790000500), rec(t0 + 5, when=1790000500)]) == \
        [True, False]
    store.close()


def run_downlink(dl: Downlink, until: Callable[[], bool]) -> list[bytes]:
    """Run the scheduler with a bridge that answers every TX at once; the
    frames it transmitted."""
    async def main() -> None:
        loop = asyncio.get_running_loop()

        def send(data: bytes) -> bool:
            tx = bf.decode(bf.FrameReader().feed(data)[0])
            assert isinstance(tx, bf.Tx)
            sent.append(tx.frame)
            loop.call_soon(dl.tx_result, bf.TxResult(tx.tx_id, bf.TX_SENT,
                                                      dl.clock.now(), 50))
            return True

        dl.send = send
        dl.start()
        for _ in range(500):
            if until():
                break
            await asyncio.sleep(0.01)
        await dl.stop()

    sent: list[bytes] = []
    asyncio.run(main())
    return sent


def test_downlink_sends_acks_before_commands_and_drops_acks_too_late() -> None:
    clock = BridgeClock()
    now = clock.see(5_000_000)
    dl = Downlink(clock=clock)
    dl.command(b"command", 7)
    dl.ack(b"too late", 7, now - 1)
    dl.ack(b"ack 2", 7, now + 60_000)
    dl.ack(b"ack 1", 7, now + 30_000)
    sent = run_downlink(dl, lambda: dl.waiting() == 0 and dl.counts["sent"] == 3)
    assert sent == [b"ack 1", b"ack 2", b"command"]
    assert (dl.counts["sent"], dl.counts["dropped"]) == (3, 1)


def test_downlink_holds_back_what_the_duty_cycle_does_not_allow() -> None:
    clock = BridgeClock()
    now = clock.see(5_000_000)
    dl = Downlink(clock=clock)
    # The hour's 10 % on 869.525 MHz is spent but for 10 ms.
    dl.duty.record(radio_plan.DOWNLINK_KHZ, 360_000 - 10, now - 1000)
    dl.ack(b"ack", 7, now + 100)
    assert run_downlink(dl, lambda: dl.counts["dropped"] == 1) == []
    assert (dl.counts["deferred"], dl.counts["dropped"], dl.counts["sent"]) == (1, 1, 0)


def test_a_push_goes_after_answers_and_commands_and_never_into_their_half_of_the_hour(
        ) -> None:
    async def main() -> tuple[list[bytes], bool, bool]:
        clock = BridgeClock()
        now = clock.see(5_000_000)
        dl = Downlink(clock=clock)
        sent: list[bytes] = []

        def send(wire: bytes) -> bool:
            (body,) = bf.FrameReader().feed(wire)
            tx = bf.decode(body)
            assert isinstance(tx, bf.Tx)
            sent.append(tx.frame)
            asyncio.get_running_loop().call_soon(
                dl.tx_result, bf.TxResult(tx.tx_id, bf.TX_SENT, dl.clock.now(), 50))
            return True

        dl.send = send
        first = dl.push(b"push", 7, 60_000)
        dl.command(b"command", 7)
        dl.ack(b"ack", 7, now + 30_000)
        dl.start()
        went = await asyncio.wait_for(first, 10)
        # Half of the hour's 10 % spent: a push is held back, an answer goes.
        dl.duty.record(radio_plan.DOWNLINK_KHZ, 180_000, clock.now())
        second = dl.push(b"held", 7, 60_000)
        dl.ack(b"ack 2", 7, clock.now() + 30_000)
        held = await asyncio.wait_for(second, 10)
        for _ in range(500):
            if dl.counts["sent"] == 4:
                break
            await asyncio.sleep(0.01)
        await dl.stop()
        return sent, went, held

    sent, went, held = asyncio.run(main())
    assert sent == [b"ack", b"command", b"push", b"ack 2"]
    assert went and not held


def test_ack_deadline_leaves_the_node_time_to_hear_it() -> None:
    for sf in range(7, 13):
        down_sf = radio_plan.downlink_sf(sf)
        for up_len in (25, 40):  # a bin report, unprotected and protected
            up = airtime_us(up_len, sf) // 1000
            reckoned = airtime_us(RESPONSE_LEN, down_sf) // 1000  # what the node waits for
            # An unprotected answer, a protected one, an Echo challenge.
            for length in (13, RESPONSE_LEN, RESPONSE_LEN + 12):
                down = airtime_us(length, down_sf) // 1000
                deadline = ack_deadline_ms(0, up_len, sf, length)
                # Starting by the deadline, the ACK ends before the node's first
                # timeout (at least 2 s, and at least both airtimes, the answer
                # at the downlink SF, plus 1 s, from its uplink's start).
                assert up + deadline + down <= max(2000, up + reckoned + 1000)
                if length <= RESPONSE_LEN:
                    assert deadline >= 1000  # for the gateway to store the report first


def light_frame(node_id: str, path: str, payload: bytes, mid: int, confirmable: bool) -> bytes:
    hal = _Hal(mid - 1)
    up = Uplink(node_id, hal, mid=mid - 1)
    if confirmable:
        up.post_confirmable(path, payload)
    else:
        up.post_non_confirmable(path, payload)
    return hal.net.sent[0]


def test_a_presence_event_heard_over_lora_brightens_the_poles_ahead_over_lora(
        radio: tuple[RunningGateway, Bridge, Path], tmp_path: Path) -> None:
    gw, bridge, _ = radio
    poles = [pole(f"L{i}", 30.0 * (i + 1), 4.0, "street-1", addr=100 + i) for i in range(6)]
    gw.register(*poles)
    # The zone first, then the street: the wave built once the street is
    # there (the one the test waits for) knows the zone.
    ok(lights_cli(gw.db, "zone", "set", "street-1", "--hours", "always", "--who", "test"))
    streets = tmp_path / "streets.geojson"
    streets.write_text(geojson([("Storgatan", [(0.0, 0.0), (210.0, 0.0)])]))
    ok(lights_cli(gw.db, "streets", "import", str(streets)))
    # Every pole heard once, its status acknowledged; L3 is far out, at SF10
    # (-5 dB there is just the margin: it stays at SF10).
    now = int(time.time())
    for i, p in enumerate(poles):
        status = light_codec.encode_status(light_codec.Status(1, now, 40, 100))
        sf, snr_q = (10, -20) if i == 3 else (7, 40)
        bridge.rx(light_frame(p.node_id, STATUS_PATH, status, 0x100 + i, True), sf=sf,
                  snr_q=snr_q)
        assert coap.decode(bridge.next_tx().frame).mtype == coap.ACK
    wait_until("the light wave to know the street",
               lambda: "6 poles on 1 streets" in log_text(gw))
    event = codec.encode_presence(codec.PresenceEvent(
        2, now, 1, 100, 1.4, codec.PRESENCE_SOURCE_RADAR | codec.PRESENCE_DIR_UP))
    bridge.rx(light_frame("L1", PRESENCE_PATH, event, 0x200, False), sf=7, snr_q=40)
    txs = [bridge.next_tx(), bridge.next_tx()]
    # One group command per downlink SF: the poles at SF7 hear it at SF7, L3
    # at SF8; each frame names every target.
    assert sorted(tx.sf for tx in txs) == [7, radio_plan.downlink_sf(10)]
    for tx in txs:
        msg = coap.decode(tx.frame)
        assert (msg.mtype, msg.code, msg.options[0][1]) == (coap.NON, coap.POST, b"c")
        cmd = light_codec.decode_brighten(msg.payload)
        assert cmd.level_pct == 100 and {102, 103, 104} <= set(cmd.targets)
    assert bridge.quiet()
