"""The light node's radar frame parser and lamp ramps, on arbitrary input."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from firmware.hal.drivers import ld2410
from firmware.lighting import lamp


def _frame(state: int, move_cm: int, still_cm: int) -> bytes:
    body = (b"\x02\xaa" + struct.pack("<BHBHBH", state, move_cm, 60, still_cm, 40, 500)
            + b"\x55\x00")
    return ld2410.HEAD + struct.pack("<H", len(body)) + body + ld2410.TAIL


def _drain(parser: ld2410.Parser) -> list[ld2410.Report]:
    out = []
    while True:
        try:
            r = parser.next()
        except ld2410.FrameError:
            continue
        if r is None:
            return out
        out.append(r)


# Junk that is likely to look like the start of a frame now and then.
junk = st.lists(st.one_of(
    st.binary(max_size=40), st.just(ld2410.HEAD), st.just(ld2410.TAIL),
    st.just(ld2410.HEAD + b"\x0d\x00\x02\xaa"), st.just(_frame(1, 100, 0)[:-3]),
    st.just(ld2410.HEAD + b"\x40\x00")), max_size=12).map(b"".join)


@given(junk, st.integers(0, 3), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF),
       st.lists(st.integers(1, 30), max_size=8))
def test_parser_raises_only_its_own_error_and_resynchronises(
        noise: bytes, state: int, move_cm: int, still_cm: int, cuts: list[int]) -> None:
    good = _frame(state, move_cm, still_cm)
    data = noise + good * 4
    parser = ld2410.Parser()
    reports: list[ld2410.Report] = []
    i = 0
    for n in cuts + [len(data)]:  # arrives in pieces, as from a UART
        parser.feed(data[i:i + n])
        i += n
        reports += _drain(parser)
    assert reports, "the valid frames after the junk were never found"
    last = reports[-1]
    assert (last.state, last.move_cm, last.still_cm) == (state, move_cm, still_cm)


@given(st.binary(max_size=300))
def test_parser_on_any_bytes_never_raises_anything_else(data: bytes) -> None:
    parser = ld2410.Parser()
    parser.feed(data)
    for r in _drain(parser):
        assert 0 <= r.state <= 3
    assert len(parser.buf) <= 4 * ld2410.MAX_BODY


levels = st.integers(0, 100)


@given(levels, levels, levels, levels, st.integers(0, 25_500), st.integers(0, 255_000),
       st.lists(st.integers(1, 5000), min_size=1, max_size=40))
def test_ramp_stays_in_range_moves_only_towards_the_target_and_arrives_in_time(
        start: int, target: int, lo: int, hi: int, up_ms: int, down_ms: int,
        steps: list[int]) -> None:
    lo, hi = min(lo, hi), max(lo, hi)
    lp = lamp.Lamp(0, start)
    lp.ramps(up_ms, down_ms, lo, hi)
    lp.aim(0, target)
    rate = lp.up if target > start else lp.down
    span = abs(lamp.perceived(target) - lamp.perceived(start))
    ramp_ms = 0 if rate is None else span / rate
    t, prev = 0, float(start)
    for dt in steps:
        t += dt
        level = lp.at(t)
        assert 0 <= level <= 100
        # Monotone towards the target, never past it.
        if target >= start:
            assert prev - 1e-9 <= level <= target + 1e-9
        else:
            assert target - 1e-9 <= level <= prev + 1e-9
        if t >= ramp_ms + 1:
            assert level == target
        prev = level
    if t >= ramp_ms + 1:
        assert lp.remaining_ms() == 0
