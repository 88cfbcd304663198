"""Pagination for lists that grow: `offset` and `limit` in the query, and a
page that says how many there are in all."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")

LIMIT_DEFAULT = 100
LIMIT_MAX = 1000


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


Offset = Annotated[int, Query(ge=0, le=10**9, description="items to skip")]
Limit = Annotated[int, Query(ge=1, le=LIMIT_MAX, description="items at most on this page")]
