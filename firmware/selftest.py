# The node's self-test, for a field technician at a bin or a pole: the laptop
# (`kvarter node selftest`) runs `from firmware import selftest;
# selftest.main()` over USB and reads the one line it prints:
#
#   SELFTEST {"checks": [{"name": ..., "ok": ..., "value": ..., "code": ...}, ...],
#             "node": "B0042", "wifi_dbm": -67}
#
# "node" is the id in its config.json (absent without a readable config),
# "wifi_dbm" the Wi-Fi signal where it stands (absent unless it joined): the
# laptop hands both on to the gateway for the technician's screen.
# `value` is a short reading for a person ("612 mm, 49 % full"), `code` a
# short word for the laptop naming what failed, "" when nothing did. Two codes
# also come with ok true, as notes: "never" (no word from the gateway since
# power-on, as on a new node) and "not_set" (nothing there to check). It never
# raises: a check that crashes fails with code "error" and the exception in
# `value`. The checks are plain logic on the hardware layer (run(), tested
# with fakes); main() builds the ESP32's.
import gc
import json

from firmware import settings
from firmware.proto import coap

WIFI_TIMEOUT_MS = 15000  # what a bin node gives its Wi-Fi in service (hal.connect)
PING_RETRANSMIT = 1  # one CoAP ping and one retry: 6-9 s before "unreachable"
LED_FULL_MS = 1000
RADAR_POLLS = 20  # x 50 ms: an LD2410 reports about ten times a second
LUX_TRIES = 3  # a BH1750 that was off answers only from its second reading
# A node holds about 6 KB after a wake or a detection once its code is
# frozen into flash (bench/node.py, node.*_heap_frozen_modules); 16 KB leaves
# that and the garbage made between two collections.
MEMORY_MIN = 16 * 1024
# Battery: a bin node's 3.6 V Li-SOCl2 bobbin cell (firmware/energy.py) holds
# its voltage for most of its life and drops only in its last few percent: it
# is low from 3.3 V. Below 3.0 V, whatever powers a node, the ESP32 browns out
# on the radio's current peaks.
LOW_MV = 3300
CRITICAL_MV = 3000
# Fill sensors' working range (mm), by the sensor's unit: a JSN-SR04T or
# HC-SR04 ultrasonic ranger reads to 4.5 m (the HC-SR04 from 2 cm); a TF-Luna
# from 0.2 to 8 m (its manual).
RANGE_MM = {"us": (20, 4500), "mm": (200, 8000)}


def _why(e):
    msg = str(e)
    text = "%s: %s" % (type(e).__name__, msg) if msg else type(e).__name__
    return text[:120]


def _check(out, name, fn, *args):
    """Run one check (fn returns ok, value, code) into `out`; a crash fails it."""
    try:
        ok, value, code = fn(*args)
    except Exception as e:
        ok, value, code = False, _why(e), "error"
    out.append({"name": name, "ok": bool(ok), "value": str(value), "code": str(code)})
    return bool(ok)


def _span(s):
    s = int(s)
    if s < 120:
        return "%d s" % s
    if s < 7200:
        return "%d min" % (s // 60)
    if s < 172800:
        return "%d h" % (s // 3600)
    return "%d d" % (s // 86400)


def _utc(t):
    """Unix seconds as "2026-09-21 14:13 UTC" (days to a civil date by
    Howard Hinnant's algorithm: no port's epoch or time zone involved)."""
    days, s = divmod(int(t), 86400)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return "%04d-%02d-%02d %02d:%02d UTC" % (y, m, d, s // 3600, s % 3600 // 60)


def _exists(path):
    import os
    try:
        os.stat(path)
        return True
    except OSError:
        return False


# --- the checks: each returns (ok, value, code) ------------------------------
def _config(cfg):
    if cfg.role == "bridge":
        how = "%d radios" % len(cfg.radios)
    elif cfg.lora is not None:
        how = "LoRa %s SF%d" % (cfg.lora.modem.upper(), cfg.lora.sf)
    else:
        how = "Wi-Fi, gateway %s:%d" % (cfg.gateway_host, cfg.gateway_port)
    return True, "%s node %s, %s" % (cfg.role, cfg.node_id, how), ""


def _fill(cfg, hal):
    """One measurement as the bin node takes it (firmware/waste/node.py): the
    sensor powered only while it samples (hal.fill_sensor)."""
    try:
        temp = hal.temperature.celsius()
    except Exception:
        temp = None  # costs only accuracy: 10 C is assumed, as the node does without one
    from firmware.waste import measure  # a light node never loads it

    ranger = hal.fill_sensor
    samples = ranger.samples(cfg.samples)
    mm = measure.distance_mm(samples, ranger.unit, temp)
    if mm is None:
        good = 0
        for v in samples:
            if v is not None:
                good += 1
        return False, "no steady reading (%d of %d samples)" % (good, len(samples)), "no_echo"
    mm = int(mm + 0.5)
    lo, hi = RANGE_MM.get(ranger.unit, (0, 100000))
    if mm < lo:
        return False, "%d mm: nearer than the sensor reads (%d mm): is it covered?" % (mm, lo), \
            "out_of_range"
    if mm > hi:
        return False, "%d mm: beyond the sensor's range (%d mm)" % (mm, hi), "out_of_range"
    # A tenth past the empty bin's bottom is not the bottom: the sensor looks
    # past it (tilted, a door open) or hears another echo.
    if mm * 10 > cfg.empty_mm * 11:
        return False, "%d mm: past the empty bin's bottom (%d mm): is it aimed down?" \
            % (mm, cfg.empty_mm), "out_of_range"
    pct = measure.fill_pct(mm, cfg.empty_mm, cfg.full_mm)
    return True, "%d mm, %d %% full" % (mm, int(pct + 0.5)), ""


def _radar(uart, sleep_ms):
    """(ok, what) from the LD2410's own reports on its UART."""
    from firmware.hal.drivers.ld2410 import FrameError, Parser
    parser = Parser()
    got = bad = 0
    for _ in range(RADAR_POLLS):
        data = uart.read()
        if data:
            got += len(data)
            parser.feed(data)
            while True:
                try:
                    r = parser.next()
                except FrameError:
                    bad += 1
                    continue
                if r is None:
                    break
                if not r.state:
                    return True, "radar answers, no one there"
                cm = r.move_cm if r.state & 1 else r.still_cm
                return True, "radar answers, someone %d.%d m away" % (cm // 100, cm % 100 // 10)
        sleep_ms(50)
    if got:
        return False, "radar sends, but no readable report (%d bytes, %d bad frames)" % (got, bad)
    return False, "radar sends nothing"


def _lux(sensor, sleep_ms):
    for _ in range(LUX_TRIES):
        sleep_ms(200)  # a BH1750 has its first reading 120-180 ms after it starts
        lux = sensor.lux()
        if lux is not None:
            return lux
    return None


def _presence(cfg, hal, sleep_ms):
    p = hal.presence
    if cfg.presence == "ld2410":
        ok, value = _radar(p.uart, sleep_ms)
        if not ok:
            return False, value, "no_answer"
    else:
        value = "PIR output %s" % ("high: motion now" if p.pin.value() else "low")
    if cfg.ambient != "none":
        lux = _lux(hal.ambient, sleep_ms)
        if lux is None:
            return False, value + "; the light sensor does not answer", "no_answer"
        value += "; %d lx" % lux
    return True, value, ""


def _led(cfg, hal, sleep_ms):
    try:
        hal.led.set_pct(100)
        sleep_ms(LED_FULL_MS)
    finally:
        # The level a light node starts at: never a dark street.
        hal.led.set_pct(cfg.idle_pct)
    return True, "watch the lamp: it went to full", ""


def _lora(cfg, hal):
    """The modem is configured and put to standby, then to sleep: no frame
    goes on air, no airtime is used."""
    from firmware.lora import plan as radio_plan  # a Wi-Fi node never loads it

    net = hal.net
    name = cfg.lora.modem.upper()
    try:
        net.modem.standby()
        net.modem.configure(radio_plan.lora_cfg(radio_plan.UPLINK_KHZ, net.sf, net.output_power))
        net.modem.standby()
        net.sleep()
    except Exception as e:
        return False, "the %s does not answer: %s" % (name, _why(e)), "no_answer"
    return True, "%s answers (SF%d, %d dBm)" % (name, net.sf, net.output_power), ""


def _bridge(cfg, hal):
    try:
        modems = hal.modems()
        for m in modems:
            m.standby()
            m.sleep()
    except Exception as e:
        return False, "a modem does not answer: %s" % _why(e), "no_answer"
    return True, "%d modems answer" % len(modems), ""


def _wifi(cfg, hal, about):
    if not cfg.wifi_ssid:
        return False, "no wifi_ssid in config.json", "not_set"
    if not hal.connect(cfg, WIFI_TIMEOUT_MS):
        return False, "%s not joined within %d s" % (cfg.wifi_ssid, WIFI_TIMEOUT_MS // 1000), \
            "no_wifi"
    rssi = getattr(hal, "wifi_rssi", None)
    dbm = rssi() if rssi is not None else None
    if dbm is not None:
        about["wifi_dbm"] = int(dbm)
    return True, "joined %s%s" % (cfg.wifi_ssid, "" if dbm is None else " (%d dBm)" % dbm), ""


def _gateway(cfg, hal, sleep_ms, online):
    """A CoAP ping (RFC 7252, 4.3): an empty confirmable message, which the
    gateway answers with a reset."""
    where = "%s:%d" % (cfg.gateway_host, cfg.gateway_port)
    if not online:
        return False, "%s not tried: no Wi-Fi" % where, "no_wifi"
    net = hal.net
    for _ in range(32):  # whatever came before the ping is not its answer
        if net.recv() is None:
            break
    clock = hal.clock
    start = clock.ms()
    ex = coap.Exchange(coap.Message(coap.CON, coap.EMPTY, hal.random_bits(16)), start,
                       hal.random_bits(8), coap.ACK_TIMEOUT_MS, PING_RETRANSMIT)
    while not ex.done and not ex.answered:
        now = clock.ms()
        out = ex.poll(now)
        if out is not None:
            net.send(out)
        data = net.recv()
        if data is None:
            if not ex.done:
                sleep_ms(20)
            continue
        try:
            ex.received(coap.decode(data), now)
        except coap.CoapError:
            pass
    waited = clock.ms() - start
    if ex.answered:
        return True, "%s answers (%d ms)" % (where, waited), ""
    return False, "%s does not answer (%d s)" % (where, (waited + 500) // 1000), "unreachable"


def _battery(cfg, hal):
    mv = hal.battery.mv()
    if mv is None:
        return False, "not measured", "no_answer"
    value = "%d.%02d V" % (mv // 1000, mv % 1000 // 10)
    if mv < CRITICAL_MV:
        return False, value, "critical"
    if mv < LOW_MV and cfg is not None and cfg.role == "bin":
        return False, value, "low"
    return True, value, ""


def _memory(free):
    if isinstance(free, Exception):
        raise free
    ok = free >= MEMORY_MIN
    return ok, "%d KB free" % (free // 1024), "" if ok else "low"


def _unanswered(n):
    return "no answer to the last " + ("exchange" if n == 1 else "%d exchanges" % n)


def _bin_contact(cfg, hal):
    """From the bin node's own memory: reports still queued in flash have had
    no answer since the oldest was measured (they go oldest first, and an
    answer takes the oldest off); with none queued, every report so far was
    answered, the last within (wakes since it + 1) measurement intervals."""
    from firmware.waste import node as bin_node
    from firmware.waste import payload as codec
    from firmware.waste.outbox import Outbox
    saved = bin_node.saved_state(bytes(hal.store.load()))
    flash = getattr(hal, "outbox", None)
    box = Outbox(flash) if flash is not None else None
    head = box.head() if box is not None else None
    n = len(box) if box is not None else 0
    oldest = codec.decode_bin_report(head[1]).time if head is not None else None
    lost = saved[2].lost if saved is not None else 0
    now = hal.clock.time()
    if n:
        what = "%d report%s waiting" % (n, "" if n == 1 else "s")
        if oldest and now:
            age = max(0, now - oldest)
            # The node reports at least every heartbeat: longer than that
            # plus one wake without an answer is not a passing gap.
            ok = age <= cfg.heartbeat_s + cfg.measure_interval_s
            return ok, "%s, the oldest for %s" % (what, _span(age)), "" if ok else "stale"
        if lost:
            return False, "%s, %s" % (what, _unanswered(lost)), "stale"
        return True, what, ""
    if saved is None:
        return True, "no report since power-on", "never"
    st = saved[2]
    if st.lost:
        return False, _unanswered(st.lost), "stale"
    return True, "last report answered, within the last %s" \
        % _span((st.since_report + 1) * cfg.measure_interval_s), ""


def _light_contact(cfg, hal):
    store = getattr(hal, "store", None)
    if store is None:
        return True, "not known", "not_set"
    from firmware.lighting import contact
    t = contact.last(store)
    if t is None:
        return True, "not heard since power-on", "never"
    now = hal.clock.time()
    if not t or not now:
        return True, "heard since power-on (clock not set)", ""
    age = max(0, now - t)
    # Longer than this without word, the node runs its safe profile.
    limit = cfg.offline_after_min * 60
    if cfg.transport == "lora":
        from firmware.lighting.node import LORA_OFFLINE_MS
        limit = max(limit, LORA_OFFLINE_MS // 1000)
    ok = age <= limit
    return ok, "%s ago" % _span(age), "" if ok else "stale"


def _clock(cfg, hal):
    t = hal.clock.time()
    if t:
        return True, _utc(t), ""
    if cfg is not None and cfg.transport == "lora":
        return True, "not set yet: the gateway's first answer sets it", "not_set"
    return False, "not set: no time from the network", "not_set"


# --- the run -------------------------------------------------------------------
def _drop(line):
    pass


def _quiet(hal):
    # The laptop reads one line: the hardware layer's log lines (Wi-Fi, NTP,
    # LoRa) must not reach the serial line meanwhile.
    hal.log = _drop
    net = getattr(hal, "net", None)  # a bridge's board has none
    if net is not None:
        net.log = _drop


def run(path, make_hal, sleep_ms, mem_free, about=None):
    """The checks (dicts) of the node whose config is at `path`.
    make_hal(cfg) builds the hardware layer; make_hal(None) what needs no
    config (clock, battery). sleep_ms(ms) waits; mem_free() is the free heap.
    about (a dict), when given, gets the node's id and its Wi-Fi signal."""
    out = []  # type: list[dict]
    if about is None:
        about = {}
    cfg = None
    try:
        cfg = settings.load(path)
    except settings.ConfigError as e:
        out.append({"name": "config", "ok": False, "value": str(e),
                    "code": "bad_config" if _exists(path) else "no_config"})
    except Exception as e:
        out.append({"name": "config", "ok": False, "value": _why(e), "code": "error"})
    else:
        _check(out, "config", _config, cfg)
        about["node"] = cfg.node_id
    hal = None
    full = False
    try:
        hal = make_hal(cfg)
        full = cfg is not None
    except Exception as e:
        out.append({"name": "hal", "ok": False, "value": _why(e), "code": "error"})
        try:
            hal = make_hal(None)
        except Exception:
            hal = None
    try:
        gc.collect()
        free = mem_free()
    except Exception as e:
        free = e
    if hal is not None:
        try:
            _quiet(hal)
        except Exception:
            pass
    role = cfg.role if cfg is not None else None
    if full and cfg is not None:
        if role == "bin":
            _check(out, "sensor", _fill, cfg, hal)
        elif role == "light":
            _check(out, "sensor", _presence, cfg, hal, sleep_ms)
            _check(out, "led", _led, cfg, hal, sleep_ms)
        if role == "bridge":
            _check(out, "radio", _bridge, cfg, hal)
        elif cfg.transport == "lora":
            _check(out, "radio", _lora, cfg, hal)
        else:
            online = _check(out, "wifi", _wifi, cfg, hal, about)
            _check(out, "gateway", _gateway, cfg, hal, sleep_ms, online)
    if hal is not None and role != "bridge":
        _check(out, "battery", _battery, cfg, hal)
    _check(out, "memory", _memory, free)
    if full and cfg is not None and role != "bridge":
        _check(out, "contact", _bin_contact if role == "bin" else _light_contact, cfg, hal)
    if hal is not None and role != "bridge":
        _check(out, "clock", _clock, cfg, hal)
    return out


def line(checks, about=None):
    body = {"checks": checks}
    if about:
        for k in about:
            body[k] = about[k]
    return "SELFTEST " + json.dumps(body)


class _Board:
    """The ESP32 without a node's hardware layer: its clock and battery ADC
    (with no config, or a bridge's), and a bridge's modems."""

    def __init__(self, cfg):
        from firmware.hal import esp32
        self.clock = esp32.Clock()
        self.battery = esp32.AdcBattery(esp32.DEFAULT_PINS["battery_adc"])
        self.radios = cfg.radios if cfg is not None else []

    def modems(self):
        from firmware.hal.lora_modem import bridge_modems
        return bridge_modems(self.radios)


def _esp32_hal(cfg):
    if cfg is None or cfg.role == "bridge":
        return _Board(cfg)
    from firmware.hal.esp32 import Hal
    return Hal(cfg)


def main(path="config.json"):
    about = {}  # type: dict
    try:
        import time
        checks = run(path, _esp32_hal, time.sleep_ms, gc.mem_free, about)
    except Exception as e:  # run() already catches each check's own
        checks = [{"name": "selftest", "ok": False, "value": _why(e), "code": "error"}]
    print(line(checks, about))
