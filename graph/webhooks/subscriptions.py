"""An organisation's webhook subscriptions: a URL, the events it wants, and the secret that
signs what is sent to it (generated here, shown once, stored encrypted).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any, LiteralString
from urllib.parse import urlsplit

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.crypto import DataCipher
from core.errors import Forbidden, NotFound, ValidationFailed
from graph.audit import diff, record_event
from graph.temporal import native
from graph.users import Actor


class WebhookEvent(StrEnum):
    REFERRAL_SENT = "referral.sent"
    REFERRAL_ACKNOWLEDGED = "referral.acknowledged"
    REFERRAL_ACCEPTED = "referral.accepted"
    REFERRAL_DECLINED = "referral.declined"
    REFERRAL_STARTED = "referral.started"
    REFERRAL_COMPLETED = "referral.completed"
    REFERRAL_CANCELLED = "referral.cancelled"
    REFERRAL_OVERDUE = "referral.overdue"
    CASE_OPENED = "case.opened"
    CASE_UPDATED = "case.updated"
    CASE_TRANSFERRED = "case.transferred"
    CASE_STATUS_CHANGED = "case.status_changed"
    CASE_FOLLOW_UP_RECORDED = "case.follow_up_recorded"
    CASE_CONSENT_CHANGED = "case.consent_changed"
    CASE_CLOSED = "case.closed"


MAX_URL_LENGTH = 2048
MAX_SUBSCRIPTIONS_PER_ORGANISATION = 20


class SubscriptionInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    organisation_id: str = Field(min_length=1, max_length=80)
    url: str = Field(min_length=1)
    events: list[WebhookEvent]

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        if len(url) > MAX_URL_LENGTH:
            raise ValueError(f"the URL must be at most {MAX_URL_LENGTH} characters long")
        if any(c.isspace() for c in url):
            raise ValueError("the URL must not contain spaces")
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise ValueError("the URL must start with https:// (or http://)")
        if not parts.hostname:
            raise ValueError("the URL must name a host, e.g. https://example.org/homeward")
        # Credentials in a URL end up in logs and listings; the signature authenticates us.
        if parts.username is not None or parts.password is not None:
            raise ValueError("the URL must not contain a user name or password")
        try:
            parts.port  # noqa: B018 - parsing the port is the check
        except ValueError as exc:
            raise ValueError("the URL has an invalid port") from exc
        return url

    @field_validator("events")
    @classmethod
    def _events(cls, events: list[WebhookEvent]) -> list[WebhookEvent]:
        if not events:
            raise ValueError("choose at least one event")
        return list(dict.fromkeys(events))


class WebhookSubscription(BaseModel):
    id: str
    organisation_id: str
    url: str
    events: list[WebhookEvent]
    active: bool
    created_at: datetime
    created_by: str


class CreatedSubscription(BaseModel):
    subscription: WebhookSubscription
    # Shown to the caller once; only its encryption is stored.
    secret: str


def check_scope(organisation_id: str, allowed: set[str] | None) -> None:
    """`allowed` comes from the access policy: None is every organisation (admins)."""
    if allowed is not None and organisation_id not in allowed:
        raise Forbidden(f"you may not manage the webhooks of organisation {organisation_id!r}")


def _subscription(props: dict[str, Any], organisation_id: str) -> WebhookSubscription:
    return WebhookSubscription(
        id=props["id"],
        organisation_id=organisation_id,
        url=props["url"],
        events=[WebhookEvent(e) for e in props["events"]],
        active=props["active"],
        created_at=native(props["created_at"]),
        created_by=props["created_by"],
    )


COUNT_ACTIVE: LiteralString = """
MATCH (o:Organisation {id: $organisation})
RETURN COUNT { (o)<-[:OF]-(:WebhookSubscription {active: true}) } AS active
"""

CREATE: LiteralString = """
MATCH (o:Organisation {id: $organisation})
CREATE (s:WebhookSubscription {id: $id, url: $url, events: $events, secret_enc: $secret_enc,
                               active: true, created_at: datetime(), created_by: $by})-[:OF]->(o)
RETURN s
"""


async def create_subscription(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    data: SubscriptionInput,
    cipher: DataCipher,
    actor: Actor,
    allowed_organisations: set[str] | None,
) -> CreatedSubscription:
    """Subscribe a URL; the signing secret is generated here and returned only now."""
    check_scope(data.organisation_id, allowed_organisations)
    record = await (await tx.run(COUNT_ACTIVE, organisation=data.organisation_id)).single()
    if record is None:
        raise NotFound("organisation", data.organisation_id)
    if record["active"] >= MAX_SUBSCRIPTIONS_PER_ORGANISATION:
        raise ValidationFailed.single(
            "organisation_id",
            f"an organisation may have at most {MAX_SUBSCRIPTIONS_PER_ORGANISATION} "
            "webhook subscriptions; delete one first",
        )
    secret = secrets.token_urlsafe(32)
    result = await tx.run(
        CREATE,
        id=id,
        organisation=data.organisation_id,
        url=data.url,
        events=[e.value for e in data.events],
        secret_enc=cipher.encrypt(secret),
        by=actor.label,
    )
    created = _subscription(dict((await result.single(strict=True))["s"]), data.organisation_id)
    await record_event(
        tx,
        actor=actor,
        action="subscribe webhook",
        entity="webhook_subscription",
        entity_id=id,
        organisation_id=data.organisation_id,
        # Never the secret: the audit trail is readable by the organisation's members.
        changes=diff(None, {"url": created.url, "events": created.events}),
    )
    return CreatedSubscription(subscription=created, secret=secret)


OF_ORGANISATION: LiteralString = """
MATCH (s:WebhookSubscription {active: true})-[:OF]->(:Organisation {id: $organisation})
RETURN s ORDER BY s.created_at, s.id
"""


async def list_subscriptions(
    tx: AsyncManagedTransaction, *, organisation_id: str, allowed_organisations: set[str] | None
) -> list[WebhookSubscription]:
    """The active subscriptions of an organisation, oldest first."""
    check_scope(organisation_id, allowed_organisations)
    result = await tx.run(OF_ORGANISATION, organisation=organisation_id)
    return [_subscription(dict(r["s"]), organisation_id) async for r in result]


SUBSCRIPTION_ORGANISATION: LiteralString = """
MATCH (:WebhookSubscription {id: $id})-[:OF]->(o:Organisation) RETURN o.id AS organisation
"""

# The node stays so that the delivery log still says where deliveries went; the secret goes,
# and so does everything not yet sent.
DEACTIVATE: LiteralString = """
MATCH (s:WebhookSubscription {id: $id})
SET s.active = false, s.deactivated_at = coalesce(s.deactivated_at, datetime())
REMOVE s.secret_enc
WITH s
CALL (s) {
  MATCH (s)<-[:FOR]-(d:WebhookDelivery {state: 'pending'})
  SET d.state = 'cancelled', d.next_attempt_at = null, d.last_error = 'subscription deleted'
}
RETURN s
"""


async def delete_subscription(
    tx: AsyncManagedTransaction, *, id: str, actor: Actor, allowed_organisations: set[str] | None
) -> WebhookSubscription:
    """Stop a subscription (idempotent); returns it as it is now, inactive."""
    record = await (await tx.run(SUBSCRIPTION_ORGANISATION, id=id)).single()
    if record is None:
        raise NotFound("webhook subscription", id)
    organisation = str(record["organisation"])
    check_scope(organisation, allowed_organisations)
    result = await tx.run(DEACTIVATE, id=id)
    deleted = _subscription(dict((await result.single(strict=True))["s"]), organisation)
    await record_event(
        tx,
        actor=actor,
        action="delete webhook",
        entity="webhook_subscription",
        entity_id=id,
        organisation_id=organisation,
        changes=diff({"active": True}, {"active": False}),
    )
    return deleted
