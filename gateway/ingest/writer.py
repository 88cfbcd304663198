"""Group commit: requests that arrive while a commit is under way are stored
together in the next transaction, so that a durable commit per report does not
cap the ingest rate. Each caller learns once its own record is on disk.

Commits are at least COMMIT_GAP_S apart: at hundreds of presence events a
second each would otherwise be a commit of its own, and each commit is a
hand-off to a thread and back, in which the event loop can wait for the
interpreter lock while the light wave's next event is due. A lone report
after a quiet spell is committed at once."""

from __future__ import annotations

import asyncio

from gateway.records import Record
from gateway.storage.store import Store
from gateway.tasks import cancel

COMMIT_GAP_S = 0.01


class BatchWriter:
    def __init__(self, store: Store, gap_s: float = COMMIT_GAP_S) -> None:
        self.store = store
        self.gap_s = gap_s
        self._last = float("-inf")  # when the last commit ended (loop time)
        self._queue: list[tuple[Record, asyncio.Future[bool]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sqlite-writer")

    async def write(self, record: Record) -> bool:
        """Store one record; True if new, False if it was already stored."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((record, fut))
        self._wake.set()
        return await fut

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                loop = asyncio.get_running_loop()
                wait = self._last + self.gap_s - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)  # what comes meanwhile joins this batch
                batch, self._queue = self._queue, []
                try:
                    fresh = await asyncio.to_thread(self.store.insert, [r for r, _ in batch])
                except Exception as e:  # the callers answer 5.00 and the node retries
                    self._last = asyncio.get_running_loop().time()
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(e)
                    continue
                self.batches += 1
                self._last = asyncio.get_running_loop().time()
                for (_, fut), new in zip(batch, fresh, strict=True):
                    if not fut.done():
                        fut.set_result(new)

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        while self._queue:
            await asyncio.sleep(0.01)
        await cancel(self._task)
