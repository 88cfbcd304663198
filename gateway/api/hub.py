"""The live event hub: new bin reports, alarms and light states, fed from the
ingest pipeline once a report is stored (gateway/app.py wires it); each
zone profile push with every pole's acknowledgement, fed by the lighting;
new plans and crews' records of stops, and acknowledged alarms
(gateway/api/watch.py); fanned out to each live stream's bounded queue on
the gateway's event loop.
Presence is never among them: a pole's detections with their times would
tell where someone walked."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.accounts import Permission, allowed
from gateway.api.alarms import alarm_names
from gateway.records import BinRecord, Record, StatusRecord

# What a client that reads too slowly may fall behind by; beyond, the
# oldest events it has not read are dropped (and counted).
QUEUE_MAX = 256
SUBSCRIBERS_MAX = 200

# Who sees which kind of event.
EVENT_PERMISSIONS = {
    "bin-report": Permission.BINS_READ,
    "alarm": Permission.ALARMS_READ,
    "alarm-ack": Permission.ALARMS_READ,
    "light-state": Permission.LIGHTS_READ,
    "plan": Permission.ROUTES_READ_ALL,
    "zone-push": Permission.ZONES_READ,
}
# Kinds that concern one truck's route: seen by whoever reads every route,
# and by the crew of that truck.
ROUTE_EVENTS = ("route", "stop")


@dataclass(frozen=True)
class Event:
    kind: str
    data: dict[str, object]
    truck: str | None = None  # a route event's truck ("" when it is on no route)


def sees(role: str, crew: str | None, event: Event) -> bool:
    """Whether an account of this role and crew may see the event."""
    if event.kind in ROUTE_EVENTS:
        return allowed(role, Permission.ROUTES_READ_ALL) or (
            allowed(role, Permission.ROUTES_READ_OWN) and crew is not None
            and crew == event.truck)
    permission = EVENT_PERMISSIONS.get(event.kind)
    return permission is not None and allowed(role, permission)


class EventHub:
    """Fan-out on the gateway's event loop: record() is called there by the
    pipeline, each subscriber reads its own bounded queue."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Event | None]] = set()
        self.closed = False
        self.dropped = 0
        self.sent = 0

    def subscribe(self) -> asyncio.Queue[Event | None] | None:
        if self.closed or len(self._queues) >= SUBSCRIBERS_MAX:
            return None
        q: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_MAX)
        self._queues.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Event | None]) -> None:
        self._queues.discard(q)

    def publish(self, event: Event) -> None:
        for q in list(self._queues):
            if q.full():
                q.get_nowait()
                self.dropped += 1
            q.put_nowait(event)

    def record(self, record: Record) -> None:
        """A record just stored by the pipeline."""
        if not self._queues:
            return
        if isinstance(record, BinRecord):
            r = record.report
            alarms = alarm_names(r.flags, r.battery_mv)
            self.publish(Event("bin-report", {
                "node_id": record.node_id, "measured_at": record.measured_at,
                "fill_pct": r.fill_pct, "battery_mv": r.battery_mv, "temp_c": r.temp_c,
                "flags": r.flags, "alarms": alarms}))
            for name in alarms:
                self.publish(Event("alarm", {"node_id": record.node_id, "alarm": name,
                                             "measured_at": record.measured_at}))
        elif isinstance(record, StatusRecord):
            st = record.status
            self.publish(Event("light-state", {
                "node_id": record.node_id, "measured_at": record.measured_at,
                "level_pct": st.level_pct, "energy_wh": st.energy_dwh / 10,
                "flags": st.flags}))

    def zone_push(self, zone: str, revision: int, results: dict[str, str]) -> None:
        """A zone's profile pushed to its poles (the operator's push, a night
        step or a key): each pole's outcome, and the revision it runs now if
        it acknowledged."""
        if not self._queues:
            return
        poles = [{"node_id": n, "outcome": r, "acknowledged": r == "acknowledged",
                  "running_revision": revision if r == "acknowledged" else None}
                 for n, r in sorted(results.items())]
        self.publish(Event("zone-push", {
            "zone": zone, "revision": revision, "poles": poles,
            "acknowledged": sum(1 for p in poles if p["acknowledged"]), "total": len(poles)}))

    def close(self) -> None:
        """Every stream ends (the gateway is stopping)."""
        self.closed = True
        for q in list(self._queues):
            if q.full():
                q.get_nowait()
            q.put_nowait(None)
