"""GraphQL for accounts: `me`, and user and token management for admins."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.enums import Role
from api.graphql.errors import MutationError, to_graphql_error, validate_input
from api.graphql.pagination import Connection, to_connection
from api.passwords import issue_link, link_url
from core.clock import utcnow
from core.errors import HomewardError, ValidationFailed
from graph.accounts import (
    create_user_audited,
    end_user_sessions_audited,
    issue_token_audited,
    mail_invitation,
    revoke_token_audited,
    set_user_disabled_audited,
)
from graph.pagination import page_size
from graph.passwords import new_link
from graph.users import ApiToken, User, UserInput, get_user, list_users, new_token

MAX_TOKEN_DAYS = 366


@strawberry.type(name="Membership")
class MembershipType:
    organisation_id: strawberry.ID
    role: Role


@strawberry.type(name="User")
class UserType:
    id: strawberry.ID
    email: str
    display_name: str
    disabled: bool
    demo: bool = strawberry.field(description="A demo identity with a published token.")
    memberships: list[MembershipType]
    created_at: datetime

    @classmethod
    def from_model(cls, u: User) -> UserType:
        return cls(
            id=strawberry.ID(u.id),
            email=u.email,
            display_name=u.display_name,
            disabled=u.disabled,
            demo=u.demo,
            memberships=[
                MembershipType(organisation_id=strawberry.ID(m.organisation_id), role=m.role)
                for m in u.memberships
            ],
            created_at=u.created_at,
        )


@strawberry.type(name="ApiToken")
class ApiTokenType:
    id: strawberry.ID
    user_id: strawberry.ID
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_model(cls, t: ApiToken) -> ApiTokenType:
        return cls(
            id=strawberry.ID(t.id),
            user_id=strawberry.ID(t.user_id),
            label=t.label,
            created_at=t.created_at,
            expires_at=t.expires_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
        )


@strawberry.input
class CreateUserInput:
    email: str
    display_name: str
    organisation_id: strawberry.ID
    role: Role


@strawberry.type
class UserPayload:
    user: UserType


@strawberry.type
class IssuedToken:
    token: str = strawberry.field(description="Shown only now; only its hash is stored.")
    api_token: ApiTokenType


@strawberry.type
class TokenPayload:
    api_token: ApiTokenType


@strawberry.type
class IssuedPasswordLink:
    url: str = strawberry.field(
        description="Shown only now: the person sets their password with it, once."
    )
    expires_at: datetime


@strawberry.type
class InvitationPayload:
    user: UserType
    expires_at: datetime = strawberry.field(description="Until when the mailed link works.")


_ERRORS = MutationError
UserResult = Annotated[UserPayload | _ERRORS, strawberry.union("UserResult")]
IssueTokenResult = Annotated[IssuedToken | _ERRORS, strawberry.union("IssueTokenResult")]
TokenResult = Annotated[TokenPayload | _ERRORS, strawberry.union("TokenResult")]
PasswordLinkResult = Annotated[IssuedPasswordLink | _ERRORS, strawberry.union("PasswordLinkResult")]
InviteUserResult = Annotated[InvitationPayload | _ERRORS, strawberry.union("InviteUserResult")]


@strawberry.type
class UserQuery:
    @strawberry.field(description="The signed-in user.")
    async def me(self, info: Info) -> UserType:
        user_id = info.context.actor.user_id
        assert user_id is not None  # the access policy admits signed-in users only
        return UserType.from_model(await info.context.graph.read(get_user, id=user_id))

    @strawberry.field
    async def users(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[UserType]:
        page = await info.context.graph.read(list_users, first=page_size(first), after=after)
        return to_connection(page, UserType.from_model)


@strawberry.type
class UserMutation:
    @strawberry.mutation
    async def create_user(self, info: Info, input: CreateUserInput) -> UserResult:
        try:
            data = validate_input(UserInput, strawberry.asdict(input))
            user = await info.context.graph.write(
                create_user_audited, id=str(uuid.uuid4()), data=data, actor=info.context.actor
            )
        except HomewardError as exc:
            return to_graphql_error(exc)
        return UserPayload(user=UserType.from_model(user))

    @strawberry.mutation(description="Disable (or re-enable) an account; its tokens stop working.")
    async def set_user_disabled(self, info: Info, id: strawberry.ID, disabled: bool) -> UserResult:
        try:
            user = await info.context.graph.write(
                set_user_disabled_audited, id=str(id), disabled=disabled, actor=info.context.actor
            )
        except HomewardError as exc:
            return to_graphql_error(exc)
        return UserPayload(user=UserType.from_model(user))

    @strawberry.mutation(description="Sign the person out of every browser; their API tokens stay.")
    async def end_user_sessions(self, info: Info, id: strawberry.ID) -> UserResult:
        try:
            user = await info.context.graph.write(
                end_user_sessions_audited, id=str(id), actor=info.context.actor
            )
        except HomewardError as exc:
            return to_graphql_error(exc, argument="")
        return UserPayload(user=UserType.from_model(user))

    @strawberry.mutation(
        description="A one-time link with which the person sets their password, for the admin "
        "to pass on (an invitation or a reset); a new link or a new password voids it."
    )
    async def issue_password_link(self, info: Info, user_id: strawberry.ID) -> PasswordLinkResult:
        try:
            user = await info.context.graph.read(get_user, id=str(user_id))
            secret, link = await issue_link(
                user.email, graph=info.context.graph, actor=info.context.actor
            )
        except HomewardError as exc:
            return to_graphql_error(exc, argument="")
        return IssuedPasswordLink(
            url=link_url(info.context.settings.base_url, secret), expires_at=link.expires_at
        )

    @strawberry.mutation(description="A new API token for a user, valid for `days` days.")
    async def issue_token(
        self, info: Info, user_id: strawberry.ID, days: int = 90, label: str | None = None
    ) -> IssueTokenResult:
        try:
            if not 1 <= days <= MAX_TOKEN_DAYS:
                raise ValidationFailed.single("days", f"must be between 1 and {MAX_TOKEN_DAYS}")
            token, token_id, secret_hash = new_token()
            stored = await info.context.graph.write(
                issue_token_audited,
                actor=info.context.actor,
                user_id=str(user_id),
                token_id=token_id,
                secret_hash=secret_hash,
                label=label,
                expires_at=utcnow() + timedelta(days=days),
            )
        except HomewardError as exc:
            return to_graphql_error(exc, argument="")
        return IssuedToken(token=token, api_token=ApiTokenType.from_model(stored))

    @strawberry.mutation(
        description="Mail a person a one-time link (valid 72 hours) to choose the password "
        "of their account: an invitation. Needs a mail server (HOMEWARD_SMTP_HOST)."
    )
    async def invite_user(self, info: Info, user_id: strawberry.ID) -> InviteUserResult:
        context = info.context
        try:
            if not context.settings.mail_enabled:
                raise ValidationFailed.single(
                    "user_id",
                    "this installation sends no mail; give the person a link from "
                    "`homeward users password-link` instead",
                )
            secret, link_id, secret_hash = new_link()
            link_enc = context.cipher.encrypt(secret)
            assert link_enc is not None
            link = await context.graph.write(
                mail_invitation,
                user_id=str(user_id),
                link_id=link_id,
                secret_hash=secret_hash,
                link_enc=link_enc,
                now=context.now,
                actor=context.actor,
            )
            user = await context.graph.read(get_user, id=str(user_id))
        except HomewardError as exc:
            return to_graphql_error(exc, argument="")
        return InvitationPayload(user=UserType.from_model(user), expires_at=link.expires_at)

    @strawberry.mutation
    async def revoke_token(self, info: Info, id: strawberry.ID) -> TokenResult:
        try:
            revoked = await info.context.graph.write(
                revoke_token_audited, token_id=str(id), actor=info.context.actor
            )
        except HomewardError as exc:
            return to_graphql_error(exc)
        return TokenPayload(api_token=ApiTokenType.from_model(revoked))
