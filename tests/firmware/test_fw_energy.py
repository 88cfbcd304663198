# The battery model. Runs in the MicroPython VM as well as CPython.
from firmware import energy
from firmware import settings as config
from firmware.hal.drivers.tfluna import TfLuna
from firmware.hal.drivers.ultrasonic import Ultrasonic


def _cfg(**extra):
    raw = {"id": "B1", "role": "bin", "gateway_host": "10.0.0.1"}
    for k in extra:
        raw[k] = extra[k]
    return config.Config(raw)


def test_the_default_bin_node_lasts_ten_years_on_a_d_cell():
    r = energy.estimate(energy.params(_cfg(temp_sensor="ds18b20", tilt_sensor="lis3dh")))
    assert r["years"] >= energy.TARGET_YEARS
    assert abs(r["avg_ua"] - (r["sleep_ua"] + r["measure_ua"] + r["radio_ua"])) < 1e-9


def test_reports_a_day_follow_the_policy():
    p = energy.params(_cfg())  # hourly, heartbeat 4 h, one event a day
    assert abs(energy.reports_per_day(p) - (24 / 4 + 1)) < 1e-9
    p = energy.params(_cfg(heartbeat_s=3600))
    assert energy.reports_per_day(p) == 24  # never more than one per wake
    p = energy.params(_cfg(heartbeat_s=7000))  # every second wake covers 7000 s
    assert abs(energy.reports_per_day(p) - 13) < 1e-9


def test_reporting_every_wake_costs_more_and_a_dev_board_fails():
    policy = energy.estimate(energy.params(_cfg()))
    every = energy.estimate(energy.params(_cfg(heartbeat_s=3600)))
    assert every["radio_ua"] > 3 * policy["radio_ua"] and every["years"] < policy["years"]
    # A development board's regulator and USB chip asleep: far from ten years.
    assert energy.estimate(energy.params(_cfg(), sleep_ua=5000.0))["years"] < 1


def test_lora_costs_less_per_report_than_wifi():
    assert energy.report_mas(energy.params(radio="lora")) < energy.report_mas(energy.params())
    # Spreading factor 12 takes eight times the airtime of 9 and more.
    assert energy.report_mas(energy.params(radio="lora", lora_sf=12)) \
        > energy.report_mas(energy.params(radio="lora"))


def test_self_discharge_shortens_the_life_even_of_an_idle_node():
    p = energy.params()
    assert energy.years_at(0.0, p) == 85.0  # 85 % usable, 1 % a year lost
    assert energy.years_at(100.0, p) < energy.years_at(50.0, p)


def test_sensor_timing_agrees_with_the_drivers():
    settle, gap, _ = energy.SENSOR_TIMING["ultrasonic"]
    assert (settle, gap) == (Ultrasonic.SETTLE_MS, Ultrasonic.GAP_MS)
    settle, gap, each = energy.SENSOR_TIMING["tof"]
    assert (settle, gap) == (TfLuna.SETTLE_MS, TfLuna.GAP_MS)
    assert each >= TfLuna.TRIGGER_WAIT_MS


def test_the_tof_sensor_costs_more_to_run():
    us = energy.params(_cfg())
    tof = energy.params(_cfg(sensor="tof"))
    assert energy.wake_mas(tof) > energy.wake_mas(us)


def test_an_unknown_figure_is_refused():
    try:
        energy.params(sleep_uA=5)
    except KeyError:
        return
    raise AssertionError("accepted an unknown figure")


def test_lora_counts_the_protected_report_as_it_goes_on_air():
    # 34 bytes with a 1-byte kid and a 2-byte Partial IV, 35 with a 2-byte kid;
    # 37 with the 4-byte kid of a node provisioned while the gateway was away.
    assert energy.lora_frame_bytes() == 34 and energy.lora_frame_bytes(2) == 35
    assert energy.lora_frame_bytes(4) == 37
    p = energy.params(radio="lora")
    assert energy.frame_bytes(p) == 34
    # A node's own kid, from its config.
    cfg = _cfg(key="00" * 16, kid="0107")
    assert energy.frame_bytes(energy.params(cfg, radio="lora")) == 35
    # A smaller frame costs less airtime than the 40 bytes once assumed.
    assert energy.report_mas(p) < energy.report_mas(energy.params(radio="lora",
                                                                  lora_frame_bytes=40))
