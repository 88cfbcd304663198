# Benewake TF-Luna, a time-of-flight LiDAR ranger, in I2C mode (its pin 5
# tied to GND at power-up). Written from the TF-Luna product manual
# (SJ-PM-TF-Luna, section 6 and Appendix III, "I2C register table"):
# 16-bit values are little-endian register pairs.
#
#   0x00-0x01  DIST       distance, cm
#   0x02-0x03  AMP        signal strength; the distance is unreliable when it
#                         is below 100 or 0xFFFF (overexposed, e.g. by sun)
#   0x04-0x05  TEMP       chip temperature, 0.01 C
#   0x23       MODE       0x00 continuous ranging (default), 0x01 trigger mode
#   0x24       TRIG_ONE_SHOT  write 0x01: measure once (trigger mode)
#
# Trigger mode makes every sample a fresh measurement, and the manual
# recommends it over reading while the sensor updates its registers.
# The sensor is powered down between measurements, so the mode (not saved
# to its flash) is set again after every power-up.

ADDR = 0x10  # default 7-bit address
REG_DIST = 0x00
REG_MODE = 0x23
REG_TRIGGER = 0x24
MODE_TRIGGER = b"\x01"
TRIGGER = b"\x01"
AMP_MIN = 100
AMP_OVEREXPOSED = 0xFFFF


class TfLuna:
    unit = "mm"
    # Neither figure is stated in the manual: a generous start-up time, and a
    # wait after a trigger of several of its 2 ms internal measurements (the
    # wait between samples, so GAP_MS is 0). Check both on the first boards.
    SETTLE_MS = 200
    TRIGGER_WAIT_MS = 10
    GAP_MS = 0

    def __init__(self, i2c, sleep_ms, addr=ADDR):
        self.i2c = i2c  # a machine.I2C (or SoftI2C)
        self.sleep_ms = sleep_ms
        self.addr = addr

    def start(self):
        """After power-up: switch to trigger mode."""
        try:
            self.i2c.writeto_mem(self.addr, REG_MODE, MODE_TRIGGER)
        except OSError:
            pass  # no answer: read() will say so

    def read(self):
        """One measurement in millimetres, or None."""
        try:
            self.i2c.writeto_mem(self.addr, REG_TRIGGER, TRIGGER)
            self.sleep_ms(self.TRIGGER_WAIT_MS)
            b = self.i2c.readfrom_mem(self.addr, REG_DIST, 4)
        except OSError:
            return None
        dist = b[0] | b[1] << 8
        amp = b[2] | b[3] << 8
        if dist == 0 or amp < AMP_MIN or amp == AMP_OVEREXPOSED:
            return None
        return dist * 10
