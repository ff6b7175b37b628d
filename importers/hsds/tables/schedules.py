"""`schedules`: opening times, kept with their service or site and exported again."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, keep_under_owner
from importers.rows import Row

TABLE = "schedules"


def load(assembly: Assembly, rows: list[Row]) -> None:
    keep_under_owner(assembly, TABLE, rows, ("service", "location"))
