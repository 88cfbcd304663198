# The node's self-test (what `kvarter node selftest` reads over USB): every
# check's pass and failure, by role and transport, on the in-memory hardware
# layer with the real drivers over fake pins and buses. MicroPython VM and
# CPython.
import json
import os
import struct

from fakebus import FakeLightSensor, FakePin, FakeUart
from fakehal import FakeHal, FakeModem, FakeNet, FakeStore

from firmware import selftest
from firmware import settings as config
from firmware.hal.drivers import ld2410
from firmware.hal.drivers.bh1750 import Bh1750
from firmware.hal.drivers.pir import Pir
from firmware.hal.drivers.ranger import PoweredRanger
from firmware.lighting import contact
from firmware.lora.net import LoraNet
from firmware.proto import coap
from firmware.waste import node as bin_node
from firmware.waste.node import BinNode

BIN = {"id": "B0042", "role": "bin", "gateway_host": "10.0.0.1", "wifi_ssid": "city-iot",
       "wifi_password": "secret", "empty_mm": 1000, "full_mm": 200}
LIGHT = {"id": "L0007", "role": "light", "gateway_host": "10.0.0.1", "wifi_ssid": "city-iot",
         "idle_pct": 40}
_files = [0]


def _raw(base, **extra):
    raw = dict(base)
    for k in extra:
        raw[k] = extra[k]
    return raw


def _write(text):
    _files[0] += 1
    path = "/tmp/kvarter-selftest-%d-%d.json" % (_files[0], id(_files) % 100000)
    with open(path, "w") as f:
        f.write(text)
    return path


class Sleep:
    """sleep_ms on the fake clock: time passes, nothing waits."""

    def __init__(self, clock):
        self.clock = clock
        self.total = 0

    def __call__(self, ms):
        self.total += ms
        self.clock.advance(ms)


class PingNet(FakeNet):
    """The gateway over UDP: answers a CoAP ping with a reset when `answers`."""

    def __init__(self, answers=True):
        super().__init__()
        self.answers = answers
        self.inbox.append(b"\x50\x02\x00\x01")  # a datagram from before the ping

    def send(self, data):
        FakeNet.send(self, data)
        if self.answers:
            req = coap.decode(data)
            self.inbox.append(coap.encode(coap.Message(coap.RST, coap.EMPTY, req.mid)))
        return True


class WifiHal(FakeHal):
    """A Wi-Fi node's hardware: connect() joins (or not) and sets up the
    gateway's socket, as firmware/hal/esp32.py's does."""

    def __init__(self, joins=True, answers=True, **kw):
        super().__init__(**kw)
        self.joins = joins
        self.udp = PingNet(answers)
        self.net = None
        self.outbox = FakeStore()

    def connect(self, cfg, timeout_ms):
        self.timeout_ms = timeout_ms
        if self.joins:
            self.net = self.udp
        return self.joins

    def wifi_rssi(self):
        return -67


def _run(raw, hal, free=40000, text=None):
    """The self-test's checks by name, their names in order, and the sleep."""
    path = _write(json.dumps(raw) if text is None else text)
    sleep = Sleep(hal.clock)
    try:
        checks = selftest.run(path, lambda cfg: hal, sleep, lambda: free)
    finally:
        os.remove(path)
    by_name = {}
    for c in checks:
        by_name[c["name"]] = c
    return by_name, [c["name"] for c in checks], sleep


def _lora_hal(modem=None, light=False):
    hal = FakeHal()
    hal.outbox = FakeStore()
    hal.net = LoraNet(modem or FakeModem(), "N1", hal.clock, hal.log, sf=9, listen=light)
    return hal


def _radar_frame(state, move_cm, still_cm):
    body = b"\x02\xaa" + struct.pack("<BHBHBH", state, move_cm, 60, still_cm, 40, 0) + b"\x55\x00"
    return ld2410.HEAD + struct.pack("<H", len(body)) + body + ld2410.TAIL


def _light_hal(**kw):
    hal = WifiHal(**kw)
    hal.presence = Pir(FakePin(0), hal.clock)
    return hal


# --- the whole run and its output ---------------------------------------------
def test_a_bin_node_on_wifi_passes_every_check_and_says_what_it_read():
    hal = WifiHal(distance_mm=612, battery_mv=3610)
    c, names, _ = _run(BIN, hal)
    assert names == ["config", "sensor", "wifi", "gateway", "battery", "memory", "contact",
                     "clock"]
    for name in names:
        assert c[name]["ok"], c[name]
    assert c["config"]["value"] == "bin node B0042, Wi-Fi, gateway 10.0.0.1:5683"
    assert c["sensor"] == {"name": "sensor", "ok": True, "value": "612 mm, 49 % full",
                           "code": ""}
    assert c["wifi"]["value"] == "joined city-iot (-67 dBm)"
    assert hal.timeout_ms == selftest.WIFI_TIMEOUT_MS
    assert c["gateway"]["value"].startswith("10.0.0.1:5683 answers")
    assert c["battery"]["value"] == "3.61 V"
    assert c["memory"]["value"] == "39 KB free"
    assert c["contact"]["code"] == "never"  # a new node: nothing sent yet
    assert c["clock"]["value"] == "2026-09-21 14:13 UTC"


def test_the_result_is_one_line_the_laptop_parses():
    c, names, _ = _run(BIN, WifiHal())
    checks = [c[n] for n in names]
    out = selftest.line(checks)
    assert out.startswith("SELFTEST {") and "\n" not in out
    parsed = json.loads(out[len("SELFTEST "):])
    assert parsed == {"checks": checks}
    for check in parsed["checks"]:
        assert sorted(check) == ["code", "name", "ok", "value"]
        assert check["ok"] in (True, False)


def test_the_line_names_the_node_and_its_wifi_signal_for_the_gateway():
    path = _write(json.dumps(BIN))
    hal = WifiHal()
    about = {}
    try:
        checks = selftest.run(path, lambda cfg: hal, Sleep(hal.clock), lambda: 40000, about)
    finally:
        os.remove(path)
    assert about == {"node": "B0042", "wifi_dbm": -67}
    parsed = json.loads(selftest.line(checks, about)[len("SELFTEST "):])
    assert parsed["node"] == "B0042" and parsed["wifi_dbm"] == -67
    assert parsed["checks"] == checks
    # Not joined: no figure; on LoRa: none either (the gateway hears its radio).
    for raw, joined in ((BIN, False),
                       (_raw(BIN, transport="lora", lora={"sf": 9, "modem": "sx1276"}), True)):
        path = _write(json.dumps(raw))
        hal = WifiHal(joins=joined) if raw is BIN else _lora_hal()
        about = {}
        try:
            selftest.run(path, lambda cfg: hal, Sleep(hal.clock), lambda: 40000, about)
        finally:
            os.remove(path)
        assert about == {"node": "B0042"}, raw
    # Without a readable config the node cannot say who it is.
    about = {}
    hal = WifiHal()
    selftest.run("/tmp/kvarter-no-such-config.json", lambda cfg: hal, Sleep(hal.clock),
                 lambda: 40000, about)
    assert about == {}


def test_the_hardware_layer_log_stays_off_the_serial_line():
    hal = WifiHal()
    _run(BIN, hal)
    hal.log("a line")  # the self-test's: the laptop must see its line only
    assert hal.lines == []


# --- config ----------------------------------------------------------------
def test_no_config_is_one_failed_check_and_what_needs_none_still_runs():
    hal = FakeHal(battery_mv=3600)
    asked = []

    def make_hal(cfg):
        asked.append(cfg)
        return hal

    checks = selftest.run("/tmp/kvarter-no-such-config.json", make_hal, Sleep(hal.clock),
                          lambda: 30000)
    assert [c["name"] for c in checks] == ["config", "battery", "memory", "clock"]
    assert checks[0] == {"name": "config", "ok": False, "code": "no_config",
                         "value": "no /tmp/kvarter-no-such-config.json on the node: "
                                  "provision it first"}
    assert asked == [None]
    assert checks[1]["ok"] and checks[2]["ok"] and checks[3]["ok"]


def test_a_config_the_node_cannot_run_with_is_named():
    c, names, _ = _run(_raw(BIN, full_mm=1200), FakeHal())
    assert c["config"] == {"name": "config", "ok": False, "code": "bad_config",
                           "value": "full_mm (1200) must be less than empty_mm (1000)"}
    assert names == ["config", "battery", "memory", "clock"]
    c, _, _ = _run(BIN, FakeHal(), text="{not json")
    assert c["config"]["code"] == "bad_config"
    assert c["config"]["value"] == "config is not valid JSON"


def test_hardware_that_cannot_be_set_up_fails_and_the_rest_still_runs():
    hal = FakeHal()

    def make_hal(cfg):
        if cfg is not None:
            raise OSError(19)
        return hal

    path = _write(json.dumps(BIN))
    try:
        checks = selftest.run(path, make_hal, Sleep(hal.clock), lambda: 30000)
    finally:
        os.remove(path)
    assert [c["name"] for c in checks] == ["config", "hal", "battery", "memory", "clock"]
    assert checks[1]["code"] == "error" and not checks[1]["ok"]
    assert checks[1]["value"].startswith("OSError") and "19" in checks[1]["value"]


# --- sensor ------------------------------------------------------------------
def test_a_fill_sensor_without_an_echo_fails():
    c, _, _ = _run(BIN, WifiHal(distance_mm=None))
    assert c["sensor"] == {"name": "sensor", "ok": False, "code": "no_echo",
                           "value": "no steady reading (0 of 5 samples)"}


def test_a_fill_reading_past_the_bins_bottom_or_too_near_fails():
    c, _, _ = _run(BIN, WifiHal(distance_mm=1400))
    assert c["sensor"]["code"] == "out_of_range" and not c["sensor"]["ok"]
    assert c["sensor"]["value"].startswith("1400 mm: past the empty bin's bottom (1000 mm)")
    c, _, _ = _run(BIN, WifiHal(distance_mm=1050))  # within a tenth: the bottom
    assert c["sensor"]["ok"] and c["sensor"]["value"] == "1050 mm, 0 % full"
    c, _, _ = _run(_raw(BIN, sensor="tof"), WifiHal(distance_mm=120))
    assert c["sensor"]["code"] == "out_of_range"
    assert "nearer than the sensor reads (200 mm)" in c["sensor"]["value"]


class _Echo:
    """A ranger driver (firmware/hal/drivers/ranger.py's interface) reading `mm`."""
    unit = "mm"
    SETTLE_MS = 200
    GAP_MS = 0

    def __init__(self, power):
        self.power = power
        self.powered = []

    def start(self):
        pass

    def read(self):
        self.powered.append(self.power.value())
        return 700


def test_the_fill_sensor_is_powered_only_while_it_samples():
    hal = WifiHal()
    power = FakePin(1)
    echo = _Echo(power)
    hal.fill_sensor = PoweredRanger(echo, power, lambda ms: None)
    c, _, _ = _run(BIN, hal)
    assert c["sensor"]["value"] == "700 mm, 38 % full"
    assert echo.powered == [1] * 5
    assert power.history == [0, 1, 0]  # off, on to sample, off again


def test_a_light_nodes_pir_and_light_sensor_answer():
    hal = _light_hal()
    hal.ambient = Bh1750(FakeLightSensor(raw=50))
    c, names, _ = _run(_raw(LIGHT, ambient="bh1750"), hal)
    assert names == ["config", "sensor", "led", "wifi", "gateway", "battery", "memory",
                     "contact", "clock"]
    assert c["sensor"] == {"name": "sensor", "ok": True, "value": "PIR output low; 41 lx",
                           "code": ""}
    hal.presence.pin.value(1)
    c, _, _ = _run(LIGHT, hal)
    assert c["sensor"]["value"] == "PIR output high: motion now"


def test_a_light_sensor_that_does_not_answer_fails():
    hal = _light_hal()
    bus = FakeLightSensor(raw=50)
    bus.present = False
    hal.ambient = Bh1750(bus)
    c, _, _ = _run(_raw(LIGHT, ambient="bh1750"), hal)
    assert c["sensor"]["code"] == "no_answer" and not c["sensor"]["ok"]
    assert c["sensor"]["value"] == "PIR output low; the light sensor does not answer"


def test_a_radar_answers_with_its_reports():
    hal = _light_hal()
    uart = FakeUart()
    hal.presence = ld2410.Radar(uart, hal.clock)
    uart.chunks = [None, b"\x00\x01" + _radar_frame(1, 240, 0)[:10], _radar_frame(1, 240, 0)[10:]]
    c, _, sleep = _run(_raw(LIGHT, presence="ld2410"), hal)
    assert c["sensor"]["ok"] and c["sensor"]["value"] == "radar answers, someone 2.4 m away"
    assert sleep.total < 2000
    uart.chunks = [_radar_frame(0, 0, 0)]
    c, _, _ = _run(_raw(LIGHT, presence="ld2410"), hal)
    assert c["sensor"]["value"] == "radar answers, no one there"


def test_a_silent_or_garbled_radar_fails():
    hal = _light_hal()
    uart = FakeUart()
    hal.presence = ld2410.Radar(uart, hal.clock)
    c, _, sleep = _run(_raw(LIGHT, presence="ld2410"), hal)
    assert c["sensor"] == {"name": "sensor", "ok": False, "code": "no_answer",
                           "value": "radar sends nothing"}
    assert sleep.total >= 1000 + selftest.LED_FULL_MS  # a second of listening, then the lamp
    uart.chunks = [b"\x55" * 40]  # the wrong baud rate
    c, _, _ = _run(_raw(LIGHT, presence="ld2410"), hal)
    assert c["sensor"]["code"] == "no_answer"
    assert c["sensor"]["value"].startswith("radar sends, but no readable report (40 bytes")


# --- led -------------------------------------------------------------------------
def test_the_lamp_goes_to_full_for_a_second_and_back_to_idle():
    hal = _light_hal()
    c, _, sleep = _run(_raw(LIGHT, idle_pct=30), hal)
    assert c["led"] == {"name": "led", "ok": True, "code": "",
                        "value": "watch the lamp: it went to full"}
    assert hal.led.levels == [100, 30]
    assert sleep.total >= 1000


class _BrokenLed:
    def __init__(self):
        self.levels = []

    def set_pct(self, pct):
        self.levels.append(pct)
        if pct == 100:
            raise OSError(22)


def test_a_lamp_driver_that_refuses_fails_and_the_lamp_is_set_back():
    hal = _light_hal()
    hal.led = _BrokenLed()
    c, _, _ = _run(LIGHT, hal)
    assert not c["led"]["ok"] and c["led"]["code"] == "error"
    assert c["led"]["value"].startswith("OSError")
    assert hal.led.levels == [100, 40]


# --- radio ------------------------------------------------------------------------
def test_a_lora_modem_that_answers_is_configured_and_put_to_sleep_without_sending():
    modem = FakeModem()
    hal = _lora_hal(modem)
    c, names, _ = _run(_raw(BIN, transport="lora", lora={"sf": 9, "modem": "sx1276"}), hal)
    assert names == ["config", "sensor", "radio", "battery", "memory", "contact", "clock"]
    assert c["config"]["value"] == "bin node B0042, LoRa SX1276 SF9"
    assert c["radio"] == {"name": "radio", "ok": True, "code": "",
                          "value": "SX1276 answers (SF9, 14 dBm)"}
    assert modem.log[0][0] == "configure" and modem.log[0][1]["sf"] == 9
    assert modem.log[-1] == ("sleep",)
    assert modem.sent() == []  # no airtime used


class _DeadModem(FakeModem):
    def standby(self):
        raise RuntimeError("Unexpected silicon version 0")


def test_a_lora_modem_that_does_not_answer_fails():
    hal = _lora_hal(_DeadModem())
    c, _, _ = _run(_raw(BIN, transport="lora"), hal)
    assert c["radio"]["code"] == "no_answer" and not c["radio"]["ok"]
    assert c["radio"]["value"] == \
        "the SX1262 does not answer: RuntimeError: Unexpected silicon version 0"


def test_a_light_node_on_lora_stops_listening_for_the_test():
    modem = FakeModem()
    hal = _lora_hal(modem, light=True)
    hal.presence = Pir(FakePin(0), hal.clock)
    c, names, _ = _run(_raw(LIGHT, transport="lora"), hal)
    assert names == ["config", "sensor", "led", "radio", "battery", "memory", "contact",
                     "clock"]
    assert c["radio"]["ok"] and modem.log[-1] == ("sleep",)


def test_a_bridge_checks_its_modems():
    class Board:
        def __init__(self, modems):
            self.clock = FakeHal().clock
            self.list = modems

        def modems(self):
            return self.list

    modems = [FakeModem() for _ in range(6)]
    c, names, _ = _run({"id": "R1", "role": "bridge"}, Board(modems))
    assert names == ["config", "radio", "memory"]
    assert c["config"]["value"] == "bridge node R1, 6 radios"
    assert c["radio"]["value"] == "6 modems answer" and modems[5].log == [("sleep",)]
    c, _, _ = _run({"id": "R1", "role": "bridge"}, Board([FakeModem(), _DeadModem()]))
    assert c["radio"]["code"] == "no_answer"


def test_no_wifi_fails_and_the_gateway_is_not_tried():
    hal = WifiHal(joins=False)
    c, _, _ = _run(BIN, hal)
    assert c["wifi"] == {"name": "wifi", "ok": False, "code": "no_wifi",
                         "value": "city-iot not joined within 15 s"}
    assert c["gateway"] == {"name": "gateway", "ok": False, "code": "no_wifi",
                            "value": "10.0.0.1:5683 not tried: no Wi-Fi"}
    assert hal.udp.sent == []
    c, _, _ = _run(_raw(BIN, wifi_ssid=None), WifiHal())
    assert c["wifi"]["code"] == "not_set" and not c["wifi"]["ok"]


def test_the_gateway_ping_is_an_empty_confirmable_message():
    hal = WifiHal()
    c, _, _ = _run(BIN, hal)
    assert c["gateway"]["ok"]
    assert len(hal.udp.sent) == 1
    ping = coap.decode(hal.udp.sent[0])
    assert (ping.mtype, ping.code, ping.token, ping.options, ping.payload) == \
        (coap.CON, coap.EMPTY, b"", [], b"")


def test_a_gateway_that_does_not_answer_is_unreachable_within_seconds():
    hal = WifiHal(answers=False)
    c, _, sleep = _run(BIN, hal)
    assert c["gateway"]["code"] == "unreachable" and not c["gateway"]["ok"]
    assert c["gateway"]["value"].startswith("10.0.0.1:5683 does not answer (")
    assert len(hal.udp.sent) == 2  # the ping and one retry
    assert 6000 <= sleep.total <= 10000


# --- battery, memory, clock ------------------------------------------------------
def test_battery_thresholds():
    for mv, ok, code in ((3650, True, ""), (3250, False, "low"), (2900, False, "critical"),
                         (None, False, "no_answer")):
        c, _, _ = _run(BIN, WifiHal(battery_mv=mv))
        assert (c["battery"]["ok"], c["battery"]["code"]) == (ok, code), (mv, c["battery"])
    c, _, _ = _run(BIN, WifiHal(battery_mv=2950))
    assert c["battery"]["value"] == "2.95 V"
    # A light node's supply is no Li-SOCl2 cell: only a voltage the ESP32
    # browns out at fails.
    c, _, _ = _run(LIGHT, _light_hal(battery_mv=3250))
    assert c["battery"]["ok"]


def test_too_little_free_memory_fails():
    c, _, _ = _run(BIN, WifiHal(), free=9000)
    assert c["memory"] == {"name": "memory", "ok": False, "code": "low", "value": "8 KB free"}


def test_a_clock_never_set_fails_on_wifi_and_is_a_note_on_lora():
    hal = WifiHal()
    hal.clock.unix = 0
    c, _, _ = _run(BIN, hal)
    assert c["clock"] == {"name": "clock", "ok": False, "code": "not_set",
                          "value": "not set: no time from the network"}
    hal = _lora_hal()
    hal.clock.unix = 0
    c, _, _ = _run(_raw(BIN, transport="lora"), hal)
    assert c["clock"]["ok"] and c["clock"]["code"] == "not_set"


def test_dates_are_read_in_utc():
    assert selftest._utc(0) == "1970-01-01 00:00 UTC"
    assert selftest._utc(951782400) == "2000-02-29 00:00 UTC"
    assert selftest._utc(4107542399) == "2100-02-28 23:59 UTC"


# --- contact -----------------------------------------------------------------------
def _bin_cfg():
    return config.Config(BIN)


def _answer(hal):
    req = coap.decode(hal.net.sent[-1])
    hal.net.inbox.append(coap.encode(coap.Message(coap.ACK, 0x44, req.mid, req.token)))


def test_a_bin_node_whose_reports_were_answered_is_in_contact():
    hal = WifiHal()
    hal.net = FakeNet()
    node = BinNode(_bin_cfg(), hal)
    assert node.wake()
    node.send()
    _answer(hal)
    node.poll()
    node.sleep()
    hal.clock.advance(3600 * 1000)
    node = BinNode(_bin_cfg(), hal)  # a quiet wake: nothing to report
    assert not node.wake()
    node.sleep()
    c, _, _ = _run(BIN, hal)
    assert c["contact"] == {"name": "contact", "ok": True, "code": "",
                            "value": "last report answered, within the last 2 h"}


def test_a_bin_node_whose_reports_wait_too_long_is_stale():
    hal = WifiHal()
    hal.net = FakeNet()  # nobody answers
    for _ in range(3):
        node = BinNode(_bin_cfg(), hal)
        if node.wake():
            node.send()
            while node.poll():
                hal.clock.advance(500)
        node.sleep()
        hal.clock.advance(3600 * 1000)
    c, _, _ = _run(BIN, hal)
    assert c["contact"]["ok"]  # three hours: within the 4-hour heartbeat
    assert c["contact"]["value"].startswith("1 report waiting, the oldest for 3 h")
    hal.clock.advance(3 * 3600 * 1000)
    c, _, _ = _run(BIN, hal)
    assert c["contact"]["code"] == "stale" and not c["contact"]["ok"]
    assert c["contact"]["value"] == "1 report waiting, the oldest for 6 h"


def test_a_bin_node_without_a_queue_in_flash_counts_unanswered_exchanges():
    hal = WifiHal()
    del hal.outbox
    hal.net = FakeNet()
    node = BinNode(_bin_cfg(), hal)
    node.wake()
    node.send()
    while node.poll():
        hal.clock.advance(500)
    node.sleep()
    c, _, _ = _run(BIN, hal)
    assert c["contact"] == {"name": "contact", "ok": False, "code": "stale",
                            "value": "no answer to the last exchange"}


def test_a_light_node_tells_when_it_last_heard_the_gateway():
    hal = _light_hal()
    c, _, _ = _run(LIGHT, hal)
    assert c["contact"] == {"name": "contact", "ok": True, "code": "never",
                            "value": "not heard since power-on"}
    start_ms = 0  # the uplink's heard_ms at start-up: no word yet
    noted = contact.heard(hal, start_ms, start_ms)
    assert contact.last(hal.store) is None
    hal.clock.advance(5000)
    noted = contact.heard(hal, 5000, noted)  # an answer came
    assert noted == 5000 and contact.last(hal.store) == hal.clock.time()
    hal.clock.advance(12 * 60 * 1000)
    c, _, _ = _run(LIGHT, hal)
    assert c["contact"] == {"name": "contact", "ok": True, "code": "", "value": "12 min ago"}
    hal.clock.advance(4 * 60 * 1000)  # past offline_after_min (15): the safe profile
    c, _, _ = _run(LIGHT, hal)
    assert c["contact"]["code"] == "stale" and not c["contact"]["ok"]


def test_a_light_node_without_rtc_memory_does_not_know():
    hal = _light_hal()
    del hal.store
    c, _, _ = _run(LIGHT, hal)
    assert c["contact"] == {"name": "contact", "ok": True, "code": "not_set",
                            "value": "not known"}


def test_contact_notes_and_a_bin_nodes_memory_are_never_mistaken():
    store = FakeStore()
    contact.note(store, 1790000000)
    assert contact.last(store) == 1790000000
    hal = WifiHal()
    hal.net = FakeNet()
    BinNode(_bin_cfg(), hal).sleep()  # a bin node's state in RTC memory
    assert contact.last(hal.store) is None
    assert bin_node.saved_state(store.data) is None


# --- never raises ---------------------------------------------------------------------
class _Broken:
    """Hardware whose every part raises."""

    def __getattr__(self, name):
        raise RuntimeError("%s is broken" % name)


def test_checks_that_crash_are_reported_and_the_test_goes_on():
    for raw in (BIN, LIGHT, _raw(BIN, transport="lora"), _raw(LIGHT, presence="ld2410")):
        path = _write(json.dumps(raw))

        def boom():
            raise MemoryError("heap")

        try:
            checks = selftest.run(path, lambda cfg: _Broken(), lambda ms: None, boom)
        finally:
            os.remove(path)
        names = [c["name"] for c in checks]
        assert names[0] == "config" and checks[0]["ok"]
        assert "battery" in names and "memory" in names and "clock" in names
        for c in checks[1:]:
            assert not c["ok"], c
            if c["name"] == "gateway":  # not tried after the Wi-Fi check crashed
                assert c["code"] == "no_wifi"
            else:
                assert c["code"] == "error" and ("broken" in c["value"] or "heap" in c["value"]), c
        json.loads(selftest.line(checks)[len("SELFTEST "):])


def test_the_self_test_leaves_a_bin_nodes_memory_as_it_was():
    hal = WifiHal()
    hal.net = FakeNet()
    node = BinNode(_bin_cfg(), hal)
    node.wake()
    node.send()
    _answer(hal)
    node.poll()
    node.sleep()
    rtc, flash = hal.store.data, hal.outbox.data
    _run(BIN, hal)
    assert (hal.store.data, hal.outbox.data) == (rtc, flash)
    again = BinNode(_bin_cfg(), hal)  # the next wake finds its state
    assert not again.booted and again.seq == node.seq
    assert again.uplink.mid == node.uplink.mid
