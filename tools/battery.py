"""How long a bin node's battery lasts: firmware/energy.py's model for a
node's config, as a small table beside the variations that matter most."""

from __future__ import annotations

from typing import Any

from firmware import energy
from firmware.settings import Config

SLOW_WIFI = {"wifi_connect_s": 4.0, "wifi_ma": 160.0}


def scenarios(cfg: Config) -> list[tuple[str, dict[str, Any]]]:
    """(label, overrides of the model's figures) for this config and the
    variations that decide whether the target is met."""
    every = cfg.measure_interval_s
    return [
        ("this config, Wi-Fi", {}),
        ("this config, LoRa SF9", {"radio": "lora"}),
        ("this config, Wi-Fi at 4 s and 160 mA a connect", dict(SLOW_WIFI)),
        ("reporting every measurement, Wi-Fi", {"heartbeat_s": every}),
        ("  the same at 4 s and 160 mA a connect", {"heartbeat_s": every, **SLOW_WIFI}),
        ("measuring and reporting every 15 min, Wi-Fi",
         {"measure_interval_s": 900, "heartbeat_s": 900}),
        ("a development board asleep (150 uA)", {"sleep_ua": 150.0}),
    ]


def estimates(cfg: Config, capacity_ah: float = 19.0) -> list[tuple[str, dict[str, float]]]:
    rows = []
    for label, overrides in scenarios(cfg):
        p = energy.params(cfg, capacity_mah=capacity_ah * 1000, **overrides)
        rows.append((label, energy.estimate(p)))
    return rows


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min"


def format_table(cfg: Config, capacity_ah: float = 19.0) -> str:
    """The battery life of a bin node with this config, as text."""
    p = energy.params(cfg)
    fitted = [name for name, on in (("DS18B20", p["temp_sensor"]), ("LIS3DH", p["tilt_sensor"]),
                                    ("lid switch", cfg.lid_switch)) if on]
    lines = [
        f"bin node {cfg.node_id}: measures every {_hours(cfg.measure_interval_s)}, "
        f"reports at least every {_hours(cfg.heartbeat_s)}; {cfg.sensor} sensor, "
        f"{cfg.samples} samples; {', '.join(fitted) or 'no optional sensors'}",
        f"cell: {capacity_ah:g} Ah Li-SOCl2, {p['usable_pct']:g} % usable, "
        f"{p['self_discharge_pct_per_year']:g} %/year self-discharge; "
        f"events besides heartbeats: {p['events_per_day']:g}/day",
        "",
        f"{'':<48} {'reports':>7} {'sleep':>6} {'measure':>7} {'radio':>6} {'average':>8} "
        f"{'years':>6}",
        f"{'':<48} {'a day':>7} {'uA':>6} {'uA':>7} {'uA':>6} {'uA':>8}",
    ]
    for label, r in estimates(cfg, capacity_ah):
        verdict = "ok" if r["years"] >= energy.TARGET_YEARS else "short"
        lines.append(
            f"{label:<48} {r['reports_per_day']:>7.1f} {r['sleep_ua']:>6.1f} "
            f"{r['measure_ua']:>7.1f} {r['radio_ua']:>6.1f} {r['avg_ua']:>8.1f} "
            f"{r['years']:>6.1f}  {verdict}")
    lines.append(f"target: {energy.TARGET_YEARS} years (ok / short); "
                 "the figures behind it are in firmware/energy.py")
    return "\n".join(lines)
