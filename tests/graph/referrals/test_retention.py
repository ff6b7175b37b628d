"""Key rotation of every encrypted value: referral contents and webhook signing secrets."""

from __future__ import annotations

from datetime import timedelta

from cryptography.fernet import Fernet
from neo4j import AsyncManagedTransaction

from api.webhook_delivery import deliver_due, delivery_client
from core.crypto import DataCipher
from core.signing import verify_signature
from graph.driver import Graph
from graph.encryption import ENCRYPTED_FIELDS, rotate_all
from graph.referrals.models import Action
from graph.referrals.reads import get_referral
from tests.graph.referrals.conftest import CIPHER, COUNSELLOR, KEY, NOW, POLICY, new_referral, step
from tests.receiver import RECEIVER_NETWORKS, Receiver
from tests.webhooks import SENT, T0, notify, subscribe


async def test_rotation_moves_every_stored_value_to_the_new_key(world: Graph) -> None:
    await new_referral(world, "rot-1")
    await step(world, "rot-1", Action.SEND)
    new_key = Fernet.generate_key()
    both = DataCipher([new_key, KEY])
    assert await rotate_all(world, cipher=both) == 2  # the referral and its consent
    only_new = DataCipher([new_key])
    seen = await world.read(
        get_referral,
        id="rot-1",
        actor=COUNSELLOR,
        cipher=only_new,
        now=NOW + timedelta(seconds=1),
        policy=POLICY,
    )
    assert seen.health == "Illustrative health note"


ENCRYPTED_VALUES = """
MATCH (x) UNWIND keys(x) AS key
WITH x, key WHERE key ENDS WITH '_enc' AND x[key] IS NOT NULL
RETURN labels(x) AS labels, key, x[key] AS value
"""


async def test_after_rotation_and_removal_of_the_old_key_every_value_decrypts(
    world: Graph, orgs: Graph, receiver: Receiver
) -> None:
    """Referral contents, events and webhook signing secrets alike; and a webhook signed
    with a secret rotated this way still delivers under the new key alone."""
    await new_referral(world, "rot-2")
    await step(world, "rot-2", Action.SEND)
    created = await subscribe(world, CIPHER, receiver.url, [SENT])
    new_key = Fernet.generate_key()
    await rotate_all(world, cipher=DataCipher([new_key, KEY]))
    only_new = DataCipher([new_key])

    async def stored(tx: AsyncManagedTransaction) -> list[tuple[list[str], str, str]]:
        result = await tx.run(ENCRYPTED_VALUES)
        return [(r["labels"], r["key"], r["value"]) async for r in result]

    values = await world.read(stored)
    kinds = {label for labels, _, _ in values for label in labels}
    assert {"WebhookSubscription", "Referral", "Consent"} <= kinds
    for labels, key, value in values:
        assert any(key in ENCRYPTED_FIELDS.get(label, ()) for label in labels), (labels, key)
        only_new.decrypt(value)

    await notify(world, SENT)
    at = T0 + timedelta(seconds=1)
    async with delivery_client(timeout_s=1.0, allowed_networks=RECEIVER_NETWORKS) as http:
        report = await deliver_due(world, now=at, cipher=only_new, client=http)
    assert report.delivered == 1
    (request,) = receiver.requests
    headers = request.headers
    assert verify_signature(
        created.secret,
        headers["x-homeward-timestamp"],
        request.body,
        headers["x-homeward-signature"],
        now=at.timestamp(),
    )
