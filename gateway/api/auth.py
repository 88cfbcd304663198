"""Who is asking, and may they: a browser session (an HttpOnly, SameSite=Strict
cookie, Secure under HTTPS, with a per-session CSRF token that every
state-changing request must carry in a header) or a program's bearer token;
each checked against the role table (gateway/accounts.py). Logging in and
out, with failed logins rate-limited per account and per source address and
logged without the password."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from gateway.accounts import (
    PASSWORD_MAX,
    TOKEN_PREFIX,
    Permission,
    allowed,
    new_secret,
    secret_hash,
    verify_password,
)
from gateway.api.context import ApiContext, context
from gateway.api.problems import Problem
from gateway.storage.users import UserRow

log = logging.getLogger("gateway.api.auth")

COOKIE = "kvarter_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What a log line may quote of a user name someone typed.
NAME_IN_LOG = 64

WHAT = {
    Permission.NODES_READ: "read the nodes",
    Permission.NODES_REGISTER: "register or replace nodes",
    Permission.BINS_READ: "read the bins",
    Permission.ROUTES_READ_ALL: "read every crew's routes",
    Permission.ROUTES_READ_OWN: "read a crew's own routes",
    Permission.VISITS_RECORD: "record visits to bins",
    Permission.PLANS_MAKE: "plan the crews' routes",
    Permission.ALARMS_READ: "read the alarms",
    Permission.ALARMS_ACK: "acknowledge alarms",
    Permission.MAP_READ: "read the district's map",
    Permission.LIGHTS_READ: "read the lights",
    Permission.ZONES_READ: "read the lighting zones",
    Permission.ZONES_CHANGE: "change lighting zones",
    Permission.PRESENCE_READ: "read presence counts",
    Permission.USERS_MANAGE: "manage accounts",
    Permission.EVENTS_READ: "follow live updates",
}


@dataclass(frozen=True)
class Principal:
    user: UserRow
    # The session's secret hash and CSRF token; None for a bearer token.
    session: str | None = None
    csrf_token: str | None = None


def client_address(request: Request) -> str:
    # Behind a reverse proxy (http_behind_proxy), uvicorn has already put
    # the client's address from X-Forwarded-For here; otherwise it is the
    # peer's, which a client cannot choose.
    return request.client.host if request.client is not None else "unknown"


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, {"WWW-Authenticate": 'Bearer realm="kvarter"'})


def principal(request: Request, ctx: ApiContext = Depends(context)) -> Principal:
    """The account behind the request, or 401; a cookie session's
    state-changing request without its CSRF token gets 403."""
    auth = request.headers.get("authorization")
    if auth is not None:
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
            raise _unauthorized("the Authorization header must be 'Bearer kvt_...' with a "
                                "token made by POST /api/v1/me/tokens")
        user = ctx.store.token_user(secret_hash(token))
        if user is None:
            raise _unauthorized("this token is unknown, revoked or its account disabled; "
                                "make a new one")
        return Principal(user)
    cookie = request.cookies.get(COOKIE)
    if cookie is None:
        raise _unauthorized("log in first (POST /api/v1/session) or give a bearer token")
    hashed = secret_hash(cookie)
    session = ctx.store.session(hashed, ctx.session_idle_s)
    if session is None:
        raise _unauthorized("the session has ended (expired, logged out or the password "
                            "changed); log in again")
    if request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(given.encode(), session.csrf_token.encode()):
            raise Problem(403, f"a change made with a session cookie needs the header "
                               f"{CSRF_HEADER} with the session's token (given at login and "
                               "by GET /api/v1/me); reload the page")
    return Principal(session.user, hashed, session.csrf_token)


def require(permission: Permission) -> Callable[..., Principal]:
    """A route's dependency: the principal, if its role has the permission."""

    def check(who: Principal = Depends(principal)) -> Principal:
        if not allowed(who.user.role, permission):
            raise Problem(403, f"a {who.user.role} account may not {WHAT[permission]}; "
                               "ask an administrator for an account with that role")
        return who

    return check


class Me(BaseModel):
    username: str
    role: str
    crew: str | None = Field(None, description="a crew account's truck or crew")
    permissions: list[str]
    csrf_token: str | None = Field(
        None, description=f"send it as {CSRF_HEADER} with every change (session logins only)")
    district: str = Field("", description="the district's name as people say it, for the "
                                          "screens' titles; empty when none is set")


def me_of(who: Principal, district: str = "") -> Me:
    perms = sorted(p.value for p in Permission if allowed(who.user.role, p))
    return Me(username=who.user.username, role=who.user.role, crew=who.user.crew,
              permissions=perms, csrf_token=who.csrf_token, district=district)


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class LoggedIn(BaseModel):
    user: Me
    csrf_token: str
    expires_at: float = Field(description="unix time (UTC) when the session ends at the latest")


router = APIRouter(tags=["session"])


@router.post("/session", response_model=LoggedIn, summary="Log in",
             responses={401: {"description": "wrong user name or password"},
                        429: {"description": "too many failed logins"}})
def login(body: Login, request: Request, response: Response,
          ctx: ApiContext = Depends(context)) -> LoggedIn:
    """Starts a browser session: sets the session cookie and returns the
    CSRF token that every change must carry in the X-CSRF-Token header."""
    address = client_address(request)
    name = body.username.strip()
    wait = ctx.logins.retry_after(name, address)
    if wait is not None:
        log.warning("login refused for %r from %s: too many failed logins",
                    name[:NAME_IN_LOG], address)
        raise Problem(429, f"too many failed logins for this account or from this address; "
                           f"try again in {int(wait + 0.999)} s",
                      {"Retry-After": str(int(wait + 0.999))})
    found = ctx.store.password_hash(name)
    ok = verify_password(None if found is None else found[1], body.password)
    if not ok or found is None or found[0].disabled:
        count = ctx.logins.failed(name, address)
        log.warning("failed login for %r from %s (%d in %d min)", name[:NAME_IN_LOG], address,
                    count, int(ctx.logins.window_s // 60))
        raise _unauthorized("wrong user name or password (or the account is disabled); "
                            "check them and try again")
    user = found[0]
    ctx.logins.succeeded(name)
    secret, csrf = new_secret(), new_secret()
    expires = ctx.store.add_session(user.id, secret_hash(secret), csrf, ctx.session_lifetime_s)
    response.set_cookie(COOKIE, secret, max_age=int(ctx.session_lifetime_s), path="/",
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    log.info("%r logged in from %s", user.username, address)
    who = Principal(user, secret_hash(secret), csrf)
    return LoggedIn(user=me_of(who, ctx.district_name), csrf_token=csrf, expires_at=expires)


@router.delete("/session", status_code=204, summary="Log out")
def logout(response: Response, who: Principal = Depends(principal),
           ctx: ApiContext = Depends(context)) -> None:
    """Ends this browser session (a bearer token is revoked with
    DELETE /api/v1/me/tokens/{id} instead)."""
    if who.session is None:
        raise Problem(409, "a bearer token has no session to end; revoke the token with "
                           "DELETE /api/v1/me/tokens/{id}")
    ctx.store.end_session(who.session)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


def not_open(what: str, who: Principal | None) -> Problem:
    """The refusal of data the city has not declared open (the NGSI-LD
    types, the daily files): 401 to anyone, 403 to an account whose role
    does not read it."""
    if who is None:
        return Problem(401, f"{what}: not open data here; log in or give a bearer token of an "
                            "account that may read it",
                       {"WWW-Authenticate": 'Bearer realm="kvarter"'})
    return Problem(403, f"a {who.user.role} account may not read {what}; ask an "
                        "administrator for an account with that role")
