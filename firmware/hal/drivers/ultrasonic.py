# An HC-SR04 / JSN-SR04T class ultrasonic ranger: a pulse on the trigger pin
# starts a burst of ultrasound; the echo pin is then high for as long as the
# sound took there and back. Returns that time in microseconds; turning it
# into a distance needs the speed of sound, which needs the temperature, so
# that is firmware/waste/measure.py's job.
#
# The pins and the two timing functions are given, so that the driver runs on
# any board (machine.Pin, machine.time_pulse_us, time.sleep_us on the ESP32)
# and against fake pins in the tests.

# The datasheets ask for at least 10 us; some JSN-SR04T revisions need more.
TRIGGER_US = 20
# Longest echo waited for: 30 ms is about 5 m there and back, past the
# sensors' 4-4.5 m range.
TIMEOUT_US = 30000


class Ultrasonic:
    unit = "us"
    # After power-up the module needs time before its first ping, and a ping's
    # echoes need ~60 ms to die away before the next (both datasheets).
    SETTLE_MS = 100
    GAP_MS = 60

    def __init__(self, trigger, echo, pulse_us, sleep_us):
        self.trigger = trigger  # output pin
        self.echo = echo  # input pin
        self.pulse_us = pulse_us  # like machine.time_pulse_us(pin, level, timeout_us)
        self.sleep_us = sleep_us
        trigger.value(0)

    def start(self):
        pass

    def read(self):
        """One ping: the echo's round trip in microseconds, or None."""
        t = self.trigger
        t.value(0)
        self.sleep_us(2)
        t.value(1)
        self.sleep_us(TRIGGER_US)
        t.value(0)
        us = self.pulse_us(self.echo, 1, TIMEOUT_US)
        # time_pulse_us returns -1 (no echo began) or -2 (it never ended) on timeout.
        return us if us > 0 else None
