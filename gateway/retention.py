"""Raw presence events are kept presence_keep_days (docs/privacy.md) and then
deleted by the running gateway itself: a task that wakes every CHECK_S and
deletes what has aged out in batches, each its own short transaction in a
worker thread, so that the reports being stored meanwhile wait at most one
batch and the event loop not at all."""

from __future__ import annotations

import asyncio
import logging
import time

from gateway.storage.store import Store
from gateway.tasks import cancel

log = logging.getLogger("gateway.retention")

CHECK_S = 600.0
BATCH = 2000
# Between batches, the writer and the readers get the database.
PAUSE_S = 0.05


class PresenceRetention:
    def __init__(self, store: Store, keep_days: float, check_s: float = CHECK_S) -> None:
        self.store = store
        self.keep_s = keep_days * 86400
        self.check_s = check_s
        self.deleted = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="presence-retention")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.purge(time.time())
            except Exception as e:  # tried again at the next turn
                log.error("presence events past their retention not deleted: %s", e)
            await asyncio.sleep(self.check_s)

    async def purge(self, now: float) -> int:
        """Delete every presence event measured more than keep_days before now."""
        before = now - self.keep_s
        total = 0
        while True:
            n = await asyncio.to_thread(self.store.delete_presence_before, before, BATCH)
            total += n
            if n < BATCH:
                break
            await asyncio.sleep(PAUSE_S)
        if total:
            self.deleted += total
            log.info("deleted %d presence event(s) older than %g days", total,
                     self.keep_s / 86400)
        return total
