"""The NGSI-LD query language's `q` (ETSI GS CIM 009, 4.9): parsed once into
a tree, then evaluated against each entity.

What is taken: comparisons `==`, `!=`, `>`, `>=`, `<`, `<=` of an attribute
(or an attribute's sub-attribute, `fillingLevel.observedAt`) with a number,
a quoted string, `true`/`false` or an unquoted date-time; `==`/`!=` with a
range `a..b` or a list `a,b,c`; an attribute alone (it exists); `;` (and),
`|` (or, binding looser than and) and parentheses. Pattern matching (`~=`,
`!~=`) is refused: a regular expression from anyone on the internet is a
denial of service waiting to happen.

An entity without the attribute, or whose value is of another type than the
one compared with, does not match, `!=` included. An attribute holding a
list matches when any of its elements does (`!=`: when none equals)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

MAX_LENGTH = 2000
MAX_DEPTH = 16


class QueryError(ValueError):
    """A `q` that cannot be taken; the message says where and why."""


Scalar = float | str | bool | datetime


@dataclass(frozen=True)
class Range:
    low: Scalar
    high: Scalar


@dataclass(frozen=True)
class Choice:
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Compare:
    path: tuple[str, ...]
    op: str | None  # None: the attribute exists
    value: Scalar | Range | Choice | None = None


@dataclass(frozen=True)
class All:
    terms: tuple[Node, ...]


@dataclass(frozen=True)
class Any_:
    terms: tuple[Node, ...]


Node = Compare | All | Any_

OPERATORS = ("==", "!=", ">=", "<=", ">", "<")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})")
_BARE = re.compile(r"[^;|()=!<>,.\"\s]+")


def _datetime(text: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> QueryError:
        return QueryError(f"q: {what} at character {self.pos + 1}; write comparisons like "
                          "fillingLevel>0.8;status==\"ok\"")

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def parse(self) -> Node:
        node = self.any_(0)
        if self.pos != len(self.text):
            raise self.fail(f"unexpected {self.text[self.pos]!r}")
        return node

    def any_(self, depth: int) -> Node:
        terms = [self.all_(depth)]
        while self.peek("|"):
            self.pos += 1
            terms.append(self.all_(depth))
        return terms[0] if len(terms) == 1 else Any_(tuple(terms))

    def all_(self, depth: int) -> Node:
        terms = [self.atom(depth)]
        while self.peek(";"):
            self.pos += 1
            terms.append(self.atom(depth))
        return terms[0] if len(terms) == 1 else All(tuple(terms))

    def atom(self, depth: int) -> Node:
        if self.peek("("):
            if depth >= MAX_DEPTH:
                raise self.fail(f"more than {MAX_DEPTH} nested parentheses")
            self.pos += 1
            node = self.any_(depth + 1)
            if not self.peek(")"):
                raise self.fail("a ')' is missing")
            self.pos += 1
            return node
        return self.compare()

    def name(self) -> str:
        m = _NAME.match(self.text, self.pos)
        if m is None:
            raise self.fail("an attribute name is expected")
        self.pos = m.end()
        return m.group()

    def compare(self) -> Compare:
        path = [self.name()]
        while self.peek("."):
            self.pos += 1
            path.append(self.name())
        if len(path) > 2:
            raise self.fail("only an attribute or its sub-attribute (a.b) can be compared")
        if self.peek("~=") or self.peek("!~="):
            raise self.fail("pattern matching (~=) is not supported")
        op = next((o for o in OPERATORS if self.peek(o)), None)
        if op is None:
            return Compare(tuple(path), None)
        self.pos += len(op)
        first = self.scalar()
        if self.peek(".."):
            self.pos += 2
            high = self.scalar()
            if op not in ("==", "!="):
                raise self.fail(f"a range goes with == or != only, not {op}")
            if type(first) is not type(high):
                raise self.fail("a range's ends must be of one type")
            return Compare(tuple(path), op, Range(first, high))
        if self.peek(","):
            values = [first]
            while self.peek(","):
                self.pos += 1
                values.append(self.scalar())
            if op not in ("==", "!="):
                raise self.fail(f"a list of values goes with == or != only, not {op}")
            return Compare(tuple(path), op, Choice(tuple(values)))
        return Compare(tuple(path), op, first)

    def scalar(self) -> Scalar:
        text, pos = self.text, self.pos
        if self.peek('"'):
            end = pos + 1
            out = []
            while end < len(text) and text[end] != '"':
                if text[end] == "\\" and end + 1 < len(text):
                    end += 1
                out.append(text[end])
                end += 1
            if end >= len(text):
                raise self.fail("a string's closing quote is missing")
            self.pos = end + 1
            return "".join(out)
        m = _DATETIME.match(text, pos)
        if m is not None:
            t = _datetime(m.group())
            if t is None:
                raise self.fail(f"{m.group()!r} is not a date-time")
            self.pos = m.end()
            return t
        m = _NUMBER.match(text, pos)
        if m is not None and not _NAME.match(text, m.end()):
            value = float(m.group())
            if not math.isfinite(value):
                raise self.fail(f"{m.group()!r} is not a finite number")
            self.pos = m.end()
            return value
        for word, value in (("true", True), ("false", False)):
            if text.startswith(word, pos) and not _NAME.match(text, pos + len(word)):
                self.pos = pos + len(word)
                return value
        bare = _BARE.match(text, pos)
        if bare is not None:
            raise self.fail(f"{bare.group()!r} is not a value: quote strings "
                            f"(\"{bare.group()}\")")
        raise self.fail("a value is expected")


def parse_q(text: str) -> Node:
    """The query tree of `q`, or QueryError."""
    if not text:
        raise QueryError("q is empty; leave it out, or give comparisons like fillingLevel>0.8")
    if len(text) > MAX_LENGTH:
        raise QueryError(f"q is longer than {MAX_LENGTH} characters; split the query")
    return _Parser(text).parse()


def attributes(node: Node) -> set[str]:
    """The attributes a query names."""
    if isinstance(node, Compare):
        return {node.path[0]}
    return set().union(*(attributes(t) for t in node.terms))


# --- evaluation ----------------------------------------------------------------

Lookup = Callable[[tuple[str, ...]], object]
_MISSING = object()


def _kind(v: object) -> type | None:
    if isinstance(v, bool):
        return bool
    if isinstance(v, int | float):
        return float
    if isinstance(v, datetime):
        return datetime
    if isinstance(v, str):
        return str
    return None


def _as(actual: object, like: Scalar) -> object:
    """The entity's value in the literal's type, or _MISSING."""
    want = _kind(like)
    if want is datetime and isinstance(actual, str):
        found = _datetime(actual)  # a sub-attribute's time: observedAt
        return _MISSING if found is None else found
    if _kind(actual) is not want:
        return _MISSING
    if want is float:
        value = float(actual)  # type: ignore[arg-type]
        return value if math.isfinite(value) else _MISSING
    return actual


def _one(actual: object, op: str, value: Scalar | Range | Choice) -> bool:
    if isinstance(value, Range):
        a = _as(actual, value.low)
        if a is _MISSING:
            return False
        inside = bool(value.low <= a <= value.high)  # type: ignore[operator]
        return inside if op == "==" else not inside
    if isinstance(value, Choice):
        hits = [_as(actual, v) for v in value.values]
        if all(h is _MISSING for h in hits):
            return False
        found = any(h is not _MISSING and h == v for h, v in zip(hits, value.values,
                                                                  strict=True))
        return found if op == "==" else not found
    a = _as(actual, value)
    if a is _MISSING:
        return False
    if op == "==":
        return bool(a == value)
    if op == "!=":
        return bool(a != value)
    if isinstance(value, bool):
        return False  # true and false have no order
    if op == ">":
        return bool(a > value)  # type: ignore[operator]
    if op == ">=":
        return bool(a >= value)  # type: ignore[operator]
    if op == "<":
        return bool(a < value)  # type: ignore[operator]
    return bool(a <= value)  # type: ignore[operator]


def matches(node: Node, lookup: Lookup) -> bool:
    """Whether the entity whose values `lookup` gives (None: no such
    attribute) matches the query."""
    if isinstance(node, All):
        return all(matches(t, lookup) for t in node.terms)
    if isinstance(node, Any_):
        return any(matches(t, lookup) for t in node.terms)
    actual = lookup(node.path)
    if actual is None:
        return False
    if node.op is None:
        return True
    assert node.value is not None
    if isinstance(actual, list):
        if node.op == "!=":
            return bool(actual) and all(_one(a, "!=", node.value) for a in actual)
        return any(_one(a, node.op, node.value) for a in actual)
    return _one(actual, node.op, node.value)
