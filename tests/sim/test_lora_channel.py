"""The virtual LoRa channel: who hears which frame, and the duty-cycle audit."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.lora.airtime import airtime_us
from firmware.lora.plan import DOWNLINK_KHZ, UPLINK_KHZ
from sim.district import offset
from sim.engine import VirtualClock
from sim.lora_channel import (
    COLLISION,
    HALF_DUPLEX,
    JAMMED,
    OK,
    WEAK,
    Channel,
    Frame,
    RadioModel,
    RxKey,
)

# Shadowing and fading off: the thresholds are tested on the bare link budget.
FLAT = RadioModel(shadowing_db=0.0, fading_db=0.0)
UP7 = RxKey(UPLINK_KHZ, 7)


def flat_channel() -> tuple[VirtualClock, Channel]:
    clock = VirtualClock(0)
    return clock, Channel(clock, seed=1, model=FLAT)


def run_until_done(clock: VirtualClock, channel: Channel) -> None:
    while (end := channel.next_end_ms()) is not None:
        clock.now_ms = max(clock.now_ms, end)
        channel.advance()


def distance_for_loss(loss_db: float, model: RadioModel = FLAT) -> float:
    return float(10 ** ((loss_db - model.pl_d0_db) / (10 * model.exponent)))


def test_a_near_frame_is_heard_and_a_far_one_is_not() -> None:
    clock, ch = flat_channel()
    gw = ch.add_radio("gw")
    near = ch.add_radio("near", 300, 0)
    far = ch.add_radio("far", 0, 8000)
    ch.listen(gw, UP7)
    ch.transmit(near, b"near", UPLINK_KHZ, 7)
    run_until_done(clock, ch)
    ch.transmit(far, b"far", UPLINK_KHZ, 7)
    run_until_done(clock, ch)
    heard = ch.poll(gw)
    assert [bytes(r.frame.payload) for r in heard] == [b"near"]
    assert ch.frames[1].outcomes == {"gw": WEAK}
    # At SF12 the far one is still below the floor (-20 dB) at 8 km of street.
    assert ch.mean_snr_db(far, gw) < -20


def test_rssi_and_snr_follow_the_link_budget() -> None:
    clock, ch = flat_channel()
    gw = ch.add_radio("gw", gain_dbi=3.0)
    node = ch.add_radio("node", 200, 0)
    ch.listen(gw, UP7)
    ch.transmit(node, b"x" * 20, UPLINK_KHZ, 7, power_dbm=14)
    run_until_done(clock, ch)
    (rec,) = ch.poll(gw)
    expected = 14 + 3 - (31.5 + 32 * math.log10(200))
    assert math.isclose(rec.rssi_dbm, expected)  # about -88 dBm
    assert -95 < rec.rssi_dbm < -80
    assert math.isclose(ch.model.noise_dbm(125_000), -117.03, abs_tol=0.01)
    assert math.isclose(rec.snr_db, rec.rssi_dbm + 117.03, abs_tol=0.01)
    # The SX1276's datasheet sensitivity at SF12, 125 kHz: -137 dBm.
    assert math.isclose(ch.model.noise_dbm(125_000) - 20, -137, abs_tol=0.1)


def test_a_frame_right_at_the_demodulation_floor() -> None:
    clock, ch = flat_channel()
    gw = ch.add_radio("gw")
    # SF7 needs -7.5 dB: a link 0.2 dB above it is heard, 0.2 dB below is not.
    floor_loss = 14 - (ch.model.noise_dbm(125_000) - 7.5)
    above = ch.add_radio("above", distance_for_loss(floor_loss - 0.2), 0)
    below = ch.add_radio("below", 0, distance_for_loss(floor_loss + 0.2))
    ch.listen(gw, UP7)
    ch.transmit(above, b"a", UPLINK_KHZ, 7)
    run_until_done(clock, ch)
    ch.transmit(below, b"b", UPLINK_KHZ, 7)
    run_until_done(clock, ch)
    assert [f.outcomes["gw"] for f in ch.frames] == [OK, WEAK]


def test_overlapping_frames_of_equal_power_are_both_lost() -> None:
    clock, ch = flat_channel()
    gw = ch.add_radio("gw")
    a, b = ch.add_radio("a", 150, 0), ch.add_radio("b", -150, 0)
    ch.listen(gw, UP7)
    ch.transmit(a, b"from a", UPLINK_KHZ, 7)
    clock.now_ms = 20  # b starts while a is still on the air
    ch.transmit(b, b"from b", UPLINK_KHZ, 7)
    run_until_done(clock, ch)
    assert ch.poll(gw) == []
    assert [f.outcomes["gw"] for f in ch.frames] == [COLLISION, COLLISION]


def test_the_frame_6_db_stronger_is_captured() -> None:
    clock, ch = flat_channel()
    gw = ch.add_radio("gw")
    strong = ch.add_radio("strong", 100, 0)
    # 6.2 dB weaker: captured; another pair only 5.8 dB apart: both lost.
    weak = ch.add_radio("weak", 0, 100 * 10 ** (6.2 / 32))
    ch.listen(gw, UP7)
    ch.transmit(weak, b"weak", UPLINK_KHZ, 7)
    clock.now_ms = 10
    ch.transmit(strong, b"strong", UPLINK_KHZ, 7)
    run_until_done(clock, ch)
    assert [bytes(r.frame.payload) for r in ch.poll(gw)] == [b"strong"]

    close = ch.add_radio("close", 0, -100 * 10 ** (5.8 / 32))
    clock.now_ms += 1000
    ch.transmit(strong, b"strong again", UPLINK_KHZ, 7)
    ch.transmit(close, b"close", UPLINK_KHZ, 7)
    run_until_done(clock, ch)
    assert ch.poll(gw) == []


def test_frames_that_do_not_overlap_do_not_collide() -> None:
    clock, ch = flat_channel()
    gw = ch.add_radio("gw")
    a, b = ch.add_radio("a", 150, 0), ch.add_radio("b", -150, 0)
    ch.listen(gw, UP7)
    first = ch.transmit(a, b"a", UPLINK_KHZ, 7)
    clock.now_ms = math.ceil(first.end_ms)  # b starts as a ends
    ch.transmit(b, b"b", UPLINK_KHZ, 7)
    run_until_done(clock, ch)
    assert len(ch.poll(gw)) == 2


def test_different_spreading_factors_do_not_collide() -> None:
    clock, ch = flat_channel()
    gw7, gw8 = ch.add_radio("gw7", device="bridge"), ch.add_radio("gw8", device="bridge")
    a, b = ch.add_radio("a", 150, 0), ch.add_radio("b", -150, 0)
    ch.listen(gw7, UP7)
    ch.listen(gw8, RxKey(UPLINK_KHZ, 8))
    ch.transmit(a, b"sf7", UPLINK_KHZ, 7)
    ch.transmit(b, b"sf8", UPLINK_KHZ, 8)
    run_until_done(clock, ch)
    assert [bytes(r.frame.payload) for r in ch.poll(gw7)] == [b"sf7"]
    assert [bytes(r.frame.payload) for r in ch.poll(gw8)] == [b"sf8"]


def test_only_a_receiver_tuned_to_the_frame_hears_it() -> None:
    clock, ch = flat_channel()
    node = ch.add_radio("node", 100, 0)
    tuned = ch.add_radio("tuned")
    others = {
        "other freq": RxKey(DOWNLINK_KHZ, 7),
        "other sf": RxKey(UPLINK_KHZ, 9),
        "inverted iq": RxKey(UPLINK_KHZ, 7, invert_iq=True),
        "public sync word": RxKey(UPLINK_KHZ, 7, syncword=0x34),
    }
    ch.listen(tuned, UP7)
    radios = {name: ch.add_radio(name) for name in others}
    for name, key in others.items():
        ch.listen(radios[name], key)
    ch.transmit(node, b"hello", UPLINK_KHZ, 7)
    run_until_done(clock, ch)
    assert len(ch.poll(tuned)) == 1
    assert all(ch.poll(r) == [] for r in radios.values())


def test_a_receiver_that_tunes_in_mid_frame_misses_it() -> None:
    clock, ch = flat_channel()
    gw, node = ch.add_radio("gw"), ch.add_radio("node", 100, 0)
    ch.transmit(node, b"hello", UPLINK_KHZ, 7)
    clock.now_ms = 5
    ch.listen(gw, UP7)
    run_until_done(clock, ch)
    assert ch.poll(gw) == []


def test_a_radio_does_not_hear_while_it_sends() -> None:
    clock, ch = flat_channel()
    gw, node = ch.add_radio("gw"), ch.add_radio("node", 100, 0)
    ch.listen(gw, UP7)
    ch.transmit(node, b"uplink", UPLINK_KHZ, 7)
    clock.now_ms = 10
    ch.transmit(gw, b"downlink", DOWNLINK_KHZ, 7, invert_iq=True)
    run_until_done(clock, ch)
    assert ch.poll(gw) == []
    assert ch.frames[0].outcomes == {"gw": HALF_DUPLEX}


def test_a_jam_loses_every_frame_overlapping_it_on_its_frequency() -> None:
    clock, ch = flat_channel()
    gw_up, gw_down = ch.add_radio("gw up"), ch.add_radio("gw down")
    node = ch.add_radio("node", 100, 0)
    ch.listen(gw_up, UP7)
    ch.listen(gw_down, RxKey(DOWNLINK_KHZ, 7))
    ch.jam(1000, 2000, UPLINK_KHZ)
    for t in (900, 970, 1500, 1990, 2100):  # each 41 ms long
        clock.now_ms = t
        ch.transmit(node, f"up {t}".encode(), UPLINK_KHZ, 7)
        run_until_done(clock, ch)
    clock.now_ms = 3000
    ch.transmit(node, b"down", DOWNLINK_KHZ, 7)
    run_until_done(clock, ch)
    assert [f.outcomes.get("gw up") or f.outcomes.get("gw down") for f in ch.frames] == [
        OK, JAMMED, JAMMED, JAMMED, OK, OK]
    ch.jam(4000, 5000)  # every frequency
    clock.now_ms = 4500
    ch.transmit(node, b"down", DOWNLINK_KHZ, 7)
    run_until_done(clock, ch)
    assert ch.frames[-1].outcomes == {"gw down": JAMMED}


def test_a_frame_cut_short_is_lost_and_used_the_air_until_then() -> None:
    clock, ch = flat_channel()
    gw, node = ch.add_radio("gw"), ch.add_radio("node", 100, 0)
    ch.listen(gw, UP7)
    frame = ch.transmit(node, b"x" * 30, UPLINK_KHZ, 7)
    clock.now_ms = 20
    ch.cut(frame)
    run_until_done(clock, ch)
    assert ch.poll(gw) == []
    assert frame.end_ms == 20


def test_places_in_lat_lon_are_metres_apart_on_the_plane() -> None:
    clock = VirtualClock(0)
    ch = Channel(clock, origin=(60.6749, 17.1413))
    lat, lon = offset(60.6749, 17.1413, 300, 400)
    a = ch.add_radio("a", lat=60.6749, lon=17.1413)
    b = ch.add_radio("b", lat=lat, lon=lon)
    assert math.isclose(a.distance_m(b), 500, rel_tol=1e-6)


def test_shadowing_is_fixed_per_link_the_same_both_ways_and_follows_the_seed() -> None:
    def snrs(seed: int) -> list[float]:
        ch = Channel(VirtualClock(0), seed=seed)
        radios = [ch.add_radio(f"r{i}", 50.0 * i, 0) for i in range(6)]
        out = []
        for a in radios:
            for b in radios:
                if a is not b:
                    assert ch.mean_snr_db(a, b) == ch.mean_snr_db(b, a)
                    out.append(ch.mean_snr_db(a, b))
        return out

    assert snrs(1) == snrs(1)
    assert snrs(1) != snrs(2)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3000), st.integers(7, 9)),
                min_size=1, max_size=25),
       st.integers(0, 3))
def test_outcomes_follow_the_seed_whatever_the_polling(
        sends: list[tuple[int, int, int]], polls: int) -> None:
    """The same traffic gives the same receptions, however often receivers poll."""

    def run(poll_every_ms: int) -> list[tuple[bytes, float, float]]:
        clock = VirtualClock(0)
        ch = Channel(clock, seed=7)
        gws = [ch.add_radio(f"gw{sf}", device="bridge") for sf in (7, 8, 9)]
        for gw, sf in zip(gws, (7, 8, 9), strict=True):
            ch.listen(gw, RxKey(UPLINK_KHZ, sf))
        nodes = [ch.add_radio(f"n{i}", 300.0 * i - 500, 200.0 * i) for i in range(5)]
        got: list[tuple[bytes, float, float]] = []
        for i, (who, t, sf) in enumerate(sorted(sends, key=lambda s: s[1])):
            while clock.now_ms + poll_every_ms < t:
                clock.now_ms += poll_every_ms
                for gw in gws:
                    got += [(r.frame.payload, r.rssi_dbm, r.snr_db) for r in ch.poll(gw)]
            clock.now_ms = t
            ch.transmit(nodes[who], bytes([i]), UPLINK_KHZ, sf)
        run_until_done(clock, ch)
        for gw in gws:
            got += [(r.frame.payload, r.rssi_dbm, r.snr_db) for r in ch.poll(gw)]
        return sorted(got)

    assert run(10 + 300 * polls) == run(100_000)


# --- the duty-cycle audit ----------------------------------------------------

def sf12_ms(n: int = 25) -> float:
    return float(airtime_us(n, 12) / 1000)


def test_the_audit_passes_a_transmitter_within_its_budget() -> None:
    clock, ch = flat_channel()
    node = ch.add_radio("node")
    gw = ch.add_radio("gw")
    # 1 % of an hour is 36 s: 23 SF12 frames of 25 bytes (1.48 s each) are 34 s,
    # every hour, back to back.
    for hour in range(3):
        for i in range(23):
            clock.now_ms = hour * 3_600_000 + i * 1500
            ch.transmit(node, b"x" * 25, UPLINK_KHZ, 12)
    # 10 % on the downlink: 360 s; 200 SF12 frames are 296 s.
    for i in range(200):
        clock.now_ms = 20_000_000 + i * 2000
        ch.transmit(gw, b"x" * 25, DOWNLINK_KHZ, 12, invert_iq=True)
    audit = ch.duty_audit()
    assert audit.ok
    assert 0.9 < audit.worst["node"] <= 1.0
    assert 0.8 < audit.worst["gw"] <= 1.0
    assert audit.transmissions == 3 * 23 + 200


def test_the_audit_catches_a_transmitter_over_its_budget() -> None:
    clock, ch = flat_channel()
    node = ch.add_radio("node")
    for i in range(25):  # 37 s of SF12 in an hour: over 1 %
        clock.now_ms = i * 60_000
        ch.transmit(node, b"x" * 25, UPLINK_KHZ, 12)
    audit = ch.duty_audit()
    assert not audit.ok
    assert audit.worst["node"] > 1.0
    v = audit.violations[0]
    assert (v.device, v.sub_band, v.limit_ms) == ("node", 0, 36_000)
    assert v.used_ms > 36_000


def test_the_audit_slides_its_window_over_the_clock_hours() -> None:
    """Within budget in every clock hour, over it in the hour from 00:40."""
    clock, ch = flat_channel()
    node = ch.add_radio("node")
    for i in range(20):  # 29.6 s in the last minutes of the first hour ...
        clock.now_ms = 3_000_000 + i * 2000
        ch.transmit(node, b"x" * 25, UPLINK_KHZ, 12)
    for i in range(20):  # ... and as much in the first minutes of the second
        clock.now_ms = 3_600_000 + i * 2000
        ch.transmit(node, b"x" * 25, UPLINK_KHZ, 12)
    audit = ch.duty_audit()
    assert not audit.ok
    assert math.isclose(audit.worst["node"], 40 * sf12_ms() / 36_000)


def test_the_audit_counts_the_modems_of_one_device_together() -> None:
    clock, ch = flat_channel()
    a, b = ch.add_radio("m0", device="bridge"), ch.add_radio("m1", device="bridge")
    for i in range(13):  # 19 s each, 38 s together
        clock.now_ms = i * 10_000
        ch.transmit(a, b"x" * 25, UPLINK_KHZ, 12)
        ch.transmit(b, b"x" * 25, UPLINK_KHZ, 12)
    audit = ch.duty_audit()
    assert set(audit.worst) == {"bridge"}
    assert not audit.ok


def test_a_frequency_outside_the_plan_is_a_violation() -> None:
    clock, ch = flat_channel()
    node = ch.add_radio("node")
    ch.transmit(node, b"x", 868_900, 7)
    audit = ch.duty_audit()
    assert [(v.device, v.sub_band) for v in audit.violations] == [("node", None)]


def brute_force_worst(frames: list[Frame], window_us: int) -> dict[tuple[str, int], int]:
    """The most airtime in any window, by direct sums over every window
    position where the (piecewise linear) total can change slope."""
    from firmware.lora.plan import sub_band

    groups: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for f in frames:
        groups.setdefault((f.sender.device, sub_band(f.freq_khz)), []).append(
            (f.start_us, f.end_us))
    worst = {}
    for key, spans in groups.items():
        points = {p for s, e in spans for p in (s, e, s - window_us, e - window_us)}
        worst[key] = max(sum(max(0, min(e, w + window_us) - max(s, w)) for s, e in spans)
                         for w in points)
    return worst


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.integers(0, 30_000),
                          st.integers(7, 12), st.integers(1, 60)),
                min_size=1, max_size=30),
       st.integers(2_000, 20_000))
def test_the_audit_agrees_with_a_brute_force_check(
        sends: list[tuple[int, bool, int, int, int]], window_ms: int) -> None:
    clock, ch = flat_channel()
    radios = [ch.add_radio(f"t{i}") for i in range(3)]
    for who, down, t, sf, n in sorted(sends, key=lambda s: s[2]):
        clock.now_ms = t
        ch.transmit(radios[who], bytes(n), DOWNLINK_KHZ if down else UPLINK_KHZ, sf)
    audit = ch.duty_audit(window_ms)
    brute = brute_force_worst(ch.frames, window_ms * 1000)
    assert set(audit.by_band) == set(brute)
    for (device, band), used_us in brute.items():
        limit_us = window_ms * 1000 // (100 if band == 0 else 10)
        assert audit.by_band[(device, band)] == used_us / limit_us
        over = [v for v in audit.violations if (v.device, v.sub_band) == (device, band)]
        assert bool(over) == (used_us > limit_us)
