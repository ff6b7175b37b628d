"""Mail through a real SMTP server on the loopback: notices are queued with the change they
tell of, wait while the server is down and arrive once when it is back; digests; the
recipient's language; nothing personal beyond the reference and a link."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from api.mail_delivery import MAX_AGE, deliver_mail_due
from api.webhook_delivery import backoff
from core.settings import Settings
from graph.driver import Graph
from graph.mail.outbox import list_mails
from graph.mail.preferences import MailFrequency, set_mail_preference
from tests.api.graphql.conftest import Clock, GraphQLClient, clock, gql  # noqa: F401
from tests.api.graphql.test_referrals import (  # noqa: F401 - `world` is a fixture
    ACCEPT,
    HEALTH,
    NOTE,
    START_,
    _ok,
    sent_referral,
    world,
)
from tests.smtp import MailServer

READ = "query R($id: ID!) { referral(id: $id) { reference } }"
SITE = "https://homeward.example.org"


async def _deliver(app: FastAPI, graph: Graph, settings: Settings, at: Clock) -> dict[str, int]:
    report = await deliver_mail_due(graph, now=at.now, settings=settings, cipher=app.state.cipher)
    return report.model_dump()


async def test_a_notice_waits_while_the_server_is_down_and_arrives_once(
    app: FastAPI,
    gql: GraphQLClient,  # noqa: F811
    world: dict[str, str],  # noqa: F811
    graph: Graph,
    clock: Clock,  # noqa: F811
    mail_server: MailServer,
    test_settings: Settings,
) -> None:
    settings = mail_server.settings(test_settings)
    referral_id = await sent_referral(gql, world)
    (mail,) = await graph.read(list_mails)
    assert (mail.kind, mail.recipient_id, mail.state) == ("notice", "user-partner_b", "pending")

    mail_server.stop()
    clock.now += timedelta(seconds=1)
    down = await _deliver(app, graph, settings, clock)
    assert (down["claimed"], down["retrying"], down["delivered"]) == (1, 1, 0)
    (mail,) = await graph.read(list_mails)
    assert (mail.state, mail.attempts) == ("pending", 1)
    assert "unavailable" in str(mail.last_error)
    # Not before its backoff.
    assert (await _deliver(app, graph, settings, clock))["claimed"] == 0
    assert mail_server.arrived == []

    mail_server.start()
    clock.now += backoff(1)
    up = await _deliver(app, graph, settings, clock)
    assert (up["claimed"], up["delivered"]) == (1, 1)
    (mail,) = await graph.read(list_mails)
    assert (mail.state, mail.attempts) == ("delivered", 2)
    assert (await _deliver(app, graph, settings, clock))["claimed"] == 0

    (arrived,) = mail_server.arrived
    assert arrived.recipients == ["partner_b@example.org"]
    assert arrived.message["From"] == "homeward@example.org"
    read = await gql(READ, {"id": referral_id}, token=world["counsellor"])
    reference = read["data"]["referral"]["reference"]
    assert arrived.subject == f"Homeward: New referral {reference}"
    assert f"{SITE}/app/referrals/{referral_id}" in arrived.body
    assert reference in arrived.body
    for personal in (HEALTH, NOTE, "diabetes", "Prizren", "adults"):
        assert personal not in arrived.body
        assert personal not in arrived.subject


async def test_each_status_change_is_mailed_to_the_sender_in_their_language(
    app: FastAPI,
    gql: GraphQLClient,  # noqa: F811
    world: dict[str, str],  # noqa: F811
    graph: Graph,
    clock: Clock,  # noqa: F811
    mail_server: MailServer,
    test_settings: Settings,
) -> None:
    settings = mail_server.settings(test_settings)
    await graph.write(
        set_mail_preference,
        user_id="user-counsellor",
        frequency=MailFrequency.IMMEDIATE,
        language="de",
        now=clock.now,
    )
    referral_id = await sent_referral(gql, world)
    await _ok(await gql(ACCEPT, {"id": referral_id}, token=world["partner_b"]), "acceptReferral")
    clock.now += timedelta(seconds=1)
    assert (await _deliver(app, graph, settings, clock))["delivered"] == 2

    (accepted,) = mail_server.to("counsellor@example.org")
    assert "ist jetzt: angenommen" in accepted.subject
    assert accepted.message["Content-Language"] == "de"
    assert f"{SITE}/app/referrals/{referral_id}" in accepted.body
    assert f"{SITE}/app/settings" in accepted.body  # where to change what one receives


async def test_a_digest_lists_the_days_notices_in_one_mail_and_none_sends_nothing(
    app: FastAPI,
    gql: GraphQLClient,  # noqa: F811
    world: dict[str, str],  # noqa: F811
    graph: Graph,
    clock: Clock,  # noqa: F811
    mail_server: MailServer,
    test_settings: Settings,
) -> None:
    settings = mail_server.settings(test_settings)  # digests at 07:00 UTC
    await graph.write(
        set_mail_preference,
        user_id="user-counsellor",
        frequency=MailFrequency.DIGEST,
        language="en",
        now=clock.now,
    )
    await graph.write(
        set_mail_preference,
        user_id="user-partner_b",
        frequency=MailFrequency.NONE,
        language="en",
        now=clock.now,
    )
    clock.now += timedelta(minutes=1)
    referral_id = await sent_referral(gql, world)
    await _ok(await gql(ACCEPT, {"id": referral_id}, token=world["partner_b"]), "acceptReferral")
    await _ok(await gql(START_, {"id": referral_id}, token=world["partner_b"]), "startReferral")
    clock.now += timedelta(hours=1)
    # Nothing to send today: the digest comes with the next morning.
    assert await _deliver(app, graph, settings, clock) == {
        "digests": 0,
        "purged": 0,
        "claimed": 0,
        "delivered": 0,
        "retrying": 0,
        "failed": 0,
        "cancelled": 0,
    }
    clock.now = clock.now.replace(hour=7, minute=5) + timedelta(days=1)
    report = await _deliver(app, graph, settings, clock)
    assert (report["digests"], report["delivered"]) == (1, 1)
    (digest,) = mail_server.arrived
    assert digest.recipients == ["counsellor@example.org"]
    assert digest.subject.startswith("Homeward: your notices of ")
    assert digest.body.count(f"{SITE}/app/referrals/{referral_id}") == 2
    assert "is now: accepted" in digest.body
    assert "is now: in progress" in digest.body
    # Once a day.
    clock.now += timedelta(hours=3)
    assert (await _deliver(app, graph, settings, clock))["digests"] == 0


async def test_a_notice_queued_while_mail_was_off_for_days_is_given_up(
    app: FastAPI,
    gql: GraphQLClient,  # noqa: F811
    world: dict[str, str],  # noqa: F811
    graph: Graph,
    clock: Clock,  # noqa: F811
    mail_server: MailServer,
    test_settings: Settings,
) -> None:
    await sent_referral(gql, world)
    clock.now += MAX_AGE + timedelta(minutes=1)
    report = await _deliver(app, graph, mail_server.settings(test_settings), clock)
    assert (report["claimed"], report["failed"]) == (1, 1)
    assert mail_server.arrived == []
