# The lamp's ramps, perceptual correction and energy count; the PWM driver.
# MicroPython VM and CPython.
from fakebus import FakePwm

from firmware.hal.drivers.pwm_led import PwmLed
from firmware.lighting import lamp


def _near(a, b, tol=0.01):
    return abs(a - b) <= tol


def test_perceived_and_output_are_inverse_and_keep_the_ends():
    for pct in (0, 1, 10, 40, 50, 100):
        assert _near(lamp.output(lamp.perceived(pct)), pct)
    assert lamp.perceived(0) == 0 and _near(lamp.perceived(100), 100)
    # 40 % of the light looks like about two thirds of the brightness.
    assert 64 < lamp.perceived(40) < 68


def test_fast_ramp_up_reaches_the_target_in_the_ramp_time():
    lp = lamp.Lamp(0, 40)
    lp.ramps(1000, 30000, 40, 100)
    lp.aim(0, 100)
    assert lp.at(0) == 40
    half = lp.at(500)
    # Evenly in perceived brightness: half way in time is below half way in light.
    assert 40 < half < 70
    assert _near(lamp.perceived(half), (lamp.perceived(40) + lamp.perceived(100)) / 2, 0.5)
    assert lp.remaining_ms() == 500
    assert lp.at(1000) == 100


def test_slow_ramp_down_and_back_up_from_wherever_it_is():
    lp = lamp.Lamp(0, 100)
    lp.ramps(1000, 30000, 40, 100)
    lp.aim(0, 40)
    levels = [lp.at(t) for t in range(0, 30001, 1000)]
    assert levels[-1] == 40
    assert all(a > b for a, b in zip(levels, levels[1:]))  # no jump, no stall
    lp.aim(30000, 100)
    lp.at(30500)
    lp.aim(30500, 40)  # someone passed quickly: down again from half way
    assert 40 < lp.at(31000) < 100


def test_no_ramp_time_means_at_once_and_the_clock_never_runs_back():
    lp = lamp.Lamp(0, 0)
    lp.ramps(0, 0, 40, 100)
    lp.aim(10, 70)
    assert lp.at(10) == 70
    assert lp.at(5) == 70


def test_energy_counts_output_over_time_through_ramps():
    lp = lamp.Lamp(0, 50)
    lp.ramps(1000, 1000, 50, 100)
    lp.at(3600000)
    assert lp.pct_ms == 50 * 3600000
    lp.aim(3600000, 100)
    lp.at(7200000)  # a one-second ramp, then full, in one long step
    assert abs(lp.pct_ms - (50 * 3600000 + 75 * 1000 + 100 * 3599000)) < 200


def test_pwm_driver_scales_and_inverts_the_duty():
    pwm = FakePwm()
    led = PwmLed(pwm)
    for pct in (0, 50, 100, 140, -3):
        led.set_pct(pct)
    assert pwm.duties == [0, 32768, 65535, 65535, 0]
    pwm = FakePwm()
    led = PwmLed(pwm, max_duty=60000, invert=True)
    led.set_pct(100)
    led.set_pct(0)
    assert pwm.duties == [5535, 65535]
