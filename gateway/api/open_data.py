"""The district's daily open-data files over HTTP, as `kvarter export
open-data` writes them: GET /api/v1/open-data/{day} answers the day's
datapackage.json (the files, their data dictionary and licence), and
GET /api/v1/open-data/{day}/{file} each file.

The datasets the city declares open (the gateway's open_data_files; by
default as open as the NGSI-LD entities of the same data) are fetched
without an account; the others need an account whose role reads that data
(the bins: bins.read, the zones' energy: zones.read, presence counts:
presence.read). The datapackage.json lists what the asker may fetch."""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from gateway.accounts import Permission, allowed
from gateway.api import auth
from gateway.api.auth import COOKIE, Principal
from gateway.api.context import ApiContext, context
from gateway.api.problems import Problem
from gateway.daily_export import DayError, day_files, parse_day
from gateway.opendata.export.files import DATAPACKAGE, DATASET_OF, FILES, DayFiles, only

DATASET_PERMISSION = {"bins": Permission.BINS_READ, "emptyings": Permission.BINS_READ,
                      "lighting-energy": Permission.ZONES_READ,
                      "presence": Permission.PRESENCE_READ}
MEDIA = {".csv": "text/csv; charset=utf-8", ".geojson": "application/geo+json",
         ".json": "application/json"}

Day = Annotated[str, Path(min_length=10, max_length=10, pattern=r"^\d{4}-\d{2}-\d{2}$",
                          description="the district's local day, YYYY-MM-DD: today (what is "
                                      "over of it) or a day before")]
FileName = Annotated[str, Path(max_length=40, pattern=r"^[a-z-]+\.(csv|geojson|json)$",
                               description="a file the day's datapackage.json lists")]

router = APIRouter(tags=["open data"])


def _who(request: Request, ctx: ApiContext) -> Principal | None:
    """The account behind the request, None for nobody; a credential given
    that does not hold is 401, as everywhere in the API."""
    if request.headers.get("authorization") is None and request.cookies.get(COOKIE) is None:
        return None
    return auth.principal(request, ctx)


def _may(who: Principal | None, dataset: str, ctx: ApiContext) -> bool:
    return dataset in ctx.open_datasets or (
        who is not None and allowed(who.user.role, DATASET_PERMISSION[dataset]))


def _files(day_text: str, ctx: ApiContext) -> DayFiles:
    now = time.time()
    try:
        day = parse_day(day_text, now)
    except DayError as e:
        raise Problem(404, f"no open data for that day: {e}") from None
    return ctx.open_data.get(day, lambda: _make(ctx, day, now))


def _make(ctx: ApiContext, day: date, now: float) -> DayFiles:
    return day_files(ctx.store, day, now, ctx.export_settings)


_ANSWER: dict[int | str, dict[str, Any]] = {200: {"content": {
    "text/csv": {"schema": {"type": "string"}},
    "application/geo+json": {"schema": {"type": "object"}},
    "application/json": {"schema": {"type": "object"}}}}}


@router.get("/open-data/{day}", summary="A day's open-data files: their datapackage.json",
            response_class=Response, responses={200: {"content": {
                "application/json": {"schema": {"type": "object"}}}}})
def day_package(day: Day, request: Request,
                ctx: ApiContext = Depends(context)) -> Response:
    """The Frictionless Data Package of the day: each file with its Table
    Schema (the data dictionary: names, types, units, descriptions), the
    licence and the sources. It lists the files the asker may fetch."""
    who = _who(request, ctx)
    readable = [f for f in FILES if _may(who, DATASET_OF[f], ctx)]
    if not readable:
        raise auth.not_open("the daily files", who)
    files = _files(day, ctx)
    doc = only(json.loads(files.files[DATAPACKAGE]), readable)
    return Response(json.dumps(doc, ensure_ascii=False, indent=2) + "\n",
                    media_type="application/json",
                    headers={"Cache-Control": "no-cache"})


@router.get("/open-data/{day}/{file}", summary="One of a day's open-data files",
            response_class=Response, responses=_ANSWER)
def day_file(day: Day, file: FileName, request: Request,
             ctx: ApiContext = Depends(context)) -> Response:
    """A CSV, bins.geojson, or datapackage.json (as GET /api/v1/open-data/{day})."""
    if file == DATAPACKAGE:
        return day_package(day, request, ctx)
    if file not in DATASET_OF:
        raise Problem(404, f"no file {file!r}: the files are {', '.join(FILES)} and "
                           f"{DATAPACKAGE}")
    who = _who(request, ctx)
    if not _may(who, DATASET_OF[file], ctx):
        raise auth.not_open(file, who)
    body = _files(day, ctx).files[file]
    suffix = file[file.rindex("."):]
    return Response(body, media_type=MEDIA[suffix],
                    headers={"Cache-Control": "no-cache",
                             "Content-Disposition": f'inline; filename="{day}-{file}"'})
