"""Temporal values read from Neo4j, in one place.

The driver turns every DateTime it receives into its own pure-Python `neo4j.time.DateTime`,
which costs about 60 µs a value (measured on the benchmark machine): for a search page of
20 services and their organisations, about a quarter of the API's CPU. The hot reads
therefore ask Cypher for the ISO-8601 text of their instants (`toString(s.created_at)`), which
`datetime.fromisoformat` parses in under a microsecond. `native` reads both forms, so a query
can send either and its reader does not care.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


def native(value: Any) -> Any:
    """A Python datetime, date or time for a Neo4j temporal value or its ISO text; other
    values (None included) unchanged."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value.to_native() if value is not None and hasattr(value, "to_native") else value


def day(value: Any) -> date | None:
    """A Python date for a Neo4j Date or its ISO text (`toString` of a Date: 2026-11-24)."""
    if isinstance(value, str):
        return date.fromisoformat(value)
    return native(value)  # type: ignore[no-any-return]
