# The light node on the in-memory hardware layer: its lamp, its sensors, the
# gateway's requests, life without the gateway, day and night, its status.
# MicroPython VM and CPython.
from fakehal import FakeHal, FakeModem, FakeStore

from firmware import codec
from firmware import settings as config
from firmware.lighting import astro
from firmware.lighting import payload as light_codec
from firmware.lighting.node import LightNode
from firmware.lora.net import LoraNet
from firmware.proto import coap

STOCKHOLM = {"lat": 59.33, "lon": 18.07}
DAY = 1790000000  # 2026-09-21 14:13 UTC: afternoon in Stockholm
NIGHT = DAY + 10 * 3600  # 00:13 UTC


def _cfg(**extra):
    raw = {"id": "L7", "role": "light", "gateway_host": "10.0.0.1", "addr": 7,
           "idle_pct": 40, "active_pct": 100, "hold_s": 30}
    for k in extra:
        raw[k] = extra[k]
    return config.Config(raw)


class Lux:
    def __init__(self, value):
        self.value = value

    def lux(self):
        return self.value


class Radar:
    def __init__(self):
        self.hits = []
        self.speed = 0

    def triggered(self):
        return self.hits.pop(0) if self.hits else 0


def _hal(unix=DAY, lux=None):
    hal = FakeHal()
    hal.clock.unix = unix
    hal.settings = FakeStore()
    if lux is not None:
        hal.ambient = Lux(lux)
    return hal


def _run(node, hal, ms, step=1000):
    for _ in range(ms // step):
        hal.clock.advance(step)
        node.poll()


def _sent(hal):
    return [coap.decode(d) for d in hal.net.sent]


def _post(hal, path, payload, mtype=coap.CON, mid=0x1234, code=coap.POST):
    hal.net.inbox.append(coap.encode(coap.Message(
        mtype, code, mid, b"\x5c\x31", [(coap.OPT_URI_PATH, path.encode())], payload)))


def _brighten(cid, level, hold, targets=()):
    return light_codec.encode_brighten(light_codec.Brighten(cid, level, hold, targets))


def test_brightens_at_once_then_reports():
    hal = _hal()
    node = LightNode(_cfg(), hal)
    assert hal.led.levels == [40]  # no place or sensor given: lit, never dark
    hal.presence.trigger()
    node.poll()
    assert node.lamp.target == 100
    req = _sent(hal)[-1]
    assert req.mtype == coap.NON and req.path() == "p/L7"
    assert req.option(coap.OPT_NO_RESPONSE) == bytes((coap.NO_RESPONSE_2XX,))
    event = codec.decode_presence(req.payload)
    assert event.count == 1 and event.level_pct == 100
    assert event.flags == codec.PRESENCE_SOURCE_PIR and event.speed_mps is None
    hal.clock.advance(20)
    node.poll()
    assert 40 < hal.led.levels[-1] < 100  # the fast ramp is under way
    _run(node, hal, 1000, 20)
    assert hal.led.levels[-1] == 100  # within ramp_up_ds (1 s)


def test_holds_then_ramps_down_slowly_to_idle():
    hal = _hal()
    node = LightNode(_cfg(), hal)
    hal.presence.trigger()
    node.poll()
    _run(node, hal, 29000)
    assert hal.led.levels[-1] == 100
    _run(node, hal, 2000)
    assert 40 < hal.led.levels[-1] < 100  # the hold is over: ramping down
    _run(node, hal, 15000)
    assert 40 < hal.led.levels[-1] < 100  # slowly (ramp_down_s 30)
    _run(node, hal, 15000)
    assert hal.led.levels[-1] == 40
    levels = hal.led.levels[hal.led.levels.index(100):]
    assert all(a >= b for a, b in zip(levels, levels[1:]))


def test_groups_rapid_detections_into_one_event():
    hal = _hal()
    node = LightNode(_cfg(), hal)
    for _ in range(5):
        hal.presence.trigger()
        node.poll()
        hal.clock.advance(100)
    assert len(hal.net.sent) == 1
    hal.clock.advance(1000)
    node.poll()
    assert len(hal.net.sent) == 2
    assert codec.decode_presence(hal.net.sent[-1][-11:]).count == 4


def test_radar_detections_carry_speed_and_direction():
    hal = _hal()
    hal.presence = Radar()
    node = LightNode(_cfg(presence="ld2410"), hal)
    hal.presence.hits.append(codec.PRESENCE_SOURCE_RADAR | codec.PRESENCE_DIR_UP)
    hal.presence.speed = 14
    node.poll()
    event = codec.decode_presence(_sent(hal)[-1].payload)
    assert event.flags == codec.PRESENCE_SOURCE_RADAR | codec.PRESENCE_DIR_UP
    assert event.speed_mps == 1.4


def test_brighten_command_is_applied_once_and_acknowledged():
    hal = _hal()
    node = LightNode(_cfg(), hal)
    _post(hal, "c", _brighten(258, 80, 60, [9, 7]))
    node.poll()
    ack = _sent(hal)[-1]
    assert (ack.mtype, ack.code, ack.mid, ack.token) == (coap.ACK, 0x44, 0x1234, b"\x5c\x31")
    assert node.lamp.target == 80
    _run(node, hal, 61000)
    assert node.lamp.target == 40
    # The same command again (the gateway did not hear the ACK): answered,
    # not applied again.
    _post(hal, "c", _brighten(258, 80, 60, [9, 7]))
    node.poll()
    assert _sent(hal)[-1].code == 0x44 and node.lamp.target == 40
    # For other poles only: answered, not applied.
    _post(hal, "c", _brighten(259, 80, 60, [9]), mid=0x1235)
    node.poll()
    assert _sent(hal)[-1].mid == 0x1235 and node.lamp.target == 40
    # Non-confirmable, naming no pole: applied, and never answered.
    n = len(hal.net.sent)
    _post(hal, "c", _brighten(260, 70, 10), mtype=coap.NON)
    node.poll()
    assert node.lamp.target == 70 and len(hal.net.sent) == n
    # The node's own detection is not dimmed by a lower command.
    hal.presence.trigger()
    node.poll()
    assert node.lamp.target == 100


def test_profile_is_kept_in_flash_and_bad_requests_are_refused():
    hal = _hal()
    node = LightNode(_cfg(), hal)
    payload = light_codec.encode_profile(light_codec.Profile(5, 30, 90, 45, 5, 20, 50, 10))
    _post(hal, "z", payload)
    node.poll()
    assert _sent(hal)[-1].code == 0x44
    assert hal.settings.data == payload
    assert node.profile.revision == 5 and node.lamp.target == 30
    _run(node, hal, 25000)
    assert hal.led.levels[-1] == 30
    # After a reboot the node runs the stored profile from the start.
    hal.led.levels = []
    node = LightNode(_cfg(), hal)
    assert node.profile.idle_pct == 30 and hal.led.levels == [30]
    for path, body, code, text in (
            ("z", b"\x01\x02", 0x80, "zone profile"),
            ("z", b"\x01\x5a\x32" + payload[3:], 0x80, "idle"),
            ("c", b"\x01\x65\x00\x3c\x01\x02\x00", 0x80, "level"),
            ("x", b"", 0x84, "")):
        _post(hal, path, body)
        node.poll()
        reply = _sent(hal)[-1]
        assert reply.code == code and text in reply.payload.decode(), (path, reply.payload)
        assert len(reply.payload) <= 60
    assert node.profile.revision == 5  # nothing bad was applied
    _post(hal, "z", payload, code=coap.GET)
    node.poll()
    assert _sent(hal)[-1].code == 0x84


def test_without_the_gateway_it_asks_then_runs_the_safe_profile():
    hal = _hal()
    node = LightNode(_cfg(offline_after_min=3, safe_idle_pct=60, status_interval_s=3600), hal)
    _run(node, hal, 59000)
    assert not hal.net.sent
    _run(node, hal, 2000)
    # A minute without a word: the status goes confirmable, to be answered.
    ask = _sent(hal)[-1]
    assert ask.mtype == coap.CON and ask.path() == "s/L7"
    assert ask.option(coap.OPT_NO_RESPONSE) is None
    hal.net.inbox.append(coap.encode(coap.Message(coap.ACK, 0x44, ask.mid, ask.token)))
    node.poll()
    assert not node.offline(hal.clock.ms()) and not node.uplink.busy()
    heard = hal.clock.ms()
    _run(node, hal, 3 * 60000 - 2000)
    assert node.lamp.target == 40  # asked again meanwhile, unanswered
    assert len([m for m in _sent(hal) if m.mtype == coap.CON]) >= 2 + 4
    _run(node, hal, 3000)
    assert node.offline(hal.clock.ms()) and hal.clock.ms() - heard >= 180000
    assert node.lamp.target == 60  # the safe, higher idle level
    assert node.status(hal.clock.ms()).flags & light_codec.STATUS_OFFLINE
    hal.presence.trigger()
    node.poll()
    assert node.lamp.target == 100  # still adaptive on its own sensor
    _post(hal, "c", _brighten(1, 50, 1))  # the gateway is back
    _run(node, hal, 31000)
    assert not node.offline(hal.clock.ms()) and node.lamp.target == 40


def _lora_sent(hal):
    return [coap.decode(f) for f in hal.net.modem.sent()]


def test_over_lora_it_asks_every_20_minutes_and_waits_an_hour_before_the_safe_profile():
    # Every answer over LoRa costs the gateway's downlink budget: a short
    # offline time from the zone is stretched to an hour on a LoRa node.
    hal = _hal()
    hal.net = LoraNet(FakeModem(), "L7", hal.clock, hal.log)
    node = LightNode(_cfg(offline_after_min=3, safe_idle_pct=60, status_interval_s=86400), hal)
    _run(node, hal, 19 * 60000)
    assert not [m for m in _lora_sent(hal) if m.mtype == coap.CON]
    _run(node, hal, 2 * 60000)
    # One confirmable status (and its retransmissions: nobody answers here).
    assert len(set(m.mid for m in _lora_sent(hal) if m.mtype == coap.CON)) == 1
    _run(node, hal, 37 * 60000)
    assert not node.offline(hal.clock.ms()) and node.lamp.target == 40
    _run(node, hal, 3 * 60000)
    assert node.offline(hal.clock.ms()) and node.lamp.target == 60


def test_over_lora_every_status_is_confirmable_and_presence_goes_as_counts():
    # A status lost to a collision on a shared channel is not sent again
    # unless it is confirmable; presence is summed up between events so that
    # a busy street does not spend the pole's duty cycle.
    hal = _hal()
    hal.presence = Radar()
    hal.net = LoraNet(FakeModem(), "L7", hal.clock, hal.log, sf=7)
    node = LightNode(_cfg(status_interval_s=600), hal)
    _run(node, hal, 11 * 60000)
    statuses = [m for m in _lora_sent(hal) if m.options[0][1] == b"s"]
    assert statuses and all(m.mtype == coap.CON for m in statuses)
    before = len([m for m in _lora_sent(hal) if m.options[0][1] == b"p"])
    for _ in range(30):  # someone passes every 2 s for a minute
        hal.presence.hits.append(1)
        _run(node, hal, 2000)
    events = [codec.decode_presence(m.payload) for m in _lora_sent(hal)
              if m.options[0][1] == b"p"][before:]
    # The first at once, then at most one per 400 airtimes (about 20 s at SF7).
    assert 2 <= len(events) <= 4
    assert node.lamp.target == 100  # the lamp did not wait for any of it
    _run(node, hal, 60000)
    events = [codec.decode_presence(m.payload) for m in _lora_sent(hal)
              if m.options[0][1] == b"p"][before:]
    assert sum(e.count for e in events) == 30  # every detection counted once


def test_dark_by_day_lit_at_dusk_and_off_at_dawn():
    hal = _hal(unix=DAY)
    node = LightNode(_cfg(**STOCKHOLM), hal)
    assert hal.led.levels == [0]
    hal.presence.trigger()
    node.poll()
    assert node.lamp.target == 0  # nobody needs a lamp by day ...
    assert codec.decode_presence(_sent(hal)[-1].payload).level_pct == 0  # ... but counts
    assert not node.status(hal.clock.ms()).flags & light_codec.STATUS_NIGHT
    hal.clock.unix += 4 * 3600  # 18:13 UTC, 20:13 local: after sunset
    _run(node, hal, 61000)
    assert node.lamp.target == 40 and node.night
    _run(node, hal, 5000)
    assert hal.led.levels[-1] == 40
    assert node.status(hal.clock.ms()).flags & light_codec.STATUS_NIGHT
    hal.clock.unix += 12 * 3600  # 06:15 UTC, 08:15 local: after sunrise
    _run(node, hal, 61000)
    assert node.lamp.target == 0
    _run(node, hal, 60000)  # fading out slowly
    assert hal.led.levels[-1] == 0
    # A dusk offset: on half an hour after sunset.
    sunset = astro.sun_times(STOCKHOLM["lat"], STOCKHOLM["lon"], DAY // 86400)[1]
    node = LightNode(_cfg(dusk_offset_min=30, **STOCKHOLM), _hal(unix=sunset + 900))
    assert node.lamp.target == 0
    node = LightNode(_cfg(**STOCKHOLM), _hal(unix=sunset + 900))
    assert node.lamp.target == 40


def test_never_dark_at_night_with_no_gateway_ever():
    hal = _hal(unix=NIGHT)
    node = LightNode(_cfg(offline_after_min=1, **STOCKHOLM), hal)
    first = len(hal.led.levels)
    _run(node, hal, 2 * 3600 * 1000, 10000)
    assert min(hal.led.levels) == 40 and hal.led.levels[first - 1] == 40
    assert hal.led.levels[-1] == 60 and node.lamp.target == 60
    # And with no clock and no sensor it cannot know day from night: lit.
    hal = _hal(unix=0)
    node = LightNode(_cfg(**STOCKHOLM), hal)
    _run(node, hal, 120000)
    assert node.night is None and node.lamp.target == 40


def test_light_sensor_switches_after_steady_readings_only():
    hal = _hal(lux=5)
    node = LightNode(_cfg(**STOCKHOLM), hal)  # the sensor rules, not the sun
    assert node.night and hal.led.levels == [40]
    hal.ambient.value = 400  # headlights for a moment
    _run(node, hal, 15000)
    hal.ambient.value = 5
    _run(node, hal, 60000)
    assert node.lamp.target == 40
    hal.ambient.value = 400  # morning
    _run(node, hal, 45000)
    assert node.lamp.target == 40
    _run(node, hal, 15000)
    assert node.lamp.target == 0 and not node.night
    assert node.status(hal.clock.ms()).lux == 400
    hal.ambient.value = 2  # dusk
    _run(node, hal, 60000)
    assert node.lamp.target == 40
    hal.ambient.value = None  # the sensor fails: the sun's times decide (day)
    _run(node, hal, 15000)
    assert node.night is False and node.lamp.target == 0


def test_status_reports_level_energy_and_flags():
    hal = _hal()
    node = LightNode(_cfg(status_interval_s=600, lamp_w=40, offline_after_min=120), hal)
    _run(node, hal, 3600 * 1000, 5000)
    assert node.energy_dwh() == 160  # 40 W at 40 % for an hour: 16 Wh
    statuses = [m for m in _sent(hal) if m.path() == "s/L7"]
    # Six or seven every ten minutes, one of them confirmable (nothing heard
    # for 40 minutes) and sent five times, unanswered.
    sent = [m for m in statuses if m.mtype == coap.NON]
    assert 6 <= len(sent) + 1 <= 7 and node.status_sent == len(sent) + 1
    assert len(statuses) == len(sent) + 5
    req = sent[-1]
    assert req.mtype == coap.NON
    assert req.option(coap.OPT_NO_RESPONSE) == bytes((coap.NO_RESPONSE_2XX,))
    st = light_codec.decode_status(req.payload)
    assert st.level_pct == 40 and st.lux is None
    assert st.flags == light_codec.STATUS_NIGHT
    assert 140 <= st.energy_dwh <= 160
    seqs = []
    for m in statuses:
        seq = light_codec.decode_status(m.payload).seq
        if seq not in seqs:
            seqs.append(seq)
    assert seqs[1:] == [(s + 1) & 0xFFFF for s in seqs[:-1]]


def test_light_config_keys_and_their_errors():
    cfg = _cfg()
    assert (cfg.addr, cfg.presence, cfg.ramp_up_ds, cfg.ramp_down_s, cfg.safe_idle_pct,
            cfg.offline_after_min, cfg.status_interval_s, cfg.lat, cfg.ambient) \
        == (7, "pir", 10, 30, 60, 15, 900, None, "none")
    cases = (
        ({"addr": 65535}, "addr"),
        ({"presence": "sonar"}, "presence"),
        ({"safe_idle_pct": 100, "active_pct": 80}, "safe_idle_pct"),
        ({"lux_on": 50, "lux_off": 40}, "lux_off"),
        ({"lat": 59.3}, "lat and lon"),
        ({"radar_move_thr": [10, 20]}, "radar_move_thr"),
        ({"status_interval_s": 10}, "status_interval_s"),
        ({"pwm_invert": 1}, "pwm_invert"),
        ({"radar_faces": "north"}, "radar_faces"),
    )
    for extra, field in cases:
        try:
            _cfg(**extra)
        except config.ConfigError as e:
            assert field in str(e), (field, str(e))
            continue
        raise AssertionError("accepted %r" % extra)
    assert _cfg(radar_move_thr=[9] * 9).radar_move_thr == (9,) * 9


def test_answers_go_back_to_whoever_asked():
    hal = _hal()
    replies = []
    hal.net.reply = replies.append  # the operator's tool, not the gateway's port
    node = LightNode(_cfg(), hal)
    payload = light_codec.encode_profile(light_codec.Profile(6, 30, 90, 45, 5, 20, 50, 10))
    _post(hal, "z", payload)
    node.poll()
    assert not hal.net.sent and coap.decode(replies[-1]).code == 0x44
