# OSCORE on the node's link to the gateway (firmware/oscore/): the security
# context from the node's key and kid (config.json: the key made at
# provisioning is the Master Secret, the kid the gateway gave at registration
# the node's Sender ID; the gateway's Sender ID is empty), with its sequence
# numbers and, for a node that takes the gateway's requests, its replay
# window. Both keep a bound ahead in flash (hal.flash_store(name)); a bin node
# keeps the exact sequence number in RTC memory across deep sleep (`rtc`).
#
# The same over Wi-Fi and over LoRa: the LoRa frame is the same CoAP message,
# the gateway's radio path unprotects it with the same context and answers
# protected, the link feedback (clock, spreading factor) inside the answer.
# A node without a key loads none of firmware/oscore/: wanted() is all it asks.

GATEWAY_ID = b""
SEQUENCE_STORE = "oscore_ssn"  # NVS keys: at most 15 characters
WINDOW_STORE = "oscore_win"


def wanted(cfg, net):
    """True when this node's exchanges with the gateway are protected: it has
    a key and a kid (over any link, `net`)."""
    return bool(getattr(cfg, "key", None) and getattr(cfg, "kid", None))


def endpoint(cfg, hal, rtc=None, requests=False):
    """The node's OSCORE Endpoint. rtc: what its sequence's state() gave before
    a deep sleep; requests: keep a replay window for the gateway's requests."""
    from firmware.oscore.context import Context
    from firmware.oscore.message import Endpoint
    from firmware.oscore.sequence import ReplayWindow, SenderSequence

    # bytes.fromhex: built in (binascii costs 7 KB of heap in the VM)
    ctx = Context(hal.aes, bytes.fromhex(cfg.key), None, bytes.fromhex(cfg.kid), GATEWAY_ID)
    seq = SenderSequence(hal.flash_store(SEQUENCE_STORE), state=rtc)
    window = ReplayWindow(hal.flash_store(WINDOW_STORE)) if requests else None
    return Endpoint(ctx, seq, window)
