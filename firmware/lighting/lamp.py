# The lamp's level over time, as pure logic: it ramps towards its target, fast
# up and slow down, and counts the light it gave (for the energy estimate).
#
# Levels are light OUTPUT in % of full, what the zone profile and lighting
# standards name; a PWM-dimmed LED driver's output follows its duty. The eye
# sees brightness roughly as output ** (1 / 2.2), so a ramp moves evenly in
# that perceived brightness: a linear fade of output would seem to drop at
# once near the top and crawl near the bottom.
GAMMA = 2.2


def perceived(out_pct, gamma=GAMMA):
    """Light output (0..100 %) as perceived brightness (0..100)."""
    if out_pct <= 0:
        return 0.0
    return 100.0 * (min(out_pct, 100) / 100.0) ** (1.0 / gamma)


def output(p, gamma=GAMMA):
    """Perceived brightness (0..100) as light output (0..100 %)."""
    if p <= 0:
        return 0.0
    return 100.0 * (min(p, 100.0) / 100.0) ** gamma


class Lamp:
    """aim() sets a target; at(now) moves towards it and returns the output.
    Times are int milliseconds (a float cannot hold them on the ESP32)."""

    def __init__(self, now_ms, level_pct=0, gamma=GAMMA):
        self.gamma = gamma
        self.t = now_ms
        self.p = self.goal = perceived(level_pct, gamma)
        self.target = self.out = level_pct
        self.up = self.down = None  # perceived points per ms; None: at once
        self.pct_ms = 0  # integral of output % over ms (int: never loses a step)

    def ramps(self, up_ms, down_ms, lo_pct, hi_pct):
        """Ramps that take up_ms from lo_pct to hi_pct and down_ms back."""
        span = max(10.0, perceived(hi_pct, self.gamma) - perceived(lo_pct, self.gamma))
        self.up = span / up_ms if up_ms > 0 else None
        self.down = span / down_ms if down_ms > 0 else None

    def aim(self, now_ms, level_pct):
        """Ramp from where the lamp is now towards level_pct."""
        self.at(now_ms)
        self.target = level_pct
        self.goal = perceived(level_pct, self.gamma)
        if self._rate() is None:  # no ramp: there at once
            self.p = self.goal
            self.out = level_pct

    def _rate(self):
        return self.up if self.goal > self.p else self.down

    def remaining_ms(self):
        """Milliseconds until the target is reached (0: there)."""
        if self.p == self.goal:
            return 0
        rate = self._rate()
        if rate is None:
            return 0
        n = abs(self.goal - self.p) / rate - 0.001  # within a microsecond is there
        i = int(n)
        return max(1, i + 1 if i < n else i)

    def at(self, now_ms):
        """The output (0..100 %) at now_ms; never moves back in time."""
        dt = now_ms - self.t
        if dt <= 0:
            return self.out
        self.t = now_ms
        out0 = self.out
        if self.p != self.goal:
            rate = self._rate()
            need = self.remaining_ms() if rate is not None else 0
            if need <= dt:
                # There within this step: the ramp, then the target level.
                self.pct_ms += int((out0 + self.target) * need / 2)
                self.p = self.goal
                dt -= need
                out0 = self.target
            else:
                step = rate * dt
                if self.goal > self.p:
                    self.p = min(self.goal, self.p + step)
                else:
                    self.p = max(self.goal, self.p - step)
                out1 = self.out = self.level()
                self.pct_ms += int((out0 + out1) * dt / 2)
                return out1
        self.pct_ms += int(out0 * dt)
        self.out = out0
        return out0

    def level(self):
        if self.p == self.goal:
            return self.target  # exactly the target, not a rounded power
        return output(self.p, self.gamma)
