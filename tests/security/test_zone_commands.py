"""Attacks on the gateway's group Brighten commands (POST /c under a zone
key), against a real gateway process and the real light node firmware on
real UDP sockets: the pole takes its zone key in its own protected profile
push, applies the gateway's commands, and ignores (counted, unanswered) an
unprotected /c, one forged with a made-up key, a recorded one replayed, and
one made with another zone's key by a captured pole of that zone. And a night
of the lighting scene whose commands are forged: nothing is lit ahead."""

from __future__ import annotations

from pathlib import Path

from lightkit import (
    FakeLight,
    RealPole,
    Sniffer,
    geojson,
    lights_cli,
    ok,
    pole,
    register_keyed,
    wait_for_addresses,
)
from security_support import production_gateway

from firmware import codec
from firmware.lighting import payload as light_codec
from firmware.proto import coap
from gateway.lighting.commands import CommandSender
from gateway.security.zone import ZoneContext
from gateway.storage.store import Store
from gateway.storage.zone_keys import ZoneKeyRow
from sim.district import node_key
from sim.lighting import NightSimulation
from sim.night_scene import build

DUSK = 1_795_194_000 - 1_795_194_000 % 86400 + 17 * 3600


def _group(data: bytes) -> bool:
    msg = coap.decode(data)
    opt = msg.option(9)
    return msg.mtype == coap.NON and bool(opt) and bool(opt[0] & 0x10)


def test_forged_replayed_and_other_zone_commands_change_nothing(tmp_path: Path) -> None:
    gw = production_gateway(tmp_path)
    # Two streets, one zone each. North: a walker's pole W, the real pole R
    # next to it, a pole S whose socket records what it is sent. South: a
    # captured pole C, whose key and zone key the attacker has.
    north = [pole("W", 30, 0, "north", 1, node_key("W")),
             pole("R", 60, 0, "north", 2, node_key("R")),
             pole("S", 90, 0, "north", 3, node_key("S"))]
    south = [pole("C", 30, 400, "south", 4, node_key("C")),
             pole("D", 60, 400, "south", 5, node_key("D"))]
    real = None
    lights: list[FakeLight] = []
    try:
        kids = register_keyed(gw, *north, *south)
        # The zones before the streets: the light wave built once the
        # streets are in knows both zones.
        for zone in ("north", "south"):
            ok(lights_cli(gw.db, "zone", "set", zone, "--hours", "always", "--who", "test"))
        streets = tmp_path / "streets.geojson"
        streets.write_text(geojson([("Norra", [(0.0, 0.0), (200.0, 0.0)]),
                                    ("Södra", [(0.0, 400.0), (200.0, 400.0)])]))
        ok(lights_cli(gw.db, "streets", "import", str(streets)))
        real = RealPole("R", gw, 2, kids["R"])
        walker = FakeLight("W", gw, node_key("W"), kids["W"])
        sniffer = Sniffer("S", gw, node_key("S"), kids["S"])
        captured = FakeLight("C", gw, node_key("C"), kids["C"])
        south_sniffer = Sniffer("D", gw, node_key("D"), kids["D"])
        lights = [walker, sniffer, captured, south_sniffer]
        real.status()
        for light in lights:
            light.status(1)
        wait_for_addresses(gw.db, 5)
        # The pole's zone key arrives inside its own protected profile push.
        real.wait(lambda n: n.zone_key is not None)
        with Store(gw.db) as store:
            keys = store.zone_keys()
        assert real.node.zone_key[1] == keys["north"].key
        assert real.node.zone_key[0] != (keys["south"].gid).to_bytes(1, "big")

        # A walker at W going up: R and S are lit, with one frame for both.
        walker.presence(1, codec.PRESENCE_SOURCE_RADAR | codec.PRESENCE_DIR_UP)
        real.wait(lambda n: n.cmd_level == 100)
        recorded = [f for f in sniffer.frames(1.0) if _group(f)]
        assert recorded, "the sniffer got no group command"
        assert real.node.commands_refused == 0
        captured.presence(1, codec.PRESENCE_SOURCE_RADAR | codec.PRESENCE_DIR_UP)
        south_frames = [f for f in south_sniffer.frames(1.0) if _group(f)]
        assert south_frames

        def refused(data: bytes) -> None:
            with real.lock:
                real.node.cmd_level, real.node.cmd_until_ms = 0, real.hal.clock.ms()
                before = real.node.commands_refused
            real.send_to(data)
            real.wait(lambda n: n.commands_refused == before + 1, 5)
            with real.lock:
                assert real.node.cmd_level == 0

        answers = real.hal.net.sent
        brighten = light_codec.encode_brighten(light_codec.Brighten(999, 100, 600, (2,)))
        # Unprotected.
        refused(coap.encode(coap.Message(coap.NON, coap.POST, 7, b"",
                                         [(coap.OPT_URI_PATH, b"c")], brighten)))
        # Forged: north's gid, a key made up.
        forged = ZoneContext(ZoneKeyRow("north", keys["north"].gid, bytes(16), 10**6),
                             lambda c, b, n: None)
        refused(forged.protect_brighten(brighten, 8))
        # Replayed: the very frame R took, and again with another message id.
        refused(recorded[0])
        refused(recorded[0][:2] + b"\x42\x42" + recorded[0][4:])
        # Another zone's: south's key as the captured pole C holds it, naming
        # R; and a genuine south command recorded and sent to R.
        c_key = ZoneContext(keys["south"], lambda c, b, n: None)
        c_key.sender_sequence_number = 10**6
        refused(c_key.protect_brighten(brighten, 9))
        refused(south_frames[0])
        # None was answered: the pole says nothing to what it cannot verify.
        assert real.hal.net.sent == answers
    finally:
        if real is not None:
            real.close()
        for light in lights:
            light.close()
        gw.stop()


def test_a_night_with_forged_commands_lights_nothing_ahead() -> None:
    scene = build(seed=5, night_h=1.0)
    honest = NightSimulation(scene, DUSK).run()
    assert honest.result.dark == [] and honest.commands_refused == 0
    forger = NightSimulation(scene, DUSK)
    # The gateway's side protects with keys the poles never got.
    for name, ctx in list(forger.zone_keys.items()):
        forger.zone_keys[name] = ZoneContext(ZoneKeyRow(name, ctx.gid, b"\x01" * 16, 0),
                                             lambda c, b, n: None)
    forger.sender = CommandSender("127.0.0.1")
    outcome = forger.run()
    assert outcome.commands > 0 and outcome.commands_refused == outcome.command_targets
    cars = [d for d in outcome.result.dark if d.mode == "car"]
    assert cars, "forged commands lit poles ahead of cars"
