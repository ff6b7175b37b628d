"""`meta_table_descriptions`: descriptions of the tables themselves (language, character
set). Homeward writes UTF-8 and keeps no per-table description, so rows are read and
counted only."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, Fields
from importers.rows import Row

TABLE = "meta_table_descriptions"


def load(assembly: Assembly, rows: list[Row]) -> None:
    for row in rows:
        assembly.report.read[TABLE] += 1
        if not Fields(row, assembly.report).uuid("id", required=True):
            assembly.report.rejected[TABLE] += 1
