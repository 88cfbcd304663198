# The bin sensors' drivers against fake pins and buses, byte by byte. The
# drivers take their pins, buses and timing functions as arguments, so they
# run here as they would on the ESP32. MicroPython VM and CPython.
from fakebus import FakeDs18x20, FakeI2C, FakePin, Recorder

from firmware.hal.drivers.ds18b20 import Ds18b20
from firmware.hal.drivers.lis3dh import Lis3dh
from firmware.hal.drivers.ranger import PoweredRanger
from firmware.hal.drivers.tfluna import TfLuna
from firmware.hal.drivers.ultrasonic import Ultrasonic


class Pulse:
    """machine.time_pulse_us: checks the trigger pulse went out first."""

    def __init__(self, trigger, results):
        self.trigger = trigger
        self.results = results
        self.calls = []

    def __call__(self, pin, level, timeout_us):
        assert self.trigger.history[-3:] == [0, 1, 0], self.trigger.history
        self.calls.append((pin, level, timeout_us))
        return self.results.pop(0)


def test_ultrasonic_ping_is_a_trigger_pulse_then_the_echo_width():
    trigger, echo, sleep = FakePin(1), FakePin(), Recorder()
    pulse = Pulse(trigger, [5824, -1, -2])
    sensor = Ultrasonic(trigger, echo, pulse, sleep)
    assert trigger.level == 0  # held low from the start
    assert sensor.read() == 5824
    assert sleep.calls == [2, 20]  # settle low, then a 20 us high pulse
    assert pulse.calls == [(echo, 1, 30000)]
    assert sensor.read() is None  # no echo began
    assert sensor.read() is None  # the echo never ended
    assert sensor.unit == "us"


def test_the_ranger_is_powered_only_while_it_samples():
    trigger, power, sleep_ms = FakePin(), FakePin(1), Recorder()
    pulse = Pulse(trigger, [5000, 5010, 5005])
    ranger = PoweredRanger(Ultrasonic(trigger, FakePin(), pulse, Recorder()), power, sleep_ms)
    assert power.level == 0
    assert ranger.samples(3) == [5000, 5010, 5005]
    assert power.history == [0, 1, 0]
    # Settle after power-up, then the gap between pings.
    assert sleep_ms.calls == [Ultrasonic.SETTLE_MS, Ultrasonic.GAP_MS, Ultrasonic.GAP_MS]
    assert ranger.unit == "us"


def test_the_ranger_is_switched_off_even_when_a_read_fails():
    power = FakePin()

    class Broken:
        unit = "mm"
        SETTLE_MS = 1
        GAP_MS = 0

        def start(self):
            pass

        def read(self):
            raise OSError(5)

    ranger = PoweredRanger(Broken(), power, Recorder())
    try:
        ranger.samples(2)
    except OSError:
        pass
    assert power.level == 0


def _luna(dist_cm, amp):
    return FakeI2C(0x10, {0: dist_cm & 0xFF, 1: dist_cm >> 8, 2: amp & 0xFF, 3: amp >> 8})


def test_tf_luna_is_put_in_trigger_mode_and_triggered_per_sample():
    bus, sleep = _luna(123, 2500), Recorder()
    luna = TfLuna(bus, sleep)
    luna.start()
    assert bus.log == [("w", 0x10, 0x23, b"\x01")]  # MODE: trigger
    assert luna.read() == 1230
    assert bus.log[1:] == [("w", 0x10, 0x24, b"\x01"), ("r", 0x10, 0x00, 4)]
    assert sleep.calls == [TfLuna.TRIGGER_WAIT_MS]
    assert luna.unit == "mm"


def test_tf_luna_readings_it_calls_unreliable_are_none():
    assert TfLuna(_luna(123, 99), Recorder()).read() is None  # signal too weak
    assert TfLuna(_luna(123, 0xFFFF), Recorder()).read() is None  # overexposed
    assert TfLuna(_luna(0, 2500), Recorder()).read() is None  # no target
    assert TfLuna(_luna(300, 100), Recorder()).read() == 3000


def test_tf_luna_that_does_not_answer_reads_none():
    luna = TfLuna(_luna(123, 2500), Recorder(), addr=0x11)  # nothing at 0x11
    luna.start()
    assert luna.read() is None


def _lis3dh(x, y, z, who=0x33):
    regs = {0x0F: who}
    for i, v in enumerate((x, y, z)):
        v &= 0xFFFF
        regs[0x28 + 2 * i] = v & 0xFF
        regs[0x29 + 2 * i] = v >> 8
    return FakeI2C(0x18, regs)


def test_lis3dh_is_woken_read_with_auto_increment_and_powered_down():
    bus, sleep = _lis3dh(0, 0, 16000), Recorder()
    assert Lis3dh(bus, sleep).degrees() == 0
    assert bus.log == [
        ("r", 0x18, 0x0F, 1),  # WHO_AM_I
        ("w", 0x18, 0x23, b"\x88"),  # CTRL_REG4: BDU, high resolution, +-2 g
        ("w", 0x18, 0x20, b"\x77"),  # CTRL_REG1: 400 Hz, X Y Z on
        ("r", 0x18, 0xA8, 6),  # OUT_X_L.. with the auto-increment bit
        ("w", 0x18, 0x20, b"\x07"),  # CTRL_REG1: power-down
    ]
    assert sleep.calls == [20]


def test_lis3dh_tilt_angles():
    assert abs(Lis3dh(_lis3dh(16000, 0, 0), Recorder()).degrees() - 90) < 1e-6
    assert abs(Lis3dh(_lis3dh(0, -11314, 11314), Recorder()).degrees() - 45) < 1e-3
    assert abs(Lis3dh(_lis3dh(0, 0, -16000), Recorder()).degrees() - 180) < 1e-6
    assert Lis3dh(_lis3dh(0, 0, 0), Recorder()).degrees() is None


def test_lis3dh_that_is_not_there_reads_none():
    assert Lis3dh(_lis3dh(0, 0, 16000, who=0x00), Recorder()).degrees() is None
    assert Lis3dh(_lis3dh(0, 0, 16000), Recorder(), addr=0x19).degrees() is None


def test_ds18b20_converts_at_nine_bits_and_reads():
    ds, sleep = FakeDs18x20(21.5), Recorder()
    t = Ds18b20(ds, sleep)
    assert t.celsius() == 21.5
    rom = ds.roms[0]
    assert ds.calls == ["scan", ("write_scratch", rom, b"\x00\x00\x1f"), "convert",
                        ("read_temp", rom)]
    assert sleep.calls == [94]
    t.celsius()
    assert ds.calls.count("scan") == 1  # the sensor found once is kept


def test_ds18b20_failures_read_none():
    assert Ds18b20(FakeDs18x20(roms=[]), Recorder()).celsius() is None  # not fitted
    assert Ds18b20(FakeDs18x20(85.0), Recorder()).celsius() is None  # no conversion ran
    assert Ds18b20(FakeDs18x20(Exception("CRC error")), Recorder()).celsius() is None
