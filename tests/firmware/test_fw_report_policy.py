# The bin node's report policy, wake by wake. Runs in the MicroPython VM as
# well as CPython.
from firmware import codec
from firmware import settings as config
from firmware.waste.report_policy import State, answered, decide, heard, queued


def _cfg(**extra):
    raw = {"id": "B1", "role": "bin", "gateway_host": "10.0.0.1", "threshold_pct": 80}
    for k in extra:
        raw[k] = extra[k]
    return config.Config(raw)


class Node:
    """One node's wakes: measure, decide, and (when it reports) the answer."""

    def __init__(self, cfg=None):
        self.cfg = cfg or _cfg()
        self.st = State()
        self.booted = True
        self.sent = []  # flags of every report sent

    def wake(self, pct=40, temp=None, tilt=None, lid=None, stored=True):
        fill_b = codec.fill_to_byte(pct)
        f, send = decide(self.cfg, self.st, fill_b, temp, tilt, lid, self.booted)
        self.booted = False
        if send:
            self.sent.append(f)
            answered(self.st, stored, fill_b, f)
        return send, f


def test_power_on_reports_then_a_heartbeat_every_four_hours():
    n = Node()
    assert n.wake()[0]  # the boot report
    pattern = [n.wake()[0] for _ in range(8)]
    assert pattern == [False, False, False, True] * 2


def test_heartbeat_equal_to_the_interval_reports_every_wake():
    n = Node(_cfg(heartbeat_s=3600))
    assert all(n.wake()[0] for _ in range(5))


def test_crossing_the_threshold_upward_reports_at_once_and_once():
    n = Node()
    n.wake(70)
    send, f = n.wake(81)
    assert send and f & codec.BIN_FLAG_THRESHOLD
    send, f = n.wake(83)
    assert not send and f & codec.BIN_FLAG_THRESHOLD  # still over, already told
    assert not n.wake(79)[0]  # hovering at the threshold is no event


def test_an_emptied_bin_is_reported_at_once():
    n = Node()
    n.wake(85)  # boot report, over the threshold
    assert not n.wake(72)[0]  # compacted a little: not emptied
    send, f = n.wake(5)
    assert send and not f & codec.BIN_FLAG_THRESHOLD


def test_a_fast_rise_is_reported():
    n = Node(_cfg(fast_rise_pct_per_h=25))
    n.wake(20)
    assert not n.wake(30)[0]  # 10 points an hour: normal
    send, f = n.wake(60)  # 30 points in an hour
    assert send and f & codec.BIN_FLAG_FAST_RISE


def test_fast_rise_is_per_hour_of_the_measurement_interval():
    n = Node(_cfg(measure_interval_s=900, fast_rise_pct_per_h=25))
    n.wake(20)
    send, f = n.wake(28)  # 8 points in 15 minutes: 32 an hour
    assert send and f & codec.BIN_FLAG_FAST_RISE


def test_fire_by_temperature_reported_at_every_wake_while_it_lasts():
    n = Node()
    n.wake(temp=15)
    for t in (75, 90, 80):
        send, f = n.wake(temp=t)
        assert send and f & codec.BIN_FLAG_FIRE
    send, f = n.wake(temp=20)
    assert not send and not f & codec.BIN_FLAG_FIRE


def test_fire_by_a_fast_rise_above_forty_degrees():
    n = Node()
    n.wake(temp=18)
    send, f = n.wake(temp=45)  # 27 C in an hour, above 40
    assert send and f & codec.BIN_FLAG_FIRE
    m = Node()
    m.wake(temp=12)
    assert not m.wake(temp=37)[1] & codec.BIN_FLAG_FIRE  # sun: fast, but under 40


def test_a_tilted_bin_is_reported_when_it_tips_over():
    n = Node()
    n.wake(tilt=2)
    send, f = n.wake(tilt=85)
    assert send and f & codec.BIN_FLAG_TILT
    send, f = n.wake(tilt=85)
    assert not send and f & codec.BIN_FLAG_TILT  # still lying there: told already
    assert not n.wake(tilt=3)[0]  # set upright again


def test_a_moved_bin_is_reported():
    n = Node(_cfg(tilt_alarm_deg=60))
    n.wake(tilt=2)
    send, f = n.wake(tilt=25)  # 23 degrees of change, under the alarm angle
    assert send and f & codec.BIN_FLAG_TILT


def test_the_lid_counts_as_left_open_at_the_second_wake():
    n = Node()
    n.wake(lid=False)
    send, f = n.wake(lid=True)
    assert not send and not f & codec.BIN_FLAG_LID_OPEN  # someone is using the bin
    send, f = n.wake(lid=True)
    assert send and f & codec.BIN_FLAG_LID_OPEN
    assert not n.wake(lid=True)[0]
    assert not n.wake(lid=False)[1] & codec.BIN_FLAG_LID_OPEN


def test_a_failing_sensor_is_reported_once():
    n = Node()
    n.wake(50)
    send, f = n.wake(None)
    assert send and f & codec.BIN_FLAG_SENSOR_FAULT
    assert not n.wake(None)[0]
    # Back again over the threshold: the gateway's last word was "no reading".
    assert n.wake(85)[0]


def test_an_event_not_stored_is_sent_again_until_three_failures():
    n = Node()
    n.wake(50)
    assert n.wake(85, stored=False)[0]
    assert n.wake(85, stored=False)[0]
    assert n.wake(85, stored=False)[0]
    assert n.st.lost == 3
    # Only the heartbeat tries now (the gateway may be gone for good) ...
    assert [n.wake(85, stored=False)[0] for _ in range(3)] == [False] * 3
    assert n.wake(85, stored=True)[0]  # ... and gets through
    assert n.st.lost == 0 and not n.wake(85)[0]


def test_the_measurement_is_remembered_for_the_next_wake():
    n = Node()
    n.wake(40, temp=-3.6, tilt=181.0, lid=True)
    st = n.st
    assert st.last_fill == 80 and st.last_temp == -3 and st.last_tilt == 180
    assert st.lid_was_open and st.since_report == 0 and st.reported_fill == 80
    n.wake(None)
    assert st.last_fill == codec.FILL_UNKNOWN and st.last_temp == codec.TEMP_UNKNOWN
    assert st.last_tilt == codec.TILT_UNKNOWN and st.since_report == 0  # a fault report
    n.wake(None)
    assert st.since_report == 1


def test_a_queued_report_counts_as_told_even_before_the_gateway_answers():
    # A node with a queue in flash: the report will arrive, so the event is
    # not reported again, however long the gateway stays silent.
    cfg = _cfg()
    st = State()
    decide(cfg, st, codec.fill_to_byte(70), None, None, None, True)
    queued(st, codec.fill_to_byte(70), 0)
    f, send = decide(cfg, st, codec.fill_to_byte(85), None, None, None, False)
    assert send and f & codec.BIN_FLAG_THRESHOLD
    queued(st, codec.fill_to_byte(85), f)
    heard(st, False)  # no answer
    assert st.lost == 1 and st.reported_fill == codec.fill_to_byte(85)
    assert not decide(cfg, st, codec.fill_to_byte(86), None, None, None, False)[1]


def test_three_silent_exchanges_make_events_wait_for_the_heartbeat():
    cfg = _cfg()
    st = State()
    decide(cfg, st, codec.fill_to_byte(20), None, None, None, True)
    queued(st, codec.fill_to_byte(20), 0)
    for _ in range(3):
        heard(st, False)
    assert not decide(cfg, st, codec.fill_to_byte(90), None, None, None, False)[1]
    heard(st, True)  # an answer, even a refusal: the gateway is there
    assert st.lost == 0
    assert decide(cfg, st, codec.fill_to_byte(90), None, None, None, False)[1]
