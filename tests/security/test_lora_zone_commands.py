"""Attacks over the air on keyed light poles on LoRa: the real gateway
process with its radio on a pty (the test plays the radio bridge and the
attacker's radio), the pole the firmware's own LightNode on its LoRa link.
Whoever has a radio can send a pole an unprotected Brighten or profile, or
answer the gateway's profile push in the pole's place; none of it may light
a lamp, change a profile, make the pole spend its airtime answering, or make
the gateway believe the pole holds its zone key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RunningGateway
from lightkit import lights_cli, ok, pole
from radiokit import Bridge, LoraPole, kid_of, oscore_radio_gateway, wait_until, zone_key_holders

from firmware.lighting import payload as light_codec
from firmware.lora import bridge_frame as bf
from firmware.lora import plan as radio_plan
from firmware.proto import coap
from sim.gateway_process import gateway_log_path

KEY = "5a" * 16


def plain(path: str, payload: bytes, mtype: int = coap.NON, mid: int = 0x0C0C) -> bytes:
    return coap.encode(coap.Message(mtype, coap.POST, mid, b"", [
        (coap.OPT_URI_PATH, path.encode())], payload))


def brighten_all(command_id: int) -> bytes:
    return light_codec.encode_brighten(light_codec.Brighten(command_id, 100, 3600, []))


@pytest.fixture
def keyed_pole(tmp_path: Path) -> Iterator[tuple[RunningGateway, Bridge, LoraPole]]:
    link = tmp_path / "radio"
    bridge = Bridge(link)
    gw = oscore_radio_gateway(tmp_path, link)
    node = pole("L1", 30.0, 4.0, "street-1", addr=100, key=KEY)
    gw.register(node)
    ok(lights_cli(gw.db, "zone", "set", "street-1", "--idle", "30", "--who", "test"))
    bridge.write(bf.encode_hello(bridge.ms, [(radio_plan.UPLINK_KHZ, sf)
                                             for sf in range(7, 13)]))
    yield gw, bridge, LoraPole("L1", KEY, kid_of(gw.db, "L1"), 100)
    if gw.proc.poll() is None:
        gw.stop()
    assert "Traceback" not in gateway_log_path(gw.db).read_text(errors="replace")


def test_an_unprotected_command_or_profile_over_lora_changes_nothing_on_a_keyed_pole(
        keyed_pole: tuple[RunningGateway, Bridge, LoraPole]) -> None:
    gw, bridge, lora_pole = keyed_pole
    light = lora_pole.node
    profile = light.profile
    forged_profile = light_codec.encode_profile(light_codec.Profile(9, 0, 0, 0, 0, 0, 0, 1))
    # Before its zone key came, and after: the same.
    for stage in ("no zone key", "zone key"):
        for frame in (plain("c", brighten_all(0x4242 + len(stage))),
                      plain("c", brighten_all(0x4343 + len(stage)), coap.CON),
                      plain("z", forged_profile, coap.CON, 0x0D0D)):
            assert lora_pole.hear(frame) == [], stage  # nothing on the air
        assert light.cmd_level == 0 and light.profile == profile, stage
        if stage == "no zone key":
            bridge.rx(lora_pole.status(), sf=7, snr_q=40)
            assert lora_pole.hear(bridge.next_ack().frame) == []
            push = bridge.next_tx()
            (ack,) = lora_pole.hear(push.frame)
            bridge.rx(ack, sf=7, snr_q=40)
            wait_until("the key to be held", lambda: "L1" in zone_key_holders(gw.db))
            assert light.zone_key is not None and light.profile.idle_pct == 30
            profile = light.profile
    assert light.commands_refused == 4
    assert 100 not in light.hal.led.levels  # the lamp never went to the forged level


def test_a_forged_answer_to_a_push_does_not_make_the_gateway_believe_the_pole_has_its_key(
        keyed_pole: tuple[RunningGateway, Bridge, LoraPole]) -> None:
    gw, bridge, lora_pole = keyed_pole
    bridge.rx(lora_pole.status(), sf=7, snr_q=40)
    assert lora_pole.hear(bridge.next_ack().frame) == []
    push = bridge.next_tx()
    request = coap.decode(push.frame)
    # The attacker heard the push and answers first, in the pole's place: an
    # unprotected 2.04, and a protected-looking one with a made-up ciphertext.
    bridge.rx(coap.encode(coap.Message(coap.ACK, coap.CHANGED, request.mid, b"", [], b"")))
    bridge.rx(coap.encode(coap.Message(coap.ACK, coap.CHANGED, request.mid, b"",
                                       [(9, b"")], bytes(9))))
    # The push goes again: the gateway took neither.
    again = bridge.next_tx()
    assert again.frame == push.frame and zone_key_holders(gw.db) == {}
    (ack,) = lora_pole.hear(again.frame)
    bridge.rx(ack, sf=7, snr_q=40)
    wait_until("the key to be held", lambda: "L1" in zone_key_holders(gw.db))
    assert gw.stop() == 0
    radio_line = next(ln for ln in gateway_log_path(gw.db).read_text().splitlines()
                      if "radio: {" in ln)
    assert "'lora:push: answer not verified': 1" in radio_line, radio_line
    assert "'lora:push acknowledged': 1" in radio_line, radio_line
