# Node behaviour on the in-memory hardware layer, in MicroPython and CPython.
# The light node's own tests are in test_fw_light_node.py.
from fakehal import FakeHal, FakeRanger

from firmware import coap, codec, config
from firmware.bin_node import BinNode


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


def _wake(hal, cfg=None):
    """One wake from deep sleep: a new node from RTC memory. Returns the node
    and the report it sent (answered 2.04), or None."""
    node = BinNode(cfg or _cfg("bin"), hal)
    report = None
    if node.wake():
        node.send()
        report = codec.decode_bin_report(_answer(hal).payload)
        assert not node.poll()
    node.sleep()
    return node, report


def test_bin_node_reports_fill_level_to_its_resource():
    hal = FakeHal(distance_mm=400)
    node = BinNode(_cfg("bin"), hal)
    assert node.wake()  # the first wake after power-on always reports
    node.send()
    req = _answer(hal)
    assert req.mtype == coap.CON and req.code == coap.POST
    assert req.path() == "b/N1"
    report = codec.decode_bin_report(req.payload)
    assert report.fill_pct == 75.0
    assert report.flags & codec.BIN_FLAG_THRESHOLD and report.flags & codec.BIN_FLAG_BOOT
    assert report.battery_mv == 3600 and report.temp_c == 12
    assert report.tilt_deg is None  # no accelerometer fitted
    assert not node.poll()
    assert node.sleep() == 3600 * 1000
    assert "stored" in hal.lines[-1]


def test_bin_node_measures_several_samples_and_corrects_for_temperature():
    hal = FakeHal(temp_c=30)
    # Echo times as an ultrasonic sensor gives them, one of them off the wall:
    # 5000 us at 30 C (349.48 m/s) is 873.7 mm, 16 % full of 1000..200 mm.
    hal.fill_sensor = FakeRanger([5000, 5003, 1200, 4998, 5001], "us")
    node = BinNode(_cfg("bin"), hal)
    assert node.wake()
    assert abs(node.report.fill_pct - (1000 - 5000.5 * 349.48 / 2000) / 8) < 0.01
    hal.fill_sensor = FakeRanger([5000, None, None, None, 1200], "us")
    node = BinNode(_cfg("bin"), hal)
    node.wake()
    assert node.report is None or node.report.fill_pct is None


def test_bin_node_state_survives_deep_sleep():
    hal = FakeHal(distance_mm=900)
    first, r1 = _wake(hal)
    assert r1.flags & codec.BIN_FLAG_BOOT
    assert len(hal.store.data) == 14 and hal.store.data[0] == 0xB2
    mids = [coap.decode(hal.net.sent[0]).mid]
    # Three quiet wakes: measured, nothing sent, the count kept in RTC memory.
    for i in range(3):
        node, r = _wake(hal)
        assert r is None and node.state.since_report == i + 1
    assert len(hal.net.sent) == 1
    node, r2 = _wake(hal)  # the fourth: the 4-hour heartbeat
    assert r2.seq == (r1.seq + 1) & 0xFFFF
    assert not r2.flags & codec.BIN_FLAG_BOOT
    # Message ids continue too, so the gateway never takes a new report for a
    # retransmission of an old one.
    assert coap.decode(hal.net.sent[-1]).mid == (mids[0] + 1) & 0xFFFF


def test_bin_node_reports_at_once_when_the_level_crosses_the_threshold():
    hal = FakeHal(distance_mm=600)  # 50 %
    _wake(hal)
    _, r = _wake(hal)
    assert r is None
    hal.fill_sensor.value = 330  # 83.75 %: over 75 % and a fast rise
    _, r = _wake(hal)
    assert r.fill_pct == 84.0 and r.flags & codec.BIN_FLAG_THRESHOLD
    assert r.flags & codec.BIN_FLAG_FAST_RISE
    _, r = _wake(hal)
    assert r is None  # still full: the gateway knows


def test_bin_node_alarms_survive_deep_sleep():
    hal = FakeHal(distance_mm=800, lid_open=True, tilt_deg=3)
    _wake(hal)
    _, r = _wake(hal)  # the lid open at a second wake in a row
    assert r.flags & codec.BIN_FLAG_LID_OPEN and r.tilt_deg == 3
    hal.lid.value = False
    hal.temperature.value = 82
    _, r = _wake(hal)
    assert r.flags & codec.BIN_FLAG_FIRE and r.temp_c == 82
    assert not r.flags & codec.BIN_FLAG_LID_OPEN
    hal.tilt.value = 88
    _, r = _wake(hal)
    assert r.flags & codec.BIN_FLAG_TILT and r.flags & codec.BIN_FLAG_FIRE


def test_bin_node_memory_from_other_firmware_is_not_trusted():
    hal = FakeHal()
    hal.store.data = bytes(14)  # right size, wrong layout tag
    _, r = _wake(hal)
    assert r.flags & codec.BIN_FLAG_BOOT
    hal.store.data = bytes(6)  # the 6-byte memory of the first firmware
    _, r = _wake(hal)
    assert r.flags & codec.BIN_FLAG_BOOT


def test_bin_node_retransmits_then_gives_up_and_logs_it():
    hal = FakeHal()
    node = BinNode(_cfg("bin"), hal)
    node.wake()
    node.send()
    while node.poll():
        hal.clock.advance(500)
    assert len(hal.net.sent) == 1 + coap.MAX_RETRANSMIT
    assert len(set(hal.net.sent)) == 1  # the same message each time
    assert "not stored" in hal.lines[-1]
    assert node.state.lost == 1


def test_bin_node_without_network_counts_the_report_as_lost_and_tries_again():
    hal = FakeHal(distance_mm=600)
    _wake(hal)
    hal.fill_sensor.value = 300  # over the threshold ...
    node = BinNode(_cfg("bin"), hal)
    assert node.wake()
    node.ended(False, "no Wi-Fi")  # ... but no Wi-Fi
    assert node.state.lost == 1 and hal.lines[-1].endswith("not stored: no Wi-Fi")
    assert len(hal.net.sent) == 1
    node.sleep()
    # The gateway never heard of the crossing: the next wake tells it,
    # without waiting for the heartbeat.
    _, r = _wake(hal)
    assert r.flags & codec.BIN_FLAG_THRESHOLD


def test_bin_node_logs_a_rejection_without_retrying():
    hal = FakeHal()
    node = BinNode(_cfg("bin"), hal)
    node.wake()
    node.send()
    _answer(hal, code=0x84)  # 4.04
    assert not node.poll()
    assert len(hal.net.sent) == 1
    assert "4.04" in hal.lines[-1]


def test_bin_node_reports_a_sensor_fault():
    hal = FakeHal(distance_mm=None)
    node = BinNode(_cfg("bin"), hal)
    node.wake()
    node.send()
    report = codec.decode_bin_report(coap.decode(hal.net.sent[-1]).payload)
    assert report.fill_pct is None and report.flags & codec.BIN_FLAG_SENSOR_FAULT


def test_config_rejects_bad_values_with_the_field_name():
    cases = (
        ({"id": "bad id"}, "node id"),
        ({"role": "bench"}, "role"),
        ({"empty_mm": 100, "full_mm": 200}, "full_mm"),
        ({"idle_pct": 90, "active_pct": 50}, "idle_pct"),
        ({"hold_s": -1}, "hold_s"),
        ({"gateway_port": "x"}, "gateway_port"),
        ({"pins": {"pir": 99}}, "pins.pir"),
        ({"sensor": "radar"}, "sensor"),
        ({"temp_sensor": "dht22"}, "temp_sensor"),
        ({"lid_switch": 1}, "lid_switch"),
        ({"samples": 2}, "samples"),
        ({"measure_interval_s": 5}, "measure_interval_s"),
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


def test_a_bin_report_fits_a_25_byte_lora_frame():
    hal = FakeHal(distance_mm=400)
    node = BinNode(_cfg("bin", id="B0001"), hal)
    assert node.wake()  # the first wake after power-on always reports
    node.send()
    assert len(hal.net.sent[-1]) <= 25
