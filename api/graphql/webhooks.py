"""GraphQL for webhooks: an organisation's subscriptions and its delivery log."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

import strawberry

from api.graphql.access import refused
from api.graphql.context import Info
from api.graphql.enums import DeliveryState, WebhookEvent
from api.graphql.errors import MutationError, to_graphql_error, validate_input
from api.graphql.pagination import Connection, to_connection
from api.policy import webhook_scope
from core.errors import Forbidden, HomewardError, ValidationFailed
from core.targets import host_refused, parse_networks
from graph.pagination import page_size
from graph.webhooks import (
    SubscriptionInput,
    WebhookDelivery,
    WebhookSubscription,
    create_subscription,
    delete_subscription,
    list_deliveries,
    list_subscriptions,
)


@strawberry.type(name="WebhookSubscription")
class WebhookSubscriptionType:
    id: strawberry.ID
    organisation_id: strawberry.ID
    url: str
    events: list[WebhookEvent]
    active: bool
    created_at: datetime
    created_by: str

    @classmethod
    def from_model(cls, s: WebhookSubscription) -> WebhookSubscriptionType:
        return cls(
            id=strawberry.ID(s.id),
            organisation_id=strawberry.ID(s.organisation_id),
            url=s.url,
            events=list(s.events),
            active=s.active,
            created_at=s.created_at,
            created_by=s.created_by,
        )


@strawberry.type(name="WebhookDelivery")
class WebhookDeliveryType:
    id: strawberry.ID = strawberry.field(description="Sent as `X-Homeward-Delivery`.")
    subscription_id: strawberry.ID
    url: str
    event: WebhookEvent
    payload: str = strawberry.field(description="JSON of the `data` object that is sent.")
    state: DeliveryState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None

    @classmethod
    def from_model(cls, d: WebhookDelivery) -> WebhookDeliveryType:
        return cls(
            id=strawberry.ID(d.id),
            subscription_id=strawberry.ID(d.subscription_id),
            url=d.url,
            event=d.event,
            payload=json.dumps(d.payload, sort_keys=True),
            state=d.state,
            attempts=d.attempts,
            created_at=d.created_at,
            next_attempt_at=d.next_attempt_at,
            last_attempt_at=d.last_attempt_at,
            delivered_at=d.delivered_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
        )


@strawberry.input
class WebhookSubscriptionInput:
    organisation_id: strawberry.ID
    url: str = strawberry.field(description="http(s) URL that receives the POSTs.")
    events: list[WebhookEvent]


@strawberry.type
class CreatedWebhookSubscription:
    subscription: WebhookSubscriptionType
    secret: str = strawberry.field(
        description="Signing secret for X-Homeward-Signature; shown only now, stored encrypted."
    )


@strawberry.type
class WebhookSubscriptionPayload:
    subscription: WebhookSubscriptionType


CreateWebhookSubscriptionResult = Annotated[
    CreatedWebhookSubscription | MutationError, strawberry.union("CreateWebhookSubscriptionResult")
]
WebhookSubscriptionResult = Annotated[
    WebhookSubscriptionPayload | MutationError, strawberry.union("WebhookSubscriptionResult")
]


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="The active webhook subscriptions of an organisation.")
    async def webhook_subscriptions(
        self, info: Info, organisation_id: strawberry.ID
    ) -> list[WebhookSubscriptionType]:
        try:
            found = await info.context.graph.read(
                list_subscriptions,
                organisation_id=str(organisation_id),
                allowed_organisations=webhook_scope(info.context.actor),
            )
        except Forbidden as exc:
            raise refused(exc) from exc
        return [WebhookSubscriptionType.from_model(s) for s in found]

    @strawberry.field(description="What was sent to an organisation's webhooks, newest first.")
    async def webhook_deliveries(
        self,
        info: Info,
        organisation_id: strawberry.ID,
        state: DeliveryState | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[WebhookDeliveryType]:
        try:
            page = await info.context.graph.read(
                list_deliveries,
                organisation_id=str(organisation_id),
                state=state,
                allowed_organisations=webhook_scope(info.context.actor),
                first=page_size(first),
                after=after,
            )
        except Forbidden as exc:
            raise refused(exc) from exc
        return to_connection(page, WebhookDeliveryType.from_model)


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="Subscribe a URL to referral events of an organisation the caller belongs "
        "to. The result holds the signing secret, which is never shown again."
    )
    async def create_webhook_subscription(
        self, info: Info, input: WebhookSubscriptionInput
    ) -> CreateWebhookSubscriptionResult:
        try:
            data = validate_input(SubscriptionInput, strawberry.asdict(input))
            allowed = parse_networks(info.context.settings.webhook_allowed_networks)
            if host_refused(urlsplit(data.url).hostname or "", allowed):
                raise ValidationFailed.single(
                    "input.url",
                    "the URL names a loopback, private or link-local address; webhooks go to "
                    "public addresses (or networks in HOMEWARD_WEBHOOK_ALLOWED_NETWORKS)",
                )
            created = await info.context.graph.write(
                create_subscription,
                id=str(uuid.uuid4()),
                data=data,
                cipher=info.context.cipher,
                actor=info.context.actor,
                allowed_organisations=webhook_scope(info.context.actor),
            )
        except HomewardError as exc:
            return to_graphql_error(exc)
        return CreatedWebhookSubscription(
            subscription=WebhookSubscriptionType.from_model(created.subscription),
            secret=created.secret,
        )

    @strawberry.mutation(
        description="Stop a subscription: nothing more is sent to it and deliveries not yet "
        "sent are cancelled; its delivery log stays readable."
    )
    async def delete_webhook_subscription(
        self, info: Info, id: strawberry.ID
    ) -> WebhookSubscriptionResult:
        try:
            deleted = await info.context.graph.write(
                delete_subscription,
                id=str(id),
                actor=info.context.actor,
                allowed_organisations=webhook_scope(info.context.actor),
            )
        except HomewardError as exc:
            return to_graphql_error(exc)
        return WebhookSubscriptionPayload(subscription=WebhookSubscriptionType.from_model(deleted))
