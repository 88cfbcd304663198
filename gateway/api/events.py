"""Live updates for people's screens as server-sent events, from the event
hub (gateway/api/hub.py), each client seeing the kinds its role may read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from gateway.accounts import Permission
from gateway.api.auth import Principal, require
from gateway.api.hub import Event, EventHub, sees
from gateway.api.problems import Problem

HEARTBEAT_S = 15.0


def _frame(n: int, event: Event) -> str:
    return f"id: {n}\nevent: {event.kind}\ndata: {json.dumps(event.data)}\n\n"


router = APIRouter(tags=["live"])


@router.get("/events", response_class=StreamingResponse, summary="Live updates (SSE)",
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "bin-report, alarm, alarm-ack, "
                                            "light-state, zone-push, plan, route "
                                            "and stop events, each as the role "
                                            "may see"},
                       503: {"description": "too many live streams open"}})
async def events(request: Request,
                 who: Principal = Depends(require(Permission.EVENTS_READ))) -> StreamingResponse:
    """Server-sent events: `bin-report`, `alarm` (a bin report's fire, tilt,
    lid, sensor-fault or low-battery), `alarm-ack` (someone acknowledged
    one), `light-state` (a pole's status report), `zone-push` (a zone's
    profile pushed: each pole's outcome and the revision it runs now), each
    only to the roles that may read bins, alarms, lights or zones; `plan` (a
    new plan, to those who read every route), `route` (a truck's route on a
    new plan) and `stop` (a stop recorded emptied or unreachable), to those
    who read every route and to the truck's own crew. A comment line every
    15 s keeps the connection open."""
    hub: EventHub = request.app.state.ctx.events
    q = hub.subscribe()
    if q is None:
        raise Problem(503, "too many live streams are open on this gateway; "
                           "close another screen or try again later")
    role, crew = who.user.role, who.user.crew

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
                if sees(role, crew, event):
                    n += 1
                    hub.sent += 1
                    yield _frame(n, event)
        finally:
            hub.unsubscribe(q)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

