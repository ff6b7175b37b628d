"""`contacts`: kept with the service, site or organisation they name, and exported again."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, keep_under_owner
from importers.rows import Row

TABLE = "contacts"


def load(assembly: Assembly, rows: list[Row]) -> None:
    keep_under_owner(assembly, TABLE, rows, ("service", "location", "organization"))
