"""Nodes and their health: what a technician looks at."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from firmware.lora.plan import REQUIRED_SNR_DB10
from gateway.accounts import Permission
from gateway.api.alarms import LOW_BATTERY_MV, offline
from gateway.api.auth import require
from gateway.api.context import ApiContext, context
from gateway.api.pages import LIMIT_DEFAULT, Limit, Offset, Page
from gateway.api.problems import Problem
from gateway.storage.screens import NodeHealthRow

NodeId = Annotated[str, Path(min_length=1, max_length=64, description="the node's id")]


# A LoRa uplink heard less than this above its SF's demodulation floor is
# weak: the adaptive data rate keeps nodes 10 dB above it, and one that sits
# at 5 dB at SF12 has nowhere slower to go. A Wi-Fi node standing where its
# self-test read below -80 dBm drops reports in rain and foliage.
WEAK_LORA_MARGIN_DB = 5.0
WEAK_WIFI_DBM = -80

Attention = Literal["offline", "low battery", "weak signal", "self-test failed"]


class SelfTestResult(BaseModel):
    at: float = Field(description="unix time (UTC) it ran, by the technician's laptop")
    ok: bool = Field(description="every check passed")
    failed: list[str] = Field(description="the checks that failed (sensor, wifi, gateway, "
                                          "battery, radio, ...)")
    wifi_dbm: int | None = Field(None, description="the node's Wi-Fi signal where it "
                                                   "stands, read by the self-test")
    by: str = Field(description="the technician whose credential delivered it")


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
    pending: bool = Field(description="registered but never heard from: not installed or "
                                      "not started yet, or it cannot reach the gateway")
    link: Literal["lora", "wifi"] | None = Field(
        None, description="how its latest uplink came: over LoRa through the radio bridge, "
                          "or over Wi-Fi (UDP); null when none came since the gateway kept it")
    rssi_dbm: int | None = Field(None, description="LoRa: received signal strength of its "
                                                   "latest own uplink at the radio bridge")
    snr_db: float | None = Field(None, description="LoRa: signal-to-noise ratio of that "
                                                   "uplink, quarter-dB steps")
    sf: int | None = Field(None, description="LoRa: the spreading factor it was sent at, 7..12")
    signal_at: float | None = Field(None, description="unix time (UTC) the link was noted")
    firmware: str | None = Field(None, description="the firmware build on its flash (12 hex "
                                                   "digits, as `kvarter node deploy` prints), "
                                                   "from its latest self-test")
    selftest: SelfTestResult | None = Field(None, description="its latest self-test, as "
                                                              "the technician's laptop read it")
    attention: list[Attention] = Field(description="why it needs a technician, if it does")


def attention(row: NodeHealthRow, online: bool, pending: bool) -> list[Attention]:
    out: list[Attention] = []
    if not online and not pending:
        out.append("offline")
    if row.battery_mv is not None and row.battery_mv < LOW_BATTERY_MV:
        out.append("low battery")
    if row.via == "lora" and row.snr_q is not None and row.sf in REQUIRED_SNR_DB10:
        margin_db = row.snr_q / 4 - REQUIRED_SNR_DB10[row.sf] / 10
        if margin_db < WEAK_LORA_MARGIN_DB:
            out.append("weak signal")
    elif row.via != "lora" and row.wifi_dbm is not None and row.wifi_dbm < WEAK_WIFI_DBM:
        out.append("weak signal")
    if row.selftest_ok is False:
        out.append("self-test failed")
    return out


def node_health(row: NodeHealthRow, now: float) -> NodeHealth:
    online = not offline(row.role, row.last_contact, now)
    pending = row.last_contact is None
    lora = row.via == "lora"
    selftest = None if row.selftest_at is None else SelfTestResult(
        at=row.selftest_at, ok=bool(row.selftest_ok), failed=list(row.selftest_failed),
        wifi_dbm=row.wifi_dbm, by=row.selftest_by or "")
    return NodeHealth(node_id=row.node_id, role=row.role,  # type: ignore[arg-type]
                      kind=row.kind, lat=row.lat, lon=row.lon, addr=row.addr,
                      provisioned=row.provisioned, registered_at=row.registered_at,
                      last_contact=row.last_contact, online=online,
                      battery_mv=row.battery_mv, pending=pending,
                      link=row.via,  # type: ignore[arg-type]
                      rssi_dbm=row.rssi_dbm if lora else None,
                      snr_db=row.snr_q / 4 if lora and row.snr_q is not None else None,
                      sf=row.sf if lora else None, signal_at=row.heard_at,
                      firmware=row.firmware, selftest=selftest,
                      attention=attention(row, online, pending))


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
