"""The catalogue of litter-bin types: how much a bin of each type holds and how
long a crew takes to empty it. Route planning needs both.

The built-in volumes and service times are plausible defaults, not
manufacturers' figures: an operator who has measured their own bins overrides
them, or adds types, with a TOML file (``Catalogue.load``):

    uncoded = ["Okänd"]            # more names that mean "type not recorded"

    [types."Hags - Rosen"]
    volume_l = 80                  # litres inside the bin
    compacting = false             # a compactor holds about 5x its volume
    service_s = 75                 # seconds at the bin, per emptying

    [types."Vestre - Unity"]       # a new type: volume_l is required
    volume_l = 100

The type names are those of Gävle's open data (property PRODTYP of
papperskorgar), plus the simulator's wheelie bins.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any

from gateway.records import KindSpec

# A solar compacting bin (Big Belly and the like) presses its contents to
# about a fifth: when full it holds about five times its volume of loose rubbish.
COMPACTION_FACTOR = 5

GENERIC = "generic"
KIND_MAX = 40  # a registered node's kind is at most 40 characters (docs/protocol.md)


class CatalogueError(ValueError):
    """A catalogue file that cannot be used; the message names the file and entry."""


@dataclass(frozen=True)
class BinType:
    name: str
    volume_l: int
    compacting: bool = False
    service_s: int = 60

    @property
    def holds_l(self) -> int:
        """Litres of loose rubbish in the bin when it is full: what it puts in
        the truck."""
        return self.volume_l * (COMPACTION_FACTOR if self.compacting else 1)


DEFAULT_TYPES: tuple[BinType, ...] = (
    # Park and street litter bins. One bag out, a new bag in: about a minute.
    BinType("Hags - Rosen", 70),
    BinType("Hags - Rosen SVART", 70),  # the same bin in black
    BinType("Hags - Rosen GRÖN", 70),  # and in green
    BinType("JCDecaux - Standard", 60),
    BinType("Vestre - Urban", 100),
    BinType("Byarum", 80),
    BinType("Veksö - Input", 80),
    BinType("Nola - Kvadrat", 80),
    BinType("Lappset - Neo", 70),
    # Two bins on one post: two bags.
    BinType("Dubbelkanon", 120, service_s=90),
    # Sorting bins: several fractions, each emptied on its own.
    BinType("Sortify källsorteringskärl", 180, service_s=150),
    # Solar compactor: unlock, pull the drum, replace the bag.
    BinType("Big Belly källsorteringskärl", 120, compacting=True, service_s=150),
    # The simulator's wheelie bins (sim/district.py), tipped by the truck's lift.
    BinType("140L", 140, service_s=60),
    BinType("240L", 240, service_s=75),
    BinType("360L", 360, service_s=90),
    # Anything whose type is not recorded: a typical street bin.
    BinType(GENERIC, 80),
)

# Values in the open data that mean "the type was not recorded"; None is a
# missing PRODTYP. They become the generic type with a notice, not a problem.
DEFAULT_UNCODED: tuple[str, ...] = ("Okodad", "Annan typ", "")


class Match(Enum):
    KNOWN = "known"
    UNCODED = "uncoded"  # the data says it does not know the type
    UNKNOWN = "unknown"  # a type this catalogue has never heard of


class Catalogue:
    def __init__(self, types: Iterable[BinType], uncoded: Iterable[str] = DEFAULT_UNCODED) -> None:
        self.types: dict[str, BinType] = {t.name: t for t in types}
        if GENERIC not in self.types:
            raise CatalogueError(f"the catalogue needs a '{GENERIC}' type for unrecorded types")
        self.uncoded = frozenset(uncoded)

    @property
    def generic(self) -> BinType:
        return self.types[GENERIC]

    def resolve(self, raw: object) -> tuple[BinType, Match]:
        """The type a value from a data file names, and how well it matched."""
        if isinstance(raw, str) and raw in self.types:
            return self.types[raw], Match.KNOWN
        if raw is None or (isinstance(raw, str) and raw.strip() in self.uncoded):
            return self.generic, Match.UNCODED
        return self.generic, Match.UNKNOWN

    def for_kind(self, kind: str) -> BinType:
        """The type of a registered bin; one registered with a type the
        catalogue lacks is planned as generic."""
        return self.types.get(kind, self.generic)

    @classmethod
    def default(cls) -> Catalogue:
        return cls(DEFAULT_TYPES, DEFAULT_UNCODED)

    def with_specs(self, specs: Mapping[str, KindSpec]) -> Catalogue:
        """This catalogue with the kinds a gateway keeps (stored at import)."""
        types = dict(self.types)
        for name, spec in specs.items():
            types[name] = BinType(name, spec.volume_l, spec.compacting, spec.service_s)
        return Catalogue(types.values(), self.uncoded)

    def spec(self, name: str) -> KindSpec:
        t = self.types.get(name, self.generic)
        return KindSpec(t.volume_l, t.compacting, t.service_s)

    def unknown_kinds(self, kinds: Iterable[str]) -> Counter[str]:
        """How many of these registered kinds this catalogue lacks, per kind."""
        return Counter(k for k in kinds if k and k not in self.types)

    @classmethod
    def load(cls, path: Path | None, stored: Mapping[str, KindSpec] | None = None) -> Catalogue:
        """The built-in catalogue, with the kinds a gateway stored at import,
        overridden and extended by a TOML file."""
        base = cls.default().with_specs(stored or {})
        if path is None:
            return base
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except FileNotFoundError:
            raise CatalogueError(f"catalogue file {path} does not exist") from None
        except tomllib.TOMLDecodeError as e:
            raise CatalogueError(f"catalogue file {path} is not valid TOML: {e}") from None
        return base.merged(raw, str(path))

    def merged(self, raw: Mapping[str, Any], source: str = "catalogue") -> Catalogue:
        """This catalogue with the entries of a parsed TOML document applied."""
        unknown = set(raw) - {"types", "uncoded"}
        if unknown:
            raise CatalogueError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; "
                                 "known: types, uncoded")
        uncoded = raw.get("uncoded", [])
        if not isinstance(uncoded, list) or not all(isinstance(u, str) for u in uncoded):
            raise CatalogueError(f"{source}: uncoded must be a list of type names")
        entries = raw.get("types", {})
        if not isinstance(entries, dict):
            raise CatalogueError(f'{source}: types must be tables like [types."Hags - Rosen"]')
        types = dict(self.types)
        for name, fields in entries.items():
            types[name] = _entry(source, name, fields, types.get(name))
        return Catalogue(types.values(), self.uncoded | set(uncoded))


def _entry(source: str, name: str, fields: object, base: BinType | None) -> BinType:
    where = f'{source}: [types."{name}"]'
    if not name.strip() or len(name) > KIND_MAX:
        raise CatalogueError(f"{where}: a type name must be 1 to {KIND_MAX} characters")
    if not isinstance(fields, dict):
        raise CatalogueError(f"{where} must be a table with volume_l, compacting, service_s")
    unknown = set(fields) - {"volume_l", "compacting", "service_s"}
    if unknown:
        raise CatalogueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                             "known: volume_l, compacting, service_s")
    if base is None and "volume_l" not in fields:
        raise CatalogueError(f"{where}: a new type needs volume_l (litres)")
    entry = base or BinType(name, 1)
    for key, lo, hi in (("volume_l", 1, 100_000), ("service_s", 0, 3600)):
        if key in fields:
            value = fields[key]
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise CatalogueError(f"{where}: {key} must be a whole number {lo}..{hi}, "
                                     f"got {value!r}")
            entry = replace(entry, **{key: value})
    if "compacting" in fields:
        if not isinstance(fields["compacting"], bool):
            raise CatalogueError(f"{where}: compacting must be true or false")
        entry = replace(entry, compacting=fields["compacting"])
    return entry
