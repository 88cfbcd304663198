# The lamp driver's PWM dimming input (its frequency, pwm_hz, is set where
# hal/esp32.py makes the machine.PWM).


class PwmLed:
    """The lamp driver's PWM dimming input: light output follows the duty.
    max_duty is the duty at 100 %; invert for an input driven through an
    inverting transistor stage."""

    def __init__(self, pwm, max_duty=65535, invert=False):
        self.pwm = pwm  # machine.PWM
        self.max_duty = max_duty
        self.invert = invert

    def set_pct(self, pct):
        duty = int(max(0, min(100, pct)) * self.max_duty / 100 + 0.5)
        self.pwm.duty_u16(65535 - duty if self.invert else duty)
