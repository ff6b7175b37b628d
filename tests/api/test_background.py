"""The periodic-job runner, and webhook and mail delivery by the running application."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from neo4j import AsyncManagedTransaction
from neo4j.exceptions import DriverError

from api import app as app_module
from api.background import PeriodicJob, PeriodicRunner
from core.clock import utcnow
from core.errors import DatabaseUnavailable
from core.settings import Settings
from core.signing import verify_signature
from graph.accounts import mail_password_link
from graph.driver import Graph
from graph.organisations import upsert_organisations
from graph.passwords import new_link
from graph.users import SYSTEM, hash_secret, open_session
from graph.webhooks import SubscriptionInput, WebhookEvent, create_subscription, enqueue
from homeward.app import create_app
from seed.loader import seed
from tests.conftest import PEOPLE_ORGANISATIONS
from tests.graph.duplicates.test_review import ORG_PAIR, SERVICE_PAIR
from tests.receiver import Receiver
from tests.smtp import MailServer


async def _until(condition: Callable[[], object], timeout_s: float = 10.0) -> None:
    """Poll `condition` until it is true, for at most `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - set from other threads, too
            await asyncio.sleep(0.02)


async def test_jobs_run_repeatedly_and_stop_on_request() -> None:
    runs: list[str] = []

    async def tick() -> None:
        runs.append("tick")

    async def never() -> None:
        runs.append("never")

    runner = PeriodicRunner([PeriodicJob("tick", 0.01, tick), PeriodicJob("off", 0, never)])
    async with runner:
        assert runner.running == ["tick"]
        await _until(lambda: len(runs) >= 3)
    assert runner.running == []
    count = len(runs)
    await asyncio.sleep(0.05)
    assert len(runs) == count
    assert "never" not in runs


async def test_a_failing_run_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("bug in the first run")
        if calls == 2:
            raise DatabaseUnavailable("Neo4j is unavailable")

    with caplog.at_level(logging.WARNING, logger="homeward.background"):
        async with PeriodicRunner([PeriodicJob("flaky", 0.01, flaky)]):
            await _until(lambda: calls >= 3)
    messages = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert ("ERROR", "periodic job flaky failed", True) in messages
    assert (
        "WARNING",
        "periodic job flaky failed: Neo4j is unavailable",
        False,
    ) in messages


async def test_stopping_interrupts_a_run_in_progress() -> None:
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(60)

    runner = PeriodicRunner([PeriodicJob("slow", 0.01, slow)])
    runner.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    async with asyncio.timeout(2):
        await runner.stop()
    assert runner.running == []


async def test_the_application_delivers_webhooks_by_itself(
    countries: Graph, test_settings: Settings, receiver: Receiver
) -> None:
    graph = countries
    await graph.write(
        upsert_organisations, rows=[(i, d, {}) for i, d in PEOPLE_ORGANISATIONS.items()]
    )
    settings = test_settings.model_copy(update={"webhook_interval_s": 0.1})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        created = await graph.write(
            create_subscription,
            id="sub-1",
            data=SubscriptionInput(
                organisation_id="org-a", url=receiver.url, events=[WebhookEvent.REFERRAL_SENT]
            ),
            cipher=app.state.cipher,
            actor=SYSTEM,
            allowed_organisations=None,
        )
        await graph.write(
            enqueue,
            organisation_id="org-a",
            event=WebhookEvent.REFERRAL_SENT,
            payload={"referral_id": "r1", "status": "sent"},
            at=utcnow() - timedelta(seconds=1),
        )
        await _until(lambda: len(receiver.requests) == 1)

    (request,) = receiver.requests
    assert verify_signature(
        created.secret,
        request.headers["x-homeward-timestamp"],
        request.body,
        request.headers["x-homeward-signature"],
    )


async def test_the_application_sends_mail_by_itself_once_a_server_is_set(
    people: dict[str, str], graph: Graph, test_settings: Settings, mail_server: MailServer
) -> None:
    settings = mail_server.settings(test_settings).model_copy(update={"mail_interval_s": 0.1})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        secret, link_id, secret_hash = new_link()
        queued = await graph.write(
            mail_password_link,
            email="admin@example.org",
            link_id=link_id,
            secret_hash=secret_hash,
            link_enc=app.state.cipher.encrypt(secret),
            now=utcnow() - timedelta(seconds=1),
        )
        assert queued
        await _until(lambda: len(mail_server.arrived) == 1)

    (mail,) = mail_server.arrived
    assert mail.recipients == ["admin@example.org"]
    assert f"/app/password/{secret}" in mail.body


# Graceful shutdown: the lifespan's end (uvicorn runs it on SIGTERM once in-flight requests
# are answered) waits for a run in progress within the grace, cancels it after, and closes
# the driver.


class BlockingJob:
    """A periodic job that signals when a run has started and takes `run_s` seconds."""

    def __init__(self, run_s: float) -> None:
        self.run_s = run_s
        self.started = asyncio.Event()
        self.finished = False
        self.cancelled = False

    async def __call__(self) -> None:
        self.started.set()
        try:
            await asyncio.sleep(self.run_s)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        self.finished = True


async def _shut_down_mid_run(
    settings: Settings, job: BlockingJob, monkeypatch: pytest.MonkeyPatch
) -> tuple[Graph, float]:
    monkeypatch.setattr(
        app_module, "periodic_jobs", lambda app, settings: [PeriodicJob("slow", 0.01, job)]
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        graph: Graph = application.state.graph
        await asyncio.wait_for(job.started.wait(), timeout=10)
        stopping = time.perf_counter()
    return graph, time.perf_counter() - stopping


async def _driver_closed(graph: Graph) -> bool:
    try:
        await graph.read(_one)
    except DriverError:
        return True
    return False


async def _one(tx: AsyncManagedTransaction) -> int:
    record = await (await tx.run("RETURN 1 AS one")).single()
    return int(record["one"]) if record else 0


async def test_shutdown_lets_a_run_in_progress_finish_within_the_grace(
    test_settings: Settings, graph: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = BlockingJob(run_s=0.3)
    settings = test_settings.model_copy(update={"shutdown_grace_s": 5.0})
    app_graph, took = await _shut_down_mid_run(settings, job, monkeypatch)
    assert job.finished
    assert not job.cancelled
    assert 0.1 < took < 5.0
    assert await _driver_closed(app_graph)


async def test_shutdown_cancels_a_run_that_outlasts_the_grace(
    test_settings: Settings,
    graph: Graph,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = BlockingJob(run_s=60)
    settings = test_settings.model_copy(update={"shutdown_grace_s": 0.3})
    with caplog.at_level(logging.INFO):
        app_graph, took = await _shut_down_mid_run(settings, job, monkeypatch)
    assert job.cancelled
    assert not job.finished
    assert took < 5.0
    assert await _driver_closed(app_graph)
    messages = [r.getMessage() for r in caplog.records]
    assert "periodic job slow cut off after 0 s" in messages
    assert messages.index("periodic jobs stopped") < messages.index("Neo4j driver closed")


async def test_housekeeping_deletes_expired_web_sessions(
    people: dict[str, str], graph: Graph, test_settings: Settings
) -> None:
    now = utcnow()
    for session_id, opened in (("ended", now - timedelta(hours=13)), ("live", now)):
        await graph.write(
            open_session,
            id=session_id,
            secret_hash=hash_secret("s"),
            user_id="user-counsellor",
            token_id=None,
            now=opened,
        )

    async def sessions() -> list[str]:
        async def read(tx: AsyncManagedTransaction) -> list[str]:
            result = await tx.run("MATCH (s:WebSession) RETURN s.id AS id ORDER BY id")
            return [r["id"] async for r in result]

        return await graph.read(read)

    assert await sessions() == ["ended", "live"]
    settings = test_settings.model_copy(update={"housekeeping_interval_s": 0.1})
    app = create_app(settings)
    found: list[str] = []

    async def gone() -> None:
        while True:
            found[:] = await sessions()
            if found == ["live"]:
                return
            await asyncio.sleep(0.05)

    async with app.router.lifespan_context(app):
        await asyncio.wait_for(gone(), timeout=10)
    assert found == ["live"]


async def test_the_application_fills_the_duplicate_review_queue_by_itself(
    graph: Graph, test_settings: Settings
) -> None:
    await seed(graph)

    async def candidates() -> set[str]:
        async def read(tx: AsyncManagedTransaction) -> set[str]:
            result = await tx.run("MATCH ()-[c:POSSIBLY_SAME_AS]->() RETURN c.id AS id")
            return {r["id"] async for r in result}

        return await graph.read(read)

    assert await candidates() == set()
    settings = test_settings.model_copy(update={"duplicate_scan_interval_s": 0.1})
    app = create_app(settings)
    found: set[str] = set()

    async def queued() -> None:
        while True:
            found.update(await candidates())
            if {ORG_PAIR, SERVICE_PAIR} <= found:
                return
            await asyncio.sleep(0.2)

    async with app.router.lifespan_context(app):
        await asyncio.wait_for(queued(), timeout=120)
    assert {ORG_PAIR, SERVICE_PAIR} <= found
