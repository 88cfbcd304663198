# The node's own config file (config.json on the node's flash), written by the
# technician's provisioning tool. Every value is checked at start-up so that a
# wrong value is named in one line instead of failing later in the field.
# The keys every node checks are here; the keys only a light node reads in
# firmware/lighting/settings.py, and the LoRa modem's and a bridge's radios in
# firmware/lora/settings.py, each loaded only by the nodes that read them, with
# the checks of firmware/checks.py.
import json

from firmware.checks import ConfigError as ConfigError  # for whoever reads a config
from firmware.checks import check_key as check_key
from firmware.checks import check_kid as check_kid
from firmware.checks import check_node_id as check_node_id
from firmware.checks import choice, number

ROLES = ("bin", "light", "bridge")


class Config:
    """A node's validated settings."""

    def __init__(self, raw):
        if not isinstance(raw, dict):
            raise ConfigError("config must be a JSON object")
        self.node_id = check_node_id(raw.get("id"))
        key = raw.get("key")
        self.key = None if key is None else check_key(key)  # None: provisioned before keys
        # The node's OSCORE Sender ID, given by the gateway at registration:
        # with the key, every exchange with the gateway is protected.
        kid = raw.get("kid")
        self.kid = None if kid is None else check_kid(kid)
        if self.kid is not None and self.key is None:
            raise ConfigError("kid given without key: provision the node again")
        self.role = raw.get("role")
        if self.role not in ROLES:
            raise ConfigError("role must be one of %s, got %r" % (", ".join(ROLES), self.role))
        self.transport = choice(raw, "transport", "wifi", "lora")
        self.lora = None  # a firmware.lora.settings.Radio when transport is "lora"
        self.radios = []  # a bridge's Radios: radio 0 also transmits
        if self.role == "bridge" or self.transport == "lora":
            from firmware.lora import settings as lora_settings  # a Wi-Fi node never loads it

            lora_settings.read(self, raw)
        elif raw.get("lora") is not None:
            raise ConfigError('lora settings given but transport is "wifi": '
                              'set "transport": "lora" or remove them')
        host = raw.get("gateway_host")
        if self.role != "bridge" and self.transport == "wifi" \
                and (not isinstance(host, str) or not host):
            raise ConfigError("gateway_host must be the gateway's address, got %r" % (host,))
        self.gateway_host = host
        self.gateway_port = int(number(raw, "gateway_port", 5683, 1, 65535))
        self.measure_interval_s = int(number(raw, "measure_interval_s", 3600, 10, 86400))
        self.heartbeat_s = int(number(raw, "heartbeat_s", 14400, 10, 7 * 86400))
        self.empty_mm = int(number(raw, "empty_mm", 1000, 50, 5000))
        self.full_mm = int(number(raw, "full_mm", 150, 20, 5000))
        if self.full_mm >= self.empty_mm:
            raise ConfigError("full_mm (%d) must be less than empty_mm (%d)"
                              % (self.full_mm, self.empty_mm))
        self.threshold_pct = number(raw, "threshold_pct", 80, 1, 100)
        self.sensor = choice(raw, "sensor", "ultrasonic", "tof")
        self.samples = int(number(raw, "samples", 5, 3, 15))
        self.fast_rise_pct_per_h = number(raw, "fast_rise_pct_per_h", 5, 1, 1000)
        self.fire_temp_c = number(raw, "fire_temp_c", 70, 30, 125)
        self.fire_rise_c_per_h = number(raw, "fire_rise_c_per_h", 20, 1, 1000)
        self.tilt_alarm_deg = number(raw, "tilt_alarm_deg", 30, 5, 180)
        self.temp_sensor = choice(raw, "temp_sensor", "none", "ds18b20")
        self.tilt_sensor = choice(raw, "tilt_sensor", "none", "lis3dh")
        self.lid_switch = choice(raw, "lid_switch", False, True)
        self.idle_pct = number(raw, "idle_pct", 40, 0, 100)
        self.active_pct = number(raw, "active_pct", 100, 0, 100)
        if self.idle_pct > self.active_pct:
            raise ConfigError("idle_pct (%s) must not be above active_pct (%s)"
                              % (self.idle_pct, self.active_pct))
        self.hold_s = number(raw, "hold_s", 60, 0, 3600)
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
        # A role's keys that only it reads, in its own package: loaded for
        # that role only.
        if self.role == "light":
            from firmware.lighting import settings as light_settings

            light_settings.read(self, raw)


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
