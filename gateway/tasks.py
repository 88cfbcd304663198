"""Stopping the gateway's background tasks."""

from __future__ import annotations

import asyncio
from contextlib import suppress


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait until it has stopped."""
    if task is None:
        return
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
