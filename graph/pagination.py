"""Keyset pagination: a cursor is the sort key of the last item seen, so a page costs the
same however deep it is, and items added meanwhile do not shift later pages."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Generic, TypeVar

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
