"""Nodes and their health: what a technician looks at."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from gateway.accounts import Permission
from gateway.api.alarms import offline
from gateway.api.auth import require
from gateway.api.context import ApiContext, context
from gateway.api.pages import LIMIT_DEFAULT, Limit, Offset, Page
from gateway.api.problems import Problem
from gateway.storage.screens import NodeHealthRow

NodeId = Annotated[str, Path(min_length=1, max_length=64, description="the node's id")]


class NodeHealth(BaseModel):
    node_id: str
    role: Literal["bin", "light"]
    kind: str = Field(description="a bin's type or a light's zone")
    lat: float
    lon: float
    addr: int | None = Field(None, description="a light pole's short address")
    provisioned: bool = Field(description="the node has a key (OSCORE)")
    registered_at: float = Field(description="unix time (UTC)")
    last_contact: float | None = Field(description="unix time (UTC) of its latest uplink")
    online: bool
    battery_mv: int | None = Field(None, description="a bin's latest report's battery")


def node_health(row: NodeHealthRow, now: float) -> NodeHealth:
    return NodeHealth(node_id=row.node_id, role=row.role,  # type: ignore[arg-type]
                      kind=row.kind, lat=row.lat, lon=row.lon, addr=row.addr,
                      provisioned=row.provisioned, registered_at=row.registered_at,
                      last_contact=row.last_contact,
                      online=not offline(row.role, row.last_contact, now),
                      battery_mv=row.battery_mv)


router = APIRouter(tags=["nodes"])


@router.get("/nodes", response_model=Page[NodeHealth], summary="Nodes and their health")
def list_nodes(offset: Offset = 0, limit: Limit = LIMIT_DEFAULT,
               role: Annotated[Literal["bin", "light"] | None, Query()] = None,
               _: object = Depends(require(Permission.NODES_READ)),
               ctx: ApiContext = Depends(context)) -> Page[NodeHealth]:
    rows, total = ctx.store.node_health(role, offset, limit)
    now = time.time()
    return Page[NodeHealth](items=[node_health(r, now) for r in rows], total=total,
                            offset=offset, limit=limit)


@router.get("/nodes/{node_id}", response_model=NodeHealth, summary="One node's health")
def get_node(node_id: NodeId, _: object = Depends(require(Permission.NODES_READ)),
             ctx: ApiContext = Depends(context)) -> NodeHealth:
    rows, _total = ctx.store.node_health(None, 0, 1, node_id=node_id)
    if not rows:
        raise Problem(404, f"no node {node_id!r} is registered; GET /api/v1/nodes lists them")
    return node_health(rows[0], time.time())
