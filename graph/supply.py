"""Supply: a service that can take a referral now. One definition for the gap matrix, its
map and export, and the overlap view (docs/coordination.md).

A service counts as supply when it is active, was verified within the stale period, is not
full, and is not flagged for re-verification (a referral came back "no capacity" or "could
not contact") until someone verifies it again. A listed service that does not count says
why, in the first of these words that applies: `inactive`, `flagged`, `never verified`,
`stale`, `full`.

Both expressions take the service as `s` and the start of the stale period as
`$fresh_after`.
"""

from __future__ import annotations

from typing import LiteralString

CAN_TAKE_REFERRAL: LiteralString = """(s.status = 'active'
  AND s.reverification_reason IS NULL
  AND coalesce(s.last_verified_at >= $fresh_after, false)
  AND coalesce(s.capacity, '') <> 'full')"""

NOT_COUNTED_BECAUSE: LiteralString = """CASE
  WHEN s.status <> 'active' THEN 'inactive'
  WHEN s.reverification_reason IS NOT NULL THEN 'flagged'
  WHEN s.last_verified_at IS NULL THEN 'never verified'
  WHEN s.last_verified_at < $fresh_after THEN 'stale'
  WHEN coalesce(s.capacity, '') = 'full' THEN 'full' END"""
