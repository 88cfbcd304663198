# A LoRa node's and a radio bridge's keys in config.json: the modem, its pins
# and spreading factor ("lora"), a bridge's radios ("radios"). Read by
# firmware.settings.Config for those only, so that a Wi-Fi node never loads it.
from firmware.checks import ConfigError, number
from firmware.lora import plan as radio_plan

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


def radio(raw, where, pin_defaults, sf_default):
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


def radios(raw):
    given = raw.get("radios")
    if given is None:
        given = [{"sf": 7 + i} for i in range(len(BRIDGE_RADIO_PINS))]
    if not isinstance(given, list) or not given:
        raise ConfigError("radios must be a list of one or more objects such as {\"sf\": 7}")
    out = []  # type: list[Radio]
    for i, r in enumerate(given):
        defaults = dict(BRIDGE_SPI)  # type: dict[str, int | None]
        defaults["reset"] = None
        if i < len(BRIDGE_RADIO_PINS):
            defaults["cs"], defaults["busy"], defaults["dio"] = BRIDGE_RADIO_PINS[i]
        one = radio(r, "radios[%d]" % i, defaults, 7 + i if i < 6 else 7)
        for other in out:
            if other.sf == one.sf:
                raise ConfigError("radios[%d] listens on SF%d like another radio: give each "
                                  "radio its own SF" % (i, one.sf))
            if other.pins["cs"] == one.pins["cs"]:
                raise ConfigError("radios[%d].pins.cs is GPIO %d like another radio's: each "
                                  "modem needs its own chip select" % (i, one.pins["cs"]))
        out.append(one)
    return out


def read(cfg, raw):
    """Set cfg.lora (a LoRa node) or cfg.radios, cfg.receivers and cfg.modems
    (a bridge) from raw."""
    if cfg.role == "bridge":
        cfg.radios = radios(raw)
        # What firmware.lora.bridge takes: the (freq, SF) each modem listens on,
        # and the modems' specs for firmware.hal.lora_modem.make_modem.
        cfg.receivers = [(radio_plan.UPLINK_KHZ, r.sf) for r in cfg.radios]
        cfg.modems = cfg.radios
    else:
        cfg.lora = radio(raw.get("lora", {}), "lora", LORA_PINS, 7)
