"""Accounts: one's own (/me, its password, its programs' tokens) and, for an
administrator, everyone's."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from gateway.accounts import (
    CREW_PATTERN,
    PASSWORD_MAX,
    PASSWORD_MIN,
    TOKEN_PREFIX,
    USERNAME_PATTERN,
    AccountError,
    Permission,
    check_password,
    check_role,
    check_username,
    hash_password,
    new_secret,
    secret_hash,
    verify_password,
)
from gateway.api.auth import Me, Principal, me_of, principal, require
from gateway.api.context import ApiContext, context
from gateway.api.pages import LIMIT_DEFAULT, Limit, Offset, Page
from gateway.api.problems import Problem
from gateway.storage.users import UserExists, UserRow

log = logging.getLogger("gateway.api.auth")

Role = Literal["admin", "operator", "planner", "crew", "technician"]
Username = Annotated[str, Path(min_length=1, max_length=40, description="the user's name")]


class User(BaseModel):
    username: str
    role: Role
    crew: str | None
    disabled: bool
    created_at: float = Field(description="unix time (UTC)")
    password_changed_at: float = Field(description="unix time (UTC)")


class NewStaff(BaseModel):
    """Any account but a crew's: it has no crew."""
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=USERNAME_PATTERN)
    role: Literal["admin", "operator", "planner", "technician"]
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class NewCrew(BaseModel):
    """A crew's account, bound to its crew (the truck whose routes it sees)."""
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=USERNAME_PATTERN)
    role: Literal["crew"]
    crew: str = Field(pattern=CREW_PATTERN)
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


NewUser = Annotated[NewStaff | NewCrew, Field(discriminator="role")]


class UserChange(BaseModel):
    disabled: bool | None = None
    password: str | None = Field(None, min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX)
    new_password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=80, description="what the program is")


class Token(BaseModel):
    id: int
    name: str
    created_at: float
    last_used: float | None


class MadeToken(Token):
    token: str = Field(description="shown once: send it as 'Authorization: Bearer <token>'")


def _user(u: UserRow) -> User:
    return User(username=u.username, role=u.role, crew=u.crew,  # type: ignore[arg-type]
                disabled=u.disabled, created_at=u.created_at,
                password_changed_at=u.password_changed_at)


router = APIRouter(tags=["accounts"])
ADMIN = Depends(require(Permission.USERS_MANAGE))


@router.get("/me", response_model=Me, summary="Who I am")
def me(who: Principal = Depends(principal), ctx: ApiContext = Depends(context)) -> Me:
    return me_of(who, ctx.district_name)


@router.put("/me/password", status_code=204, summary="Change my password",
            responses={409: {"description": "the current password is wrong"}})
def change_password(body: PasswordChange, who: Principal = Depends(principal),
                    ctx: ApiContext = Depends(context)) -> None:
    """Every other session of the account ends."""
    found = ctx.store.password_hash(who.user.username)
    if found is None or not verify_password(found[1], body.current_password):
        raise Problem(409, "the current password is wrong; give it as it is now")
    ctx.store.set_password_hash(who.user.username, hash_password(body.new_password),
                                keep_session=who.session)
    log.info("%r changed their password", who.user.username)


@router.get("/me/tokens", response_model=list[Token], summary="My programs' tokens")
def list_tokens(who: Principal = Depends(principal),
                ctx: ApiContext = Depends(context)) -> list[Token]:
    return [Token(id=t.id, name=t.name, created_at=t.created_at, last_used=t.last_used)
            for t in ctx.store.tokens(who.user.id)]


@router.post("/me/tokens", response_model=MadeToken, status_code=201,
             summary="Make a token for a program")
def make_token(body: NewToken, who: Principal = Depends(principal),
               ctx: ApiContext = Depends(context)) -> MadeToken:
    """The token acts with this account's role; only its hash is kept."""
    secret = TOKEN_PREFIX + new_secret()
    t = ctx.store.add_token(who.user.id, body.name, secret_hash(secret))
    log.info("%r made token %d (%r)", who.user.username, t.id, body.name)
    return MadeToken(id=t.id, name=t.name, created_at=t.created_at, last_used=None,
                     token=secret)


@router.delete("/me/tokens/{token_id}", status_code=204, summary="Revoke a token")
def revoke_token(token_id: Annotated[int, Path(ge=1, le=2**62)],
                 who: Principal = Depends(principal),
                 ctx: ApiContext = Depends(context)) -> None:
    if not ctx.store.revoke_token(who.user.id, token_id):
        raise Problem(404, f"you have no token {token_id}; GET /api/v1/me/tokens lists yours")


@router.get("/users", response_model=Page[User], summary="Accounts")
def list_users(offset: Offset = 0, limit: Limit = LIMIT_DEFAULT, _: object = ADMIN,
               ctx: ApiContext = Depends(context)) -> Page[User]:
    rows, total = ctx.store.users(offset, limit)
    return Page[User](items=[_user(u) for u in rows], total=total, offset=offset, limit=limit)


@router.post("/users", response_model=User, status_code=201, summary="Add an account",
             responses={409: {"description": "the name is taken"}})
def add_user(body: NewUser, who: Principal = ADMIN,
             ctx: ApiContext = Depends(context)) -> User:
    try:
        name = check_username(body.username)
        role, crew = check_role(body.role, getattr(body, "crew", None))
        password = check_password(body.password)
    except AccountError as e:
        raise Problem(422, str(e)) from None
    try:
        row = ctx.store.add_user(name, role, crew, hash_password(password))
    except UserExists as e:
        raise Problem(409, f"{e}; choose another name") from None
    log.info("%r added %s account %r", who.user.username, role, name)
    return _user(row)


@router.get("/users/{username}", response_model=User, summary="One account")
def get_user(username: Username, _: object = ADMIN,
             ctx: ApiContext = Depends(context)) -> User:
    row = ctx.store.user(username)
    if row is None:
        raise Problem(404, f"no user {username!r}; GET /api/v1/users lists them")
    return _user(row)


@router.patch("/users/{username}", response_model=User, summary="Disable, enable or "
              "set a new password", responses={409: {"description": "the last admin"}})
def change_user(username: Username, body: UserChange, who: Principal = ADMIN,
                ctx: ApiContext = Depends(context)) -> User:
    row = ctx.store.user(username)
    if row is None:
        raise Problem(404, f"no user {username!r}; GET /api/v1/users lists them")
    if body.disabled and row.role == "admin" and not row.disabled \
            and ctx.store.count_admins() <= 1:
        raise Problem(409, f"{username!r} is the last enabled administrator; add another "
                           "first, or nobody could manage accounts")
    if body.password is not None:
        ctx.store.set_password_hash(row.username, hash_password(body.password))
        log.info("%r set a new password for %r", who.user.username, row.username)
    if body.disabled is not None and body.disabled != row.disabled:
        ctx.store.set_disabled(row.username, body.disabled)
        log.info("%r %s %r", who.user.username, "disabled" if body.disabled else "enabled",
                 row.username)
    updated = ctx.store.user(row.username)
    assert updated is not None
    return _user(updated)
