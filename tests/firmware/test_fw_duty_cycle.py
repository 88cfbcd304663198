# EU868 duty-cycle accounting, in the MicroPython VM as well as CPython.
from firmware.lora import plan as radio_plan
from firmware.lora.duty_cycle import NEVER, DutyCycle

UP = radio_plan.UPLINK_KHZ  # 1 %: 36 s an hour
DOWN = radio_plan.DOWNLINK_KHZ  # 10 %: 360 s an hour
HOUR = DutyCycle.WINDOW_MS


def test_one_percent_allows_36_seconds_an_hour_then_waits():
    dc = DutyCycle(max_entries=64)
    t = 0
    for _ in range(36):
        assert dc.wait_ms(UP, 1000, t) == 0
        dc.record(UP, 1000, t)
        t += 1000
    assert dc.used_ms(UP, t) == 36000
    wait = dc.wait_ms(UP, 1000, t)
    # The first second of airtime ended at 1000 ms: it leaves the window an hour later.
    assert wait == 1000 + HOUR - t
    assert dc.wait_ms(UP, 1000, t + wait) == 0


def test_sub_bands_are_accounted_apart():
    dc = DutyCycle()
    dc.record(UP, 36000, 0)
    assert dc.wait_ms(UP, 10, 36000) > 0
    assert dc.wait_ms(DOWN, 300000, 36000) == 0
    assert dc.used_ms(DOWN, 36000) == 0


def test_a_frequency_outside_the_plan_is_never_allowed():
    dc = DutyCycle()
    assert dc.wait_ms(433000, 10, 0) == NEVER
    assert dc.wait_ms(UP, 36001, 0) == NEVER  # longer than an hour's budget


def test_sliding_window_never_exceeds_the_limit():
    dc = DutyCycle(max_entries=4)
    sent = []
    t = 0
    while t < 3 * HOUR:
        air = 400 + (t // 1000) % 7 * 100
        if dc.wait_ms(UP, air, t) == 0:
            dc.record(UP, air, t)
            sent.append((t, air))
        t += 5000
    assert len(sent) > 100
    for start, _ in sent:  # every hour that begins at a transmission's start
        total = sum(a for s, a in sent if start <= s < start + HOUR)
        assert total <= 36000, total


def test_merging_the_oldest_only_ever_counts_more():
    exact = DutyCycle(max_entries=1000)
    merged = DutyCycle(max_entries=2)
    for i in range(10):
        exact.record(UP, 100, i * 60000)
        merged.record(UP, 100, i * 60000)
    assert len(merged.bands[radio_plan.sub_band(UP)]) == 2
    for now in range(0, 2 * HOUR, 300000):
        assert merged.used_ms(UP, now) >= exact.used_ms(UP, now)
        assert merged.wait_ms(UP, 35500, now) >= exact.wait_ms(UP, 35500, now)


def test_dump_and_load_survive_deep_sleep():
    dc = DutyCycle()
    dc.record(UP, 30000, 1000)
    dc.record(DOWN, 5000, 2000)
    data = dc.dump(40000)
    assert len(data) < 40
    # A node asleep 10 minutes wakes with its clock back at 0.
    back = DutyCycle.load(data, 0, slept_ms=600000)
    assert back.used_ms(UP, 0) == 30000 and back.used_ms(DOWN, 0) == 5000
    assert back.wait_ms(UP, 7000, 0) == 31000 + HOUR - 640000
    # After the hour has passed the record is empty.
    assert DutyCycle.load(data, 0, slept_ms=HOUR).used_ms(UP, 0) == 0


def test_load_of_no_dump_starts_empty():
    for data in (b"", b"\x00\x01", b"\xd1\x05\x00"):
        assert DutyCycle.load(data, 0).used_ms(UP, 0) == 0
