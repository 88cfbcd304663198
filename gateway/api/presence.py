"""Presence as counts per zone and interval: how many detections, never
which pole saw someone when (the city's principle: counted, not tracked)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from gateway.accounts import Permission
from gateway.api.auth import require
from gateway.api.context import ApiContext, context

# Finer intervals would start to tell one passer-by from another.
INTERVAL_MIN_S = 300
INTERVAL_MAX_S = 86400
TIME_MAX = 2**40  # far beyond any date a node can report


class ZoneCount(BaseModel):
    zone: str
    start: int = Field(description="unix time (UTC) the interval starts")
    end: int = Field(description="unix time (UTC) it ends (exclusive)")
    events: int = Field(description="presence events the zone's poles reported")
    detections: int = Field(description="people and vehicles those events counted")


router = APIRouter(tags=["lighting"])


@router.get("/presence", response_model=list[ZoneCount],
            summary="Presence counts per zone and interval")
def presence(since: Annotated[int | None, Query(ge=0, le=TIME_MAX, description=(
                 "unix time (UTC), whole seconds; default: `until` less one day"))] = None,
             until: Annotated[int | None, Query(ge=0, le=TIME_MAX, description=(
                 "unix time (UTC), exclusive; default: now"))] = None,
             interval: Annotated[int, Query(ge=INTERVAL_MIN_S, le=INTERVAL_MAX_S, description=(
                 "seconds per interval"))] = 3600,
             zone: Annotated[str | None, Query(max_length=40)] = None,
             _: object = Depends(require(Permission.PRESENCE_READ)),
             ctx: ApiContext = Depends(context)) -> list[ZoneCount]:
    """Intervals with no event are left out, so the answer is never longer
    than the events stored; an empty span (since at or after until) has none."""
    end = int(time.time()) if until is None else until
    start = max(0, end - 86400) if since is None else since
    if start >= end:
        return []
    return [ZoneCount(zone=c.zone, start=c.start, end=min(c.start + interval, end),
                      events=c.events, detections=c.detections)
            for c in ctx.store.presence_counts(start, end, interval, zone)]
