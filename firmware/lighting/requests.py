# Requests from the gateway to a light node, on the node's own UDP socket:
#   POST /c  a brighten command (light_codec.Brighten) for this pole or a group
#   POST /z  the zone profile (light_codec.Profile), kept in flash
# A CON request is answered in a piggybacked ACK (2.04, or 4.00 with a short
# diagnostic, 4.04 for another path); a NON request is never answered.
#
# With OSCORE (the node has a key and a kid: node.uplink.oscore) a request
# protected with the node's context is verified, checked against the replay
# window and answered protected; one that does not verify is answered with
# the unprotected error OSCORE gives it (4.00, 4.01) and changes nothing. The
# zone profile is then taken protected only (an unprotected /z: 4.01).
# Brighten commands for several poles go in one frame, which needs a key the
# group shares: until then /c is taken unprotected as before.
from firmware.lighting import payload as light_codec
from firmware.proto import coap
from firmware.proto.coap import BAD_REQUEST, CHANGED, NOT_FOUND
from firmware.proto.paths import BRIGHTEN_PATH, PROFILE_PATH

OPT_OSCORE = 9
UNAUTHORIZED = 0x81  # 4.01


def _apply(node, msg, protected):
    code, text = CHANGED, b""
    try:
        path = msg.path() if msg.code == coap.POST else None
        if path == BRIGHTEN_PATH:
            node.brighten(light_codec.decode_brighten(msg.payload))
        elif path == PROFILE_PATH:
            if node.uplink.oscore is not None and not protected:
                code, text = UNAUTHORIZED, b"protect /z with OSCORE"
            else:
                node.set_profile(light_codec.decode_profile(msg.payload), msg.payload)
        else:
            code = NOT_FOUND
    except ValueError as e:  # DecodeError, or a path that is not UTF-8
        code, text = BAD_REQUEST, str(e).encode()[:60]
    return code, text


def handle(node, msg):
    """Apply one request to the light node; the bytes of the answer, or None."""
    ep = node.uplink.oscore
    if ep is None or msg.option(OPT_OSCORE) is None:
        code, text = _apply(node, msg, False)
        if msg.mtype != coap.CON:
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
        if msg.mtype != coap.CON:
            return None
        return coap.encode(coap.Message(coap.ACK, e.code, msg.mid, msg.token, None,
                                        str(e).encode()[:60]))
    code, text = _apply(node, inner, True)
    if msg.mtype != coap.CON:
        return None
    answer = coap.Message(coap.ACK, code, msg.mid, msg.token, None, text)
    data = coap.encode(ep.protect_response(answer, request))
    node.last_answer = (msg.mid, msg.payload, data)
    return data
