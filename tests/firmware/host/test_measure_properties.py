"""Property tests of the fill measurement (firmware/waste/measure.py): whatever the
sensor delivers, the median with outlier rejection stays within what was
measured, and enough agreeing samples always give a reading."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from firmware.waste import measure

samples = st.lists(st.one_of(st.none(), st.floats(0, 10_000, allow_nan=False)), max_size=15)


@given(samples)
def test_a_reading_is_never_outside_the_samples_range(values: list[float | None]) -> None:
    got = measure.robust_median(values)
    good = [v for v in values if v is not None]
    if got is not None:
        assert min(good) <= got <= max(good)


@given(samples)
def test_fewer_than_three_samples_never_give_a_reading(values: list[float | None]) -> None:
    if sum(v is not None for v in values) < 3:
        assert measure.robust_median(values) is None


@st.composite
def majority_agreeing(draw: st.DrawFn) -> tuple[list[float | None], list[float]]:
    """k >= 3 samples within 10 mm of each other, fewer wild ones (anything,
    or no echo at all), in any order."""
    centre = draw(st.floats(150, 5000))
    good = draw(st.lists(st.floats(0, 10).map(lambda d: centre + d), min_size=3, max_size=9))
    wild = draw(st.lists(st.one_of(st.none(), st.floats(0, 10_000)),
                         max_size=len(good) - 1))
    mixed: list[float | None] = [*good, *wild]
    return draw(st.permutations(mixed)), good


@given(majority_agreeing())
def test_a_majority_of_agreeing_samples_always_gives_a_reading_among_them(
        case: tuple[list[float | None], list[float]]) -> None:
    values, good = case
    got = measure.robust_median(values)
    assert got is not None
    assert min(good) <= got <= max(good)


@given(samples, st.randoms(use_true_random=False))
def test_the_order_of_the_samples_does_not_matter(values: list[float | None],
                                                  rnd: object) -> None:
    shuffled = list(values)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert measure.robust_median(values) == measure.robust_median(shuffled)


@given(st.integers(100, 30_000), st.floats(-30, 60), st.floats(-30, 60))
def test_warmer_air_makes_the_same_echo_a_longer_distance(echo_us: int, t1: float,
                                                          t2: float) -> None:
    d1 = measure.distance_mm([echo_us] * 3, "us", t1)
    d2 = measure.distance_mm([echo_us] * 3, "us", t2)
    assert d1 is not None and d2 is not None
    assert (d1 < d2) == (t1 < t2) or d1 == d2
    # The speed of sound is 331.3 + 0.606 T within the sensors' whole range.
    assert abs(d1 - echo_us * (331.3 + 0.606 * t1) / 2000) < 1e-6 * d1


@given(st.one_of(st.none(), st.floats(-1000, 10_000)), st.integers(50, 5000),
       st.integers(20, 4999))
def test_fill_is_within_zero_and_a_hundred(distance: float | None, empty: int,
                                           full: int) -> None:
    if full >= empty:
        return
    pct = measure.fill_pct(distance, empty, full)
    assert (pct is None) == (distance is None)
    if pct is not None:
        assert 0 <= pct <= 100
