# Sunrise and sunset, in the MicroPython VM as well as CPython. Reference times
# from published almanacs, to within a few minutes.
from firmware.lighting import astro

STOCKHOLM = (59.3293, 18.0686)
JUNE_21 = 20625  # 2026-06-21 as days since 1970-01-01
DEC_21 = 20808


def _hm(t):
    s = t % 86400
    return s // 3600, s % 3600 // 60


def _close(t, hh, mm, minutes=3):
    h, m = _hm(t)
    return abs((h * 60 + m) - (hh * 60 + mm)) <= minutes


def test_stockholm_midsummer_and_midwinter():
    rise, set_ = astro.sun_times(STOCKHOLM[0], STOCKHOLM[1], JUNE_21)
    assert _close(rise, 1, 31) and _close(set_, 20, 8)  # 03:31 and 22:08 local
    rise, set_ = astro.sun_times(STOCKHOLM[0], STOCKHOLM[1], DEC_21)
    assert _close(rise, 7, 44) and _close(set_, 13, 48)  # 08:44 and 14:48 local


def test_midsummer_night_in_stockholm_never_reaches_civil_darkness_for_long():
    # The sun dips only just below -6 degrees: civil dusk and dawn come
    # within about two hours of each other around 01:00 local.
    dusk, dawn = None, None
    rise, set_ = astro.sun_times(STOCKHOLM[0], STOCKHOLM[1], JUNE_21, astro.CIVIL_TWILIGHT)
    if set_ is not None:
        dusk = set_
        nxt = astro.sun_times(STOCKHOLM[0], STOCKHOLM[1], JUNE_21 + 1, astro.CIVIL_TWILIGHT)[0]
        dawn = nxt
        assert 0 < dawn - dusk < 3 * 3600
    else:
        assert rise == astro.POLAR_DAY


def test_polar_day_and_night_north_of_the_arctic_circle():
    assert astro.sun_times(67.86, 20.22, JUNE_21) == (astro.POLAR_DAY, None)
    assert astro.sun_times(67.86, 20.22, DEC_21) == (astro.POLAR_NIGHT, None)
    noon = JUNE_21 * 86400 + 11 * 3600
    assert not astro.is_dark(67.86, 20.22, noon)
    assert not astro.is_dark(67.86, 20.22, noon + 12 * 3600)  # midnight sun
    assert astro.is_dark(67.86, 20.22, DEC_21 * 86400 + 11 * 3600)  # midday, polar night


def test_is_dark_follows_the_day_with_offsets():
    lat, lon = STOCKHOLM
    rise, set_ = astro.sun_times(lat, lon, DEC_21)
    assert astro.is_dark(lat, lon, rise - 60)
    assert not astro.is_dark(lat, lon, rise + 60)
    assert not astro.is_dark(lat, lon, set_ - 60)
    assert astro.is_dark(lat, lon, set_ + 60)
    # Lamps on 15 minutes before sunset and off 15 minutes after sunrise.
    assert astro.is_dark(lat, lon, set_ - 600, dusk_offset_s=-900)
    assert astro.is_dark(lat, lon, rise + 600, dawn_offset_s=900)


def test_the_far_east_and_west_look_at_their_own_evening():
    # Sydney in June: dark at 20:00 local (10:00 UTC), light at noon local.
    day = JUNE_21
    assert astro.is_dark(-33.87, 151.21, day * 86400 + 10 * 3600)
    assert not astro.is_dark(-33.87, 151.21, day * 86400 + 2 * 3600)
    # Honolulu: noon local is 22:00 UTC.
    assert not astro.is_dark(21.31, -157.86, day * 86400 + 22 * 3600)
    assert astro.is_dark(21.31, -157.86, day * 86400 + 10 * 3600)
