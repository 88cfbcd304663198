# Nodes on LoRa speaking OSCORE (firmware/net/uplink.py, firmware/lora/uplink.py,
# firmware/net/secure.py): the same protected CoAP frame as over Wi-Fi, within
# 40 bytes on air; the link feedback (clock, spreading factor) read only from
# an answer that verifies; forged answers tagged with the public node id
# change nothing and count as no answer for the SF back-off; sequence numbers
# across deep sleep as over Wi-Fi. The gateway's side here is the node's own
# library with the ids swapped; the real gateway is met in tests/security/ and
# tests/gateway/radio/. MicroPython VM and CPython.
from fakehal import FakeHal, FakeModem, FakeRx, FakeStore, make_aes

from firmware import codec
from firmware import settings as config
from firmware.lighting.node import LightNode
from firmware.lora import link as lora_link
from firmware.lora import plan as radio_plan
from firmware.lora.net import LoraNet
from firmware.oscore.context import Context
from firmware.oscore.message import OPT_OSCORE, Endpoint, Request, parse_option
from firmware.oscore.sequence import ReplayWindow, SenderSequence
from firmware.proto import coap
from firmware.waste.node import BinNode

KEY = "000102030405060708090a0b0c0d0e0f"
KID = "07"
OPT_ECHO = 252
NODE = "B0001"
LATER = 1800000000  # what a forger would set the node's clock to


def _cfg(role="bin", **extra):
    raw = {"id": NODE, "role": role, "transport": "lora", "lora": {"sf": 7}, "key": KEY,
           "kid": KID, "empty_mm": 1000, "full_mm": 200, "threshold_pct": 75, "addr": 7}
    for k in extra:
        raw[k] = extra[k]
    return config.Config(raw)


class Gateway:
    """The gateway's end of the node's context."""

    def __init__(self, key=KEY):
        ctx = Context(make_aes, bytes.fromhex(key), None, b"", bytes.fromhex(KID))
        self.ep = Endpoint(ctx, SenderSequence(FakeStore()), ReplayWindow(FakeStore()))

    def answer(self, data, sf=9, unix=LATER, code=coap.CHANGED, options=None, node=NODE):
        """The protected answer a gateway puts on the air: the link feedback
        inside."""
        req, request = self.ep.unprotect_request(coap.decode(data))
        fb = lora_link.encode_feedback(-3, sf, lora_link.node_tag(node), unix)
        msg = coap.Message(coap.ACK, code, req.mid, req.token, options or [], fb)
        return req, coap.encode(self.ep.protect_response(msg, request))

    def forge(self, data, sf=12, unix=LATER):
        """An answer protected with this (wrong) key for the request it read
        off the air, which it cannot decrypt."""
        req = coap.decode(data)
        piv, kid, _ = parse_option(req.option(OPT_OSCORE))
        request = Request(kid, piv, self.ep.context.nonce(kid, piv))
        fb = lora_link.encode_feedback(10, sf, lora_link.node_tag(NODE), unix)
        msg = coap.Message(coap.ACK, coap.CHANGED, req.mid, req.token, [], fb)
        return coap.encode(self.ep.protect_response(msg, request))


def forged(data, code=coap.CHANGED, sf=12, unix=LATER):
    """An unprotected answer in the compact form, with the tag of the node's
    public id: what anyone with a radio can send."""
    req = coap.decode(data)
    fb = lora_link.encode_feedback(10, sf, lora_link.node_tag(NODE), unix)
    return coap.encode(coap.Message(coap.ACK, code, req.mid, req.token, [], fb))


def _hal(**kw):
    hal = FakeHal(**kw)
    hal.outbox = FakeStore()
    hal.modem = FakeModem(hal.clock)
    return hal


def _wake(hal, cfg=None):
    """A wake from deep sleep: the LoRa link and the node made anew."""
    hal.net = LoraNet(hal.modem, NODE, hal.clock, hal.log, sf=7, listen=False)
    node = BinNode(cfg or _cfg(), hal)
    return node


def _poll_until_idle(hal, node, answer=None):
    """Drive the exchanges to their end; answer(wire) gives what arrives
    after each transmission (or None)."""
    sent = 0
    while True:
        frames = hal.modem.sent()
        if answer is not None and len(frames) > sent:
            sent = len(frames)
            reply = answer(frames[-1])
            if reply is not None:
                hal.modem.inbox.append(FakeRx(reply))
        if not node.poll():
            return
        nxt = node.next_deadline_ms()
        if nxt is not None and nxt > hal.clock.ms() and not hal.modem.inbox:
            hal.clock.now_ms = nxt


def test_a_lora_report_goes_protected_in_40_bytes_and_only_verified_feedback_counts():
    hal = _hal()
    gw = Gateway()
    node = _wake(hal)
    assert node.wake()
    node.send()
    wire = hal.modem.sent()[-1]
    outer = coap.decode(wire)
    assert outer.option(OPT_OSCORE) is not None and outer.path() == ""
    assert len(wire) <= 40
    t0 = hal.clock.time()
    # Forged answers: unprotected with the node's tag, protected with another
    # key, an empty ACK. None sets the clock or the SF, none ends the exchange.
    hal.modem.inbox.append(FakeRx(forged(wire)))
    hal.modem.inbox.append(FakeRx(Gateway("ff" * 16).forge(wire)))
    hal.modem.inbox.append(FakeRx(coap.encode(coap.Message(coap.ACK, coap.EMPTY, outer.mid))))
    assert node.poll()
    assert hal.net.sf == 7 and node.uplink.sf is None
    assert abs(hal.clock.time() - t0) < 5
    assert len(node.outbox) == 1 and node.uplink.unverified == 2
    # The gateway's own answer: stored, its feedback applied.
    req, answer = gw.answer(wire, sf=9, unix=LATER)
    assert req.path() == "b"  # the key names the node
    hal.modem.inbox.append(FakeRx(answer))
    assert not node.poll()
    assert len(node.outbox) == 0 and node.acked
    assert hal.net.sf == 9 and hal.clock.time() == LATER
    assert len(answer) == lora_link.RESPONSE_LEN


def test_a_forged_lora_refusal_never_drops_a_fire_report_and_the_sf_still_backs_off():
    hal = _hal(temp_c=90)
    node = _wake(hal)
    assert node.wake()
    node.send()
    _poll_until_idle(hal, node, lambda wire: forged(wire, code=coap.BAD_REQUEST))
    assert len(node.outbox) == 1 and not node.refused
    assert codec.decode_bin_report(node.outbox.head()[1]).flags & codec.BIN_FLAG_FIRE
    assert node.uplink.misses == 1  # forgeries are no answer
    node.sleep()
    hal.clock.advance(3600 * 1000)
    node = _wake(hal)
    node.wake()
    node.send()
    _poll_until_idle(hal, node, lambda wire: forged(wire, code=coap.BAD_REQUEST, sf=7))
    # Two exchanges in a row with nothing verified: one SF slower, as LoRaWAN's
    # back-off, whatever the forged feedback said.
    assert hal.net.sf == 8
    assert len(node.outbox) == 2 and not node.refused
    node.sleep()
    # The gateway's word arrives: every report stored.
    hal.clock.advance(3600 * 1000)
    node = _wake(hal)
    node.wake()
    node.send()
    gw = Gateway()
    _poll_until_idle(hal, node, lambda wire: gw.answer(wire, sf=8)[1])
    assert len(node.outbox) == 0 and len(node.acked) == 3


def test_the_gateways_echo_challenge_over_lora_is_answered_with_its_feedback():
    hal = _hal()
    gw = Gateway()
    node = _wake(hal)
    node.wake()
    node.send()
    first = hal.modem.sent()[-1]
    _, challenge = gw.answer(first, sf=10, code=0x81, options=[(OPT_ECHO, b"\x11" * 8)])
    hal.modem.inbox.append(FakeRx(challenge))
    assert node.poll()
    assert hal.net.sf == 10  # verified: its feedback counts
    repeat = hal.modem.sent()[-1]
    assert repeat != first and coap.decode(repeat).mid != coap.decode(first).mid
    req, answer = gw.answer(repeat, sf=10)
    assert req.option(OPT_ECHO) == b"\x11" * 8
    hal.modem.inbox.append(FakeRx(answer))
    assert not node.poll()
    assert len(node.outbox) == 0


def test_sequence_numbers_over_lora_survive_deep_sleep_and_power_loss():
    hal = _hal()
    gw = Gateway()
    pivs = []
    for _ in range(3):
        node = _wake(hal, _cfg(heartbeat_s=10))
        if node.wake():
            node.send()
            wire = hal.modem.sent()[-1]
            pivs.append(coap.decode(wire).option(OPT_OSCORE)[1])
            hal.modem.inbox.append(FakeRx(gw.answer(wire)[1]))
            assert not node.poll()
        node.sleep()
        hal.net.sleep()
        hal.clock.advance(3600 * 1000)
    assert pivs == [0, 1, 2]  # exact across deep sleep: RTC memory
    hal.store.data = b""  # power loss
    node = _wake(hal)
    node.wake()
    node.send()
    assert coap.decode(hal.modem.sent()[-1]).option(OPT_OSCORE)[1] == 64  # past the bound


def test_a_lora_light_nodes_status_goes_protected_and_forged_feedback_is_ignored():
    hal = FakeHal()
    hal.settings = FakeStore()
    modem = FakeModem(hal.clock)
    hal.net = LoraNet(modem, "L7", hal.clock, hal.log, sf=7, listen=True)
    node = LightNode(_cfg("light", id="L7"), hal)
    assert node.uplink.oscore is not None
    node._send_status(hal.clock.ms(), True)
    wire = modem.sent()[-1]
    assert coap.decode(wire).option(OPT_OSCORE) is not None
    req = coap.decode(wire)
    fb = lora_link.encode_feedback(0, 12, lora_link.node_tag("L7"), LATER)
    modem.inbox.append(FakeRx(coap.encode(coap.Message(coap.ACK, coap.CHANGED, req.mid,
                                                       req.token, [], fb))))
    node.poll()
    assert hal.net.sf == 7 and node.uplink.busy()
    inner, answer = Gateway().answer(wire, sf=radio_plan.SF_MIN + 1, node="L7")
    assert inner.path() == "s"  # the key names the node
    modem.inbox.append(FakeRx(answer))
    node.poll()
    assert node.uplink.last_result[0] == "2.04" and hal.net.sf == 8


def test_a_lora_node_without_a_key_speaks_unprotected_as_before():
    hal = _hal()
    node = _wake(hal, _cfg(key=None, kid=None))
    node.wake()
    node.send()
    wire = hal.modem.sent()[-1]
    assert node.uplink.oscore is None and coap.decode(wire).path() == "b/" + NODE
    assert len(wire) <= 25
    hal.modem.inbox.append(FakeRx(forged(wire, sf=9)))
    assert not node.poll()  # its tag is all it has to go by
    assert hal.net.sf == 9 and len(node.outbox) == 0


def test_a_neighbours_protected_answer_is_not_even_decrypted():
    # A pole listens to the shared downlink all the time and hears every
    # node's answers: only one with its own request's message id is worth
    # decrypting.
    hal = FakeHal()
    hal.settings = FakeStore()
    modem = FakeModem(hal.clock)
    hal.net = LoraNet(modem, "L7", hal.clock, hal.log, sf=7, listen=True)
    node = LightNode(_cfg("light", id="L7"), hal)
    tried = []
    verify = node.uplink._verified

    def counting(msg, secured):
        tried.append(msg.mid)
        return verify(msg, secured)

    node.uplink._verified = counting
    node._send_status(hal.clock.ms(), True)
    mine = coap.decode(modem.sent()[-1])
    other = coap.encode(coap.Message(coap.ACK, coap.CHANGED, (mine.mid + 1) & 0xFFFF, b"",
                                     [(OPT_OSCORE, b"")], bytes(18)))
    modem.inbox.append(FakeRx(other))
    node.poll()
    assert tried == [] and node.uplink.busy()
    modem.inbox.append(FakeRx(Gateway().answer(modem.sent()[-1], node="L7")[1]))
    node.poll()
    assert tried == [mine.mid] and node.uplink.last_result[0] == "2.04"
