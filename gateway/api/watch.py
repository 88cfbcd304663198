"""What the live streams announce of the waste side: a new plan and each of
its routes, a stop recorded emptied or unreachable, an alarm acknowledged.
Plans and records come from the API and from the command line (`kvarter
routes plan`, `kvarter bins emptied`) alike, so the watch reads what has been
stored since it last looked: every couple of seconds, and at once when the
API has just stored something (poke)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from gateway.api.hub import Event, EventHub
from gateway.storage.store import Store

log = logging.getLogger("gateway.api")

POLL_S = 2.0


@dataclass
class _Seen:
    plan: int
    visit: int
    ack: int


class WasteWatch:
    def __init__(self, store: Store, events: EventHub) -> None:
        self.store = store
        self.events = events
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._seen: _Seen | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._seen = await asyncio.to_thread(self._now_seen)
        self._task = asyncio.create_task(self._run(), name="waste-watch")

    def _now_seen(self) -> _Seen:
        s = self.store
        return _Seen(s.last_plan_id(), s.last_visit_id(), s.last_ack_id())

    def poke(self) -> None:
        """Look now (callable from any thread: the API's routes run in threads)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                for event in await asyncio.to_thread(self._new_events):
                    self.events.publish(event)
            except Exception as e:  # the next look tries again
                log.error("live updates of plans and stops failed: %s", e)

    def _new_events(self) -> list[Event]:
        assert self._seen is not None
        seen, s, out = self._seen, self.store, []
        last_plan = s.last_plan_id()
        for plan_id in range(seen.plan + 1, last_plan + 1):
            plan = s.plan(plan_id)
            if plan is None:
                continue
            routes = s.plan_routes(plan_id)
            out.append(Event("plan", {"plan_id": plan.id, "day": plan.day,
                                      "made_by": plan.made_by, "made_at": plan.made_at,
                                      "trucks": [r.truck for r in routes]}))
            counts: dict[str, int] = {}
            for st in s.plan_stops(plan_id):
                counts[st.truck] = counts.get(st.truck, 0) + 1
            for r in routes:
                out.append(Event("route", {"plan_id": plan.id, "day": plan.day,
                                           "truck": r.truck, "stops": counts.get(r.truck, 0)},
                                 truck=r.truck))
        seen.plan = last_plan
        visits = s.visits_after(seen.visit)
        if visits:
            today = s.latest_plan()
            for v in visits:
                on: int | None = v.plan_id if v.plan_id is not None else (
                    today.id if today else None)
                stop = None if on is None else s.plan_stop(on, v.node_id)
                out.append(Event("stop", {
                    "plan_id": on if stop is not None else None, "node_id": v.node_id,
                    "truck": stop.truck if stop else None, "outcome": v.outcome,
                    "reason": v.note, "at": v.at, "recorded_by": v.recorded_by},
                    truck=stop.truck if stop else ""))
            seen.visit = visits[-1].id
        for ack_id, ack in s.acks_after(seen.ack):
            out.append(Event("alarm-ack", {"node_id": ack.node_id, "alarm": ack.alarm,
                                           "acknowledged_at": ack.acked_at,
                                           "acknowledged_by": ack.acked_by, "note": ack.note}))
            seen.ack = ack_id
        return out
