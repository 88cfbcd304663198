# OSCORE on the node's link to the gateway (firmware/oscore/): the security
# context from the node's key and kid (config.json: the key made at
# provisioning is the Master Secret, the kid the gateway gave at registration
# the node's Sender ID; the gateway's Sender ID is empty), with its sequence
# numbers and, for a node that takes the gateway's requests, its replay
# window. Both keep a bound ahead in flash (hal.flash_store(name)); a bin node
# keeps the exact sequence number in RTC memory across deep sleep (`rtc`).
#
# Over LoRa the gateway does not unprotect yet (its radio path renders with
# the plain site): a LoRa node sends as before.
# A node without a key loads none of firmware/oscore/: wanted() is all it asks.

GATEWAY_ID = b""
SEQUENCE_STORE = "oscore_ssn"  # NVS keys: at most 15 characters
WINDOW_STORE = "oscore_win"


def wanted(cfg, net):
    """True when this node's exchanges with the gateway are protected: it has
    a key and a kid, and its link is not LoRa."""
    if not getattr(cfg, "key", None) or not getattr(cfg, "kid", None):
        return False
    return net is None or not net.is_lora


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
