"""Live updates for people's screens as server-sent events, from the event
hub (gateway/api/hub.py), each client seeing the kinds its role may read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from gateway.accounts import Permission, allowed
from gateway.api.auth import Principal, require
from gateway.api.hub import EVENT_PERMISSIONS, Event, EventHub
from gateway.api.problems import Problem

HEARTBEAT_S = 15.0


def _frame(n: int, event: Event) -> str:
    return f"id: {n}\nevent: {event.kind}\ndata: {json.dumps(event.data)}\n\n"


router = APIRouter(tags=["live"])


@router.get("/events", response_class=StreamingResponse, summary="Live updates (SSE)",
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "bin-report, alarm, light-state and "
                                            "zone-push events, each as the role may see"},
                       503: {"description": "too many live streams open"}})
async def events(request: Request,
                 who: Principal = Depends(require(Permission.EVENTS_READ))) -> StreamingResponse:
    """Server-sent events: `bin-report`, `alarm` (a bin report's fire, tilt,
    lid, sensor-fault or low-battery), `light-state` (a pole's status
    report), `zone-push` (a zone's profile pushed: each pole's outcome and
    the revision it runs now), each only to the roles that may read bins,
    lights or zones. A comment
    line every 15 s keeps the connection open."""
    hub: EventHub = request.app.state.ctx.events
    q = hub.subscribe()
    if q is None:
        raise Problem(503, "too many live streams are open on this gateway; "
                           "close another screen or try again later")
    kinds = {k for k, p in EVENT_PERMISSIONS.items() if allowed(who.user.role, p)}

    async def stream() -> AsyncIterator[str]:
        n = 0
        try:
            yield "retry: 5000\n: connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(q.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if event is None:
                    return
                if event.kind in kinds:
                    n += 1
                    hub.sent += 1
                    yield _frame(n, event)
        finally:
            hub.unsubscribe(q)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

