"""The daily open-data files made lately, kept a short while: a portal that
harvests a day fetches its datapackage.json and then each file, and each
would otherwise read and work out the whole day again. A day's files are
made once at a time, however many ask at once."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import date

from gateway.opendata.export.files import DayFiles

KEEP_S = 60.0
DAYS_KEPT = 8


class DayCache:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._making = threading.Lock()
        self._kept: OrderedDict[date, tuple[float, DayFiles]] = OrderedDict()

    def _fresh(self, day: date) -> DayFiles | None:
        with self._lock:
            kept = self._kept.get(day)
            if kept is not None and self.clock() - kept[0] <= KEEP_S:
                return kept[1]
            return None

    def get(self, day: date, make: Callable[[], DayFiles]) -> DayFiles:
        files = self._fresh(day)
        if files is not None:
            return files
        with self._making:
            files = self._fresh(day)
            if files is not None:
                return files
            made_at = self.clock()
            files = make()
            with self._lock:
                self._kept[day] = (made_at, files)
                self._kept.move_to_end(day)
                while len(self._kept) > DAYS_KEPT:
                    self._kept.popitem(last=False)
            return files
