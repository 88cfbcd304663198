"""Presence as counts per zone and interval: how many people, never which
pole saw someone when (the city's principle: counted, not tracked;
docs/privacy.md). Intervals are whole quarter hours aligned to the clock and
already over; a count of fewer people than the gateway's presence_min_count
is suppressed (null), not shown as 0."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from gateway.accounts import Permission
from gateway.api.auth import require
from gateway.api.context import ApiContext, context
from gateway.privacy import QUARTER_HOUR_S, last_closed, shown

INTERVAL_MAX_S = 86400
TIME_MAX = 2**40  # far beyond any date a node can report


class ZoneCount(BaseModel):
    zone: str
    start: int = Field(description="unix time (UTC) the interval starts, a multiple of it")
    end: int = Field(description="unix time (UTC) it ends (exclusive)")
    suppressed: bool = Field(description="fewer people than the gateway's threshold: the "
                                         "counts are null (docs/privacy.md)")
    people: int | None = Field(description="people counted: the most any one of the zone's "
                                           "poles detected")
    events: int | None = Field(description="presence events the zone's poles reported")
    detections: int | None = Field(description="detections those events counted")


router = APIRouter(tags=["lighting"])


@router.get("/presence", response_model=list[ZoneCount],
            summary="Presence counts per zone and interval (quarter hours or longer)")
def presence(since: Annotated[int | None, Query(ge=0, le=TIME_MAX, description=(
                 "unix time (UTC), whole seconds, taken back to its interval's start; "
                 "default: `until` less one day"))] = None,
             until: Annotated[int | None, Query(ge=0, le=TIME_MAX, description=(
                 "unix time (UTC), exclusive, taken back to its interval's start and "
                 "never past the interval under way; default: now"))] = None,
             interval: Annotated[int, Query(ge=QUARTER_HOUR_S, le=INTERVAL_MAX_S,
                                            multiple_of=QUARTER_HOUR_S, description=(
                 "seconds per interval: whole quarter hours (900, 1800, 3600 ...); finer "
                 "counts would let a passer-by be followed"))] = 3600,
             zone: Annotated[str | None, Query(max_length=40)] = None,
             _: object = Depends(require(Permission.PRESENCE_READ)),
             ctx: ApiContext = Depends(context)) -> list[ZoneCount]:
    """Intervals with no event are left out; intervals with fewer people
    than the threshold are there, suppressed. Only intervals already over:
    one under way would change with each passer-by."""
    now_end = last_closed(time.time(), interval)
    end = now_end if until is None else min(last_closed(until, interval), now_end)
    start = max(0, end - 86400) if since is None else last_closed(since, interval)
    if start >= end:
        return []
    out = []
    for c in ctx.store.presence_counts(start, end, interval, zone):
        s = shown(c, interval, ctx.presence_min_count)
        out.append(ZoneCount(zone=s.zone, start=s.start, end=s.end, suppressed=s.suppressed,
                             people=s.people, events=s.events, detections=s.detections))
    return out
