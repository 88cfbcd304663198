# Node behaviour on the in-memory hardware layer, in MicroPython and CPython.
from fakehal import FakeHal

from firmware import coap, codec, config
from firmware.bin_node import BinNode
from firmware.light_node import LightNode


def _cfg(role, **extra):
    raw = {"id": "N1", "role": role, "gateway_host": "10.0.0.1", "empty_mm": 1000,
           "full_mm": 200, "threshold_pct": 75, "idle_pct": 40, "active_pct": 100,
           "hold_s": 30}
    for k in extra:
        raw[k] = extra[k]
    return config.Config(raw)


def _answer(hal, code=0x44):
    req = coap.decode(hal.net.sent[-1])
    hal.net.inbox.append(coap.encode(coap.Message(coap.ACK, code, req.mid, req.token)))
    return req


def test_bin_node_reports_fill_level_to_its_resource():
    hal = FakeHal(distance_mm=400)
    node = BinNode(_cfg("bin"), hal)
    node.wake()
    req = _answer(hal)
    assert req.mtype == coap.CON and req.code == coap.POST
    assert req.path() == "b/N1"
    report = codec.decode_bin_report(req.payload)
    assert report.fill_pct == 75.0
    assert report.flags & codec.BIN_FLAG_THRESHOLD and report.flags & codec.BIN_FLAG_BOOT
    assert report.battery_mv == 3600 and report.temp_c == 12
    assert not node.poll()
    assert node.sleep() == 3600 * 1000
    assert "stored" in hal.lines[-1]


def test_bin_node_state_survives_deep_sleep():
    hal = FakeHal(distance_mm=900)
    first = BinNode(_cfg("bin"), hal)
    first.wake()
    seq1 = codec.decode_bin_report(_answer(hal).payload).seq
    first.poll()
    first.sleep()
    second = BinNode(_cfg("bin"), hal)  # what a wake from deep sleep does
    second.wake()
    req = _answer(hal)
    report = codec.decode_bin_report(req.payload)
    assert report.seq == (seq1 + 1) & 0xFFFF
    assert not report.flags & codec.BIN_FLAG_BOOT
    # Message ids continue too, so the gateway never takes a new report for a
    # retransmission of an old one.
    assert req.mid == (coap.decode(hal.net.sent[0]).mid + 1) & 0xFFFF


def test_bin_node_retransmits_then_gives_up_and_logs_it():
    hal = FakeHal()
    node = BinNode(_cfg("bin"), hal)
    node.wake()
    while node.poll():
        hal.clock.advance(500)
    assert len(hal.net.sent) == 1 + coap.MAX_RETRANSMIT
    assert len(set(hal.net.sent)) == 1  # the same message each time
    assert "not stored" in hal.lines[-1]
    assert node.lost == 1


def test_bin_node_logs_a_rejection_without_retrying():
    hal = FakeHal()
    node = BinNode(_cfg("bin"), hal)
    node.wake()
    _answer(hal, code=0x84)  # 4.04
    assert not node.poll()
    assert len(hal.net.sent) == 1
    assert "4.04" in hal.lines[-1]


def test_bin_node_reports_a_sensor_fault():
    hal = FakeHal(distance_mm=None)
    node = BinNode(_cfg("bin"), hal)
    node.wake()
    report = codec.decode_bin_report(coap.decode(hal.net.sent[-1]).payload)
    assert report.fill_pct is None and report.flags & codec.BIN_FLAG_SENSOR_FAULT


def test_light_node_brightens_at_once_and_reports():
    hal = FakeHal()
    node = LightNode(_cfg("light"), hal)
    assert hal.led.levels == [40]
    hal.presence.trigger()
    node.poll()
    assert hal.led.levels == [40, 100]  # before any answer from the gateway
    req = coap.decode(hal.net.sent[-1])
    assert req.mtype == coap.NON and req.path() == "p/N1"
    event = codec.decode_presence(req.payload)
    assert event.count == 1 and event.level_pct == 100


def test_light_node_holds_then_returns_to_idle():
    hal = FakeHal()
    node = LightNode(_cfg("light"), hal)
    hal.presence.trigger()
    node.poll()
    hal.clock.advance(29000)
    node.poll()
    assert hal.led.levels[-1] == 100
    hal.clock.advance(1000)
    node.poll()
    assert hal.led.levels[-1] == 40


def test_light_node_groups_rapid_detections_into_one_event():
    hal = FakeHal()
    node = LightNode(_cfg("light"), hal)
    for _ in range(5):
        hal.presence.trigger()
        node.poll()
        hal.clock.advance(100)
    assert len(hal.net.sent) == 1
    hal.clock.advance(1000)
    node.poll()
    assert len(hal.net.sent) == 2
    assert codec.decode_presence(coap.decode(hal.net.sent[-1]).payload).count == 4


def test_config_rejects_bad_values_with_the_field_name():
    cases = (
        ({"id": "bad id"}, "node id"),
        ({"role": "bench"}, "role"),
        ({"empty_mm": 100, "full_mm": 200}, "full_mm"),
        ({"idle_pct": 90, "active_pct": 50}, "idle_pct"),
        ({"hold_s": -1}, "hold_s"),
        ({"gateway_port": "x"}, "gateway_port"),
        ({"pins": {"pir": 99}}, "pins.pir"),
    )
    for extra, field in cases:
        raw = {"id": "N1", "role": "bin", "gateway_host": "h"}
        for k in extra:
            raw[k] = extra[k]
        try:
            config.Config(raw)
        except config.ConfigError as e:
            assert field in str(e), (field, str(e))
            continue
        raise AssertionError("accepted %r" % extra)


def test_config_parse_rejects_invalid_json():
    try:
        config.parse("{nope")
    except config.ConfigError as e:
        assert "JSON" in str(e)
    else:
        raise AssertionError("accepted bad JSON")
