"""The district's NGSI-LD entities, made from what the API already keeps and
kept between requests, so that a query over ten thousand bins costs an index
lookup and the matching, not a read of the database.

Each bin's alarms come from BinStates and its forecast (when it reaches the
plan's must level, when it was last emptied) from BinForecasts, as learnt
for the other screens: nothing is learnt here. A request gets the latest
catalog made; at most every CHECK_EVERY_S one also looks whether anything
shown has changed (a node, a report, a pole's status, a zone), or the
catalog is older than MAX_AGE_S (bins go offline and lights follow their
schedule by the clock, and forecasts learnt meanwhile come in), and if so a
new one is made in a thread beside it, taking each entity whose facts are
unchanged as it was. Only the very first request waits for one."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gateway.api.alarms import LIGHT_OFFLINE_S
from gateway.api.bin_cache import BinForecasts, BinStates
from gateway.lighting.zones import Zone, ZoneBook, ZoneError
from gateway.opendata.catalog import Catalog
from gateway.opendata.entities import (
    BinFacts,
    Entity,
    NodeFacts,
    PoleFacts,
    ZoneFacts,
    device,
    streetlight,
    streetlight_group,
    waste_container,
)
from gateway.storage.store import Store

log = logging.getLogger("gateway.api")

CHECK_EVERY_S = 2.0
MAX_AGE_S = 30.0


def _zones(store: Store) -> dict[str, Zone]:
    zones = {}
    for name, settings, revision in store.zone_rows():
        try:
            zones[name] = Zone.from_json(settings, revision)
        except (ZoneError, ValueError, TypeError):
            continue  # the gateway's log tells of a stored zone it cannot use
    return zones


class MadeEntities:
    """Each entity made last time with what it was made from: an entity whose
    facts have not changed since is taken as it was, so that a district of
    ten thousand bins with a few reports new costs a few entities made."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, str], tuple[object, Entity]] = {}
        self.now: dict[tuple[str, str], tuple[object, Entity]] = {}

    def __call__(self, kind: str, name: str, facts: object,
                 make: Callable[[Any], Entity]) -> Entity:
        kept = self.last.get((kind, name))
        entity = kept[1] if kept is not None and kept[0] == facts else make(facts)
        self.now[(kind, name)] = (facts, entity)
        return entity

    def done(self) -> None:
        self.last, self.now = self.now, {}


def build_catalog(store: Store, states: BinStates, forecasts: BinForecasts,
                  now: float, made: MadeEntities | None = None,
                  previous: Catalog | None = None) -> Catalog:
    return Catalog(build_entities(store, states, forecasts, now, made), now, previous)


def build_entities(store: Store, states: BinStates, forecasts: BinForecasts,
                   now: float, made: MadeEntities | None = None) -> list[Entity]:
    """Every entity of the district now; those whose facts are as when made
    last are the very same objects."""
    made = made or MadeEntities()
    entities: list[Entity] = []
    alarms: dict[str, list[str]] = {}
    for a in states.alarms(store):
        alarms.setdefault(a.node_id, []).append(a.alarm)
    received: dict[str, float | None] = {}
    for node_id, kind, lat, lon, fill, temp, measured, got in store.open_data_bins():
        received[node_id] = got
        entities.append(made("bin", node_id, BinFacts(
            node_id, kind, lat, lon, fill, temp, None if measured is None else float(measured),
            tuple(alarms.get(node_id, [])), forecasts.full_at(node_id),
            forecasts.last_emptied(node_id)), waste_container))
    book = ZoneBook(_zones(store))
    nodes = store.nodes()
    # A pole's status reports only: its presence events' times stay inside.
    status_at = {r.node_id: r.status_at for r in store.light_rows()}
    members: dict[str, list[tuple[str, float, float]]] = {}
    for n in nodes:
        if n.role == "light":
            zone = n.kind or "default"
            lit, idle, _ = book.levels(zone, now, n.lat, n.lon)
            entities.append(made("pole", n.node_id, PoleFacts(n.node_id, zone, n.lat, n.lon,
                                                              lit, idle), streetlight))
            members.setdefault(zone, []).append((n.node_id, n.lat, n.lon))
            at = status_at.get(n.node_id)
            entities.append(made("device", n.node_id, NodeFacts(
                n.node_id, "light", n.lat, n.lon, at is not None and now - at <= LIGHT_OFFLINE_S,
                at is None, at), device))
        elif n.role == "bin":
            at = received.get(n.node_id)
            entities.append(made("device", n.node_id, NodeFacts(
                n.node_id, "bin", n.lat, n.lon, "offline" not in alarms.get(n.node_id, []),
                at is None, at), device))
    for zone, poles in sorted(members.items()):
        z = book.zone(zone)
        lat = sum(p[1] for p in poles) / len(poles)
        lon = sum(p[2] for p in poles) / len(poles)
        lit, idle, _ = book.levels(zone, now, lat, lon)
        entities.append(made("zone", zone, ZoneFacts(
            zone, tuple(poles), lit, idle, z.hours,
            any(s.idle_pct < z.idle_pct for s in z.steps)), streetlight_group))
    made.done()
    return entities


class NgsiCache:
    """The latest catalog, made again beside the requests that read it."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._first = threading.Lock()
        self._catalog: Catalog | None = None
        self._version: object = None
        self._checked = 0.0
        self._building = False
        self._made = MadeEntities()

    @staticmethod
    def _version_of(store: Store, forecasts: BinForecasts) -> object:
        return store.map_version(), store.last_ack_id(), store.zone_rows()

    def get(self, store: Store, states: BinStates, forecasts: BinForecasts,
            builder: Store | None = None) -> Catalog:
        now = self.clock()
        with self._lock:
            catalog = self._catalog
            if catalog is not None and (self._building or now - self._checked < CHECK_EVERY_S):
                return catalog
            self._checked = now
        version = self._version_of(store, forecasts)
        with self._lock:
            if catalog is not None:
                if self._building or (version == self._version
                                      and now - catalog.made_at <= MAX_AGE_S):
                    return catalog
                self._building = True
        if catalog is None:
            with self._first:  # one first catalog, however many ask for it at once
                if self._catalog is None:
                    self._build(builder or store, states, forecasts, version)
                assert self._catalog is not None
                return self._catalog
        threading.Thread(target=self._build_in_background,
                         args=(builder or store, states, forecasts, version), daemon=True,
                         name="ngsi-ld").start()
        return catalog

    def _build(self, store: Store, states: BinStates, forecasts: BinForecasts,
               version: object) -> None:
        catalog = build_catalog(store, states, forecasts, self.clock(), self._made,
                                self._catalog)
        with self._lock:
            self._catalog, self._version = catalog, version

    def _build_in_background(self, store: Store, states: BinStates, forecasts: BinForecasts,
                             version: object) -> None:
        try:
            self._build(store, states, forecasts, version)
        except Exception as e:  # the next request tries again
            log.error("the NGSI-LD entities failed: %s", e)
        finally:
            with self._lock:
                self._building = False
