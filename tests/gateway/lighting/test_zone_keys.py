"""Zone keys at the gateway: one protected frame per zone naming only its
poles, the unprotected one for poles without keys; keys made per zone,
pushed inside each pole's protected profile, replaced on `lights zone rekey`;
`lights zone push` carried out by the running gateway; the gateway's
sequence numbers under a zone key never used twice, even after a crash."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import time
from pathlib import Path

from conftest import RunningGateway, one_line_error
from hypothesis import given, settings
from hypothesis import strategies as st
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

from firmware import codec
from firmware.lighting import payload as light_codec
from firmware.net import secure
from firmware.oscore.message import OscoreError
from firmware.proto import coap
from gateway.security.zone import SEQNO_CHUNK, ZoneContext, ZoneKeys
from gateway.storage.security import kid_bytes
from gateway.storage.store import Store
from gateway.storage.zone_keys import ZoneKeyRow
from sim.district import node_key
from sim.engine import Engine
from sim.gateway_process import gateway_log_path
from sim.hal import SimHal

UP = codec.PRESENCE_SOURCE_RADAR | codec.PRESENCE_DIR_UP


def _open(data: bytes, row: ZoneKeyRow) -> light_codec.Brighten:
    """The command inside a group frame, verified with the zone's key as a
    pole does it (the firmware's own code)."""
    hal = SimHal(Engine(0).clock, None, 1)
    ep = secure.zone_endpoint(hal, kid_bytes(row.gid), row.key)
    inner, _ = ep.unprotect_request(coap.decode(data))
    assert inner.path() == "c"
    return light_codec.decode_brighten(inner.payload)


def _group_frames(s: Sniffer, wait: float = 1.0) -> list[bytes]:
    return [f for f in s.frames(wait) if (o := coap.decode(f).option(9)) and o[0] & 0x10]


def test_one_protected_frame_per_zone_and_a_plain_one_for_poles_without_keys(
        gateway: RunningGateway, tmp_path: Path) -> None:
    # Along one street: W (where the walker is), then poles of zones a and
    # b, and one without a key (zone a).
    nodes = [pole("W", 30, 0, "a", 1, node_key("W")), pole("A1", 60, 0, "a", 2, node_key("A1")),
             pole("B1", 90, 0, "b", 3, node_key("B1")), pole("U1", 120, 0, "a", 4)]
    kids = register_keyed(gateway, *nodes)
    # The zones first, then the street: the light wave the gateway builds
    # once the street is there knows both zones (built before zone b, it
    # would leave B1 out of a walker's wave).
    for zone in ("a", "b"):
        ok(lights_cli(gateway.db, "zone", "set", zone, "--hours", "always", "--who", "t"))
    streets = tmp_path / "s.geojson"
    streets.write_text(geojson([("Gatan", [(0.0, 0.0), (200.0, 0.0)])]))
    ok(lights_cli(gateway.db, "streets", "import", str(streets)))
    log = gateway_log_path(gateway.db)
    deadline = time.monotonic() + 10
    while "light wave: 4 poles" not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the gateway built no light wave"
        time.sleep(0.05)
    walker, a1, b1, u1 = (FakeLight("W", gateway, node_key("W"), kids["W"]),
                          Sniffer("A1", gateway, node_key("A1"), kids["A1"]),
                          Sniffer("B1", gateway, node_key("B1"), kids["B1"]),
                          FakeLight("U1", gateway))
    try:
        for light in (walker, a1, b1, u1):
            light.status(1)
        wait_for_addresses(gateway.db, 4)
        walker.presence(1, UP, speed=1.4)
        a_frames, b_frames = _group_frames(a1), _group_frames(b1)
        plain = u1.commands(1.0)
        with Store(gateway.db) as store:
            keys = store.zone_keys()
        assert keys["a"].gid != keys["b"].gid and keys["a"].key != keys["b"].key
        assert [_open(f, keys["a"]).targets for f in a_frames] == [(2,)]
        assert [_open(f, keys["b"]).targets for f in b_frames] == [(3,)]
        try:
            _open(a_frames[0], keys["b"])
        except OscoreError:
            pass
        else:
            raise AssertionError("zone b's key opened zone a's frame")
        assert [c.targets for _, c in plain] == [(4,)]
        assert len(a_frames[0]) <= 34  # 1 target, a 2-byte sequence number at most
    finally:
        for light in (walker, a1, b1, u1):
            light.close()


def test_the_key_reaches_the_pole_and_a_rekey_replaces_it(
        gateway: RunningGateway, tmp_path: Path) -> None:
    kids = register_keyed(gateway, pole("R", 0, 0, "north", 7, node_key("R")))
    ok(lights_cli(gateway.db, "zone", "set", "north", "--idle", "15", "--who", "t"))
    real = RealPole("R", gateway, 7, kids["R"])
    try:
        real.status()
        real.wait(lambda n: n.zone_key is not None)
        with Store(gateway.db) as store:
            first = store.zone_keys()["north"]
            # The gateway notes the holder once the pole's answer is in.
            deadline = time.monotonic() + 10
            while store.zone_key_holders() != {"R": first.gid}:
                assert time.monotonic() < deadline, store.zone_key_holders()
                time.sleep(0.05)
        assert real.node.zone_key == (kid_bytes(first.gid), first.key)
        assert real.node.profile.idle_pct == 15
        out = ok(lights_cli(gateway.db, "zone", "rekey", "north"))
        with Store(gateway.db) as store:
            second = store.zone_keys()["north"]
        assert second.gid > first.gid and second.key != first.key
        assert f"new key, gid {second.gid}" in out and "R" in out and "acknowledged" in out
        real.wait(lambda n: n.zone_key == (kid_bytes(second.gid), second.key))
        # The old key is gone from the gateway, and the pole takes it no more.
        old = ZoneContext(first, lambda c, b, n: None)
        old.sender_sequence_number = 10**6
        with real.lock:
            before = real.node.commands_refused
        real.send_to(old.protect_brighten(light_codec.encode_brighten(
            light_codec.Brighten(5, 100, 60, (7,))), 1))
        real.wait(lambda n: n.commands_refused == before + 1)
        # The push the operator asks for goes through the gateway, protected.
        out = ok(lights_cli(gateway.db, "zone", "push", "north"))
        assert out.splitlines()[0].split() == ["R", "acknowledged"]
    finally:
        real.close()


def test_zone_push_without_a_running_gateway_sends_nothing(tmp_path: Path) -> None:
    db = tmp_path / "gw.sqlite"
    with Store(db) as store:
        store.register(pole("P1", 0, 0, "park", 1, node_key("P1")))
    proc = lights_cli(db, "zone", "push", "park")
    line = one_line_error(proc)
    assert "no running gateway took the push" in line and "nothing was sent" in line
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM zone_push_requests").fetchone()[0] == 0
    assert "not pushed yet" in one_line_error(lights_cli(db, "zone", "rekey", "park"))


def test_sequence_numbers_are_written_ahead_and_never_reused(tmp_path: Path) -> None:
    db = tmp_path / "gw.sqlite"
    payload = light_codec.encode_brighten(light_codec.Brighten(1, 100, 60, (1,)))

    async def send(n: int) -> list[int]:
        with Store(db) as store:
            keys = ZoneKeys(store)
            keys.load(["z"])
            ctx = keys.get("z")
            assert ctx is not None
            used = []
            for i in range(n):
                frame = ctx.protect_brighten(payload, i & 0xFFFF)
                opt = coap.decode(frame).option(9)
                used.append(int.from_bytes(opt[1:1 + (opt[0] & 7)], "big"))
                await asyncio.sleep(0)  # the write ahead runs meanwhile
            await keys.close()
            return used  # no clean stop: as after a crash

    first = asyncio.run(send(SEQNO_CHUNK + 10))
    second = asyncio.run(send(5))
    assert first == list(range(SEQNO_CHUNK + 10))
    assert min(second) > max(first)
    assert db.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO) == 0


def test_a_zone_key_row_round_trips_as_the_pole_needs_it() -> None:
    row = ZoneKeyRow("z", 300, bytes(range(16)), 0)
    ctx = ZoneContext(row, lambda c, b, n: None)
    assert ctx.key_part == b"\x02\x01\x2c" + bytes(range(16))
    assert "00010203" not in repr(ctx)


@settings(max_examples=150, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), gid=st.integers(1, 0xFFFFFFFF),
       seq=st.integers(0, 2**40 - 2), mid=st.integers(0, 0xFFFF),
       level=st.integers(0, 100), hold=st.integers(0, 0xFFFF),
       targets=st.lists(st.integers(1, 0xFFFE), max_size=32))
def test_the_fast_frame_is_aiocoaps_byte_for_byte_and_the_pole_verifies_it(
        key: bytes, gid: int, seq: int, mid: int, level: int, hold: int,
        targets: list[int]) -> None:
    payload = light_codec.encode_brighten(light_codec.Brighten(seq & 0xFFFF, level, hold,
                                                               targets))
    row = ZoneKeyRow("z", gid, key, seq)
    ours = ZoneContext(row, lambda c, b, n: None)
    ours.persisted = 2**41
    reference = ZoneContext(row, lambda c, b, n: None)
    reference.persisted = 2**41
    frame = ours.protect_brighten(payload, mid)
    assert frame == reference.protect_with_aiocoap(payload, mid)
    got = _open(frame, row)
    assert (got.level_pct, got.hold_s, got.targets) == (level, hold, tuple(targets))
    assert len(frame) == 28 + len(kid_bytes(gid)) - 1 + max(1, (seq.bit_length() + 7) // 8) \
        + 2 * len(targets)
