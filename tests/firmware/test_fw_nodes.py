# Node behaviour on the in-memory hardware layer, in MicroPython and CPython.
# The light node's own tests are in test_fw_light_node.py.
from fakehal import FakeHal, FakeNet, FakeRanger, FakeStore

from firmware import codec
from firmware import settings as config
from firmware.proto import coap
from firmware.waste.node import BinNode


def _cfg(role, **extra):
    raw = {"id": "N1", "role": role, "gateway_host": "10.0.0.1", "empty_mm": 1000,
           "full_mm": 200, "threshold_pct": 75, "idle_pct": 40, "active_pct": 100,
           "hold_s": 30}
    for k in extra:
        raw[k] = extra[k]
    return config.Config(raw)


def _hal(**kw):
    """A bin node's hardware, with its queue in flash."""
    hal = FakeHal(**kw)
    hal.outbox = FakeStore()
    return hal


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


def _silent_wake(hal, cfg=None):
    """A wake whose exchange gets no answer at all. Returns the node."""
    node = BinNode(cfg or _cfg("bin"), hal)
    if node.wake():
        node.send()
        while node.poll():
            hal.clock.advance(500)
    node.sleep()
    hal.clock.advance(3600 * 1000)
    return node


def _answering_wake(hal, cfg=None, code=0x44):
    """A wake whose every exchange is answered with `code`. Returns the node
    and the reports it sent."""
    node = BinNode(cfg or _cfg("bin"), hal)
    sent = []
    if node.wake():
        node.send()
        while node.uplink.busy():
            sent.append(codec.decode_bin_report(_answer(hal, code).payload))
            node.poll()
    node.sleep()
    hal.clock.advance(3600 * 1000)
    return node, sent


def test_bin_node_reports_fill_level_to_its_resource():
    hal = _hal(distance_mm=400)
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
    hal = _hal(temp_c=30)
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
    hal = _hal(distance_mm=900)
    first, r1 = _wake(hal)
    assert r1.flags & codec.BIN_FLAG_BOOT
    # 14 bytes of node state, the link state (2 bytes), the duty-cycle record
    # (its age and length: none on this net).
    assert len(hal.store.data) == 23 and hal.store.data[0] == 0xB3
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
    hal = _hal(distance_mm=600)  # 50 %
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
    hal = _hal(distance_mm=800, lid_open=True, tilt_deg=3)
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
    hal = _hal()
    hal.store.data = bytes(23)  # right size, wrong layout tag
    _, r = _wake(hal)
    assert r.flags & codec.BIN_FLAG_BOOT
    hal.store.data = bytes(6)  # the 6-byte memory of the first firmware
    _, r = _wake(hal)
    assert r.flags & codec.BIN_FLAG_BOOT
    hal.store.data = b"\xb2" + bytes(13)  # the layout before the queue
    _, r = _wake(hal)
    assert r.flags & codec.BIN_FLAG_BOOT


def test_bin_node_retransmits_then_keeps_the_report_for_the_next_wake():
    hal = _hal()
    node = BinNode(_cfg("bin"), hal)
    node.wake()
    node.send()
    while node.poll():
        hal.clock.advance(500)
    assert len(hal.net.sent) == 1 + coap.MAX_RETRANSMIT
    assert len(set(hal.net.sent)) == 1  # the same message each time
    seq = node.report.seq
    assert hal.lines[-1] == "report %d queued (1 waiting): no answer after 5 attempts" % seq
    assert node.state.lost == 1 and len(node.outbox) == 1 and not node.acked
    node.sleep()
    hal.clock.advance(3600 * 1000)
    node, sent = _answering_wake(hal)  # the gateway is back
    assert node.report is None  # nothing new to say, only the old report
    assert [r.seq for r in sent] == [seq]
    assert [s for s, _ in node.acked] == [seq]
    assert node.state.lost == 0 and len(node.outbox) == 0


def test_bin_node_without_network_keeps_the_report_queued():
    hal = _hal(distance_mm=600)
    _wake(hal)
    hal.fill_sensor.value = 300  # over the threshold ...
    node = BinNode(_cfg("bin"), hal)
    assert node.wake()
    node.unsent("no Wi-Fi")  # ... but no Wi-Fi
    assert node.state.lost == 1
    assert hal.lines[-1] == "report %d queued (1 waiting): no Wi-Fi" % node.report.seq
    assert len(hal.net.sent) == 1
    node.sleep()
    # The crossing waits in the queue, measured when it happened: the next
    # wake sends it, and makes no second report of the same event.
    node, sent = _answering_wake(hal)
    assert node.report is None
    assert len(sent) == 1 and sent[0].flags & codec.BIN_FLAG_THRESHOLD
    assert sent[0].time == 1790000000


def test_bin_node_reports_wait_while_the_gateway_is_down_then_go_oldest_first_once():
    hal = _hal(distance_mm=900)
    cfg = _cfg("bin", heartbeat_s=3600)  # a report every wake
    seqs = [_silent_wake(hal, cfg).report.seq for _ in range(5)]
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    # After three silent wakes the radio stays off unless there is a new
    # report; here there is one each wake, so every wake tried once.
    assert len(hal.net.sent) == 5 * (1 + coap.MAX_RETRANSMIT)
    node, sent = _answering_wake(hal, cfg)
    assert [r.seq for r in sent] == seqs + [seqs[-1] + 1]
    assert [t for _, t in node.acked] == [r.time for r in sent]
    assert sent[0].time < sent[1].time  # each as measured, not when sent
    node, sent = _answering_wake(hal, cfg)
    assert [r.seq for r in sent] == [seqs[-1] + 2]  # each once


def test_bin_node_after_three_silent_wakes_waits_for_the_heartbeat():
    hal = _hal(distance_mm=900)
    _silent_wake(hal)  # the boot report
    for _ in range(2):
        _silent_wake(hal)  # no new report, the queue tried each wake
    assert len(hal.net.sent) == 3 * (1 + coap.MAX_RETRANSMIT)
    node = BinNode(_cfg("bin"), hal)
    assert node.state.lost == 3 and not node.wake()  # quiet: radio off
    node.sleep()
    node = BinNode(_cfg("bin"), hal)
    assert node.wake() and node.report is not None  # the 4-hour heartbeat


def test_bin_node_sends_at_most_eight_reports_a_wake():
    hal = _hal()
    cfg = _cfg("bin", heartbeat_s=3600)
    for _ in range(10):
        node = BinNode(cfg, hal)
        assert node.wake()
        node.unsent("no Wi-Fi")
        node.sleep()
    node, sent = _answering_wake(hal, cfg)
    assert len(sent) == 8 and len(node.outbox) == 3
    node, sent = _answering_wake(hal, cfg)
    assert len(sent) == 4 and len(node.outbox) == 0


def test_bin_node_queue_overflow_drops_the_oldest_and_says_so_in_a_report():
    hal = _hal()
    cfg = _cfg("bin", heartbeat_s=3600)
    seqs = []
    for _ in range(49):
        node = BinNode(cfg, hal)
        node.wake()
        seqs.append(node.report.seq)
        node.unsent("no Wi-Fi")
        node.sleep()
    assert hal.lines[-2] == "queue full: dropped report %d" % seqs[0]
    assert len(node.outbox) == 48 and node.outbox.dropped == 1
    # The gateway is back; this wake's own report makes room once more.
    node, sent = _answering_wake(hal, cfg)
    assert [r.seq for r in sent] == seqs[2:10]
    assert node.outbox.dropped == 2
    for _ in range(10):
        node, more = _answering_wake(hal, cfg)
        sent += more
        if not len(node.outbox):
            break
    seen = [r.seq for r in sent]
    assert seen == list(range(seqs[2], seen[-1] + 1))  # oldest first, each once
    # The reports that made room carry the flag (the seq gap says how many
    # were dropped); no other does.
    flagged = [r.seq for r in sent if r.flags & codec.BIN_FLAG_QUEUE_DROPPED]
    assert flagged == [seqs[48], seqs[48] + 1]


def test_bin_node_logs_a_rejection_drops_the_report_and_goes_on():
    hal = _hal()
    cfg = _cfg("bin", heartbeat_s=3600)
    first = _silent_wake(hal, cfg).report.seq
    node = BinNode(cfg, hal)
    node.wake()
    node.send()
    req = _answer(hal, code=0x84)  # 4.04 for the old one
    assert codec.decode_bin_report(req.payload).seq == first
    assert node.poll()  # the next one is on its way at once
    assert hal.lines[-1].startswith("report %d refused, dropped: 4.04" % first)
    assert node.refused == [(first, "4.04")]
    req = _answer(hal)
    assert codec.decode_bin_report(req.payload).seq == first + 1
    assert not node.poll() and len(node.outbox) == 0
    assert node.acked == [(first + 1, node.report.time)]


def test_bin_node_keeps_a_report_the_gateway_could_not_store():
    hal = _hal()
    cfg = _cfg("bin", heartbeat_s=3600)
    _silent_wake(hal, cfg)
    node = BinNode(cfg, hal)
    node.wake()
    node.send()
    _answer(hal, code=0xA0)  # 5.00
    assert not node.poll()  # nothing more this wake
    assert len(node.outbox) == 2 and node.state.lost == 2
    assert "queued (2 waiting): 5.00" in hal.lines[-1]


def test_bin_node_rebooting_mid_send_resends_the_report():
    hal = _hal()
    node = BinNode(_cfg("bin"), hal)
    node.wake()
    node.send()  # power lost before the answer came: RTC memory gone
    old = codec.decode_bin_report(coap.decode(hal.net.sent[-1]).payload)
    hal.store.data = b""
    hal.net = FakeNet()
    node, sent = _answering_wake(hal)
    assert sent[0] == old
    assert sent[1].flags & codec.BIN_FLAG_BOOT and sent[1].seq != old.seq + 1


def test_bin_node_keeps_its_duty_cycle_record_across_deep_sleep():
    hal = _hal()
    cfg = _cfg("bin", measure_interval_s=900)
    hal.net = DutyNet(b"rec1")
    _wake(hal, cfg)
    hal.net = None  # no report next wake: the radio stays off, the record ages
    node = BinNode(cfg, hal)
    assert not node.wake()
    node.sleep()
    hal.net = DutyNet(b"")  # a wake that sends builds its net afresh
    node = BinNode(cfg, hal)
    node.wake()
    node.send()
    assert hal.net.duty.loaded == (b"rec1", 1800 * 1000)
    hal.store.data = b""
    hal.net = DutyNet(b"")
    node = BinNode(cfg, hal)  # no memory, no record: a fresh one
    assert node.wake()
    node.send()
    assert hal.net.duty.loaded is None


def test_bin_node_waits_for_the_duty_cycle_and_says_so():
    hal = _hal()
    hal.net = DutyNet(b"", wait_ms=41500)
    node = BinNode(_cfg("bin"), hal)
    assert node.wake()
    node.send()
    assert not node.poll() and not hal.net.sent
    assert hal.lines[-1] == "report %d queued (1 waiting): duty cycle, 42 s to wait" \
        % node.report.seq
    assert hal.net.asked == [22]  # the frame: 4 + 2 + 3 + 1 + 12 bytes
    hal.net.wait = 0
    node.send()
    assert len(hal.net.sent[-1]) == 22


class Duty:
    def __init__(self, rec):
        self.rec = rec
        self.loaded = None

    def dump(self, now_ms):
        return self.rec

    @staticmethod
    def load(data, now_ms, slept_ms=0):
        d = Duty(data)
        d.loaded = (data, slept_ms)
        return d


class DutyNet(FakeNet):
    def __init__(self, rec, wait_ms=0):
        FakeNet.__init__(self)
        self.duty = Duty(rec)
        self.wait = wait_ms
        self.asked = []

    def wait_ms(self, frame_len):
        self.asked.append(frame_len)
        return self.wait


def test_bin_node_reports_a_sensor_fault():
    hal = _hal(distance_mm=None)
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
    hal = _hal(distance_mm=400)
    node = BinNode(_cfg("bin", id="B0001"), hal)
    assert node.wake()  # the first wake after power-on always reports
    node.send()
    assert len(hal.net.sent[-1]) <= 25
