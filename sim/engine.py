"""The simulator's one engine: a virtual clock every node of a simulation
shares, and one queue of what happens next in virtual time.

Each simulation (the district day over loopback UDP, the LoRa district, the
night of street lighting) schedules its events here and runs them in time
order; what it waits for between two events is its own business (real
datagrams from a running gateway, frames ending on the simulated air), which
is why each keeps its small loop around `due()` and `fire()`."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable


class VirtualClock:
    """Shared by every node of a simulation; only the engine moves it forward."""

    def __init__(self, start_unix: int) -> None:
        self.start_unix = start_unix
        self.now_ms = 0

    def ms(self) -> int:
        return self.now_ms

    def time(self) -> int:
        return self.start_unix + self.now_ms // 1000

    def advance_to(self, t_ms: int) -> None:
        """Time never runs backwards: an event scheduled in the past runs now."""
        self.now_ms = max(self.now_ms, t_ms)


class Engine:
    def __init__(self, start_unix: int) -> None:
        self.clock = VirtualClock(start_unix)
        # Ties run in the order they were scheduled: a simulation replays
        # the same way every time with the same seed.
        self._heap: list[tuple[int, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def at(self, t_ms: int, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (t_ms, next(self._order), action))

    def after(self, delay_ms: int, action: Callable[[], None]) -> None:
        self.at(self.clock.now_ms + delay_ms, action)

    def next_ms(self) -> int | None:
        """When the next event is due (None: nothing scheduled)."""
        return self._heap[0][0] if self._heap else None

    def due(self, until_ms: int) -> bool:
        """An event is scheduled at or before until_ms."""
        return bool(self._heap) and self._heap[0][0] <= until_ms

    def fire(self) -> None:
        """Move the clock to the next event and run it."""
        t, _, action = heapq.heappop(self._heap)
        self.clock.advance_to(t)
        action()

    def run_until(self, until_ms: int) -> None:
        """Run every event due up to until_ms, those they schedule included."""
        while self.due(until_ms):
            self.fire()
