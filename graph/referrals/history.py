"""Past referrals kept as anonymous statistics only, written by the demo seed and imports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel, ConfigDict, Field, model_validator

from graph.referrals.lifecycle import REFERRAL_NEED_CODES
from graph.referrals.models import CLOSED, DataCategory, Outcome, Policy, ReferralStatus
from graph.referrals.responsiveness import update_responsiveness
from graph.services import ReturnType


class ReferralHistoryRecord(BaseModel):
    """A past referral as anonymous statistics keep it: who sent it where, for what, and how
    far it got. Used for the demo seed; it can never carry personal categories."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=80)
    from_organisation: str = Field(alias="from", min_length=1)
    service: str = Field(min_length=1)
    destination: str = Field(min_length=1)
    needs: list[str] = Field(min_length=1)
    status: ReferralStatus
    return_type: ReturnType
    sent_on: date
    planned_arrival: date | None = None
    # How the receiver answered, for its responsiveness: hours from sending to
    # acknowledgement and to the decision (accept or decline), and the outcome reported.
    acknowledged_after_hours: float | None = Field(default=None, ge=0)
    decided_after_hours: float | None = Field(default=None, ge=0)
    outcome: Outcome | None = None

    @model_validator(mode="after")
    def _times_fit_the_status(self) -> ReferralHistoryRecord:
        answered = self.status not in _UNANSWERED
        if answered and self.acknowledged_after_hours is None:
            raise ValueError(f"a referral {self.status.value} needs acknowledged_after_hours")
        if self.status in _DECIDED and self.decided_after_hours is None:
            raise ValueError(f"a referral {self.status.value} needs decided_after_hours")
        if (
            self.acknowledged_after_hours is not None
            and self.decided_after_hours is not None
            and self.decided_after_hours < self.acknowledged_after_hours
        ):
            raise ValueError("decided_after_hours comes before acknowledged_after_hours")
        if self.outcome is not None and self.status is not ReferralStatus.COMPLETED:
            raise ValueError("only a completed referral has an outcome")
        return self


_UNANSWERED = frozenset({ReferralStatus.DRAFT, ReferralStatus.SENT, ReferralStatus.CANCELLED})
_ACCEPTED = frozenset(
    {ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS, ReferralStatus.COMPLETED}
)
_DECIDED = _ACCEPTED | {ReferralStatus.DECLINED}


def _after(start: datetime, hours: float | None) -> datetime | None:
    return None if hours is None else start + timedelta(hours=hours)


HISTORY: LiteralString = (
    """
UNWIND $rows AS row
MATCH (sender:Organisation {id: row.from})
MATCH (s:Service {id: row.service})
MATCH (d:Area {id: row.destination})
MERGE (r:Referral {id: row.id})
ON CREATE SET r.version = 1, r.created_at = row.sent_at
SET r += row.props, r.updated_at = row.sent_at
MERGE (r)-[:FROM]->(sender)
MERGE (r)-[:TO]->(s)
MERGE (r)-[:DESTINATION]->(d)
WITH r, row
CALL (r, row) {
  UNWIND row.needs AS code
  MATCH (n:Need {code: code})
  MERGE (r)-[:FOR]->(n)
}
CALL (r) {"""
    + REFERRAL_NEED_CODES
    + """}
RETURN count(r) AS written
"""
)


async def write_referral_history(
    tx: AsyncManagedTransaction, *, records: list[ReferralHistoryRecord]
) -> int:
    """Idempotent (MERGE on the id); references must have been checked by the caller. The
    receiving services' responsiveness is recomputed from their referrals."""
    rows = []
    for rec in records:
        sent_at = datetime.combine(rec.sent_on, datetime.min.time(), UTC)
        closed = rec.status in CLOSED
        rows.append(
            {
                "from": rec.from_organisation,
                "service": rec.service,
                "destination": rec.destination,
                "needs": rec.needs,
                "id": rec.id,
                "sent_at": sent_at,
                "props": {
                    "reference": f"HW-{rec.sent_on.year}-{rec.id.upper()}",
                    "case_reference": f"HW-{rec.sent_on.year}-{rec.id.upper()}",
                    "status": rec.status.value,
                    "return_type": rec.return_type.value,
                    "planned_arrival": rec.planned_arrival,
                    "sent_at": sent_at if rec.status is not ReferralStatus.DRAFT else None,
                    "closed_at": sent_at if closed else None,
                    "carries": [DataCategory.NEEDS.value],
                    "response_days": Policy().default_response_days,
                    "history_only": True,
                    "acknowledged_at": _after(sent_at, rec.acknowledged_after_hours),
                    "accepted_at": _after(sent_at, rec.decided_after_hours)
                    if rec.status in _ACCEPTED
                    else None,
                    "declined_at": _after(sent_at, rec.decided_after_hours)
                    if rec.status is ReferralStatus.DECLINED
                    else None,
                    "outcome": rec.outcome.value if rec.outcome else None,
                },
            }
        )
    record = await (await tx.run(HISTORY, rows=rows)).single(strict=True)
    # Past referrals are measured like live ones: the product's one query.
    await update_responsiveness(tx, service_ids=sorted({rec.service for rec in records}))
    return int(record["written"])
