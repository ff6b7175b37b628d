"""Keyset pagination: a cursor is the sort key of the last item seen, so a page costs the
same however deep it is, and items added meanwhile do not shift later pages."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, LiteralString, Protocol, TypeVar

from neo4j import AsyncManagedTransaction, Record
from pydantic import BaseModel

from core.errors import ValidationFailed

T = TypeVar("T")
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


class Edge(BaseModel, Generic[T]):
    cursor: str
    node: T


class Page(BaseModel, Generic[T]):
    edges: list[Edge[T]]
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.edges[-1].cursor if self.edges else None


def encode_cursor(*key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def decode_cursor(cursor: str | None, *, field: str = "after") -> tuple[str, str]:
    """(sort name, id) of a cursor; ("", "") means from the start."""
    if cursor is None:
        return "", ""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed.single(field, "not a cursor returned by this API") from exc
    if not (isinstance(key, list) and len(key) == 2 and all(isinstance(k, str) for k in key)):
        raise ValidationFailed.single(field, "not a cursor returned by this API")
    return key[0], key[1]


def checked_cursor(cursor: str | None, *, field: str = "after") -> str | None:
    """The cursor, once known to be one of ours: a page batched with others must not fail
    them all for one caller's bad cursor."""
    decode_cursor(cursor, field=field)
    return cursor


def page_size(first: int | None, *, field: str = "first") -> int:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationFailed.single(field, f"must be between 1 and {MAX_PAGE_SIZE}")
    return size


def paginate(items: list[tuple[str, str, T]], size: int) -> Page[T]:
    """Build a page from (sort name, id, item) rows fetched with LIMIT size + 1."""
    return Page[T](
        edges=[
            Edge[T](cursor=encode_cursor(name, id), node=item) for name, id, item in items[:size]
        ],
        has_next_page=len(items) > size,
    )


class Dated(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


D = TypeVar("D", bound=Dated)


async def newest_first(
    tx: AsyncManagedTransaction,
    query: LiteralString,
    *,
    first: int,
    after: tuple[datetime, str] | None,
    see: Callable[[Record], D | None],
    **params: Any,
) -> Page[D]:
    """A page of a list newest first, keyset on (created_at, id): `query` filters on
    `$after_at`/`$after_id` and orders by both descending. `see` gives the item as the caller
    may see it, or None for one they may not, which is why a page can hold fewer than `first`
    items while another page still follows."""
    result = await tx.run(
        query + " LIMIT $limit",
        after_at=after[0] if after else None,
        after_id=after[1] if after else "",
        limit=first + 1,
        **params,
    )
    rows: list[tuple[str, str, D]] = []
    async for record in result:
        seen = see(record)
        if seen is not None:
            rows.append((seen.created_at.isoformat(), seen.id, seen))
    return paginate(rows, first)


# The pages of many parents (an organisation's services, an area's children...) in one
# query: a (parent id, cursor) pair each, all of one page size.
ParentPage = tuple[str, str | None]


def parent_cursors(wanted: list[ParentPage]) -> list[dict[str, str | None]]:
    """Query parameters of each wanted page; a bad cursor fails here, naming `after`."""
    rows: list[dict[str, str | None]] = []
    for parent, after in wanted:
        name, id = decode_cursor(after)
        rows.append({"parent": parent, "after": after, "after_name": name, "after_id": id})
    return rows


def pages_by_parent(
    wanted: list[ParentPage], rows: list[tuple[str, str | None, str, str, T]], size: int
) -> dict[ParentPage, Page[T]]:
    """Pages from (parent, cursor, sort name, id, item) rows, each parent's in page order and
    fetched with LIMIT size + 1; a parent with nothing has an empty page."""
    grouped: dict[ParentPage, list[tuple[str, str, T]]] = {key: [] for key in wanted}
    for parent, after, name, id, item in rows:
        grouped[(parent, after)].append((name, id, item))
    return {key: paginate(items, size) for key, items in grouped.items()}
