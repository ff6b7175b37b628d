"""Who may use a service, by sending country: the one rule, used by search, the unequal
support comparison, gap supply, every read of a service (its page, the GraphQL `Service`
and the HSDS export) (docs/eligibility.md).

A service restricted to sending countries of its own is open to returnees from those
countries only. A service without its own restriction that is funded only by programmes
which each name their sending countries is open to returnees from those countries only
(a service funded by REAG/GARP alone serves returnees from Germany). Any other service is
open to returnees from everywhere.

The rule is a Cypher expression on a service bound to `s`, so that every query applies it
where it already holds the service, and nothing kept on the service can fall out of step
with its programmes.
"""

from __future__ import annotations

from typing import LiteralString

from neo4j import AsyncManagedTransaction

# The sending countries a service is restricted to; [] when it is open to everyone. Those
# of its programmes in code order, so that the answer does not depend on the order the
# graph holds the programmes in.
RESTRICTED_TO: LiteralString = """
  CASE WHEN size(coalesce(s.sending_countries, [])) > 0 THEN s.sending_countries
       WHEN EXISTS { (s)-[:FUNDED_BY]->(:Programme) }
            AND NOT EXISTS { (s)-[:FUNDED_BY]->(p:Programme)
                             WHERE size(coalesce(p.sending_countries, [])) = 0 }
       THEN COLLECT { MATCH (s)-[:FUNDED_BY]->(p:Programme)
                      UNWIND p.sending_countries AS c
                      RETURN DISTINCT c ORDER BY c }
       ELSE [] END"""

# The programmes that make the restriction, when it comes from the funding ([] otherwise).
RESTRICTING_PROGRAMMES: LiteralString = """
  CASE WHEN size(coalesce(s.sending_countries, [])) > 0 THEN []
       ELSE COLLECT { MATCH (s)-[:FUNDED_BY]->(p:Programme)
                      WHERE size(coalesce(p.sending_countries, [])) > 0
                      RETURN p.name ORDER BY p.name } END"""


def open_to(countries: list[str], restricted_to: list[str]) -> bool:
    """The rule's verdict for a household from one of `countries` (none given: anyone)."""
    return not restricted_to or not countries or any(c in restricted_to for c in countries)


CLOSED_TO: LiteralString = (
    """
MATCH (s:Service) WHERE s.status IN ['active', 'temporarily_closed']
WITH s, """
    + RESTRICTED_TO
    + """ AS only
WHERE only <> [] AND NOT $country IN only
RETURN s.id AS id
"""
)


async def closed_to(tx: AsyncManagedTransaction, *, country: str | None) -> list[str]:
    """The ids of the listed services the rule closes to returnees from `country`; none
    when no country is asked. Read once per view, so that views counting services by the
    thousand test a list instead of walking every service's programmes per row."""
    if country is None:
        return []
    return [r["id"] async for r in await tx.run(CLOSED_TO, country=country.upper())]
