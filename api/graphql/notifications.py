"""GraphQL for in-app notices: the signed-in person's own, marking them read, and how the
person hears of them by mail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.enums import MailFrequency, NotificationKind, ReferralStatus
from api.graphql.errors import MutationError, to_graphql_error
from api.graphql.pagination import Connection, to_connection
from core.errors import HomewardError, ValidationFailed
from graph.mail.preferences import (
    LANGUAGES,
    MailPreference,
    get_mail_preference,
    set_mail_preference,
)
from graph.notifications import (
    Notification,
    list_notifications,
    mark_read,
    unread_count,
)
from graph.pagination import MAX_PAGE_SIZE, page_size


@strawberry.type(name="Notification")
class NotificationType:
    id: strawberry.ID
    kind: NotificationKind
    referral_id: strawberry.ID
    reference: str = strawberry.field(
        description="The referral's reference, e.g. HW-2026-7K3MQ9-1."
    )
    status: ReferralStatus | None = strawberry.field(
        description="The referral's status the notice tells of."
    )
    previous_status: ReferralStatus | None
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def from_model(cls, n: Notification) -> NotificationType:
        return cls(
            id=strawberry.ID(n.id),
            kind=n.kind,
            referral_id=strawberry.ID(n.referral_id),
            reference=n.reference,
            status=ReferralStatus(n.status) if n.status else None,
            previous_status=ReferralStatus(n.previous_status) if n.previous_status else None,
            created_at=n.created_at,
            read_at=n.read_at,
        )


@strawberry.type
class NotificationConnection(Connection[NotificationType]):
    unread_count: int = strawberry.field(description="Unread notices of the person, in all.")


@strawberry.type
class NotificationsRead:
    marked: int = strawberry.field(description="How many notices became read now.")
    unread_count: int


@strawberry.type(name="MailPreference")
class MailPreferenceType:
    frequency: MailFrequency = strawberry.field(
        description="IMMEDIATE: a mail for each notice; DIGEST: one mail a day listing the "
        "day's notices; NONE: no mail (the notices stay in the app)."
    )
    language: str = strawberry.field(
        description="The language of the mails: " + ", ".join(LANGUAGES) + "."
    )

    @classmethod
    def from_model(cls, p: MailPreference) -> MailPreferenceType:
        return cls(frequency=p.frequency, language=p.language)


SetMailPreferenceResult = Annotated[
    MailPreferenceType | MutationError, strawberry.union("SetMailPreferenceResult")
]


MarkNotificationsReadResult = Annotated[
    NotificationsRead | MutationError, strawberry.union("MarkNotificationsReadResult")
]


def _user(info: Info) -> str:
    user_id = info.context.actor.user_id
    assert user_id is not None  # the access policy admits signed-in users only
    return user_id


@strawberry.type
class NotificationQuery:
    @strawberry.field(
        description="The signed-in person's notices, newest first: a new referral for "
        "partners, status changes, overdue answers and recorded visits for the counsellor."
    )
    async def notifications(
        self,
        info: Info,
        unread_only: bool = False,
        first: int | None = None,
        after: str | None = None,
    ) -> NotificationConnection:
        user_id = _user(info)
        size = page_size(first)

        page = await info.context.graph.read(
            list_notifications, user_id=user_id, unread_only=unread_only, first=size, after=after
        )
        unread = await info.context.graph.read(unread_count, user_id=user_id)
        connection = to_connection(page, NotificationType.from_model)
        return NotificationConnection(
            edges=connection.edges, page_info=connection.page_info, unread_count=unread
        )

    @strawberry.field(description="How the signed-in person hears of their notices by mail.")
    async def mail_preference(self, info: Info) -> MailPreferenceType:
        found = await info.context.graph.read(get_mail_preference, user_id=_user(info))
        return MailPreferenceType.from_model(found)


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(
        description="Choose how the signed-in person hears of their notices by mail, and in "
        "which language."
    )
    async def set_mail_preference(
        self, info: Info, frequency: MailFrequency, language: str
    ) -> SetMailPreferenceResult:
        try:
            saved = await info.context.graph.write(
                set_mail_preference,
                user_id=_user(info),
                frequency=frequency,
                language=language,
                now=info.context.now,
            )
        except HomewardError as exc:
            return to_graphql_error(exc, argument="")
        return MailPreferenceType.from_model(saved)

    @strawberry.mutation(
        description="Mark the signed-in person's notices read: those named by `ids`, or all "
        "of them when `ids` is left out. Ids of notices that are not the person's are ignored."
    )
    async def mark_notifications_read(
        self, info: Info, ids: list[strawberry.ID] | None = None
    ) -> MarkNotificationsReadResult:
        user_id = _user(info)
        try:
            if ids is not None and len(ids) > MAX_PAGE_SIZE:
                raise ValidationFailed.single(
                    "ids", f"at most {MAX_PAGE_SIZE} at a time; leave out ids to mark all"
                )
            marked = await info.context.graph.write(
                mark_read,
                user_id=user_id,
                ids=[str(i) for i in ids] if ids is not None else None,
                at=info.context.now,
            )
            unread = await info.context.graph.read(unread_count, user_id=user_id)
        except HomewardError as exc:
            return to_graphql_error(exc, argument="")
        return NotificationsRead(marked=marked, unread_count=unread)
