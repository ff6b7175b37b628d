"""Webhook notifications of referral and return case events to the organisations concerned,
as the database keeps them.

An organisation subscribes a URL to some events. The referral code calls `enqueue` inside the
transaction of each transition, so a notification exists exactly when the transition was
committed (a transactional outbox: no lost or phantom notifications). The API's dispatcher
(`api.webhook_delivery`) claims what is due, POSTs it and records the outcome here.

The parts, each importing only those listed before it:
- `subscriptions`: the events one may subscribe to, creating, listing and deleting
  subscriptions, and who may manage them.
- `outbox`: queueing a notification, with the allow-list that keeps personal data out of it.
- `deliveries`: claiming due deliveries under a lease, recording each attempt's outcome, and
  the delivery log.
"""

from graph.webhooks.deliveries import (
    LEASE,
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryState,
    HeldDelivery,
    WebhookDelivery,
    claim_due,
    list_deliveries,
    record_outcomes,
)
from graph.webhooks.outbox import enqueue
from graph.webhooks.subscriptions import (
    SubscriptionInput,
    WebhookEvent,
    WebhookSubscription,
    create_subscription,
    delete_subscription,
    list_subscriptions,
)

__all__ = [
    "LEASE",
    "ClaimedDelivery",
    "DeliveryOutcome",
    "DeliveryState",
    "HeldDelivery",
    "SubscriptionInput",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookSubscription",
    "claim_due",
    "create_subscription",
    "delete_subscription",
    "enqueue",
    "list_deliveries",
    "list_subscriptions",
    "record_outcomes",
]
