# The EU868 radio plan every LoRa part of the system shares: nodes, the radio
# bridge, the gateway's downlink scheduler and the simulator.
#
# Uplinks go on one channel in sub-band g1 (868.0-868.6 MHz, 1 % duty cycle);
# the gateway answers on 869.525 MHz in sub-band g3 (869.4-869.65 MHz, 10 %),
# with inverted IQ so that nodes never hear each other's uplinks and the
# bridge never hears its own downlinks (as LoRaWAN does).
#
# g3 allows 500 mW ERP against g1's 25 mW. The bridge answers at 20 dBm (an
# SX1276's PA_BOOST ceiling), 6 dB above a node's 14 dBm: two spreading
# factors' worth of sensitivity (2.5 dB each). So a node hears its answers two
# steps below its uplink SF: an SF12 node's ACK takes 0.33 s on air instead of
# 1.15 s, and the 10 % downlink serves three times as many answers.

UPLINK_KHZ = 868100
DOWNLINK_KHZ = 869525
BW = "125"
BW_HZ = 125000
CODING_RATE = 5  # 4/5, micropython-lib's lora_cfg value
CR_INDEX = 1  # the same rate as firmware.lora.airtime counts it
PREAMBLE = 8
SF_MIN = 7
SF_MAX = 12
MAX_FRAME = 255  # the largest LoRa payload
DOWNLINK_POWER_DBM = 20
DOWNLINK_SF_STEP = 2

# (low kHz inclusive, high kHz exclusive, duty divisor): 100 is 1 %, 10 is 10 %.
SUB_BANDS = (
    (868000, 868600, 100),  # g1
    (869400, 869650, 10),  # g3
)

# Lowest SNR each spreading factor still demodulates, in tenths of a dB
# (Semtech SX1276 datasheet, table 13). Integers: the ESP32 port's floats are
# single precision.
REQUIRED_SNR_DB10 = {7: -75, 8: -100, 9: -125, 10: -150, 11: -175, 12: -200}


def downlink_sf(uplink_sf):
    """The spreading factor the gateway answers a node on, and the node
    listens on, for a node sending at uplink_sf."""
    return max(SF_MIN, uplink_sf - DOWNLINK_SF_STEP)


def duty_divisor(freq_khz):
    """100 for a 1 % sub-band, 10 for 10 %; ValueError outside the plan."""
    for lo, hi, div in SUB_BANDS:
        if lo <= freq_khz < hi:
            return div
    raise ValueError("%d kHz is outside the radio plan's sub-bands" % freq_khz)


def sub_band(freq_khz):
    """Index of the sub-band a frequency lies in (duty cycle is per sub-band)."""
    for i, (lo, hi, _) in enumerate(SUB_BANDS):
        if lo <= freq_khz < hi:
            return i
    raise ValueError("%d kHz is outside the radio plan's sub-bands" % freq_khz)


def lora_cfg(freq_khz, sf, output_power=14, invert_iq_tx=False, invert_iq_rx=False):
    """A micropython-lib modem configuration (modem.configure) for this plan."""
    return {
        "freq_khz": freq_khz,
        "sf": sf,
        "bw": BW,
        "coding_rate": CODING_RATE,
        "preamble_len": PREAMBLE,
        "output_power": output_power,
        "crc_en": True,
        "implicit_header": False,
        "invert_iq_tx": invert_iq_tx,
        "invert_iq_rx": invert_iq_rx,
    }
