"""Access notices on referrals and cases in GraphQL (graph/access.py says what they are)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import strawberry

from api.graphql.context import Info
from graph.access import AccessNotice, Record, record_access
from graph.cases.models import ReturnCase
from graph.referrals.models import Referral


@strawberry.type(
    name="AccessNotice",
    description="The record was read through a token an admin minted for an account of an "
    "organisation the admin does not administer (break-glass); one notice per token.",
)
class AccessNoticeType:
    at: datetime = strawberry.field(description="The first read through that token.")
    user_id: strawberry.ID = strawberry.field(description="The account the token belongs to.")
    token_id: str
    issued_by: strawberry.ID = strawberry.field(description="The admin who minted the token.")

    @classmethod
    def from_model(cls, n: AccessNotice) -> AccessNoticeType:
        return cls(
            at=n.at,
            user_id=strawberry.ID(n.user_id),
            token_id=n.token_id,
            issued_by=strawberry.ID(n.issued_by),
        )


R = TypeVar("R", Referral, ReturnCase)


async def noticed(
    info: Info, kind: Record, records: list[R], organisations: Callable[[R], list[str]]
) -> list[R]:
    """The records as read, after a break-glass read has left its notice on each; the answer
    shows the notice it caused. Any other caller's records come back as they are."""
    actor = info.context.actor
    glass = actor.break_glass
    if glass is None or actor.user_id is None or not records:
        return records
    await info.context.graph.write(
        record_access,
        kind=kind,
        organisations={r.id: organisations(r) for r in records},
        actor=actor,
        now=info.context.now,
    )
    notice = AccessNotice(
        at=info.context.now,
        user_id=actor.user_id,
        token_id=glass.token_id,
        issued_by=glass.issued_by,
    )
    shown: list[R] = []
    for record in records:
        known = [n.token_id for n in record.access_notices]
        added = [] if glass.token_id in known else [notice]
        shown.append(record.model_copy(update={"access_notices": record.access_notices + added}))
    return shown
