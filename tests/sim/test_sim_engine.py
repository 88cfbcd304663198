"""The simulator's engine: events run in virtual-time order, ties in the order
they were scheduled (so a seed replays exactly), and time never runs back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sim.engine import Engine


@given(st.lists(st.integers(0, 10_000), max_size=60))
def test_events_run_in_time_order_and_ties_in_scheduling_order(times: list[int]) -> None:
    engine = Engine(1_700_000_000)
    ran: list[tuple[int, int]] = []
    for i, t in enumerate(times):
        engine.at(t, lambda i=i, t=t: ran.append((engine.clock.now_ms, i)))  # type: ignore[misc]
    engine.run_until(10_000)
    assert ran == sorted(((t, i) for i, t in enumerate(times)))
    assert engine.next_ms() is None


def test_an_event_scheduled_in_the_past_runs_now_and_the_clock_stays() -> None:
    engine = Engine(100)
    seen: list[int] = []
    engine.at(5_000, lambda: engine.at(1_000, lambda: seen.append(engine.clock.now_ms)))
    engine.run_until(60_000)
    assert seen == [5_000]
    assert engine.clock.time() == 105


def test_run_until_leaves_later_events_for_later() -> None:
    engine = Engine(0)
    seen: list[int] = []
    for t in (1_000, 2_000, 3_000):
        engine.at(t, lambda t=t: seen.append(t))  # type: ignore[misc]
    engine.run_until(2_000)
    assert seen == [1_000, 2_000] and engine.next_ms() == 3_000
    engine.after(500, lambda: seen.append(-1))  # 500 ms after 2 s
    engine.run_until(10_000)
    assert seen == [1_000, 2_000, -1, 3_000]
