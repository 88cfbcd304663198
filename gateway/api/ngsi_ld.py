"""The district for a city's data platform: an NGSI-LD provider (ETSI GS CIM
009) at /ngsi-ld/v1 serving our bins, poles, zones and nodes as FIWARE Smart
Data Models entities (gateway/opendata). Read only: entities queried by type,
id, id pattern, attributes, `q` and geo-query, one entity by id, and the
types there are.

The entity types the city declares open (the gateway's ngsi_open_types) are
read without an account; the others need an account whose role may read what
they show (a WasteContainer: the bins, a Streetlight: the lights, a
StreetlightGroup: the zones, a Device: the nodes), as in the role table.

The @context travels as the specification says: in a Link header when the
answer is application/json, in the body when the client accepts
application/ld+json. Errors are problem details with NGSI-LD's error types."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from gateway.accounts import Permission, allowed
from gateway.api import auth
from gateway.api.auth import COOKIE, Principal
from gateway.api.context import ApiContext, context
from gateway.api.problems import Problem
from gateway.opendata.catalog import Catalog, Selection
from gateway.opendata.entities import (
    CONTEXT,
    DEVICE,
    SMART_DATA_MODELS_CONTEXT,
    STREETLIGHT,
    STREETLIGHT_GROUP,
    TYPE_IRIS,
    TYPES,
    WASTE_CONTAINER,
    Entity,
    key_values,
    project,
)
from gateway.opendata.geo import GeoError, parse_geo
from gateway.opendata.query import QueryError, parse_q

PREFIX = "/ngsi-ld/v1"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
BAD_REQUEST = ERRORS + "BadRequestData"
NOT_FOUND = ERRORS + "ResourceNotFound"
JSON = "application/json"
JSON_LD = "application/ld+json"
LINK = (f'<{SMART_DATA_MODELS_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; '
        f'type="{JSON_LD}"')
COUNT_HEADER = "NGSILD-Results-Count"
# The specification's default page, and the most one answer holds.
LIMIT_DEFAULT = 20
LIMIT_MAX = 1000
OFFSET_MAX = 10**9

# Who may read a type that is not open: those whose role reads what it shows.
TYPE_PERMISSION = {WASTE_CONTAINER: Permission.BINS_READ, STREETLIGHT: Permission.LIGHTS_READ,
                   STREETLIGHT_GROUP: Permission.ZONES_READ, DEVICE: Permission.NODES_READ}
_SHORT = {**{t: t for t in TYPES}, **{iri: t for t, iri in TYPE_IRIS.items()}}
_ATTR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# An id pattern is a regular expression, run against every id: without
# groups or alternation, and with few repeats, it cannot backtrack for long.
_ID_PATTERN = re.compile(r"[A-Za-z0-9:_.^$*+?\[\]\-]*")
ID_PATTERN_MAX = 200
REPEATS_MAX = 3


def _bad(detail: str) -> Problem:
    return Problem(400, detail, type=BAD_REQUEST)


def _who(request: Request, ctx: ApiContext) -> Principal | None:
    """The account behind the request, None for nobody; a credential given
    that does not hold is 401, as everywhere in the API."""
    if request.headers.get("authorization") is None and request.cookies.get(COOKIE) is None:
        return None
    return auth.principal(request, ctx)


def _readable(who: Principal | None, ctx: ApiContext) -> frozenset[str]:
    own = {t for t, p in TYPE_PERMISSION.items() if who is not None and allowed(who.user.role, p)}
    return ctx.open_types | own


def _media(request: Request) -> str:
    """The answer's media type by the Accept header: JSON-LD when asked for."""
    accept = request.headers.get("accept", "")
    kinds = {part.split(";")[0].strip().lower() for part in accept.split(",")} - {""}
    if JSON_LD in kinds:
        return JSON_LD
    if not kinds or kinds & {JSON, "*/*", "application/*"}:
        return JSON
    raise Problem(406, f"answers here are {JSON} or {JSON_LD}; ask for one of them in the "
                       "Accept header")


def _answer(body: object, media: str, headers: dict[str, str] | None = None) -> Response:
    out = dict(headers or {})
    if media == JSON:
        out["Link"] = LINK
    return Response(json.dumps(body, separators=(",", ":"), ensure_ascii=False),
                    media_type=media, headers=out)


def _shape(entity: Entity, attrs: frozenset[str] | None, simplified: bool,
           media: str) -> Entity:
    e = project(entity, attrs)
    if simplified:
        e = key_values(e)
    return {**e, "@context": CONTEXT} if media == JSON_LD else e


def _list(text: str | None, what: str) -> list[str] | None:
    if text is None:
        return None
    items = [x.strip() for x in text.split(",")]
    if not all(items):
        raise _bad(f"{what} is a comma-separated list without empty items, got {text!r}")
    return items


def _attrs(text: str | None) -> frozenset[str] | None:
    items = _list(text, "attrs")
    if items is None:
        return None
    names = set()
    for a in items:
        name = re.split(r"[/#]", a)[-1]  # an expanded name: its last part
        if not _ATTR.fullmatch(name):
            raise _bad(f"attrs: {a!r} is not an attribute name")
        names.add(name)
    return frozenset(names)


def _forms(options: str | None, format_: str | None) -> bool:
    """Whether the simplified form (keyValues) is asked for."""
    simplified = False
    for o in _list(options, "options") or []:
        if o in ("keyValues", "simplified"):
            simplified = True
        elif o not in ("normalized", "sysAttrs"):
            raise _bad(f"options: {o!r} is not known here; use keyValues or normalized")
    if format_ is not None:
        if format_ not in ("keyValues", "simplified", "normalized"):
            raise _bad(f"format {format_!r} is not known here; use keyValues (simplified) "
                       "or normalized")
        simplified = format_ != "normalized"
    return simplified


def _whole(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]{1,10}", text) or not low <= int(text) <= high:
        raise _bad(f"{name} must be a whole number {low}..{high}, got {text!r}")
    return int(text)


def _id_pattern(text: str | None) -> re.Pattern[str] | None:
    if text is None:
        return None
    if len(text) > ID_PATTERN_MAX or not _ID_PATTERN.fullmatch(text) or sum(
            text.count(c) for c in "*+?") > REPEATS_MAX:
        raise _bad(f"idPattern: give a regular expression of at most {ID_PATTERN_MAX} "
                   f"characters of letters, digits, : _ - . [ ] ^ $ and at most "
                   f"{REPEATS_MAX} of * + ?, e.g. ^urn:ngsi-ld:WasteContainer:B0.*")
    try:
        return re.compile(text)
    except re.error as e:
        raise _bad(f"idPattern {text!r} is not a regular expression: {e}") from None


def _ids(text: str | None) -> frozenset[str] | None:
    items = _list(text, "id")
    if items is None:
        return None
    for i in items:
        if ":" not in i or len(i) > 256 or any(c.isspace() for c in i):
            raise _bad(f"id {i!r} is not a URI; ids here are like "
                       "urn:ngsi-ld:WasteContainer:B0001")
    return frozenset(items)


def _catalog(ctx: ApiContext) -> Catalog:
    return ctx.ngsi.get(ctx.store, ctx.bin_states, ctx.forecasts, ctx.map_store)


_ENTITY_SCHEMA: dict[str, Any] = {"type": "object", "required": ["id", "type"],
                                  "properties": {"id": {"type": "string"},
                                                 "type": {"type": "string"}}}


def _content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {JSON: {"schema": schema}, JSON_LD: {"schema": schema}}}


ERROR_ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {"description": "a parameter that cannot be taken (BadRequestData)"},
    406: {"description": f"the Accept header names neither {JSON} nor {JSON_LD}"},
}

router = APIRouter(prefix=PREFIX, tags=["ngsi-ld"])

Text = Annotated[str | None, Query(max_length=4000)]


@router.get("/entities", summary="Query entities (NGSI-LD)", response_class=Response,
            responses={200: {"description": "the entities, a page of them",
                             **_content({"type": "array", "items": _ENTITY_SCHEMA})},
                       **ERROR_ANSWERS})
def query_entities(
        request: Request,
        type: Annotated[str | None, Query(max_length=4000, description=(
            "entity types, comma-separated: WasteContainer, Streetlight, StreetlightGroup, "
            "Device"))] = None,
        id: Annotated[str | None, Query(max_length=100_000, description=(
            "entity ids, comma-separated"))] = None,
        idPattern: Annotated[str | None, Query(max_length=4000, description=(
            "a regular expression the id matches"))] = None,
        attrs: Annotated[str | None, Query(max_length=4000, description=(
            "the attributes to answer with, comma-separated; entities with none of them "
            "are left out"))] = None,
        q: Annotated[str | None, Query(max_length=4000, description=(
            "conditions like fillingLevel>0.8;status==\"ok\""))] = None,
        georel: Text = None, geometry: Text = None,
        coordinates: Annotated[str | None, Query(max_length=100_000)] = None,
        geoproperty: Text = None,
        limit: Annotated[str | None, Query(max_length=20, description=(
            f"entities per answer, 0..{LIMIT_MAX} (default {LIMIT_DEFAULT}; 0 with "
            "count=true)"))] = None,
        offset: Annotated[str | None, Query(max_length=20)] = None,
        count: Annotated[str | None, Query(max_length=10, description=(
            f"true: the {COUNT_HEADER} header says how many match"))] = None,
        options: Annotated[str | None, Query(max_length=200, description=(
            "keyValues: the simplified form"))] = None,
        format: Annotated[str | None, Query(max_length=40, description=(
            "keyValues, simplified or normalized"))] = None,
        ctx: ApiContext = Depends(context)) -> Response:
    """Entities by type, ids, id pattern, attributes, q and geo-query (near a
    Point, within a Polygon), by type then id, a page at a time."""
    media = _media(request)
    who = _who(request, ctx)
    readable = _readable(who, ctx)
    if all(x is None for x in (type, id, idPattern, attrs, q, georel)):
        raise _bad("say what to query: give type (e.g. type=WasteContainer), id, idPattern, "
                   "attrs, q or georel")
    types_given = _list(type, "type")
    if types_given is None:
        types = readable
    else:
        names = {_SHORT.get(t) for t in types_given} - {None}
        for t in sorted(n for n in names if n is not None):
            if t not in readable:
                raise auth.not_open(f"{t} entities", who)
        types = frozenset(n for n in names if n is not None)
    if count not in (None, "true", "false"):
        raise _bad(f"count must be true or false, got {count!r}")
    want_count = count == "true"
    n = _whole(limit, "limit", LIMIT_DEFAULT, 0, LIMIT_MAX)
    if n == 0 and not want_count:
        raise _bad("limit=0 goes with count=true (how many match, without entities)")
    skip = _whole(offset, "offset", 0, 0, OFFSET_MAX)
    simplified = _forms(options, format)
    try:
        selection = Selection(types=types, ids=_ids(id), id_pattern=_id_pattern(idPattern),
                              q=None if q is None else parse_q(q),
                              geo=parse_geo(georel, geometry, coordinates, geoproperty),
                              attrs=_attrs(attrs))
    except (QueryError, GeoError) as e:
        raise _bad(str(e)) from None
    found = _catalog(ctx).select(selection)
    body = [_shape(e, selection.attrs, simplified, media) for e in found[skip:skip + n]]
    return _answer(body, media, {COUNT_HEADER: str(len(found))} if want_count else None)


@router.get("/entities/{entityId}", summary="One entity (NGSI-LD)", response_class=Response,
            responses={200: {"description": "the entity", **_content(_ENTITY_SCHEMA)},
                       **ERROR_ANSWERS})
def get_entity(
        request: Request,
        entityId: Annotated[str, Path(max_length=256, description=(
            "the entity's id, e.g. urn:ngsi-ld:WasteContainer:B0001"))],
        attrs: Annotated[str | None, Query(max_length=4000)] = None,
        options: Annotated[str | None, Query(max_length=200)] = None,
        format: Annotated[str | None, Query(max_length=40)] = None,
        ctx: ApiContext = Depends(context)) -> Response:
    media = _media(request)
    who = _who(request, ctx)
    wanted = _attrs(attrs)
    simplified = _forms(options, format)
    entity = _catalog(ctx).get(entityId)
    if entity is None:
        raise Problem(404, f"no entity {entityId!r} here; GET {PREFIX}/entities?type=... lists "
                           "them", type=NOT_FOUND)
    if entity["type"] not in _readable(who, ctx):
        raise auth.not_open(f"{entity['type']} entities", who)
    return _answer(_shape(entity, wanted, simplified, media), media)


@router.get("/types", summary="The entity types there are (NGSI-LD)", response_class=Response,
            responses={200: {"description": "an EntityTypeList, or EntityTypes with "
                                            "details=true",
                             **_content({"type": ["object", "array"]})},
                       **ERROR_ANSWERS})
def list_types(request: Request,
               details: Annotated[str | None, Query(max_length=10, description=(
                   "true: each type with its full name"))] = None,
               ctx: ApiContext = Depends(context)) -> Response:
    """The types that have entities and that the caller may read."""
    media = _media(request)
    who = _who(request, ctx)
    if details not in (None, "true", "false"):
        raise _bad(f"details must be true or false, got {details!r}")
    readable = _readable(who, ctx)
    types = [t for t in _catalog(ctx).types() if t in readable]
    body: Any
    if details == "true":
        body = [{"id": TYPE_IRIS[t], "type": "EntityType", "typeName": t} for t in types]
        if media == JSON_LD:
            body = [{**b, "@context": CONTEXT} for b in body]
    else:
        body = {"id": f"urn:ngsi-ld:EntityTypeList:{ctx.district}", "type": "EntityTypeList",
                "typeList": types}
        if media == JSON_LD:
            body["@context"] = CONTEXT
    return _answer(body, media)
