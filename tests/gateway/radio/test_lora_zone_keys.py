"""Zone profiles, and the zone key inside them, over LoRa: the real gateway
process with its radio on a pty (the test plays the radio bridge), the poles
the firmware's own LightNode on its own LoRa link. A keyed pole heard over
LoRa is pushed its profile protected with its own context, in the compact
form, retransmitted until its protected ACK comes back; then it holds the
zone key and the gateway brightens it with the frame under that key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RunningGateway
from lightkit import geojson, lights_cli, ok, pole
from radiokit import (
    Bridge,
    LoraPole,
    kid_of,
    oscore_radio_gateway,
    serve,
    wait_until,
    zone_key_holders,
)

from firmware import codec
from firmware.lighting import payload as light_codec
from firmware.lora import bridge_frame as bf
from firmware.lora import plan as radio_plan
from firmware.lora.airtime import airtime_us
from firmware.oscore.message import parse_option
from firmware.proto import coap
from firmware.proto.paths import PRESENCE_PATH
from sim.gateway_process import gateway_log_path

KEYS = {f"L{i}": f"{i:02x}" * 16 for i in range(1, 5)}
# The protected profile push on the air: header (4, no token), the OSCORE
# option (1 + flags + a 1-2 byte Partial IV; the gateway's Sender ID is
# empty), payload marker, then the ciphertext of the code, Uri-Path "z",
# payload marker, the profile (11) and the zone key part (1 + gid + 16),
# and the 8-byte tag.
PUSH_MAX = 4 + 1 + 1 + 2 + 1 + (1 + 2 + 1 + 11 + 1 + 4 + 16) + 8


def log_text(gw: RunningGateway) -> str:
    return gateway_log_path(gw.db).read_text(errors="replace")


@pytest.fixture
def street(tmp_path: Path) -> Iterator[tuple[RunningGateway, Bridge, list[LoraPole]]]:
    link = tmp_path / "radio"
    bridge = Bridge(link)
    gw = oscore_radio_gateway(tmp_path, link)
    nodes = [pole(n, 30.0 * (i + 1), 4.0, "street-1", addr=100 + i, key=KEYS[n])
             for i, n in enumerate(sorted(KEYS))]
    gw.register(*nodes)
    ok(lights_cli(gw.db, "zone", "set", "street-1", "--hours", "always", "--who", "test"))
    streets = tmp_path / "streets.geojson"
    streets.write_text(geojson([("Storgatan", [(0.0, 0.0), (150.0, 0.0)])]))
    ok(lights_cli(gw.db, "streets", "import", str(streets)))
    bridge.write(bf.encode_hello(bridge.ms, [(radio_plan.UPLINK_KHZ, sf)
                                             for sf in range(7, 13)]))
    poles = [LoraPole(n.node_id, KEYS[n.node_id], kid_of(gw.db, n.node_id), n.addr or 0)
             for n in nodes]
    yield gw, bridge, poles
    if gw.proc.poll() is None:
        gw.stop()
    assert "Traceback" not in log_text(gw)


def heard(bridge: Bridge, p: LoraPole) -> None:
    """The pole's first status over LoRa, answered, its answer taken."""
    bridge.rx(p.status(), sf=7, snr_q=40)
    assert p.hear(bridge.next_ack().frame) == []


def test_a_lora_pole_is_pushed_its_zone_key_over_the_air_retried_until_acknowledged(
        street: tuple[RunningGateway, Bridge, list[LoraPole]]) -> None:
    gw, bridge, poles = street
    first = poles[0]
    heard(bridge, first)
    # The push: a CON POST in the compact form, at the SF the pole listens at.
    push = bridge.next_tx()
    msg = coap.decode(push.frame)
    assert (push.freq_khz, push.sf) == (radio_plan.DOWNLINK_KHZ, radio_plan.downlink_sf(7))
    assert (msg.mtype, msg.code, msg.token) == (coap.CON, coap.POST, b"")
    assert [n for n, _ in msg.options] == [9]  # the Uri-Path is inside
    _, kid, kid_context = parse_option(msg.options[0][1])
    assert kid == b"" and kid_context is None  # the gateway's Sender ID is empty
    assert len(push.frame) <= PUSH_MAX
    assert airtime_us(len(push.frame), 7) <= 120_000  # ms at SF7 at most
    # Lost on the way: the same bytes again after the ACK timeout.
    again = bridge.next_tx()
    assert again.frame == push.frame
    assert first.node.zone_key is None
    # Heard this time; the pole answers protected, the gateway counts it.
    (ack,) = first.hear(again.frame)
    answer = coap.decode(ack)
    assert (answer.mtype, answer.mid, answer.options) == (coap.ACK, msg.mid, [(9, b"")])
    bridge.rx(ack, sf=7, snr_q=40)
    wait_until("the gateway to count the key acknowledged",
               lambda: "L1" in zone_key_holders(gw.db))
    assert first.node.zone_key is not None
    assert first.node.zone_key[0] == bytes((zone_key_holders(gw.db)["L1"],))
    # Kept in flash with the profile, as over Wi-Fi.
    stored, key_part = light_codec.split_profile_push(first.hal.settings.load())
    assert key_part == first.node.zone_key
    assert bridge.quiet()  # acknowledged: no more pushes
    # The same ACK again (the pole's retransmission): counted, nothing else.
    bridge.rx(ack, sf=7, snr_q=40)
    assert bridge.quiet()
    assert gw.stop() == 0
    radio_line = next(ln for ln in log_text(gw).splitlines() if "radio: {" in ln)
    for count in ("'lora:push acknowledged': 1", "'lora:push retransmitted': 1",
                  "'lora:answer to no push': 1"):
        assert count in radio_line, (count, radio_line)


def test_keyed_lora_poles_get_the_brighten_frame_under_their_zone_key(
        street: tuple[RunningGateway, Bridge, list[LoraPole]]) -> None:
    gw, bridge, poles = street
    for p in poles:
        bridge.rx(p.status(), sf=7, snr_q=40)
    # Every pole hears everything the gateway sends (the answers to the
    # others' statuses, every push); only what is its own verifies, and only
    # that it answers.
    serve(bridge, poles, lambda: len(zone_key_holders(gw.db)) == len(poles))
    assert all(p.node.zone_key is not None for p in poles)
    for p in poles:
        status, *answers = p.modem.sent()
        assert answers and all(coap.decode(a).mtype == coap.ACK for a in answers)
        assert p.node.uplink.last_result == ("2.04", b"")  # its status was answered
    wait_until("the light wave to know the street",
               lambda: f"{len(poles)} poles on 1 streets" in log_text(gw))
    assert bridge.quiet()
    # A walker at L1: the poles ahead are brightened with one protected frame.
    now = int(time.time())
    mover = poles[0].node
    event = codec.encode_presence(codec.PresenceEvent(
        2, now, 1, 100, 1.4, codec.PRESENCE_SOURCE_RADAR | codec.PRESENCE_DIR_UP))
    mover.uplink.post_non_confirmable(PRESENCE_PATH, event)
    bridge.rx(poles[0].new_frames()[-1], sf=7, snr_q=40)
    cmd = bridge.next_tx()
    msg = coap.decode(cmd.frame)
    assert (msg.mtype, msg.code) == (coap.NON, coap.POST)
    _, _, gid = parse_option(msg.option(9))
    assert gid == poles[1].node.zone_key[0]  # under the zone key, not in the clear
    assert b"\xb1c" not in cmd.frame[:6]
    for p in poles:
        assert p.hear(cmd.frame) == []  # never answered
    lit = [p.node_id for p in poles if p.node.cmd_level == 100]
    assert lit and "L1" not in lit
    assert all(p.node.commands_refused == 0 for p in poles)
