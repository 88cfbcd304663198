# The node's own config file (config.json on the node's flash), written by the
# technician's provisioning tool. Every value is checked at start-up so that a
# wrong value is named in one line instead of failing later in the field.
import json

ROLES = ("bin", "light")
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
ID_MAX = 16


class ConfigError(ValueError):
    """A config value the node cannot run with."""


def check_node_id(node_id):
    """Raise ConfigError unless node_id is a valid node id; return it."""
    if not isinstance(node_id, str) or not 1 <= len(node_id) <= ID_MAX:
        raise ConfigError("node id must be 1 to %d characters, got %r" % (ID_MAX, node_id))
    for ch in node_id:
        if ch not in ID_CHARS:
            raise ConfigError(
                "node id %r has %r: use letters, digits, '-', '_' or '.'" % (node_id, ch))
    return node_id


def _number(cfg, key, default, lo, hi):
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError("%s must be a number, got %r" % (key, value))
    if not lo <= value <= hi:
        raise ConfigError("%s must be between %s and %s, got %s" % (key, lo, hi, value))
    return value


def _choice(cfg, key, *allowed):
    """One of `allowed`; the first is the default."""
    value = cfg.get(key, allowed[0])
    if value not in allowed or type(value) is not type(allowed[0]):  # 1 is not true
        raise ConfigError("%s must be one of %r, got %r" % (key, allowed, value))
    return value


class Config:
    """A node's validated settings."""

    def __init__(self, raw):
        if not isinstance(raw, dict):
            raise ConfigError("config must be a JSON object")
        self.node_id = check_node_id(raw.get("id"))
        self.role = raw.get("role")
        if self.role not in ROLES:
            raise ConfigError("role must be one of %s, got %r" % (", ".join(ROLES), self.role))
        host = raw.get("gateway_host")
        if not isinstance(host, str) or not host:
            raise ConfigError("gateway_host must be the gateway's address, got %r" % (host,))
        self.gateway_host = host
        self.gateway_port = int(_number(raw, "gateway_port", 5683, 1, 65535))
        self.measure_interval_s = int(_number(raw, "measure_interval_s", 3600, 10, 86400))
        self.heartbeat_s = int(_number(raw, "heartbeat_s", 14400, 10, 7 * 86400))
        self.empty_mm = int(_number(raw, "empty_mm", 1000, 50, 5000))
        self.full_mm = int(_number(raw, "full_mm", 150, 20, 5000))
        if self.full_mm >= self.empty_mm:
            raise ConfigError("full_mm (%d) must be less than empty_mm (%d)"
                              % (self.full_mm, self.empty_mm))
        self.threshold_pct = _number(raw, "threshold_pct", 80, 1, 100)
        self.sensor = _choice(raw, "sensor", "ultrasonic", "tof")
        self.samples = int(_number(raw, "samples", 5, 3, 15))
        self.fast_rise_pct_per_h = _number(raw, "fast_rise_pct_per_h", 5, 1, 1000)
        self.fire_temp_c = _number(raw, "fire_temp_c", 70, 30, 125)
        self.fire_rise_c_per_h = _number(raw, "fire_rise_c_per_h", 20, 1, 1000)
        self.tilt_alarm_deg = _number(raw, "tilt_alarm_deg", 30, 5, 180)
        self.temp_sensor = _choice(raw, "temp_sensor", "none", "ds18b20")
        self.tilt_sensor = _choice(raw, "tilt_sensor", "none", "lis3dh")
        self.lid_switch = _choice(raw, "lid_switch", False, True)
        self.idle_pct = _number(raw, "idle_pct", 40, 0, 100)
        self.active_pct = _number(raw, "active_pct", 100, 0, 100)
        if self.idle_pct > self.active_pct:
            raise ConfigError("idle_pct (%s) must not be above active_pct (%s)"
                              % (self.idle_pct, self.active_pct))
        self.hold_s = _number(raw, "hold_s", 60, 0, 3600)
        self.wifi_ssid = raw.get("wifi_ssid")
        self.wifi_password = raw.get("wifi_password")
        pins = raw.get("pins", {})
        if not isinstance(pins, dict):
            raise ConfigError("pins must be an object of pin names to GPIO numbers")
        for name in pins:
            if isinstance(pins[name], bool) or not isinstance(pins[name], int) \
                    or not 0 <= pins[name] <= 48:
                raise ConfigError("pins.%s must be a GPIO number 0..48, got %r"
                                  % (name, pins[name]))
        self.pins = pins
        if self.role == "light":
            from firmware import light_config  # a bin node never loads it
            light_config.read(self, raw)


def parse(text):
    try:
        raw = json.loads(text)
    except ValueError:
        raise ConfigError("config is not valid JSON")
    return Config(raw)


def load(path="config.json"):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        raise ConfigError("no %s on the node: provision it first" % path)
    return parse(text)
