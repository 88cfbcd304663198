"""Property tests of the LoRa link layer: the link feedback every response
carries over the air, and the duty cycle that no node, bridge or gateway may
exceed in any sliding hour, however its transmissions fall."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from firmware import codec
from firmware.lora import link as lora_link
from firmware.lora import plan as radio_plan
from firmware.lora.duty_cycle import DutyCycle

HOUR = DutyCycle.WINDOW_MS


@given(st.integers(-128, 127), st.integers(7, 12), st.integers(0, 0xFFFF),
       st.integers(0, 0xFFFFFFFF))
def test_feedback_round_trips(snr: int, sf: int, tag: int, time: int) -> None:
    fb = lora_link.decode_feedback(lora_link.encode_feedback(snr, sf, tag, time))
    assert (fb.snr_db, fb.sf, fb.tag, fb.time) == (snr, sf, tag, time)


@given(st.binary(max_size=16))
def test_any_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    try:
        fb = lora_link.decode_feedback(data)
    except codec.DecodeError:
        return
    assert len(data) == 8 and 7 <= fb.sf <= 12


@given(st.lists(st.integers(-300, 200), max_size=8), st.integers(7, 12),
       st.sets(st.integers(7, 12), min_size=1))
def test_adr_picks_an_sf_the_bridge_listens_on(history: list[int], sf: int,
                                               available: set[int]) -> None:
    assert lora_link.adr_sf(history, sf, sorted(available)) in available


# A transmitter's attempts: (gap since the last attempt, airtime), in ms.
attempts = st.lists(st.tuples(st.integers(0, 600000), st.integers(1, 3000)), max_size=120)
freqs = st.sampled_from([radio_plan.UPLINK_KHZ, radio_plan.DOWNLINK_KHZ])


def _max_in_any_hour(sent: list[tuple[int, int]]) -> int:
    # The window holding the most can be slid until it begins where a
    # transmission begins or ends; every transmission overlapping it counts in full.
    starts = [s for s, _ in sent] + [s + a for s, a in sent]
    return max((sum(a for s, a in sent if start <= s + a and s < start + HOUR)
                for start in starts), default=0)


@given(attempts, freqs, st.integers(2, 16))
def test_admitted_transmissions_never_exceed_the_limit_in_any_hour(
        tries: list[tuple[int, int]], freq: int, max_entries: int) -> None:
    dc = DutyCycle(max_entries)
    limit = HOUR // radio_plan.duty_divisor(freq)
    sent: list[tuple[int, int]] = []
    now = 0
    for gap, air in tries:
        now += gap
        if sent and now < sent[-1][0] + sent[-1][1]:
            now = sent[-1][0] + sent[-1][1]  # one radio sends one frame at a time
        if dc.wait_ms(freq, air, now) == 0:
            dc.record(freq, air, now)
            sent.append((now, air))
    assert _max_in_any_hour(sent) <= limit


@given(attempts, st.integers(0, 3 * HOUR), st.integers(0, 3 * HOUR))
def test_dump_and_load_are_conservative(tries: list[tuple[int, int]], slept: int,
                                        extra: int) -> None:
    # Asleep `slept` ms by the node's reckoning, and really `extra` more: the
    # restored record counts at least what the real one would.
    freq = radio_plan.UPLINK_KHZ
    dc = DutyCycle()
    now = 0
    for gap, air in tries:
        now += gap + air
        if dc.wait_ms(freq, air, now) == 0:
            dc.record(freq, air, now)
    real_now = now + slept + extra
    back = DutyCycle.load(dc.dump(now), 0, slept)
    for later in (0, 1000, 600000, HOUR):
        assert back.used_ms(freq, later) >= dc.used_ms(freq, real_now + later)
        for air in (50, 1500):
            wait = back.wait_ms(freq, air, later)
            if wait == 0:
                assert dc.wait_ms(freq, air, real_now + later) == 0
