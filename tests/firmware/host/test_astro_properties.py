"""Sunrise and sunset for any place and day."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from firmware.lighting import astro

days = st.integers(19000, 25000)


@given(st.floats(-65, 65), st.floats(-180, 180), days)
def test_a_day_has_its_sunrise_before_its_sunset(lat: float, lon: float, day: int) -> None:
    rise, set_ = astro.sun_times(lat, lon, day)
    assert set_ is not None
    assert 0 < set_ - rise < 86400
    assert not astro.is_dark(lat, lon, (rise + set_) // 2)  # midday is light
    assert astro.is_dark(lat, lon, set_ + 3600) or astro.is_dark(lat, lon, rise - 3600)


@given(st.floats(-89, 89), st.floats(-180, 180), days,
       st.sampled_from([astro.SUNRISE_ALTITUDE, astro.CIVIL_TWILIGHT]))
def test_polar_answers_only_at_high_latitudes(lat: float, lon: float, day: int,
                                              altitude: float) -> None:
    rise, set_ = astro.sun_times(lat, lon, day, altitude)
    if set_ is None:
        assert abs(lat) > 58  # midsummer twilight all night starts near Stockholm
        assert rise in (astro.POLAR_DAY, astro.POLAR_NIGHT)
