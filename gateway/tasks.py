"""Stopping the gateway's background tasks, and keeping the garbage
collector's pauses short."""

from __future__ import annotations

import asyncio
import gc
from contextlib import suppress


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait until it has stopped."""
    if task is None:
        return
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


def settle_heap() -> None:
    """Collect once, then leave everything alive now out of the garbage
    collector's future passes (gc.freeze): call it when a large, long-lived
    structure has just been built (the gateway's start, a new light wave).

    A full collection walks every object the process holds: with a
    district's nodes, contexts and light wave that is a pause of tens to
    hundreds of milliseconds on the event loop, at moments the collector
    picks, and a presence event that comes meanwhile waits for it. Frozen,
    those objects are still freed by reference counting when dropped (the
    old wave); the later passes walk only what came after. The collection
    here is the one pause, at a moment the gateway chose, and it is short
    after the first: what was frozen before is not walked again."""
    gc.collect()
    gc.freeze()
