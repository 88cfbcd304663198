# A BH1750 ambient light sensor on I2C (ROHM datasheet): power on (0x01),
# continuous high-resolution mode (0x10, 1 lx steps, a new value every
# ~120 ms), then read two bytes, big-endian; lux = raw / 1.2.
ADDR = 0x23  # ADDR pin low; 0x5C with it high
POWER_ON = 0x01
CONTINUOUS_HIGH_RES = 0x10


class Bh1750:
    def __init__(self, i2c, addr=ADDR):
        self.i2c = i2c  # machine.I2C
        self.addr = addr
        self.started = False
        self._start()

    def _start(self):
        try:
            self.i2c.writeto(self.addr, bytes((POWER_ON,)))
            self.i2c.writeto(self.addr, bytes((CONTINUOUS_HIGH_RES,)))
            self.started = True
        except OSError:  # not answering: try again at the next reading
            self.started = False

    def lux(self):
        """Whole lux, or None when the sensor does not answer (or has only
        just been started and has no measurement yet)."""
        if not self.started:
            self._start()
            return None
        try:
            d = self.i2c.readfrom(self.addr, 2)
        except OSError:
            self.started = False
            return None
        return ((d[0] << 8) | d[1]) * 5 // 6  # raw / 1.2
