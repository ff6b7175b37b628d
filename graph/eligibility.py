"""Who may use a service, by sending country: the one rule, used by search, the unequal
support comparison, gap supply and the HSDS export (docs/eligibility.md).

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

# The sending countries a service is restricted to; [] when it is open to everyone.
RESTRICTED_TO: LiteralString = """coalesce(
  CASE WHEN size(coalesce(s.sending_countries, [])) > 0 THEN s.sending_countries
       ELSE reduce(acc = [], cs IN COLLECT { MATCH (s)-[:FUNDED_BY]->(p:Programme)
                                             RETURN coalesce(p.sending_countries, []) } |
              CASE WHEN acc IS NULL OR size(cs) = 0 THEN null
                   ELSE acc + [c IN cs WHERE NOT c IN acc] END) END, [])"""

# The programmes that make the restriction, when it comes from the funding ([] otherwise).
RESTRICTING_PROGRAMMES: LiteralString = """
  CASE WHEN size(coalesce(s.sending_countries, [])) > 0 THEN []
       ELSE COLLECT { MATCH (s)-[:FUNDED_BY]->(p:Programme)
                      WHERE size(coalesce(p.sending_countries, [])) > 0
                      RETURN p.name ORDER BY p.name } END"""


def open_to(countries: list[str], restricted_to: list[str]) -> bool:
    """The rule's verdict for a household from one of `countries` (none given: anyone)."""
    return not restricted_to or not countries or any(c in restricted_to for c in countries)
