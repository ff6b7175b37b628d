"""`required_documents`: documents a service asks for, kept with it and exported again."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, keep_under_owner
from importers.rows import Row

TABLE = "required_documents"


def load(assembly: Assembly, rows: list[Row]) -> None:
    keep_under_owner(assembly, TABLE, rows, ("service",))
