"""The NGSI-LD entities as updates, for a city platform that listens on MQTT
rather than asks (docs/open-data.md, "On MQTT"): the same catalogue the
/ngsi-ld/v1 provider serves (build_catalog), made again when something it
shows may have changed, and each entity whose content differs from what was
last handed out offered to `out`, in one batch per pass.

A pass is due when the store says something shown has changed (a node, a
bin report, a pole's status report, an acknowledged alarm, a zone's
settings, a crew's record), checked every CHECK_EVERY_S, or at the latest
every MAX_AGE_S (lights follow their schedule and bins go offline by the
clock). Never for a presence event: no entity shows one, and a pass made at
each would time a passer-by even if it found nothing to send.

It runs in a thread of its own, on its own connection to the database, so
the nodes' CoAP path never waits for it; what the broker cannot take now
(its queue half full) is offered again on the next pass."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from gateway.api.bin_cache import BinForecasts, BinStates
from gateway.api.ngsi_cache import MAX_AGE_S, MadeEntities, build_entities
from gateway.opendata.entities import Entity
from gateway.storage.store import Store

log = logging.getLogger("gateway.ngsi-ld")

CHECK_EVERY_S = 1.0
# After a pass, the next waits this many times as long as the pass took (at
# least CHECK_EVERY_S): a district whose entities take half a second to go
# through is looked at every five seconds, and the updates take no more than
# about a tenth of a core from the nodes' path, however often they report.
REST_PER_PASS = 10.0
# While the broker's queue is full, what is left is offered again this often.
DRAIN_WAIT_S = 0.1


class EntityOut(Protocol):
    def offer(self, entity: Entity) -> bool: ...
    def gone(self, entity_type: str, entity_id: str) -> bool: ...


class NgsiFeed:
    """learn: this feed learns the bins' forecasts itself (no HTTP API
    beside it to share them with). max_age_s: a pass at least this often,
    whatever the store says (a node moved to another zone does not change
    what it says). rest_per_pass: REST_PER_PASS."""

    def __init__(self, store: Store, states: BinStates, forecasts: BinForecasts,
                 out: EntityOut, clock: Callable[[], float] = time.time,
                 learn: bool = False, max_age_s: float = MAX_AGE_S,
                 rest_per_pass: float = REST_PER_PASS) -> None:
        self.store = store
        self.states = states
        self.forecasts = forecasts
        self.out = out
        self.clock = clock
        self.learn = learn
        self.max_age_s = max_age_s
        self.rest_per_pass = rest_per_pass
        self.passes = 0
        self._made = MadeEntities()
        self._version: object = None
        self._made_at = 0.0
        self._seen: tuple[int, int] | None = None
        self._published: dict[str, Entity] = {}
        # What the last pass found changed and the broker could not take
        # yet: entities, and (type, id) of those gone.
        self._todo: deque[Entity | tuple[str, str]] = deque()
        self._rest_until = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="ngsi-ld-mqtt")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        learnt = not self.learn
        while not self._stop.is_set():
            try:
                self.step()
                if not learnt:
                    # After the first pass, so that the entities go out at
                    # once; their deadlines follow as the bins are learnt.
                    self.forecasts.warm(self.store, self._stop)
                    learnt = True
            except Exception as e:  # the next pass tries again
                log.error("NGSI-LD updates for MQTT failed: %s", e)
            # What the broker's queue could not take yet goes on soon; a
            # new pass waits its turn.
            self._stop.wait(DRAIN_WAIT_S if self._todo else
                            max(CHECK_EVERY_S, self._rest_until - time.monotonic()))

    def _version_of(self) -> object:
        s = self.store
        return s.map_version(), s.last_ack_id(), s.zone_rows(), s.last_visit_id()

    def step(self) -> int:
        """Hand out what the last pass left (the broker's queue was full), or
        else make a pass if one is due; returns how many entities went out."""
        if self._todo:
            return self._hand_out()
        now = self.clock()
        if time.monotonic() < self._rest_until:
            return 0
        version = self._version_of()
        if version == self._version and now - self._made_at < self.max_age_s:
            return 0
        t0 = time.monotonic()
        self._relearn()
        entities = build_entities(self.store, self.states, self.forecasts, now, self._made)
        self._version, self._made_at = version, now
        self.passes += 1
        todo: list[Entity | tuple[str, str]] = []
        for e in entities:
            before = self._published.get(e["id"])
            if before is e or before == e:
                self._published[e["id"]] = e  # the same content: kept for `is` next time
            else:
                todo.append(e)
        current = {e["id"] for e in entities}
        todo += [(e["type"], i) for i, e in self._published.items() if i not in current]
        self._todo = deque(todo)
        if self.passes > 1:  # the first makes every entity anew: no measure of the next
            self._rest_until = time.monotonic() + self.rest_per_pass * (time.monotonic() - t0)
        return self._hand_out()

    def _hand_out(self) -> int:
        sent = 0
        while self._todo:
            item = self._todo[0]
            if isinstance(item, tuple):
                if not self.out.gone(*item):
                    break
                self._published.pop(item[1], None)
            else:
                if not self.out.offer(item):
                    break
                self._published[item["id"]] = item
                sent += 1
            self._todo.popleft()
        if sent:
            log.debug("NGSI-LD: %d entity update(s) to MQTT", sent)
        return sent

    def _relearn(self) -> None:
        """The forecast of each bin with a report or a crew's record of its
        own since the last pass learnt again, so that an emptying shows in
        the deadline published with it (the API's pages do the same when
        asked)."""
        if self._seen is None:
            self._seen = (self.store.last_bin_report_id(), self.store.last_visit_id())
            return
        changed, reports, visits = self.store.forecast_changes(*self._seen)
        self._seen = (reports, visits)
        if changed:
            self.forecasts.get(self.store, sorted(changed))
