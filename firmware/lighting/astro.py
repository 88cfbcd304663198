# Sunrise and sunset for any place and day, so that lamps come on at dusk and
# go off at dawn with no link to anything: the node runs this itself, and the
# gateway uses the same module for its zones' hours. The NOAA solar
# position equations, accurate to about a minute between the polar circles;
# beyond them (and on Stockholm's midsummer nights, when the sun barely sets)
# a day can have no sunset or no sunrise, which is reported as such.
import math

# The sun's centre is this far below the horizon at sunrise and sunset:
# refraction (34') and the sun's radius (16').
SUNRISE_ALTITUDE = -0.833
CIVIL_TWILIGHT = -6.0

POLAR_DAY = 1  # the sun stays above the altitude all day
POLAR_NIGHT = -1  # it stays below


def _day_terms(unix_day):
    """Declination (radians) and equation of time (minutes) at noon UTC of
    the day unix_day (days since 1970-01-01)."""
    jc = (unix_day + 0.5 + 2440587.5 - 2451545.0) / 36525.0  # Julian centuries
    l0 = math.radians((280.46646 + jc * (36000.76983 + jc * 0.0003032)) % 360)
    m = math.radians(357.52911 + jc * (35999.05029 - 0.0001537 * jc))
    e = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc)
    c = (math.sin(m) * (1.914602 - jc * (0.004817 + 0.000014 * jc))
         + math.sin(2 * m) * (0.019993 - 0.000101 * jc) + math.sin(3 * m) * 0.000289)
    true_long = l0 + math.radians(c)
    omega = math.radians(125.04 - 1934.136 * jc)
    app_long = true_long - math.radians(0.00569 + 0.00478 * math.sin(omega))
    eps0 = 23 + (26 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60) / 60
    eps = math.radians(eps0 + 0.00256 * math.cos(omega))
    decl = math.asin(math.sin(eps) * math.sin(app_long))
    y = math.tan(eps / 2) ** 2
    eqt = 4 * math.degrees(
        y * math.sin(2 * l0) - 2 * e * math.sin(m) + 4 * e * y * math.sin(m) * math.cos(2 * l0)
        - 0.5 * y * y * math.sin(4 * l0) - 1.25 * e * e * math.sin(2 * m))
    return decl, eqt


def sun_times(lat, lon, unix_day, altitude=SUNRISE_ALTITUDE):
    """(rise, set) in unix seconds on that UTC day, when the sun's centre
    crosses `altitude` degrees; or (POLAR_DAY, None) / (POLAR_NIGHT, None)."""
    decl, eqt = _day_terms(unix_day)
    phi = math.radians(lat)
    cos_h = ((math.sin(math.radians(altitude)) - math.sin(phi) * math.sin(decl))
             / (math.cos(phi) * math.cos(decl)))
    if cos_h < -1:
        return POLAR_DAY, None
    if cos_h > 1:
        return POLAR_NIGHT, None
    h = math.degrees(math.acos(cos_h))
    noon_min = 720 - 4 * lon - eqt  # solar noon, minutes after 00:00 UTC
    # Whole seconds added to an integer day: the ESP32's single-precision
    # floats cannot hold a unix time to the second.
    base = unix_day * 86400
    return (base + int((noon_min - 4 * h) * 60), base + int((noon_min + 4 * h) * 60))


def is_dark(lat, lon, t, altitude=SUNRISE_ALTITUDE, dusk_offset_s=0, dawn_offset_s=0):
    """True when the lamps should be on at unix time t: the sun below the
    altitude, with the lamps on dusk_offset_s after sunset and off
    dawn_offset_s after sunrise (negative: before)."""
    # The sun's own local day, so that a place far east or west of Greenwich
    # looks at its own evening and morning.
    local_day = (t + int(lon * 240)) // 86400
    for day in (local_day - 1, local_day, local_day + 1):
        rise, set_ = sun_times(lat, lon, day, altitude)
        if set_ is None:
            if day == local_day:
                return rise == POLAR_NIGHT
            continue
        # Light from this day's rise (plus offset) to its set (plus offset).
        if rise + dawn_offset_s <= t < set_ + dusk_offset_s:
            return False
    # Not within any day's light period: dark, unless today is a polar day.
    rise, set_ = sun_times(lat, lon, local_day, altitude)
    return not (set_ is None and rise == POLAR_DAY)
