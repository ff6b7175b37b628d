"""Supply: a service that can take a referral now. One definition for the gap matrix, its
map and export, and the overlap view (docs/coordination.md).

A service counts as supply when it is active, was verified within the stale period, is not
full, and is not flagged for re-verification (a referral came back "no capacity" or "could
not contact") until someone verifies it again; asked for returnees from one sending
country, it must also be open to them by the eligibility rule (graph/eligibility.py). A
listed service that does not count says why, in the first of these words that applies:
`inactive`, `not eligible`, `flagged`, `never verified`, `stale`, `full`.

Both expressions take the service as `s`, the start of the stale period as `$fresh_after`
and the ids of the services the eligibility rule closes to the asked sending country as
`$not_eligible` (`closed_to` of graph/eligibility.py; [] when no country is asked).
"""

from __future__ import annotations

from typing import LiteralString

CAN_TAKE_REFERRAL: LiteralString = """(s.status = 'active'
  AND NOT s.id IN $not_eligible
  AND s.reverification_reason IS NULL
  AND coalesce(s.last_verified_at >= $fresh_after, false)
  AND coalesce(s.capacity, '') <> 'full')"""

NOT_COUNTED_BECAUSE: LiteralString = """CASE
  WHEN s.status <> 'active' THEN 'inactive'
  WHEN s.id IN $not_eligible THEN 'not eligible'
  WHEN s.reverification_reason IS NOT NULL THEN 'flagged'
  WHEN s.last_verified_at IS NULL THEN 'never verified'
  WHEN s.last_verified_at < $fresh_after THEN 'stale'
  WHEN coalesce(s.capacity, '') = 'full' THEN 'full' END"""
