"""`accessibility`: accessibility of a site, kept with it and exported again."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, keep_under_owner
from importers.rows import Row

TABLE = "accessibility"


def load(assembly: Assembly, rows: list[Row]) -> None:
    keep_under_owner(assembly, TABLE, rows, ("location",))
