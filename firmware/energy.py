# How long a bin node's battery lasts: the average current of a day of
# sleeping, waking to measure, and reporting by the policy, and the years a
# cell gives at that current. Plain arithmetic that runs on the node as well
# as in the tools (tools/battery.py). Every figure is a named default with
# where it comes from; any of them can be overridden.
from firmware.lora.airtime import airtime_us
from firmware.waste.payload import BIN_REPORT_SIZE

TARGET_YEARS = 10

DEFAULTS = {
    # --- asleep ------------------------------------------------------------
    # ESP32 in deep sleep with the RTC timer on, on a board made for it (a
    # low-quiescent regulator, no USB-serial chip powered): ~10 uA. The
    # module alone is 5-10 uA; development boards draw 0.1-10 mA.
    "sleep_ua": 10.0,
    # Powered while the node sleeps: the battery divider (2 x 1 MOhm across
    # 3.6 V: 1.8 uA), a DS18B20 in standby (0.75 uA typ.), a LIS3DH powered
    # down (0.5 uA). The fill sensor is switched off.
    "standby_ua": 3.0,
    # --- awake, radio off --------------------------------------------------
    # From the wake-up timer through ROM and second-stage bootloader,
    # MicroPython's start and the import of the .mpy modules, to the end of
    # the node's logic.
    "wake_s": 0.8,
    # ESP32 CPU at 160 MHz with the radio off: 30-50 mA.
    "awake_ma": 45.0,
    # Fill sensor supply while it is on (on-time: SENSOR_TIMING below).
    "ultrasonic_ma": 8.0,  # JSN-SR04T working current (an HC-SR04: 15 mA)
    "tof_ma": 115.0,  # TF-Luna: 70 mA average at 5 V, via a ~85 % boost from 3.6 V
    "temp_s": 0.1,  # DS18B20 9-bit conversion (94 ms), waited for
    "tilt_s": 0.025,  # LIS3DH turn-on in high resolution (7/ODR at 400 Hz) and read
    # --- Wi-Fi: per report --------------------------------------------------
    "wifi_connect_s": 2.0,  # association and DHCP: 1-2 s; the slow end
    "wifi_send_s": 0.2,  # one CoAP request and its answer across the LAN
    "wifi_ma": 130.0,  # average: receiving ~100 mA, transmit bursts 160-240 mA
    # OSCORE per report, CPU only: the context's keys (HKDF-SHA256, hashlib in
    # C), AES-CCM of the request and the answer over cryptolib's AES; an
    # estimate, generous for a few milliseconds of work.
    "oscore_s": 0.02,
    # --- LoRa: per report (an SX1276-class radio beside the ESP32) ----------
    "lora_sf": 9,
    # The bin report protected with OSCORE is lora_frame_bytes() long: 34
    # bytes with a 1-byte kid and a 2-byte Partial IV (a bin node's sequence
    # numbers pass 255 in its first five weeks), 35 with a 2-byte kid (`make
    # bench ONLY=radio` measures the node's own frame). None: that size for
    # the kid and Partial IV below; a number overrides it.
    "lora_frame_bytes": None,
    "lora_kid_bytes": 1,  # a node's config gives its own (params(cfg))
    "lora_piv_bytes": 2,
    "lora_tx_ma": 90.0,  # SX1276 at +17 dBm on PA_BOOST: 87 mA
    "lora_rx_s": 1.2,  # awake for the acknowledgement: RX1 opens 1 s after the uplink
    "lora_rx_ma": 12.0,  # SX1276 receiving: 10.8-12 mA
    # --- how the node is used ---------------------------------------------
    "radio": "wifi",
    "measure_interval_s": 3600,
    "heartbeat_s": 14400,
    "samples": 5,
    "sensor": "ultrasonic",
    "temp_sensor": False,
    "tilt_sensor": False,
    # Reports besides heartbeats: threshold crossings and emptyings of a bin
    # filled in two days, the odd fast rise or alarm.
    "events_per_day": 1.0,
    # --- the cell -----------------------------------------------------------
    "capacity_mah": 19000.0,  # D-size Li-SOCl2 bobbin cell (e.g. Tadiran TL-5930, 19 Ah)
    "self_discharge_pct_per_year": 1.0,  # of the nominal capacity; datasheets: < 1 % at 20 C
    # Left for the node after cold winters, the cut-off voltage and pulse
    # loads (a bobbin cell needs a buffer capacitor for Wi-Fi's 240 mA peaks).
    "usable_pct": 85.0,
}

# Fill sensor on-time: settle after power-up, gap between samples, time per
# sample (ms) -- as firmware/hal/drivers/ultrasonic.py and firmware/hal/drivers/tfluna.py
# do it (tests/firmware/test_fw_energy.py checks that they agree).
SENSOR_TIMING = {"ultrasonic": (100, 60, 6), "tof": (200, 0, 12)}


def lora_frame_bytes(kid_bytes=1, piv_bytes=2, payload_bytes=BIN_REPORT_SIZE):
    """Bytes on air of a bin report protected with OSCORE, as the node's
    uplink builds it (docs/protocol.md): the CoAP header (4, no token); the
    OSCORE option (its 1-byte option header, the flags, the Partial IV, the
    kid); the payload marker; the ciphertext of the code, Uri-Path "b" (2),
    the payload marker and the report; the 8-byte tag. The node id is not
    in it: the key names the node."""
    option = 1 + piv_bytes + kid_bytes
    inner = 1 + 2 + 1 + payload_bytes
    return 4 + 1 + option + 1 + inner + 8


def frame_bytes(p):
    """The LoRa frame the model counts: p's lora_frame_bytes, else the
    protected report's for p's kid and Partial IV."""
    n = p["lora_frame_bytes"]
    if n is None:
        n = lora_frame_bytes(p["lora_kid_bytes"], p["lora_piv_bytes"])
    return n


def params(cfg=None, **overrides):
    """The model's inputs: the defaults, a node config's settings, overrides."""
    p = dict(DEFAULTS)
    if cfg is not None:
        kid = getattr(cfg, "kid", None)
        if kid:
            p["lora_kid_bytes"] = len(kid) // 2  # hex in config.json
        p["measure_interval_s"] = cfg.measure_interval_s
        p["heartbeat_s"] = cfg.heartbeat_s
        p["samples"] = cfg.samples
        p["sensor"] = cfg.sensor
        p["temp_sensor"] = cfg.temp_sensor != "none"
        p["tilt_sensor"] = cfg.tilt_sensor != "none"
    for k in overrides:
        if k not in p:
            raise KeyError("no energy figure %r" % k)
        p[k] = overrides[k]
    return p


def sensor_on_s(p):
    settle, gap, each = SENSOR_TIMING[p["sensor"]]
    n = p["samples"]
    return (settle + (n - 1) * gap + n * each) / 1000


def wake_mas(p):
    """Charge of one wake with the radio off, mA*s."""
    on = sensor_on_s(p)
    awake = p["wake_s"] + on
    if p["temp_sensor"]:
        awake += p["temp_s"]
    if p["tilt_sensor"]:
        awake += p["tilt_s"]
    sensor_ma = p["tof_ma"] if p["sensor"] == "tof" else p["ultrasonic_ma"]
    return awake * p["awake_ma"] + on * sensor_ma


def report_mas(p):
    """Charge one report adds to its wake, mA*s."""
    crypto = p["oscore_s"] * p["awake_ma"]
    if p["radio"] == "lora":
        air_s = airtime_us(frame_bytes(p), p["lora_sf"]) / 1000000
        return crypto + air_s * (p["lora_tx_ma"] + p["awake_ma"]) \
            + p["lora_rx_s"] * (p["lora_rx_ma"] + p["awake_ma"])
    return crypto + (p["wifi_connect_s"] + p["wifi_send_s"]) * p["wifi_ma"]


def reports_per_day(p):
    """Heartbeats (every whole number of wakes that covers heartbeat_s)
    plus events, at most one report per wake."""
    interval = p["measure_interval_s"]
    wakes = 86400 / interval
    beat_wakes = max(1, -(-p["heartbeat_s"] // interval))
    return min(wakes, wakes / beat_wakes + p["events_per_day"])


def years_at(avg_ua, p):
    """Years the cell lasts at an average current (uA), self-discharge included."""
    use_mah = avg_ua * 8.766  # 8766 hours a year
    lost_mah = p["capacity_mah"] * p["self_discharge_pct_per_year"] / 100
    return p["capacity_mah"] * p["usable_pct"] / 100 / (use_mah + lost_mah)


def estimate(p):
    """Average current by part (uA), reports a day and battery life (years)."""
    wakes = 86400 / p["measure_interval_s"]
    reports = reports_per_day(p)
    # mA*s a day to uA: / 86400 s * 1000
    r = {
        "sleep_ua": p["sleep_ua"] + p["standby_ua"],
        "measure_ua": wakes * wake_mas(p) / 86.4,
        "radio_ua": reports * report_mas(p) / 86.4,
        "reports_per_day": reports,
    }
    r["avg_ua"] = r["sleep_ua"] + r["measure_ua"] + r["radio_ua"]
    r["years"] = years_at(r["avg_ua"], p)
    return r
