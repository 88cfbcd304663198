"""One error shape for every error the API answers: RFC 9457 problem details
(application/problem+json) whose `detail` is one line saying what was wrong
and what to do; validation errors, 401, 403, 404 and 405 included, and an
internal error too (its cause goes to the gateway's log, not to the client)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("gateway.api")

MEDIA_TYPE = "application/problem+json"
NGSI_LD_PREFIX = "/ngsi-ld/"
NGSI_LD_BAD_REQUEST = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


class ProblemBody(BaseModel):
    """RFC 9457 problem details."""
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None


class Problem(Exception):
    """Raise it in a route: the client gets a problem with this status and
    one-line detail."""

    def __init__(self, status: int, detail: str,
                 headers: Mapping[str, str] | None = None, type: str = "about:blank") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        # A URI naming the kind of problem: NGSI-LD's error types
        # (gateway/api/ngsi_ld.py); about:blank elsewhere.
        self.type = type


def problem_response(request: Request, status: int, detail: str,
                     headers: Mapping[str, str] | None = None,
                     type: str = "about:blank") -> JSONResponse:
    body = ProblemBody(type=type, title=HTTPStatus(status).phrase, status=status,
                       detail=" ".join(detail.split()), instance=request.url.path)
    return JSONResponse(body.model_dump(), status_code=status, media_type=MEDIA_TYPE,
                        headers=dict(headers or {}))


def _where(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "the request"
    part, *rest = loc
    names = {"query": "query parameter", "path": "path parameter", "header": "header",
             "cookie": "cookie", "body": "body"}
    field = ".".join(str(x) for x in rest)
    if part == "body":
        return f"body field {field}" if field else "the body"
    return f"{names.get(str(part), str(part))} {field}".strip()


def validation_detail(errors: list[Any]) -> str:
    """The first thing wrong with a request, in one line (and how many more)."""
    if not errors:
        return "the request is not valid; see the API's spec at /api/openapi.json"
    first = errors[0]
    msg = str(first.get("msg", "is not valid"))
    if first.get("type") == "json_invalid":
        text = "the body is not valid JSON; send a JSON object"
    elif first.get("type") == "missing":
        text = f"{_where(tuple(first.get('loc', ())))} is missing; give it"
    else:
        text = f"{_where(tuple(first.get('loc', ())))}: {msg[:1].lower()}{msg[1:]}"
    more = len(errors) - 1
    if more:
        text += f" (and {more} more problem{'s' if more > 1 else ''})"
    return text + "; see the API's spec at /api/openapi.json"


_HTTP_DETAIL = {
    404: "no such resource here; the API's routes are listed in /api/openapi.json",
    405: "this method is not allowed here; the Allow header lists the ones that are",
}


def install(app: FastAPI) -> None:
    """Every error the app can answer, as a problem."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(request, exc.status, exc.detail, exc.headers, exc.type)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = _HTTP_DETAIL.get(exc.status_code)
        if detail is None:
            detail = str(exc.detail) if exc.detail else HTTPStatus(exc.status_code).phrase
        return problem_response(request, exc.status_code, detail, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        if request.url.path.startswith(NGSI_LD_PREFIX):
            # NGSI-LD names a request it cannot take 400 Bad Request Data.
            return problem_response(request, 400, validation_detail(list(exc.errors())),
                                    type=NGSI_LD_BAD_REQUEST)
        return problem_response(request, 422, validation_detail(list(exc.errors())))

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("HTTP %s %s failed: %s: %s", request.method, request.url.path,
                  type(exc).__name__, exc)
        return problem_response(request, 500, "the gateway failed to answer this request; "
                                "its log tells why, try again later")

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_error)
