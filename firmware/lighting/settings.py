# A light node's own keys in config.json (docs/field-guide.md lists them),
# read by firmware.settings.Config for role "light" only, so that a bin node
# never loads this code.
from firmware.checks import ConfigError, choice, number


def _opt(raw, key, lo, hi):
    """A number, or None when the key is absent."""
    return None if raw.get(key) is None else number(raw, key, 0, lo, hi)


def _gates(raw, key):
    """Nine per-gate energy thresholds 0..100, or None (the driver's own)."""
    v = raw.get(key)
    if v is None:
        return None
    if not isinstance(v, list) or len(v) != 9 or [x for x in v if isinstance(x, bool)
                                                 or not isinstance(x, int)
                                                 or not 0 <= x <= 100]:
        raise ConfigError("%s must be 9 numbers 0..100, one per gate, got %r" % (key, v))
    return tuple(v)


def read(cfg, raw):
    n = number
    cfg.addr = int(n(raw, "addr", 0, 0, 65534))
    cfg.ramp_up_ds = int(n(raw, "ramp_up_ds", 10, 0, 255))
    cfg.ramp_down_s = int(n(raw, "ramp_down_s", 30, 0, 255))
    cfg.safe_idle_pct = n(raw, "safe_idle_pct", 60, 0, 100)
    if cfg.safe_idle_pct > cfg.active_pct:
        raise ConfigError("safe_idle_pct (%s) must not be above active_pct (%s)"
                          % (cfg.safe_idle_pct, cfg.active_pct))
    cfg.offline_after_min = int(n(raw, "offline_after_min", 15, 1, 255))
    cfg.presence = choice(raw, "presence", "pir", "ld2410")
    cfg.retrigger_s = n(raw, "retrigger_s", 5, 1, 60)
    cfg.pir_debounce_ms = int(n(raw, "pir_debounce_ms", 50, 0, 2000))
    cfg.radar_faces = choice(raw, "radar_faces", "none", "up", "down")
    cfg.radar_move_thr = _gates(raw, "radar_move_thr")
    cfg.radar_still_thr = _gates(raw, "radar_still_thr")
    cfg.pwm_hz = int(n(raw, "pwm_hz", 1000, 100, 40000))
    cfg.pwm_max_duty = int(n(raw, "pwm_max_duty", 65535, 1, 65535))
    cfg.pwm_invert = choice(raw, "pwm_invert", False, True)
    cfg.gamma = n(raw, "gamma", 2.2, 1, 3)
    cfg.lamp_w = n(raw, "lamp_w", 40, 1, 2000)
    cfg.lat = _opt(raw, "lat", -90, 90)
    cfg.lon = _opt(raw, "lon", -180, 180)
    if (cfg.lat is None) != (cfg.lon is None):
        raise ConfigError("lat and lon go together: give both or neither")
    cfg.dusk_offset_min = int(n(raw, "dusk_offset_min", 0, -180, 180))
    cfg.dawn_offset_min = int(n(raw, "dawn_offset_min", 0, -180, 180))
    cfg.ambient = choice(raw, "ambient", "none", "bh1750")
    cfg.lux_on = n(raw, "lux_on", 20, 0, 10000)
    cfg.lux_off = n(raw, "lux_off", 50, 0, 10000)
    if cfg.lux_off <= cfg.lux_on:
        raise ConfigError("lux_off (%s) must be above lux_on (%s)" % (cfg.lux_off, cfg.lux_on))
    cfg.status_interval_s = int(n(raw, "status_interval_s", 900, 60, 86400))
