"""Test fixtures: one throwaway Neo4j per test session, a clean graph per test.

The instance lives in `.neo4j/test` on port 7697 (HOMEWARD_TEST_NEO4J_PORT), never in the
folder or on the port of `make run`. HOMEWARD_TEST_NEO4J_URI points the suite at an external
Neo4j instead; it is wiped before every test, so never point it at data you want to keep.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings
from neo4j import AsyncDriver

from core.crypto import DataCipher
from core.settings import PROJECT_ROOT, Environment, Settings, get_settings
from graph.areas import AreaLevel, AreaRecord, GeoPoint, area_rows, upsert_areas
from graph.driver import Graph, create_driver
from graph.migrations import migrate
from graph.organisations import OrganisationInput, OrganisationKind, upsert_organisations
from graph.users import Role, UserInput, create_user, issue_token, new_token
from homeward import neo4j_server
from homeward.app import create_app
from tests.receiver import RECEIVER_NETWORKS, Receiver
from tests.smtp import MailServer

# Property and fuzz tests run the same examples on every run (CI included), without a
# per-test deadline (a real Neo4j answers in varying time on a shared machine); a developer
# hunting for new failures runs with HYPOTHESIS_PROFILE=explore and a larger FUZZ_EXAMPLES.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, database=None)
hypothesis_settings.register_profile("explore", deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Markers follow what a test stands on, so that `pytest -m "not neo4j"` is the real fast subset
# that starts no database: a test is `neo4j` when it asks (through any fixture) for the test
# session's Neo4j or lives in a folder whose tests start Neo4j processes of their own, and
# `e2e` when it is under tests/e2e/. Folders of pure code (tests/core/) must never need Neo4j.
NEO4J_FOLDERS = ("reliability", "e2e")
PURE_FOLDERS = ("core",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_root = PROJECT_ROOT / "tests"
    for item in items:
        folder = item.path.relative_to(tests_root).parts[0]
        uses_neo4j = "neo4j_uri" in getattr(item, "fixturenames", ())
        if folder in PURE_FOLDERS and uses_neo4j:
            raise pytest.UsageError(f"{item.nodeid}: tests/{folder}/ is for code without Neo4j")
        if uses_neo4j or folder in NEO4J_FOLDERS:
            item.add_marker(pytest.mark.neo4j)
        if folder == "e2e":
            item.add_marker(pytest.mark.e2e)


TEST_HOME = PROJECT_ROOT / ".neo4j" / "test"
TEST_PORT = int(os.environ.get("HOMEWARD_TEST_NEO4J_PORT", "7697"))


@pytest.fixture(scope="session")
def neo4j_uri() -> Iterator[str]:
    external = os.environ.get("HOMEWARD_TEST_NEO4J_URI")
    if external:
        yield external
        return
    instance = neo4j_server.LocalNeo4j(
        home=TEST_HOME, port=TEST_PORT, heap="512m", pagecache="128m"
    )
    neo4j_server.stop(instance)  # a previous run killed before its teardown
    shutil.rmtree(TEST_HOME, ignore_errors=True)
    neo4j_server.start(instance, timeout_s=90)
    try:
        yield instance.uri
    finally:
        neo4j_server.stop(instance)


@pytest.fixture(scope="session")
def test_settings(neo4j_uri: str) -> Settings:
    return Settings(
        HOMEWARD_ENV=Environment.TEST,
        NEO4J_URI=neo4j_uri,
        NEO4J_USER=os.environ.get("HOMEWARD_TEST_NEO4J_USER", "neo4j"),
        NEO4J_PASSWORD=os.environ.get("HOMEWARD_TEST_NEO4J_PASSWORD", "neo4j"),
        NEO4J_DATABASE=os.environ.get("HOMEWARD_TEST_NEO4J_DATABASE"),
        HOMEWARD_DATA_KEYS=Fernet.generate_key().decode("ascii"),
        # Off, so that no test's app sends webhooks behind its back; the job's own test
        # switches it on.
        HOMEWARD_WEBHOOK_INTERVAL_S=0,
        HOMEWARD_HOUSEKEEPING_INTERVAL_S=0,
        # Tests (and load tests) send many requests from one address; the rate limit's own
        # tests set their small limits.
        HOMEWARD_RATE_LIMIT="100000/minute",
        HOMEWARD_RATE_LIMIT_ANONYMOUS="100000/minute",
        # The tests' webhook receiver listens on the loopback interface.
        HOMEWARD_WEBHOOK_ALLOWED_NETWORKS=RECEIVER_NETWORKS,
    )


@pytest.fixture(scope="session")
async def driver(test_settings: Settings) -> AsyncIterator[AsyncDriver]:
    drv = create_driver(test_settings)
    try:
        yield drv
    finally:
        await drv.close()


@pytest.fixture(scope="session")
async def migrated(driver: AsyncDriver, test_settings: Settings) -> Graph:
    graph = Graph(driver, test_settings.neo4j_database)
    await migrate(graph)
    return graph


async def wipe(graph: Graph) -> Graph:
    """An empty directory with the schema in place (migration records survive the wipe)."""
    async with graph.driver.session(database=graph.database) as session:
        result = await session.run(
            "MATCH (n) WHERE NOT n:SchemaMigration CALL (n) { DETACH DELETE n } "
            "IN TRANSACTIONS OF 5000 ROWS"
        )
        await result.consume()
    return graph


@pytest.fixture
async def graph(migrated: Graph) -> Graph:
    """An empty directory with the schema in place."""
    return await wipe(migrated)


COUNTRIES = [
    AreaRecord(
        id="XK",
        level=AreaLevel.COUNTRY,
        names={"en": "Kosovo", "sq": "Kosova", "sr-Latn": "Kosovo", "sr-Cyrl": "Косово"},
        centroid=GeoPoint(lat=42.6, lon=20.9),
    ),
    AreaRecord(
        id="DE",
        level=AreaLevel.COUNTRY,
        names={"en": "Germany", "de": "Deutschland", "sq": "Gjermania"},
        centroid=GeoPoint(lat=51.2, lon=10.4),
    ),
    AreaRecord(
        id="XK-prizren",
        level=AreaLevel.MUNICIPALITY,
        parent="XK",
        names={"en": "Prizren", "sq": "Prizren", "sr-Latn": "Prizren", "sr-Cyrl": "Призрен"},
        alt_names=["Prizreni"],
        centroid=GeoPoint(lat=42.2139, lon=20.7397),
    ),
]


@pytest.fixture
async def countries(graph: Graph) -> Graph:
    """Kosovo (with Prizren) and Germany: enough gazetteer for registration tests."""
    await graph.write(upsert_areas, rows=area_rows(COUNTRIES))
    return graph


@pytest.fixture
async def app(graph: Graph, test_settings: Settings) -> AsyncIterator[FastAPI]:
    """The real application with its lifespan running (its own driver, like production)."""
    application = create_app(test_settings)
    async with application.router.lifespan_context(application):
        yield application


@asynccontextmanager
async def serve(
    settings: Settings, client: tuple[str, int] = ("127.0.0.1", 50000)
) -> AsyncIterator[httpx.AsyncClient]:
    """An application with other settings than the `app` fixture's, running its lifespan,
    and an HTTP client to it that calls from `client`'s address."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP to the application over in-process ASGI."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


PEOPLE_ORGANISATIONS = {
    "org-a": OrganisationInput(name="Organisation A", kind=OrganisationKind.NGO, country="XK"),
    "org-b": OrganisationInput(name="Organisation B", kind=OrganisationKind.NGO, country="XK"),
}
# name -> (organisation, role); one user per role in A, and a partner of B.
PEOPLE = {
    "counsellor": ("org-a", Role.COUNSELLOR),
    "partner": ("org-a", Role.PARTNER),
    "coordinator": ("org-a", Role.COORDINATOR),
    "admin": ("org-a", Role.ADMIN),
    "partner_b": ("org-b", Role.PARTNER),
}


async def add_people(graph: Graph) -> dict[str, str]:
    """Organisations A and B and one user per person of PEOPLE; their bearer tokens by name."""
    await graph.write(
        upsert_organisations,
        rows=[(i, data, {}) for i, data in PEOPLE_ORGANISATIONS.items()],
    )
    tokens: dict[str, str] = {}
    for name, (organisation, role) in PEOPLE.items():
        user = UserInput(
            email=f"{name}@example.org",
            display_name=name,
            organisation_id=organisation,
            role=role,
        )
        await graph.write(create_user, id=f"user-{name}", data=user)
        token, token_id, secret_hash = new_token()
        await graph.write(
            issue_token,
            user_id=f"user-{name}",
            token_id=token_id,
            secret_hash=secret_hash,
            label=None,
            expires_at=None,
        )
        tokens[name] = token
    return tokens


@pytest.fixture
async def people(countries: Graph) -> dict[str, str]:
    """Bearer tokens by person name; organisations A and B exist in Kosovo."""
    return await add_people(countries)


@pytest.fixture
async def orgs(countries: Graph) -> Graph:
    """Organisations A and B in Kosovo, without people (webhook subscribers)."""
    await countries.write(
        upsert_organisations,
        rows=[(i, data, {}) for i, data in PEOPLE_ORGANISATIONS.items()],
    )
    return countries


@pytest.fixture
def cipher() -> DataCipher:
    """A cipher under a fresh data key."""
    return DataCipher([Fernet.generate_key()])


@pytest.fixture
def cli_env(neo4j_uri: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command line's settings point at the test Neo4j."""
    monkeypatch.setenv("NEO4J_URI", neo4j_uri)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (port chosen by the system), stopped after the test."""
    r = Receiver()
    r.start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    """An SMTP server on 127.0.0.1 (a free port), stopped after the test."""
    with MailServer() as server:
        yield server
