# LoRa time on air of one frame, from Semtech's formula (AN1200.13 / the
# SX127x datasheet). The node uses it to account its duty cycle; the
# simulator and the benchmarks use the same function.


def _ceil_div(a, b):
    return -(-a // b)


def airtime_us(payload_len, sf, bw_hz=125000, cr=1, preamble=8, explicit_header=True,
               crc=True):
    """Microseconds on air. cr is the coding-rate index: 1 = 4/5 ... 4 = 4/8."""
    if not 6 <= sf <= 12:
        raise ValueError("spreading factor must be 6..12")
    # Low data rate optimisation is mandated when a symbol lasts over 16 ms.
    low_dr = 1 if (1 << sf) * 1000 // (bw_hz // 1000) > 16000 else 0
    ih = 0 if explicit_header else 1
    num = 8 * payload_len - 4 * sf + 28 + (16 if crc else 0) - 20 * ih
    symbols = 8 + max(_ceil_div(num, 4 * (sf - 2 * low_dr)) * (cr + 4), 0)
    # (preamble + 4.25 + symbols) symbols of 2^sf / bw seconds each.
    sym_us_x4 = (1 << sf) * 4000000 // bw_hz
    return ((preamble * 4 + 17 + symbols * 4) * sym_us_x4) // 16


def airtime_ms(payload_len, sf):
    """Whole milliseconds on air, rounded up: what duty-cycle records count,
    so that they never count less than was sent."""
    return -(-airtime_us(payload_len, sf) // 1000)
