# The node's own config file (config.json on the node's flash), written by the
# technician's provisioning tool. Every value is checked at start-up so that a
# wrong value is named in one line instead of failing later in the field.
# Keys every role reads are checked here; a role's own keys in its package
# (firmware/lighting/settings.py), loaded for that role only, with number()
# and choice() below.
import json

ROLES = ("bin", "light", "bridge")
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
ID_MAX = 16
KEY_HEX = 32  # the node's secret key: 16 bytes as hex, made by the provisioning tool
HEX_DIGITS = "0123456789abcdefABCDEF"


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


def check_key(key):
    """Raise ConfigError unless key is a node key (32 hex digits); return it.
    The message never repeats the value: a key is a secret."""
    if not isinstance(key, str) or len(key) != KEY_HEX:
        raise ConfigError("key must be %d hex digits (16 bytes), got %s" % (
            KEY_HEX, "%d characters" % len(key) if isinstance(key, str) else type(key).__name__))
    for ch in key:
        if ch not in HEX_DIGITS:
            raise ConfigError("key must be %d hex digits (16 bytes): it has a character "
                              "that is not 0-9 or a-f" % KEY_HEX)
    return key


def number(cfg, key, default, lo, hi):
    """cfg[key], a number lo..hi, or default when absent."""
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError("%s must be a number, got %r" % (key, value))
    if not lo <= value <= hi:
        raise ConfigError("%s must be between %s and %s, got %s" % (key, lo, hi, value))
    return value


def choice(cfg, key, *allowed):
    """cfg[key], one of `allowed`; the first is the default."""
    value = cfg.get(key, allowed[0])
    if value not in allowed or type(value) is not type(allowed[0]):  # 1 is not true
        raise ConfigError("%s must be one of %r, got %r" % (key, allowed, value))
    return value


# The reference node board's LoRa module (one SX1276 or SX1262 on SPI), on
# GPIOs the sensors and the lamp leave free. "dio" is the modem's interrupt
# line: DIO0 on an SX1276, DIO1 on an SX1262; "busy" is the SX1262's only.
LORA_PINS = {"sck": 14, "mosi": 23, "miso": 35, "cs": 15, "reset": 26, "dio": 36, "busy": 39}
# The reference bridge: six SX1262 modules on one SPI bus, each with its own
# chip select, BUSY and DIO1; their NRESET lines tied to the board's EN, so
# they restart with it (one shared reset GPIO would reset every modem whenever
# one is set up).
BRIDGE_SPI = {"sck": 18, "mosi": 23, "miso": 19}
BRIDGE_RADIO_PINS = ((5, 34, 35), (21, 36, 39), (22, 32, 33), (25, 26, 27), (4, 16, 17),
                     (13, 14, 15))  # (cs, busy, dio) of radios 0..5
LORA_PIN_NAMES = ("sck", "mosi", "miso", "cs", "reset", "dio", "busy")
_OPTIONAL_PINS = ("reset", "dio")  # null: not connected
_OUTPUT_PINS = ("sck", "mosi", "cs", "reset")
MODEMS = ("sx1262", "sx1276")


class Radio:
    """One LoRa modem: its chip, pins and the spreading factor it starts with."""

    def __init__(self, modem, sf, output_power, pins, tcxo_mv):
        self.modem = modem
        self.sf = sf
        self.output_power = output_power
        self.pins = pins  # LORA_PIN_NAMES -> GPIO number, or None (not connected)
        self.tcxo_mv = tcxo_mv  # SX1262: the TCXO's supply on DIO3, 0 for a crystal


def _lora_pins(raw, where, defaults, modem):
    pins = dict(defaults)
    given = raw.get("pins", {})
    if not isinstance(given, dict):
        raise ConfigError("%s.pins must be an object of pin names to GPIO numbers" % where)
    for name in given:
        if name not in LORA_PIN_NAMES:
            raise ConfigError("%s.pins.%s is not a LoRa pin: use %s"
                              % (where, name, ", ".join(LORA_PIN_NAMES)))
        pins[name] = given[name]
    for name in LORA_PIN_NAMES:
        v = pins.get(name)
        if name == "busy" and modem != "sx1262":
            pins[name] = None  # an SX1276 has no BUSY line
            continue
        if v is None and name in _OPTIONAL_PINS:
            pins[name] = None
            continue
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 48:
            raise ConfigError("%s.pins.%s must be a GPIO number 0..48, got %r" % (where, name, v))
        if name in _OUTPUT_PINS and 34 <= v <= 39:
            raise ConfigError("%s.pins.%s must be a GPIO that can drive (not 34..39), got %d"
                              % (where, name, v))
    return pins


def _sub_number(raw, where, key, default, lo, hi):
    try:
        return number(raw, key, default, lo, hi)
    except ConfigError as e:
        raise ConfigError("%s.%s" % (where, e))


def _radio(raw, where, pin_defaults, sf_default):
    if not isinstance(raw, dict):
        raise ConfigError("%s must be an object (sf, modem, pins, ...)" % where)
    for key in raw:
        if key not in ("sf", "output_power", "modem", "pins", "tcxo_mv"):
            raise ConfigError("%s.%s is not a LoRa setting: use sf, output_power, modem, "
                              "pins or tcxo_mv" % (where, key))
    modem = raw.get("modem", MODEMS[0])
    if modem not in MODEMS:
        raise ConfigError("%s.modem must be one of %s, got %r" % (where, ", ".join(MODEMS), modem))
    sf = int(_sub_number(raw, where, "sf", sf_default, 7, 12))
    if raw.get("sf", sf) != sf:
        raise ConfigError("%s.sf must be a whole number 7..12, got %r" % (where, raw["sf"]))
    power = int(_sub_number(raw, where, "output_power", 14, 2, 20))
    tcxo = int(_sub_number(raw, where, "tcxo_mv", 1800 if modem == "sx1262" else 0, 0, 3300))
    if 0 < tcxo < 1600:
        raise ConfigError("%s.tcxo_mv must be 0 (no TCXO) or 1600..3300, got %d" % (where, tcxo))
    return Radio(modem, sf, power, _lora_pins(raw, where, pin_defaults, modem), tcxo)


def _radios(raw):
    radios = raw.get("radios")
    if radios is None:
        radios = [{"sf": 7 + i} for i in range(len(BRIDGE_RADIO_PINS))]
    if not isinstance(radios, list) or not radios:
        raise ConfigError("radios must be a list of one or more objects such as {\"sf\": 7}")
    out = []  # type: list[Radio]
    for i, r in enumerate(radios):
        defaults = dict(BRIDGE_SPI)  # type: dict[str, int | None]
        defaults["reset"] = None
        if i < len(BRIDGE_RADIO_PINS):
            defaults["cs"], defaults["busy"], defaults["dio"] = BRIDGE_RADIO_PINS[i]
        radio = _radio(r, "radios[%d]" % i, defaults, 7 + i if i < 6 else 7)
        for other in out:
            if other.sf == radio.sf:
                raise ConfigError("radios[%d] listens on SF%d like another radio: give each "
                                  "radio its own SF" % (i, radio.sf))
            if other.pins["cs"] == radio.pins["cs"]:
                raise ConfigError("radios[%d].pins.cs is GPIO %d like another radio's: each "
                                  "modem needs its own chip select" % (i, radio.pins["cs"]))
        out.append(radio)
    return out


class Config:
    """A node's validated settings."""

    def __init__(self, raw):
        if not isinstance(raw, dict):
            raise ConfigError("config must be a JSON object")
        self.node_id = check_node_id(raw.get("id"))
        key = raw.get("key")
        self.key = None if key is None else check_key(key)  # None: provisioned before keys
        self.role = raw.get("role")
        if self.role not in ROLES:
            raise ConfigError("role must be one of %s, got %r" % (", ".join(ROLES), self.role))
        self.transport = choice(raw, "transport", "wifi", "lora")
        self.lora = None  # a Radio when transport is "lora"
        self.radios = []  # a bridge's Radios: radio 0 also transmits
        if self.role == "bridge":
            from firmware.lora import plan as radio_plan  # a Wi-Fi node never loads it

            self.radios = _radios(raw)
            # What firmware.lora.bridge takes: the (freq, SF) each modem listens on,
            # and the modems' specs for firmware.hal.lora_modem.make_modem.
            self.receivers = [(radio_plan.UPLINK_KHZ, r.sf) for r in self.radios]
            self.modems = self.radios
        elif self.transport == "lora":
            self.lora = _radio(raw.get("lora", {}), "lora", LORA_PINS, 7)
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
        if self.role == "light":
            from firmware.lighting import settings as light_settings  # a bin node never loads it

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
