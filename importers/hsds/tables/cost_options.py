"""`cost_options`: prices, kept with their service and exported again (the fee as text is
`fees_description`)."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, keep_under_owner
from importers.rows import Row

TABLE = "cost_options"


def load(assembly: Assembly, rows: list[Row]) -> None:
    keep_under_owner(assembly, TABLE, rows, ("service",))
