"""A bin node's battery life by firmware/energy.py, for the reference node:
hourly measurements, the default report policy over Wi-Fi, every optional
sensor fitted, on a 19 Ah Li-SOCl2 cell."""

from __future__ import annotations

from bench.report import line
from firmware import energy
from firmware.settings import Config

REFERENCE = {"id": "B0001", "role": "bin", "gateway_host": "10.0.0.1",
             "temp_sensor": "ds18b20", "tilt_sensor": "lis3dh", "lid_switch": True}


def run() -> list[str]:
    p = energy.params(Config(REFERENCE))
    result = energy.estimate(p)
    # The same node on LoRa at SF9 and SF12, its reports protected (34 bytes,
    # energy.lora_frame_bytes()).
    lora = energy.estimate(energy.params(Config(REFERENCE), radio="lora"))
    far = energy.estimate(energy.params(Config(REFERENCE), radio="lora", lora_sf=12))
    return [line("node.battery_life_years", result["years"], "years", ">=",
                 energy.TARGET_YEARS),
            line("node.battery_life_years_lora_sf9", lora["years"], "years", ">=",
                 energy.TARGET_YEARS),
            line("node.battery_life_years_lora_sf12", far["years"], "years", ">=",
                 energy.TARGET_YEARS)]
