# A light node's sensors against fake pins and buses: the PIR's debounce and
# retrigger, the LD2410 radar's frames, thresholds and speed, the BH1750.
# MicroPython VM and CPython.
import struct

from fakebus import FakeLightSensor, FakePin, FakeUart
from fakehal import FakeClock

from firmware import codec
from firmware.hal.drivers import ld2410
from firmware.hal.drivers.bh1750 import Bh1750
from firmware.hal.drivers.pir import Pir


def frame(body):
    return ld2410.HEAD + struct.pack("<H", len(body)) + body + ld2410.TAIL


def basic(state, move_cm, move_e, still_cm, still_e, detect_cm=0):
    return frame(b"\x02\xaa" + struct.pack("<BHBHBH", state, move_cm, move_e, still_cm, still_e,
                                           detect_cm) + b"\x55\x00")


def engineering(state, move_cm, still_cm, move_gates, still_gates):
    return frame(b"\x01\xaa" + struct.pack("<BHBHBH", state, move_cm, 60, still_cm, 40, 300)
                 + bytes((len(move_gates) - 1, len(still_gates) - 1)) + bytes(move_gates)
                 + bytes(still_gates) + b"\x00\x00\x55\x00")


def test_pir_needs_a_steady_level_then_retriggers_while_it_stays_high():
    pin, clock = FakePin(0), FakeClock()
    pir = Pir(pin, clock, debounce_ms=50, retrigger_ms=5000)
    assert not pir.triggered()
    pin.value(1)
    assert not pir.triggered()  # just went high
    clock.advance(20)
    pin.value(0)
    assert not pir.triggered()  # a 20 ms spike: not a person
    pin.value(1)
    pir.triggered()
    clock.advance(60)
    assert pir.triggered() == codec.PRESENCE_SOURCE_PIR
    clock.advance(20)
    assert not pir.triggered()  # still the same detection
    clock.advance(5000)
    assert pir.triggered()  # someone lingers: again, to keep the light
    pin.value(0)
    assert not pir.triggered()
    pin.value(1)
    pir.triggered()
    clock.advance(50)
    assert pir.triggered()  # a new person at once, no retrigger wait
    assert pir.speed == 0


def test_ld2410_parser_reads_a_basic_frame_byte_by_byte():
    f = basic(2, 81, 0, 120, 59, 140)
    # Header, length 13 little-endian, type, 0xAA, target data, 0x55 0x00, tail.
    assert f == (b"\xf4\xf3\xf2\xf1\x0d\x00\x02\xaa\x02\x51\x00\x00\x78\x00\x3b"
                 b"\x8c\x00\x55\x00\xf8\xf7\xf6\xf5")
    p = ld2410.Parser()
    p.feed(f)
    r = p.next()
    assert (r.state, r.move_cm, r.move_energy, r.still_cm, r.still_energy, r.detect_cm) \
        == (2, 81, 0, 120, 59, 140)
    assert r.move_gates is None
    assert p.next() is None


def test_ld2410_parser_reads_engineering_frames_in_pieces():
    f = engineering(3, 150, 220, [10, 20, 70, 5, 0, 0, 0, 0, 0], [0, 0, 50, 45, 0, 0, 0, 0, 0])
    assert len(f) == 45  # 35 bytes of body for 9 gates, as documented
    p = ld2410.Parser()
    for i in range(len(f)):
        if i < len(f) - 1:
            p.feed(f[i:i + 1])
            assert p.next() is None
    p.feed(f[-1:])
    r = p.next()
    assert r.state == 3 and r.move_cm == 150 and r.still_cm == 220
    assert r.move_gates == bytes([10, 20, 70, 5, 0, 0, 0, 0, 0])
    assert r.still_gates[2] == 50


def test_ld2410_parser_drops_a_corrupt_frame_and_finds_the_next():
    good = basic(1, 300, 80, 0, 0)
    bad_tail = good[:-1] + b"\x00"
    bad_length = ld2410.HEAD + b"\xff\x00" + good
    p = ld2410.Parser()
    p.feed(b"\x00\xf4\xf3junk" + bad_tail + bad_length + good)
    reports, errors = [], 0
    while True:
        try:
            r = p.next()
        except ld2410.FrameError:
            errors += 1
            continue
        if r is None:
            break
        reports.append(r)
    assert errors >= 2
    assert reports[-1].move_cm == 300
    # The valid frame inside the one with a bad length is found too.
    assert len(reports) == 2


def test_radar_counts_targets_over_the_gate_thresholds_only():
    uart, clock = FakeUart(), FakeClock()
    radar = ld2410.Radar(uart, clock, retrigger_ms=5000)
    uart.chunks.append(basic(1, 500, 10, 0, 0))  # gate 6 needs 15: too weak
    assert radar.triggered() == 0
    uart.chunks.append(basic(1, 500, 30, 0, 0))
    assert radar.triggered() & codec.PRESENCE_SOURCE_RADAR
    clock.advance(100)
    uart.chunks.append(basic(2, 0, 0, 200, 60))  # standing still now: same person
    assert radar.triggered() == 0
    clock.advance(5000)
    uart.chunks.append(basic(2, 0, 0, 200, 60))
    assert radar.triggered()  # still there: again after the retrigger time
    uart.chunks.append(basic(0, 0, 0, 0, 0))
    assert radar.triggered() == 0
    # Engineering mode: the gates' own energies against their thresholds.
    assert radar.update(ld2410.Report(1, 100, 90, 0, 0, 0, bytes(9), bytes(9)), clock.ms()) == 0
    gates = bytes([0, 0, 0, 0, 25, 0, 0, 0, 0])
    assert radar.update(ld2410.Report(1, 300, 25, 0, 0, 0, gates, bytes(9)), clock.ms())


def test_radar_estimates_approach_speed_and_direction():
    uart, clock = FakeUart(), FakeClock()
    radar = ld2410.Radar(uart, clock, faces=1, retrigger_ms=1000)
    # A cyclist coming at 5 m/s towards a radar that looks up the street.
    flags = 0
    for i in range(12):
        uart.chunks.append(basic(1, 600 - 50 * i, 60, 0, 0))
        flags |= radar.triggered()
        clock.advance(100)
    assert radar.speed == 50  # 5.0 m/s in 0.1 m/s steps
    assert flags & codec.PRESENCE_DIR_DOWN and not flags & codec.PRESENCE_DIR_UP
    # Walking away at 1.5 m/s: moving up the street.
    radar = ld2410.Radar(uart, clock, faces=1, retrigger_ms=1000)
    flags = 0
    for i in range(15):
        uart.chunks.append(basic(1, 100 + 15 * i, 60, 0, 0))
        flags |= radar.triggered()
        clock.advance(100)
    assert 14 <= radar.speed <= 16 and flags & codec.PRESENCE_DIR_UP
    # Without knowing which way the radar looks: no direction.
    radar = ld2410.Radar(uart, clock, retrigger_ms=100)
    flags = 0
    for i in range(12):
        uart.chunks.append(basic(1, 600 - 50 * i, 60, 0, 0))
        flags |= radar.triggered()
        clock.advance(100)
    assert not flags & (codec.PRESENCE_DIR_UP | codec.PRESENCE_DIR_DOWN)


def test_bh1750_powers_on_measures_continuously_and_scales_to_lux():
    bus = FakeLightSensor(raw=1200)
    sensor = Bh1750(bus)
    assert bus.commands == [b"\x01", b"\x10"]
    assert sensor.lux() == 1000  # raw / 1.2
    bus.raw = 0xFFFF
    assert sensor.lux() == 54612
    bus.present = False
    assert sensor.lux() is None
    bus.present = True
    assert sensor.lux() is None  # started again, no measurement yet
    assert bus.commands[-2:] == [b"\x01", b"\x10"]
    assert sensor.lux() == 54612
    assert Bh1750(FakeLightSensor(addr=0x5C)).lux() is None  # nothing at 0x23
