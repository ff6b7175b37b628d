"""Relay-style connections (`first`/`after`) shared by every list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry

from graph.pagination import Page

N = TypeVar("N")
M = TypeVar("M")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    cursor: str
    node: N


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[N]:
        return [edge.node for edge in self.edges]


def to_connection(page: Page[M], convert: Callable[[M], N]) -> Connection[N]:
    return Connection(
        edges=[Edge(cursor=e.cursor, node=convert(e.node)) for e in page.edges],
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
    )
