"""Failed logins, counted per account and per source address over a sliding
window: past the limit, logins for that account (or from that address) are
refused with 429 until the oldest failure has aged out, even with the right
password, so that guessing gets nowhere. Bounded in memory whatever names
and addresses come."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from gateway.logs import LRU

WINDOW_S = 15 * 60.0
PER_ACCOUNT = 5
PER_ADDRESS = 20
KEYS_KEPT = 10000


class LoginLimiter:
    def __init__(self, per_account: int = PER_ACCOUNT, per_address: int = PER_ADDRESS,
                 window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window_s = window_s
        self.clock = clock
        self._failures: LRU[tuple[str, str], deque[float]] = LRU(KEYS_KEPT)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        now = self.clock()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def retry_after(self, account: str, address: str) -> float | None:
        """Seconds until a login for this account from this address may be
        tried again; None: it may be tried now."""
        waits = []
        for key, limit in ((("account", account.lower()), self.per_account),
                           (("address", address), self.per_address)):
            times = self._recent(key)
            if len(times) >= limit:
                waits.append(times[-limit] + self.window_s - self.clock())
        return max(1.0, max(waits)) if waits else None

    def failed(self, account: str, address: str) -> int:
        """Count a failure; returns the account's failures in the window."""
        now = self.clock()
        counts = []
        for key in (("account", account.lower()), ("address", address)):
            times = self._recent(key)
            times.append(now)
            self._failures.touch(key, times)
            counts.append(len(times))
        return counts[0]

    def succeeded(self, account: str) -> None:
        """The account's own count starts afresh; the address keeps its count."""
        self._failures.pop(("account", account.lower()), None)
