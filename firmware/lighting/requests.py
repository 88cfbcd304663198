# Requests from the gateway to a light node, on the node's own UDP socket:
#   POST /c  a brighten command (light_codec.Brighten) for this pole or a group
#   POST /z  the zone profile (light_codec.Profile), kept in flash
# A CON request is answered in a piggybacked ACK (2.04, or 4.00 with a short
# diagnostic, 4.04 for another path); a NON request is never answered.
#
# With OSCORE (the node has a key and a kid: node.uplink.oscore) a request
# protected with the node's context is verified, checked against the replay
# window and answered protected; one that does not verify is answered with
# the unprotected error OSCORE gives it (4.00, 4.01) and changes nothing --
# over Wi-Fi; over LoRa it is not answered at all (below). The
# zone profile is then taken protected only (an unprotected /z: 4.01), and
# the zone key that may come with it is kept.
#
# Brighten commands for several poles go in one frame, protected with the
# zone's key (firmware/oscore/group.py; the OSCORE option carries the gid as
# its kid context). That key lets a request do one thing: brighten. A group
# request is never answered, whatever it is; one that does not verify, is a
# replay, is under another zone's key or asks for anything but POST /c
# changes nothing and is counted (node.commands_refused). A pole with OSCORE
# or a zone key takes /c protected only, over Wi-Fi and over LoRa (where its
# profile push, and the zone key in it, come over the air); a pole with
# neither (no key provisioned) takes it unprotected as before.
from firmware.lighting import payload as light_codec
from firmware.proto import coap
from firmware.proto.coap import BAD_REQUEST, CHANGED, NOT_FOUND
from firmware.proto.paths import BRIGHTEN_PATH, PROFILE_PATH

OPT_OSCORE = 9
FLAG_KID_CONTEXT = 0x10  # OSCORE option: a kid context (here: a gid) follows
UNAUTHORIZED = 0x81  # 4.01


def _path(msg):
    try:
        return msg.path() if msg.code == coap.POST else None
    except ValueError:
        return None


def _group(node, msg):
    """A request protected with a zone key: brighten, or nothing at all."""
    zone = node.zone
    if zone is None:  # a node without a zone key loads no OSCORE for it
        node.commands_refused += 1
        return None
    from firmware.oscore.message import OscoreError  # loaded with a zone key only

    try:
        inner, _ = zone.unprotect_request(msg)
        if _path(inner) != BRIGHTEN_PATH:
            raise OscoreError("a zone key brightens only")
        node.brighten(light_codec.decode_brighten(inner.payload))
    except ValueError:  # OscoreError, DecodeError
        node.commands_refused += 1
    return None


def _apply(node, msg, protected):
    code, text = CHANGED, b""
    try:
        path = msg.path() if msg.code == coap.POST else None
        if path == BRIGHTEN_PATH:
            if not protected and (node.uplink.oscore is not None or node.zone is not None):
                node.commands_refused += 1  # never answered: nothing to learn from it
                return None, b""
            node.brighten(light_codec.decode_brighten(msg.payload))
        elif path == PROFILE_PATH:
            if node.uplink.oscore is not None and not protected:
                code, text = UNAUTHORIZED, b"protect /z with OSCORE"
            else:
                raw, zone_key = light_codec.split_profile_push(msg.payload)
                node.set_profile(light_codec.decode_profile(raw), raw,
                                 zone_key if protected else None)
        else:
            code = NOT_FOUND
    except ValueError as e:  # DecodeError, or a path that is not UTF-8
        code, text = BAD_REQUEST, str(e).encode()[:60]
    return code, text


def handle(node, msg):
    """Apply one request to the light node; the bytes of the answer, or None."""
    ep = node.uplink.oscore
    opt = msg.option(OPT_OSCORE)
    if opt and opt[0] & FLAG_KID_CONTEXT:
        return _group(node, msg)
    # Over LoRa every pole in range hears what the gateway sends any of them:
    # a keyed pole answers only what verifies with its own context, since a
    # frame that does not is most likely another pole's push, and an answer
    # would spend this pole's duty cycle (and the shared channel) for
    # whoever put a frame on the air.
    quiet = ep is not None and node.hal.net.is_lora
    if ep is None or opt is None:
        code, text = _apply(node, msg, False)
        if msg.mtype != coap.CON or code is None or quiet:
            return None
        return coap.encode(coap.Message(coap.ACK, code, msg.mid, msg.token, None, text))
    # A retransmission of the request answered last: the same answer (the
    # replay window would refuse it, and the first answer may have been lost).
    last = node.last_answer
    if last is not None and last[0] == msg.mid and last[1] == msg.payload:
        return last[2]
    from firmware.oscore.message import OscoreError  # loaded with OSCORE only

    try:
        inner, request = ep.unprotect_request(msg)
    except OscoreError as e:
        if msg.mtype != coap.CON or quiet:
            return None
        return coap.encode(coap.Message(coap.ACK, e.code, msg.mid, msg.token, None,
                                        str(e).encode()[:60]))
    code, text = _apply(node, inner, True)
    if msg.mtype != coap.CON or code is None:
        return None
    answer = coap.Message(coap.ACK, code, msg.mid, msg.token, None, text)
    data = coap.encode(ep.protect_response(answer, request))
    node.last_answer = (msg.mid, msg.payload, data)
    return data
