# Requests from the gateway to a light node, on the node's own UDP socket:
#   POST /c  a brighten command (light_codec.Brighten) for this pole or a group
#   POST /z  the zone profile (light_codec.Profile), kept in flash
# A CON request is answered in a piggybacked ACK (2.04, or 4.00 with a short
# diagnostic, 4.04 for another path); a NON request is never answered.
from firmware.lighting import payload as light_codec
from firmware.proto import coap
from firmware.proto.coap import BAD_REQUEST, CHANGED, NOT_FOUND
from firmware.proto.paths import BRIGHTEN_PATH, PROFILE_PATH


def handle(node, msg):
    """Apply one request to the light node; the bytes of the answer, or None."""
    code, text = CHANGED, b""
    try:
        path = msg.path() if msg.code == coap.POST else None
        if path == BRIGHTEN_PATH:
            node.brighten(light_codec.decode_brighten(msg.payload))
        elif path == PROFILE_PATH:
            node.set_profile(light_codec.decode_profile(msg.payload), msg.payload)
        else:
            code = NOT_FOUND
    except ValueError as e:  # DecodeError, or a path that is not UTF-8
        code, text = BAD_REQUEST, str(e).encode()[:60]
    if msg.mtype != coap.CON:
        return None
    return coap.encode(coap.Message(coap.ACK, code, msg.mid, msg.token, None, text))
