"""The district's streets as last imported (`kvarter streets import`):
the base layer of every map, drawn from the gateway itself, not from tiles
off the internet."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from gateway.api.auth import principal
from gateway.api.context import ApiContext, context
from gateway.streets.geometry import credit_of

router = APIRouter(tags=["map"])

EMPTY = {"type": "FeatureCollection", "features": []}


@router.get("/streets", summary="The district's streets (GeoJSON)",
            responses={200: {"content": {"application/geo+json": {"schema": {
                "type": "object", "required": ["type", "features"],
                "properties": {"type": {"type": "string"},
                               "features": {"type": "array", "items": {"type": "object"}},
                               "version": {"type": "integer"},
                               "attribution": {"type": "string"}}}}},
                             "description": "a FeatureCollection of LineStrings (WGS84); "
                                            "none before streets are imported"}})
def streets(_: object = Depends(principal), ctx: ApiContext = Depends(context)) -> Response:
    """Every account may read them: streets are public, and each screen's
    map draws them."""
    found = ctx.store.streets()
    body: dict[str, Any] = EMPTY if found is None else json.loads(found[1])
    if not isinstance(body, dict):
        body = EMPTY
    credit = credit_of(body)
    body = {"type": "FeatureCollection", "features": body.get("features", []),
            "version": 0 if found is None else found[0],
            **({"attribution": credit} if credit else {})}
    return Response(json.dumps(body, separators=(",", ":")),
                    media_type="application/geo+json",
                    headers={"Cache-Control": "private, no-cache"})
