# A node's LoRa link (firmware.lora.net over a modem with micropython-lib's
# API) and the messaging layer over it: duty cycle, link feedback, backoff.
from fakehal import FakeHal, FakeModem, FakeRx

from firmware.lora import link as lora_link
from firmware.lora import plan as radio_plan
from firmware.lora.airtime import airtime_ms, airtime_us
from firmware.lora.net import LoraNet
from firmware.lora.uplink import LoraUplink as Uplink
from firmware.proto import coap


def _net(listen=False, sf=7):
    hal = FakeHal()
    modem = FakeModem(hal.clock)
    hal.net = LoraNet(modem, "B1", hal.clock, hal.log, sf=sf, listen=listen)
    return hal, modem


def test_send_transmits_on_the_uplink_then_listens_on_the_downlink():
    hal, modem = _net()
    assert modem.log == []  # a bin node's radio stays off until it sends
    assert hal.net.recv() is None
    assert hal.net.send(b"\x01\x02\x03")
    (c1, tx), (s, frame), (c2, rx), (r, continuous) = modem.log
    assert (c1, s, c2, r, frame, continuous) == ("configure", "send", "configure", "recv",
                                                 b"\x01\x02\x03", True)
    assert tx == radio_plan.lora_cfg(radio_plan.UPLINK_KHZ, 7, 14, False, False)
    assert rx == radio_plan.lora_cfg(radio_plan.DOWNLINK_KHZ, 7, 14, False, True)


def test_a_light_node_listens_from_the_start():
    _, modem = _net(listen=True)
    assert modem.log[-1] == ("recv", True) and modem.cfg["invert_iq_rx"]


def test_airtime_is_recorded_against_the_duty_cycle():
    hal, _ = _net(sf=9)
    hal.net.send(bytes(25))
    assert hal.net.duty.used_ms(radio_plan.UPLINK_KHZ, hal.clock.ms()) \
        == -(-airtime_us(25, 9) // 1000)


def test_over_budget_nothing_is_sent_and_the_refusal_is_logged_once():
    hal, modem = _net(sf=12)
    hal.net.duty.record(radio_plan.UPLINK_KHZ, 35000, 0)
    assert hal.net.wait_ms(25) > 0
    assert not hal.net.send(bytes(25))
    assert modem.sent() == []
    assert len(hal.lines) == 1 and "duty cycle" in hal.lines[0] and "next in" in hal.lines[0]


def test_too_long_a_frame_is_refused():
    hal, modem = _net()
    assert not hal.net.send(bytes(256)) and modem.sent() == [] and len(hal.lines) == 1


def test_received_frames_keep_rssi_and_snr_and_bad_crc_is_dropped():
    hal, modem = _net(listen=True)
    modem.inbox.append(FakeRx(b"bad", valid_crc=False))
    modem.inbox.append(FakeRx(b"\x40\x01", rssi=-117, snr=-31))
    assert hal.net.recv() is None
    data = hal.net.recv()
    assert data == b"\x40\x01" and isinstance(data, bytes)
    assert hal.net.rssi == -117 and hal.net.snr == -31
    assert hal.net.recv() is None


def test_ack_timeout_fits_the_airtime():
    hal, _ = _net(sf=7)
    assert hal.net.ack_timeout_ms(25) == 2000
    hal.net.set_sf(12)
    # Its answer comes two steps faster, at SF10.
    assert hal.net.ack_timeout_ms(25) >= 1483 + 1000 + airtime_ms(lora_link.RESPONSE_LEN, 10)


def test_changing_sf_while_listening_listens_at_the_new_sf():
    hal, modem = _net(listen=True)
    hal.net.set_sf(10)
    assert modem.cfg["sf"] == radio_plan.downlink_sf(10) and modem.log[-1] == ("recv", True)


# --- the messaging layer over LoRa ------------------------------------------

def _uplink():
    hal, modem = _net()
    up = Uplink("B1", hal)
    up.post_confirmable("b", b"\x01\x02")
    return hal, modem, up, coap.decode(modem.sent()[-1])


def _answer(modem, req, node_id="B1", sf=7, unix=1800000000, code=0x44):
    fb = lora_link.encode_feedback(3, sf, lora_link.node_tag(node_id), unix)
    modem.inbox.append(FakeRx(coap.encode(coap.Message(coap.ACK, code, req.mid, req.token,
                                                       [], fb))))


def test_a_neighbours_answer_with_the_same_message_id_is_ignored():
    hal, modem, up, req = _uplink()
    heard = up.heard_ms
    hal.clock.advance(100)
    _answer(modem, req, node_id="B2", sf=12)
    up.poll()
    assert up.busy() and hal.net.sf == 7 and up.heard_ms == heard
    _answer(modem, req)
    up.poll()
    assert not up.busy() and up.last_result == ("2.04", b"")


def test_feedback_sets_the_sf_and_the_clock():
    hal, modem, up, req = _uplink()
    _answer(modem, req, sf=10, unix=1800000123)
    up.poll()
    assert hal.net.sf == 10 and modem.cfg["sf"] == radio_plan.downlink_sf(10)
    assert hal.clock.time() == 1800000123
    assert Uplink("B1", hal).link_state() != up.link_state()


def test_an_answer_without_feedback_is_not_taken():
    hal, modem, up, req = _uplink()
    modem.inbox.append(FakeRx(coap.encode(coap.Message(coap.ACK, 0x44, req.mid, req.token))))
    up.poll()
    assert up.busy()


def _unanswered(hal, up):
    up.post_confirmable("b", b"\x01")
    while up.busy():
        hal.clock.now_ms = up.next_deadline_ms()
        up.poll()
    assert up.last_result[0] is None


def test_two_unanswered_exchanges_raise_the_sf_by_one():
    hal, _ = _net()
    up = Uplink("B1", hal)
    up.max_retransmit = 1
    _unanswered(hal, up)
    assert hal.net.sf == 7
    _unanswered(hal, up)
    assert hal.net.sf == 8
    _unanswered(hal, up)
    _unanswered(hal, up)
    assert hal.net.sf == 9
    # Kept across deep sleep.
    hal2, _ = _net()
    up2 = Uplink("B1", hal2)
    up2.restore_link(up.link_state())
    assert hal2.net.sf == 9
    up2.restore_link(b"")  # power-on: nothing kept
    assert hal2.net.sf == 9


def test_a_retransmission_waits_for_the_duty_cycle_and_is_not_counted():
    hal, modem, up, _ = _uplink()
    ex = up.exchange
    assert ex.attempts == 1
    hal.net.duty.record(radio_plan.UPLINK_KHZ, 35990, hal.clock.ms())
    hal.clock.now_ms = ex.next_ms
    up.poll()
    assert len(modem.sent()) == 1 and ex.attempts == 1 and not ex.done
    assert ex.next_ms > hal.clock.ms() + 3000000
    assert len([ln for ln in hal.lines if "duty cycle" in ln]) == 1
    up.poll()
    assert len([ln for ln in hal.lines if "duty cycle" in ln]) == 1  # logged once
    hal.clock.now_ms = up.next_deadline_ms()
    up.poll()
    assert len(modem.sent()) == 2 and ex.attempts == 2


def test_a_first_transmission_over_budget_waits_too():
    hal, modem = _net()
    hal.net.duty.record(radio_plan.UPLINK_KHZ, 36000, 0)
    up = Uplink("B1", hal)
    up.post_confirmable("b", b"\x01")
    assert modem.sent() == [] and up.busy() and up.exchange.attempts == 0
    assert up.next_deadline_ms() == 36000 + 3600000
    hal.clock.now_ms = up.next_deadline_ms()
    up.poll()
    assert len(modem.sent()) == 1


# --- config -------------------------------------------------------------------

def _config(**raw):
    from firmware import settings as config
    base = {"id": "B1", "role": "bin"}
    base.update(raw)
    try:
        return config.Config(base)
    except config.ConfigError as e:
        return str(e)


def test_a_lora_node_needs_no_gateway_host_and_gets_defaults():
    cfg = _config(transport="lora")
    assert cfg.transport == "lora" and cfg.gateway_host is None
    assert (cfg.lora.sf, cfg.lora.output_power, cfg.lora.modem) == (7, 14, "sx1262")
    cfg = _config(transport="lora", lora={"sf": 9, "modem": "sx1276", "pins": {"cs": 5}})
    assert cfg.lora.sf == 9 and cfg.lora.pins["cs"] == 5 and cfg.lora.pins["busy"] is None
    assert "gateway_host" in _config()  # over Wi-Fi it is still needed


def test_bad_lora_settings_are_named_in_one_line():
    for raw, words in (
            ({"transport": "radio"}, "transport must be one of"),
            ({"transport": "lora", "lora": {"sf": 6}}, "lora.sf must be between 7 and 12"),
            ({"transport": "lora", "lora": {"output_power": 21}}, "lora.output_power"),
            ({"transport": "lora", "lora": {"modem": "rfm95"}}, "lora.modem must be one of"),
            ({"transport": "lora", "lora": {"pins": {"cs": 34}}}, "lora.pins.cs"),
            ({"transport": "lora", "lora": {"pins": {"nss": 5}}}, "not a LoRa pin"),
            ({"transport": "lora", "lora": []}, "lora must be an object"),
            ({"gateway_host": "gw", "lora": {"sf": 8}}, 'transport is "wifi"')):
        err = _config(**raw)
        assert isinstance(err, str) and words in err and "\n" not in err, (raw, err)


def test_a_bridge_has_six_sx1262_at_sf7_to_sf12_by_default():
    cfg = _config(role="bridge")
    assert [r.sf for r in cfg.radios] == [7, 8, 9, 10, 11, 12]
    assert cfg.receivers[0] == (radio_plan.UPLINK_KHZ, 7)
    assert len(set(r.pins["cs"] for r in cfg.radios)) == 6
    assert [r.sf for r in _config(role="bridge", radios=[{"sf": 9}]).radios] == [9]
    assert "its own SF" in _config(role="bridge", radios=[{"sf": 9}, {"sf": 9}])
    assert "radios must be a list" in _config(role="bridge", radios=[])
