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
from collections.abc import Callable
from typing import Protocol

from gateway.api.bin_cache import BinForecasts, BinStates
from gateway.api.ngsi_cache import MAX_AGE_S, MadeEntities, build_catalog
from gateway.opendata.catalog import Catalog, Selection
from gateway.opendata.entities import TYPES, Entity
from gateway.storage.store import Store

log = logging.getLogger("gateway.ngsi-ld")

CHECK_EVERY_S = 1.0


class EntityOut(Protocol):
    def offer(self, entity: Entity) -> bool: ...
    def gone(self, entity_type: str, entity_id: str) -> bool: ...


class NgsiFeed:
    """learn: this feed learns the bins' forecasts itself (no HTTP API
    beside it to share them with). max_age_s: a pass at least this often,
    whatever the store says (a node moved to another zone does not change
    what it says)."""

    def __init__(self, store: Store, states: BinStates, forecasts: BinForecasts,
                 out: EntityOut, clock: Callable[[], float] = time.time,
                 learn: bool = False, max_age_s: float = MAX_AGE_S) -> None:
        self.store = store
        self.states = states
        self.forecasts = forecasts
        self.out = out
        self.clock = clock
        self.learn = learn
        self.max_age_s = max_age_s
        self.passes = 0
        self._made = MadeEntities()
        self._catalog: Catalog | None = None
        self._version: object = None
        self._made_at = 0.0
        self._seen: tuple[int, int] | None = None
        self._published: dict[str, Entity] = {}
        self._behind = False  # some changed entity is still to be sent
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
            self._stop.wait(CHECK_EVERY_S)

    def _version_of(self) -> object:
        s = self.store
        return s.map_version(), s.last_ack_id(), s.zone_rows(), s.last_visit_id()

    def step(self) -> int:
        """One pass; returns how many entities were handed out."""
        now = self.clock()
        version = self._version_of()
        if version == self._version and now - self._made_at < self.max_age_s and not self._behind:
            return 0
        self._relearn()
        catalog = build_catalog(self.store, self.states, self.forecasts, now, self._made,
                                self._catalog)
        self._catalog, self._version, self._made_at = catalog, version, now
        self.passes += 1
        entities = catalog.select(Selection(frozenset(TYPES)))
        sent = 0
        self._behind = False
        for e in entities:
            before = self._published.get(e["id"])
            if before is e or before == e:
                self._published[e["id"]] = e
                continue
            if not self.out.offer(e):
                self._behind = True
                break
            self._published[e["id"]] = e
            sent += 1
        if not self._behind:
            current = {e["id"] for e in entities}
            for entity_id in [i for i in self._published if i not in current]:
                if not self.out.gone(self._published[entity_id]["type"], entity_id):
                    self._behind = True
                    break
                del self._published[entity_id]
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
