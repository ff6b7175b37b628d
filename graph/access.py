"""Access notices: a referral or return case read through a break-glass credential (a token
an admin minted for an account of an organisation the admin does not administer, see
graph/accounts.py) says so on the record itself.

Who may read a referral's contents is decided in graph/referrals/reads.py (counsellors of the
sending organisation, partners of the receiving one, within consent); an admin can make
someone such a reader, but not unseen: the first read of each record through each such token
leaves a notice on the record, which everyone who can open the record sees, and an audit event
under each organisation of the record, which its members (and so its own admins) see in
their audit trail.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel

from graph.audit import FieldChange, record_event
from graph.temporal import native
from graph.users import Actor


class Record(StrEnum):
    REFERRAL = "referral"
    CASE = "case"


class AccessNotice(BaseModel):
    at: datetime
    user_id: str
    token_id: str
    # The admin who minted the token.
    issued_by: str


# One notice per record and token, kept as long as the record; the label of the record is
# the only difference between referrals and cases.
RECORD_REFERRALS: LiteralString = """
UNWIND $ids AS id
MATCH (r:Referral {id: id})
MERGE (n:AccessNotice {record_id: id, token_id: $token})
ON CREATE SET n.at = $now, n.user_id = $user, n.issued_by = $issued_by, n.created = true
MERGE (n)-[:ON]->(r)
WITH id, n, n.created IS NOT NULL AS created
REMOVE n.created
RETURN id, created
"""
RECORD_CASES: LiteralString = """
UNWIND $ids AS id
MATCH (r:ReturnCase {id: id})
MERGE (n:AccessNotice {record_id: id, token_id: $token})
ON CREATE SET n.at = $now, n.user_id = $user, n.issued_by = $issued_by, n.created = true
MERGE (n)-[:ON]->(r)
WITH id, n, n.created IS NOT NULL AS created
REMOVE n.created
RETURN id, created
"""
QUERIES = {Record.REFERRAL: RECORD_REFERRALS, Record.CASE: RECORD_CASES}


async def record_access(
    tx: AsyncManagedTransaction,
    *,
    kind: Record,
    organisations: dict[str, list[str]],
    actor: Actor,
    now: datetime,
) -> int:
    """Leave a notice on each record read (`organisations`: record id -> the organisations
    whose record it is) when `actor` reads through a break-glass token; returns how many
    notices are new. Nothing for any other caller."""
    glass = actor.break_glass
    if glass is None or actor.user_id is None or not organisations:
        return 0
    result = await tx.run(
        QUERIES[kind],
        ids=sorted(organisations),
        token=glass.token_id,
        user=actor.user_id,
        issued_by=glass.issued_by,
        now=now,
    )
    created = [r["id"] async for r in result if r["created"]]
    for record_id in created:
        for organisation_id in sorted(set(organisations[record_id])):
            await record_event(
                tx,
                actor=actor,
                action="break_glass_read",
                entity=kind.value,
                entity_id=record_id,
                organisation_id=organisation_id,
                changes=[
                    FieldChange(field="token_id", previous=None, replacement=glass.token_id),
                    FieldChange(field="issued_by", previous=None, replacement=glass.issued_by),
                ],
            )
    return len(created)


RETURN_NOTICES: LiteralString = """
COLLECT { MATCH (n:AccessNotice)-[:ON]->(r) RETURN n ORDER BY n.at, n.token_id }
"""


def notices_from(rows: list[Any]) -> list[AccessNotice]:
    """The notices a record's read returned (`RETURN_NOTICES`)."""
    return [
        AccessNotice(
            at=native(n["at"]),
            user_id=n["user_id"],
            token_id=n["token_id"],
            issued_by=n["issued_by"],
        )
        for n in (dict(row) for row in rows)
    ]
