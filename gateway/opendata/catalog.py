"""Every entity of the district at one moment, indexed for NGSI-LD queries:
by type, by id and, per type, on a coarse grid of positions, so that a
query near a point looks at the entities around it only."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from gateway.opendata.entities import TYPES, Entity, lookup, positions
from gateway.opendata.geo import GeoQuery, Grid, positions_match
from gateway.opendata.query import Node, matches


@dataclass(frozen=True)
class Selection:
    """What a query asks for; None: no restriction."""
    types: frozenset[str]
    ids: frozenset[str] | None = None
    id_pattern: re.Pattern[str] | None = None
    q: Node | None = None
    geo: GeoQuery | None = None
    attrs: frozenset[str] | None = None


class Catalog:
    """previous: the catalog before this one; a type whose entities are all
    the very same objects keeps its index from there."""

    def __init__(self, entities: Iterable[Entity], made_at: float = 0.0,
                 previous: Catalog | None = None) -> None:
        self.made_at = made_at
        by_type: dict[str, list[Entity]] = {t: [] for t in TYPES}
        for e in entities:
            by_type.setdefault(e["type"], []).append(e)
        self._by_type = {t: sorted(es, key=lambda e: e["id"]) for t, es in by_type.items()}
        self._by_id = {e["id"]: e for es in self._by_type.values() for e in es}
        self._positions: dict[str, list[list[tuple[float, float]]]] = {}
        self._grids: dict[str, Grid] = {}
        for t, es in self._by_type.items():
            before = None if previous is None else previous._by_type.get(t)
            if before is not None and len(before) == len(es) and all(
                    a is b for a, b in zip(before, es, strict=True)):
                assert previous is not None
                self._positions[t], self._grids[t] = previous._positions[t], previous._grids[t]
            else:
                self._positions[t] = [positions(e) for e in es]
                self._grids[t] = Grid(enumerate(self._positions[t]))

    def get(self, entity_id: str) -> Entity | None:
        return self._by_id.get(entity_id)

    def types(self) -> list[str]:
        """The types that have entities, in name order."""
        return sorted(t for t, es in self._by_type.items() if es)

    def count(self, entity_type: str) -> int:
        return len(self._by_type.get(entity_type, ()))

    def select(self, s: Selection) -> list[Entity]:
        """The entities that match, by type in name order, then by id."""
        out: list[Entity] = []
        for t in sorted(s.types):
            entities = self._by_type.get(t, [])
            if s.ids is not None:
                indexes: Iterable[int] = [i for i, e in enumerate(entities) if e["id"] in s.ids]
            elif s.geo is not None:
                indexes = self._grids[t].candidates(s.geo)
            else:
                indexes = range(len(entities))
            places = self._positions[t]
            for i in indexes:
                e = entities[i]
                if s.id_pattern is not None and not s.id_pattern.search(e["id"]):
                    continue
                if s.geo is not None and not positions_match(s.geo, places[i]):
                    continue
                if s.q is not None and not matches(s.q, partial(lookup, e)):
                    continue
                if s.attrs is not None and not any(a in e for a in s.attrs):
                    continue
                out.append(e)
        return out
