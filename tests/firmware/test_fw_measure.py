# Fill measurement: samples to a distance, outliers dropped, fill level.
# Runs in the MicroPython VM as well as CPython.
from firmware.waste import measure


def _close(a, b, tol=0.01):
    return abs(a - b) <= tol


def test_echo_time_to_distance_uses_the_speed_of_sound_at_the_temperature():
    # 20 C: 331.3 + 0.606 * 20 = 343.42 m/s; 5824 us there and back is 1000 mm.
    assert _close(measure.distance_mm([5824] * 3, "us", 20), 5824 * 343.42 / 2000)
    cold = measure.distance_mm([5824] * 3, "us", -10)
    warm = measure.distance_mm([5824] * 3, "us", 30)
    # The same echo is a shorter distance in cold air: 325.24 / 349.48.
    assert _close(cold / warm, (331.3 - 6.06) / (331.3 + 18.18), 1e-6)


def test_without_a_thermometer_ten_degrees_is_assumed():
    assert measure.distance_mm([5000] * 3, "us") == measure.distance_mm([5000] * 3, "us", 10)


def test_millimetre_samples_are_taken_as_they_are():
    assert measure.distance_mm([812, 810, 811], "mm", 40) == 811


def test_median_of_odd_and_even_counts():
    assert measure.median([3, 1, 2]) == 2
    assert measure.median([4, 1, 3, 2]) == 2.5
    assert measure.median([7]) == 7


def test_a_spurious_echo_is_dropped():
    # One echo off the bin's wall among five agreeing samples.
    assert measure.robust_median([500, 502, 180, 499, 501]) == 500.5
    # Two of five, on both sides.
    assert measure.robust_median([500, 1900, 502, 120, 501]) == 501


def test_samples_agreeing_to_a_few_millimetres_are_all_kept():
    # The spread is 0 but for one sample 3 mm off: within the 5 mm floor.
    assert measure.robust_median([600, 600, 600, 603]) == 600
    assert measure.robust_median([600, 600, 600, 650]) == 600  # 50 mm off: dropped


def test_too_few_good_samples_fail():
    assert measure.robust_median([500, None, None, None, 501]) is None
    assert measure.robust_median([]) is None
    assert measure.robust_median([500, 501, None]) is None
    assert measure.robust_median([500, 501, 502]) == 501
    assert measure.distance_mm([None] * 5, "us", 10) is None


def test_fill_level_from_the_bins_geometry():
    assert measure.fill_pct(1000, 1000, 200) == 0
    assert measure.fill_pct(200, 1000, 200) == 100
    assert measure.fill_pct(600, 1000, 200) == 50
    assert measure.fill_pct(1100, 1000, 200) == 0.0  # below the empty bottom: 0
    assert measure.fill_pct(50, 1000, 200) == 100.0  # above the full line: 100
    assert measure.fill_pct(None, 1000, 200) is None
