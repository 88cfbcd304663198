# One fill measurement from several raw samples of the ranging sensor: each
# sample to millimetres (an ultrasonic echo time through the speed of sound
# at the bin's temperature), samples that disagree with the rest dropped,
# the median of what is left, and the fill level from the bin's geometry.
# Pure logic: the samples come from the hardware layer
# (hal.fill_sensor.samples(n)). Loops rather than comprehensions: each
# comprehension is a code object of its own in the node's heap.

# Speed of sound in air, m/s: 331.3 at 0 C and 0.606 more per degree (the
# linear form of 331.3 * sqrt(1 + T / 273.15), within 0.2 % from -30 to 50 C).
SOUND_0C = 331.3
SOUND_PER_C = 0.606
# The other figures are written where they are used (a named constant costs
# the node heap):
#   10 C   the temperature assumed without a thermometer: a year-round
#          outdoor mean for the district; 10 C off it is 1.8 % off in distance
#   3 MAD  a sample further than 3 median absolute deviations from the median
#          is an outlier (a spurious echo off the bin's wall, a bag's edge)
#   5 mm   the spread is taken as at least this, so that samples agreeing to a
#          few millimetres are never thrown out for differing at all
#   3      fewer good samples than this and the measurement fails


def median(values):
    s = sorted(values)
    mid = len(s) // 2
    if len(s) & 1:
        return s[mid]
    return (s[mid - 1] + s[mid]) / 2


def robust_median(values):
    """The median of the values left after dropping None and outliers, or
    None when fewer than 3 are left."""
    good = []
    for v in values:
        if v is not None:
            good.append(v)
    if len(good) < 3:
        return None
    m = median(good)
    spread = []
    for v in good:
        spread.append(abs(v - m))
    limit = 3 * max(median(spread), 5)
    kept = []
    for v in good:
        if abs(v - m) <= limit:
            kept.append(v)
    return median(kept) if len(kept) >= 3 else None


def distance_mm(samples, unit, temp_c=None):
    """Raw samples ("us": echo microseconds, "mm": millimetres; None for a
    failed one) to one distance in millimetres, or None."""
    if unit == "us":
        # Round trip in microseconds times metres a second: micrometres there
        # and back; half of it over 1000 is millimetres.
        k = (SOUND_0C + SOUND_PER_C * (10 if temp_c is None else temp_c)) / 2000
        mm = []
        for v in samples:
            mm.append(None if v is None else v * k)
        samples = mm
    return robust_median(samples)


def fill_pct(distance_mm, empty_mm, full_mm):
    """Percent full, 0..100, from the distance down to the rubbish and the
    distances to an empty bin's bottom and to a full bin's top; None when
    there is no reading."""
    if distance_mm is None:
        return None
    pct = (empty_mm - distance_mm) * 100 / (empty_mm - full_mm)
    return 0.0 if pct < 0 else 100.0 if pct > 100 else pct
