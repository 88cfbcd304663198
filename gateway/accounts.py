"""People's accounts: the roles, what each role may do, and how passwords and
the secrets of sessions and tokens are kept.

The role table is the one place that says who may do what; the HTTP API
checks every route against it and `kvarter users` names its roles."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("admin", "operator", "planner", "crew", "technician")
ROLE_TITLES = {
    "admin": "administrator: accounts, and everything others may read",
    "operator": "lighting operator at the control desk: light states, zones (changed by "
                "operators and admins only), bins and their alarms",
    "planner": "waste planner: bins, forecasts, today's plan and every crew's route",
    "crew": "sanitation crew: its own truck's route and the stops it records",
    "technician": "field technician: nodes and their health, registering and replacing nodes",
}


class Permission(Enum):
    NODES_READ = "nodes.read"
    NODES_REGISTER = "nodes.register"  # register or replace a node
    BINS_READ = "bins.read"
    ROUTES_READ_ALL = "routes.read-all"  # every crew's route
    ROUTES_READ_OWN = "routes.read-own"  # the route of the account's own crew
    VISITS_RECORD = "visits.record"  # a stop emptied or unreachable
    PLANS_MAKE = "plans.make"  # plan today's routes
    ALARMS_READ = "alarms.read"
    ALARMS_ACK = "alarms.ack"  # acknowledge a bin's alarm
    MAP_READ = "map.read"  # every bin and pole on the district's map
    LIGHTS_READ = "lights.read"
    ZONES_READ = "zones.read"
    ZONES_CHANGE = "zones.change"
    PRESENCE_READ = "presence.read"  # counts per zone and interval
    USERS_MANAGE = "users.manage"
    EVENTS_READ = "events.read"  # the live stream, filtered by the other permissions


# Who may do what. A role not named for a permission is refused it (403).
ROLE_TABLE: dict[Permission, frozenset[str]] = {
    Permission.NODES_READ: frozenset({"admin", "technician", "operator", "planner"}),
    Permission.NODES_REGISTER: frozenset({"admin", "technician"}),
    # The operators' control desk shows the whole district: bins and their
    # alarms (a fire is the desk's to call in) beside the poles.
    Permission.BINS_READ: frozenset({"admin", "operator", "planner", "technician"}),
    Permission.ROUTES_READ_ALL: frozenset({"admin", "planner"}),
    Permission.ROUTES_READ_OWN: frozenset({"crew"}),
    Permission.VISITS_RECORD: frozenset({"admin", "planner", "crew"}),
    Permission.PLANS_MAKE: frozenset({"admin", "planner"}),
    Permission.ALARMS_READ: frozenset({"admin", "operator", "planner", "technician"}),
    Permission.ALARMS_ACK: frozenset({"admin", "operator", "planner"}),
    Permission.MAP_READ: frozenset({"admin", "operator", "planner", "technician"}),
    Permission.LIGHTS_READ: frozenset({"admin", "operator", "technician"}),
    Permission.ZONES_READ: frozenset({"admin", "operator"}),
    Permission.ZONES_CHANGE: frozenset({"admin", "operator"}),
    Permission.PRESENCE_READ: frozenset({"admin", "operator"}),
    Permission.USERS_MANAGE: frozenset({"admin"}),
    Permission.EVENTS_READ: frozenset(ROLES),
}


def allowed(role: str, permission: Permission) -> bool:
    return role in ROLE_TABLE[permission]


class AccountError(ValueError):
    """An account setting that cannot be used; the message says what to do."""


USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,39}$"
CREW_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$"
_USERNAME = re.compile(USERNAME_PATTERN.rstrip("$"))
_CREW = re.compile(CREW_PATTERN.rstrip("$"))
PASSWORD_MIN = 10
PASSWORD_MAX = 1024  # argon2 takes any length; a bound keeps a request cheap


def check_username(name: object) -> str:
    if not isinstance(name, str) or not _USERNAME.fullmatch(name):
        raise AccountError(f"user name {name!r} must be 1-40 characters of a-z 0-9 . _ -, "
                           "starting with a letter or digit")
    return name


def check_role(role: object, crew: object) -> tuple[str, str | None]:
    """(role, crew): a crew account names its crew (the truck whose routes it
    sees); no other role has one."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if role == "crew":
        if not isinstance(crew, str) or not _CREW.fullmatch(crew):
            raise AccountError("a crew account needs its crew (the truck's name, 1-40 "
                               "characters of letters, digits, space . _ -): give --crew")
        return role, crew
    if crew is not None:
        raise AccountError(f"only a crew account has a crew; a {role} account has none")
    return str(role), None


def check_password(password: object) -> str:
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise AccountError(f"a password must be {PASSWORD_MIN}..{PASSWORD_MAX} characters")
    return password


# argon2id with the library's defaults (RFC 9106's second recommended
# parameter set, 64 MiB): slow to guess at, fast enough for a login.
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when the user name is unknown, so that an unknown name costs
    the same time as a wrong password and does not tell which names exist.
    Made at first use: a hash takes a noticeable moment, which commands that
    never log anyone in should not pay."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def new_secret() -> str:
    """A session's or a token's secret: 256 random bits."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What is stored of a secret. The secret is random and long, so a plain
    SHA-256 is enough (a password needs argon2: it can be guessed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


TOKEN_PREFIX = "kvt_"  # tells a program's token from a session in a log or a leak scan
