"""The NGSI-LD `q` parser and its evaluation: whatever text comes, a
QueryError (the API's 400) or a query, never anything else; and a query
written out from a random tree means what a straightforward evaluation of
that tree says, for random entities."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.opendata.entities import lookup
from gateway.opendata.query import QueryError, attributes, matches, parse_q

# --- any text --------------------------------------------------------------------

QUERY_CHARS = st.sampled_from(list('abcxyz_.01234567890;|()=!<>~,"\\ -+eETZ:') + ["..", "=="])


@given(st.one_of(st.text(max_size=60), st.lists(QUERY_CHARS, max_size=40).map("".join)))
@settings(max_examples=1000, deadline=None)
def test_any_text_is_a_query_or_a_query_error(text: str) -> None:
    try:
        node = parse_q(text)
    except QueryError as e:
        assert str(e) and "\n" not in str(e)
        return
    entity = {"id": "urn:x", "type": "T", "a": {"type": "Property", "value": 1.0},
              "b": {"type": "Property", "value": "x"}}
    matches(node, lambda p: lookup(entity, p))
    assert attributes(node)


def test_too_deep_or_too_long_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="nested"):
        parse_q("(" * 40 + "a" + ")" * 40)
    with pytest.raises(QueryError, match="longer"):
        parse_q("a==1;" * 1000)


# --- a tree, written out and read back, against an oracle -----------------------------

NUM = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
WORD = st.text(alphabet="abcxyz", min_size=0, max_size=3)
OPS = ["==", "!=", ">", ">=", "<", "<="]

# Each attribute's kind: a number, a string, a list of numbers, a date-time
# (to the second, as the query writes it).
ATTRS = {"n": NUM, "s": WORD, "l": st.lists(NUM, max_size=3),
         "d": st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                           timezones=st.just(UTC)).map(lambda t: t.replace(microsecond=0))}


def _literal(kind: str) -> st.SearchStrategy[Any]:
    return st.one_of(NUM, WORD, st.booleans(), ATTRS["d"]) if kind == "?" else (
        NUM if kind in ("n", "l") else ATTRS[kind])


@st.composite
def compare(draw: st.DrawFn) -> tuple[Any, ...]:
    attr = draw(st.sampled_from(["n", "s", "l", "d", "missing"]))
    kind = draw(st.sampled_from([attr if attr in ATTRS else "n", "?"]))
    shape = draw(st.sampled_from(["one", "one", "range", "list", "exists"]))
    op = draw(st.sampled_from(OPS if shape == "one" else ["==", "!="]))
    if shape == "exists":
        return ("exists", attr)
    if shape == "range":
        lo, hi = draw(_literal(kind)), draw(_literal(kind))
        if type(lo) is not type(hi):
            hi = lo
        return ("range", attr, op, lo, hi)
    if shape == "list":
        return ("list", attr, op, draw(st.lists(_literal(kind), min_size=2, max_size=3)))
    return ("one", attr, op, draw(_literal(kind)))


TREES = st.recursive(compare(), lambda inner: st.tuples(
    st.sampled_from(["and", "or"]), st.lists(inner, min_size=2, max_size=3)), max_leaves=8)


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f'"{v}"'


def render(tree: tuple[Any, ...]) -> str:
    kind = tree[0]
    if kind in ("and", "or"):
        return (";" if kind == "and" else "|").join(f"({render(t)})" for t in tree[1])
    if kind == "exists":
        return str(tree[1])
    if kind == "range":
        return f"{tree[1]}{tree[2]}{_text(tree[3])}..{_text(tree[4])}"
    if kind == "list":
        return f"{tree[1]}{tree[2]}{','.join(_text(v) for v in tree[3])}"
    return f"{tree[1]}{tree[2]}{_text(tree[3])}"


def _same_kind(a: Any, b: Any) -> bool:
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return (isinstance(a, num) and isinstance(b, num)) or type(a) is type(b)


def _cmp(a: Any, op: str, b: Any) -> bool:
    if not _same_kind(a, b):
        return False
    if isinstance(b, bool) and op not in ("==", "!="):
        return False
    return {"==": a == b, "!=": a != b, ">": a > b, ">=": a >= b, "<": a < b,
            "<=": a <= b}[op]


def _term(value: Any, tree: tuple[Any, ...]) -> bool:
    kind, _, op = tree[0], tree[1], tree[2]
    if kind == "range":
        lo, hi = tree[3], tree[4]
        if not _same_kind(value, lo):
            return False
        inside = lo <= value <= hi
        return inside if op == "==" else not inside
    if kind == "list":
        same = [v for v in tree[3] if _same_kind(value, v)]
        if not same:
            return False
        return (value in same) if op == "==" else (value not in same)
    return _cmp(value, op, tree[3])


def oracle(tree: tuple[Any, ...], entity: dict[str, Any]) -> bool:
    if tree[0] == "and":
        return all(oracle(t, entity) for t in tree[1])
    if tree[0] == "or":
        return any(oracle(t, entity) for t in tree[1])
    if tree[1] not in entity:
        return False
    value = entity[tree[1]]
    if tree[0] == "exists":
        return True
    if isinstance(value, list):
        if tree[2] == "!=":
            return bool(value) and all(_term(v, tree) for v in value)
        return any(_term(v, tree) for v in value)
    return _term(value, tree)


ENTITIES = st.fixed_dictionaries({}, optional=ATTRS)


def as_ngsi(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": "urn:ngsi-ld:T:1", "type": "T"}
    for k, v in values.items():
        if isinstance(v, datetime):
            out[k] = {"type": "Property", "value": {
                "@type": "DateTime", "@value": v.strftime("%Y-%m-%dT%H:%M:%SZ")}}
        else:
            out[k] = {"type": "Property", "value": v}
    return out


@given(TREES, st.lists(ENTITIES, min_size=1, max_size=5))
@settings(max_examples=400, deadline=None)
def test_a_written_out_query_means_what_the_oracle_says(tree: tuple[Any, ...],
                                                       entities: list[dict[str, Any]]) -> None:
    text = render(tree)
    node = parse_q(text)
    for values in entities:
        entity = as_ngsi(values)
        assert matches(node, lambda p, e=entity: lookup(e, p)) == oracle(tree, values), text


@pytest.mark.parametrize("text, ok", [
    ("fillingLevel>0.8", True), ('status=="ok"', True), ("fillingLevel==0.5..0.9", True),
    ('status=="dropped","lidOpen"', True), ("fillingLevel.observedAt>2024-01-01T00:00:00Z",
                                             True),
    ("a;b|c", True), ("(a|b);c", True), ('name=="say \\"hi\\""', True),
    ("fillingLevel>", False), ("fillingLevel>>1", False), ("status==ok", False),
    ("a.b.c==1", False), ("a>1..2", False), ("a==1..\"x\"", False), ("(a==1", False),
    ("a==1)", False), ('a~="x"', False), ("a==1;", False), ("", False), ("a==1e999", False),
])
def test_examples(text: str, ok: bool) -> None:
    if ok:
        parse_q(text)
    else:
        with pytest.raises(QueryError):
            parse_q(text)
