"""`url` (HSDS 3.1): further web addresses of services and organisations
(`additional_urls`, `additional_websites`). Homeward has no field for them: they are kept
with their record, so that nothing is lost, with one warning per import saying that an HSDS
3.0 export does not carry them."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, keep_under_owner
from importers.rows import Row

TABLE = "urls"


def load(assembly: Assembly, rows: list[Row]) -> None:
    kept = keep_under_owner(assembly, TABLE, rows, ("service", "organization"))
    if kept:
        assembly.report.add(
            rows[0].where,
            "url",
            f"{kept} further url(s) (HSDS 3.1 additional_urls / additional_websites) are "
            "kept with their records, but an HSDS 3.0 export does not carry them",
            "warning",
        )
