"""The district's map in one answer: every bin with its position, fill,
forecast "full by" and alarm state, and every light pole with its position,
level and whether it is online. Column by column (one array per field, the
same index for the same node) so that ten thousand bins stay small and fast;
made and kept by gateway/api/map_cache.py."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, Field

from gateway.accounts import Permission
from gateway.api.auth import require
from gateway.api.context import ApiContext, context
from gateway.waste.planning import DEFAULT_PLAN

AlarmName = Literal["fire", "tilt", "lid-open", "sensor-fault", "low-battery", "offline"]


class MapBins(BaseModel):
    node_id: list[str]
    lat: list[float]
    lon: list[float]
    fill_pct: list[float | None] = Field(description="the latest report's")
    measured_at: list[int | None] = Field(description="unix time (UTC) of the latest report")
    full_at: list[float | None] = Field(
        description=f"unix time (UTC) the bin is expected to reach "
                    f"{DEFAULT_PLAN.must_level_pct:g} %, within two weeks")
    alarms: list[list[AlarmName]]
    alarm_state: list[Literal["none", "active", "acknowledged"]] = Field(
        description="active: some alarm not acknowledged yet")


class MapPoles(BaseModel):
    node_id: list[str]
    lat: list[float]
    lon: list[float]
    level_pct: list[int | None] = Field(description="the latest status's light level")
    online: list[bool]
    last_contact: list[float | None] = Field(description="unix time (UTC)")
    zone: list[str] = Field(description="the lighting zone it belongs to")


class MapData(BaseModel):
    made_at: float = Field(description="unix time (UTC) this answer was made")
    forecast_at: float | None = Field(description="unix time (UTC) the forecast of full_at "
                                                  "was made; null while the first is made")
    bins: MapBins
    poles: MapPoles


router = APIRouter(tags=["map"])


@router.get("/map", response_model=MapData, summary="Every bin and pole for the map",
            responses={200: {"content": {"application/json": {}}}})
def district_map(_: object = Depends(require(Permission.MAP_READ)),
                 ctx: ApiContext = Depends(context)) -> Response:
    """Bins with fill, forecast "full by" and alarm state; poles with level
    and online/offline; column by column, the same index for the same node.
    At most a few seconds behind the reports while they come in (it is made
    again in the background), and made again at least every 30 s; the
    forecast at most every 5 min."""
    return Response(ctx.map_cache.get(ctx.store, ctx.map_store), media_type="application/json",
                    headers={"Cache-Control": "no-store"})
