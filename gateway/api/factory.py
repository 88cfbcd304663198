"""The API's app: its routers under /api/v1, problem details for every
error, and its OpenAPI spec at /api/openapi.json, in which every error
answer is described as a problem. No interactive docs pages: they load
scripts from a CDN, and a city network may have no internet. The web app's
pages (gateway/web) are mounted beside the API, outside its spec."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from gateway.api import (
    auth,
    bins,
    events,
    lights,
    map_data,
    ngsi_ld,
    nodes,
    open_data,
    presence,
    problems,
    routes,
    streets,
    users,
)
from gateway.api.context import ApiContext
from gateway.api.problems import Problem, ProblemBody
from gateway.web import site

PREFIX = "/api/v1"
OPENAPI_URL = "/api/openapi.json"

# Routes anyone may call; every other one needs an account (401 without).
PUBLIC = {("get", f"{PREFIX}/health"), ("post", f"{PREFIX}/session")}


class Health(BaseModel):
    status: str
    district: str


def _health_route(district: str) -> APIRouter:
    router = APIRouter(tags=["gateway"])

    @router.get("/health", response_model=Health, summary="Is the gateway up")
    def is_up() -> Health:
        return Health(status="ok", district=district)

    return router


def _problem_content() -> dict[str, Any]:
    return {problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _describe_problems(spec: dict[str, Any]) -> dict[str, Any]:
    """Every error answer a route can give, as a problem: 422 everywhere
    (a body or query it cannot take), 401 and 403 on every route that needs
    an account, 404 where the path names something."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = ProblemBody.model_json_schema()
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            responses = op.setdefault("responses", {})
            # NGSI-LD names a request it cannot take 400 (gateway/api/ngsi_ld.py).
            codes = {"400"} if path.startswith(ngsi_ld.PREFIX) else {"422"}
            if (method, path) not in PUBLIC:
                codes |= {"401", "403"}
            if "{" in path:
                codes.add("404")
            for code, answer in list(responses.items()):
                if code.startswith(("4", "5")):
                    answer["content"] = _problem_content()
            for code in sorted(codes):
                responses.setdefault(code, {"description": {
                    "400": "the request cannot be taken as it is (BadRequestData)",
                    "401": "no account: log in, or give a bearer token",
                    "403": "the account's role may not do this, or a session's change "
                           "came without its CSRF token",
                    "404": "no such thing",
                    "422": "the request cannot be taken as it is",
                }[code], "content": _problem_content()})
    return spec


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(title="kvarter gateway", version="1",
                  description="People's API of a district gateway: nodes, bins, today's "
                              "plan and routes, the map, lights, presence counts and "
                              "accounts; the district's daily open-data files; and the "
                              "district as NGSI-LD entities at /ngsi-ld/v1. Errors are "
                              "RFC 9457 problems.",
                  openapi_url=OPENAPI_URL, docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    problems.install(app)
    app.include_router(_health_route(ctx.district), prefix=PREFIX)
    for module in (auth, users, nodes, bins, routes, map_data, lights, presence, events,
                   streets, open_data):
        app.include_router(module.router, prefix=PREFIX)
    app.include_router(ngsi_ld.router)

    def whoami(request: Request) -> str | None:
        try:
            return auth.principal(request, ctx).user.role
        except Problem:
            return None

    site.install(app, whoami)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version,
                               description=app.description, routes=app.routes)
            app.openapi_schema = _describe_problems(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
