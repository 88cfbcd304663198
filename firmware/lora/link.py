# Link feedback: the 8 bytes every CoAP response over LoRa carries (instead
# of diagnostic text), and the gateway's adaptive choice of spreading factor
# from the SNR it sees (as LoRaWAN's ADR does).
import struct

from firmware.lora import plan as radio_plan
from firmware.proto.crc16 import crc16
from firmware.proto.payload import DecodeError

FEEDBACK_FORMAT = ">bBHI"
FEEDBACK_LEN = 8
# The longest response on air, which the node's timers and the gateway's ACK
# deadline are reckoned with: a protected one (OSCORE). 4-byte header with an
# empty token, the OSCORE option (1 byte: empty, the answer reuses its
# request's nonce), payload marker, then the ciphertext: the code, payload
# marker and feedback, and the 8-byte tag. Unprotected: 13 bytes.
RESPONSE_LEN = 4 + 1 + 1 + 1 + 1 + FEEDBACK_LEN + 8
# Kept above the demodulation floor, for fading and for the installation.
INSTALLATION_MARGIN_DB10 = 100
STEP_DB10 = 30  # 3 dB per spreading factor step


class Feedback:
    def __init__(self, snr_db, sf, tag, time):
        self.snr_db = snr_db  # SNR of the uplink at the gateway, whole dB
        self.sf = sf  # spreading factor the node shall use from now on
        self.tag = tag  # node_tag() of the node the response is for
        self.time = time  # gateway's unix time, seconds

    def __eq__(self, other):
        return isinstance(other, Feedback) and (self.snr_db, self.sf, self.tag, self.time) \
            == (other.snr_db, other.sf, other.tag, other.time)

    def __repr__(self):
        return "Feedback(%d, %d, 0x%04x, %d)" % (self.snr_db, self.sf, self.tag, self.time)


def node_tag(node_id):
    """Tells a node its own responses from a neighbour's with the same message id."""
    return crc16(node_id.encode())


def encode_feedback(snr_db, sf, tag, time):
    if not radio_plan.SF_MIN <= sf <= radio_plan.SF_MAX:
        raise ValueError("spreading factor must be %d..%d, got %r"
                         % (radio_plan.SF_MIN, radio_plan.SF_MAX, sf))
    snr = max(-128, min(127, int(snr_db)))
    return struct.pack(FEEDBACK_FORMAT, snr, sf, tag & 0xFFFF, max(0, min(0xFFFFFFFF, time)))


def decode_feedback(data):
    if len(data) != FEEDBACK_LEN:
        raise DecodeError("link feedback must be %d bytes, got %d" % (FEEDBACK_LEN, len(data)))
    snr, sf, tag, time = struct.unpack(FEEDBACK_FORMAT, data)
    if not radio_plan.SF_MIN <= sf <= radio_plan.SF_MAX:
        raise DecodeError("link feedback has spreading factor %d, not %d..%d"
                          % (sf, radio_plan.SF_MIN, radio_plan.SF_MAX))
    return Feedback(snr, sf, tag, time)


def adr_sf(snr_db10_history, current_sf, sfs_available):
    """The spreading factor a node should use, from the SNR (tenths of a dB)
    of its latest uplinks (at least the last 4 when there are that many; at
    most 8) at current_sf; one of sfs_available (a sorted list)."""
    sf = max(radio_plan.SF_MIN, min(radio_plan.SF_MAX, current_sf))
    if snr_db10_history:
        margin = max(snr_db10_history) - radio_plan.REQUIRED_SNR_DB10[sf] \
            - INSTALLATION_MARGIN_DB10
        if margin >= 0:
            sf -= margin // STEP_DB10
        else:
            sf += -(margin // STEP_DB10)  # ceil(-margin / STEP)
        sf = max(radio_plan.SF_MIN, min(radio_plan.SF_MAX, sf))
    if not sfs_available:
        return sf
    # Between the receivers' SFs the slower one: it still reaches the node.
    for s in sfs_available:
        if s >= sf:
            return s
    return sfs_available[-1]
