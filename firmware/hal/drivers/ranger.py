# The fill sensor behind its power switch: powered only while it takes the
# samples of one measurement (an idle ultrasonic module draws a few mA, a
# TF-Luna tens of mA: more than the sleeping ESP32 by far).
#
# `sensor` is a driver with `unit` ("us" or "mm"), `SETTLE_MS`, `GAP_MS`,
# `start()` (once after power-up) and `read()` (one sample or None):
# firmware/hal/drivers/ultrasonic.py, firmware/hal/drivers/tfluna.py.


class PoweredRanger:
    def __init__(self, sensor, power, sleep_ms):
        self.sensor = sensor
        self.power = power  # output pin: high switches the sensor's supply on
        self.sleep_ms = sleep_ms
        self.unit = sensor.unit
        power.value(0)

    def samples(self, n):
        """n raw samples (None for a failed one), the sensor on only meanwhile."""
        s = self.sensor
        out = []
        self.power.value(1)
        try:
            self.sleep_ms(s.SETTLE_MS)
            s.start()
            for i in range(n):
                if i and s.GAP_MS:
                    self.sleep_ms(s.GAP_MS)
                out.append(s.read())
        finally:
            self.power.value(0)
        return out
