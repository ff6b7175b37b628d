"""The API application (GraphQL, REST, HSDS): one driver per process, created and closed by the
lifespan. The pages are added above it, by `homeward.app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import devtools, exports, failures, health, hsds, imports, metrics
from api.auth import JwtVerifier
from api.background import PeriodicJob, PeriodicRunner
from api.graphql.context import get_context
from api.graphql.schema import schema_for
from api.hsds_http import HsdsHttp
from api.mail_delivery import deliver_mail_due
from api.middleware import Protection, RequestContext
from api.webhook_delivery import deliver_due, delivery_client
from core.clock import utcnow
from core.crypto import DataCipher, cipher_from_settings
from core.errors import DatabaseUnavailable
from core.settings import Settings, get_settings
from graph.cases import purge_expired_cases
from graph.driver import Graph, create_driver
from graph.duplicates import Kind, scan
from graph.geocoding import GazetteerGeocoder, Geocoder, NominatimGeocoder
from graph.migrations import migrate
from graph.reference import ReferenceCache
from graph.referrals import announce_follow_ups_due, announce_overdue, purge_expired
from graph.search_index import SearchIndex
from graph.users import delete_expired_sessions

log = logging.getLogger("homeward.api")


def make_geocoder(settings: Settings, graph: Graph) -> Geocoder:
    if settings.geocoder == "nominatim":
        return NominatimGeocoder(
            user_agent=settings.nominatim_user_agent,
            domain=settings.nominatim_domain,
            scheme=settings.nominatim_scheme,
        )
    return GazetteerGeocoder(graph)


def periodic_jobs(app: FastAPI, settings: Settings) -> list[PeriodicJob]:
    """The API process's periodic jobs; each reads the app state when it runs."""
    graph: Graph = app.state.graph
    cipher: DataCipher = app.state.cipher
    client = app.state.webhook_client

    async def deliver_webhooks() -> None:
        report = await deliver_due(graph, now=app.state.clock(), cipher=cipher, client=client)
        if report.claimed:
            log.info("webhooks: %s", report.model_dump())

    async def referral_housekeeping() -> None:
        now = app.state.clock()
        overdue = await graph.write(announce_overdue, now=now)
        due = await graph.write(
            announce_follow_ups_due, now=now, schedule=tuple(settings.follow_up_months)
        )
        purged = await purge_expired(
            graph, now=now, retention_days=settings.referral_retention_days
        )
        cases = await purge_expired_cases(
            graph, now=now, retention_days=settings.referral_retention_days
        )
        sessions = await graph.write(delete_expired_sessions, now=now)
        if overdue or due or purged or cases or sessions:
            log.info(
                "housekeeping: %d referrals newly overdue, %d with a follow-up visit due, "
                "%d purged, %d return cases purged, %d web sessions expired",
                overdue,
                due,
                purged,
                cases,
                sessions,
            )

    async def duplicate_scan() -> None:
        for kind in Kind:
            report = await scan(graph, kind=kind)
            log.info(
                "duplicates: %s scan of %d records, %d candidates (%d new, %d reopened), "
                "%d pruned, %.1f s",
                kind.value,
                report.records,
                report.candidates,
                report.new,
                report.reopened,
                report.pruned,
                report.seconds["total"],
            )

    async def deliver_mail() -> None:
        report = await deliver_mail_due(
            graph, now=app.state.clock(), settings=settings, cipher=cipher
        )
        if report.claimed or report.digests:
            log.info("mail: %s", report.model_dump())

    return [
        PeriodicJob("webhooks", settings.webhook_interval_s, deliver_webhooks),
        # Without an SMTP host mail is off: the job does not run (mails queued meanwhile
        # are given up as too old once it does, see api.mail_delivery.MAX_AGE).
        PeriodicJob("mail", settings.mail_interval_s if settings.mail_enabled else 0, deliver_mail),
        PeriodicJob("referrals", settings.housekeeping_interval_s, referral_housekeeping),
        PeriodicJob("duplicates", settings.duplicate_scan_interval_s, duplicate_scan),
    ]


def create_api(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Before anything listens: a deployment without its data keys must not start at all.
    cipher = cipher_from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        driver = create_driver(settings)
        graph = Graph(
            driver, settings.neo4j_database, query_timeout_s=settings.neo4j_query_timeout_s
        )
        app.state.settings = settings
        app.state.graph = graph
        # Tests replace the clock to see entries age; everything else reads it from here.
        app.state.clock = utcnow
        app.state.geocoder = make_geocoder(settings, graph)
        app.state.cipher = cipher
        # Areas, needs, target groups and programmes; per process, like the driver.
        app.state.reference_cache = ReferenceCache()
        # The search facts in memory (graph/search_index.py), built in the background; the
        # database ranks the searches until it is ready.
        # Its builds run on a Graph of their own over the same driver: long reads without the
        # requests' timeout, not counted among the requests' transactions.
        app.state.search_index = (
            SearchIndex(
                Graph(driver, settings.neo4j_database),
                max_services=settings.search_index_max_services,
                max_page_models=settings.search_cache_max_entries,
            )
            if settings.search_index_max_services > 0
            else None
        )
        app.state.hsds = hsds.HsdsState()
        app.state.jwt_verifier = JwtVerifier(settings) if settings.oidc_enabled else None
        app.state.webhook_client = delivery_client(
            allowed_networks=settings.webhook_allowed_networks
        )
        if settings.migrate_on_startup:
            try:
                applied = await migrate(graph)
                if applied:
                    log.info("applied migrations %s", applied)
            except DatabaseUnavailable as exc:
                # Serve anyway: /health reports the outage and requests recover when Neo4j
                # is back; `homeward migrate` applies what is missing.
                log.warning("migrations not applied, Neo4j unavailable: %s", exc.message)
        if app.state.search_index is not None:
            app.state.search_index.warm()
        try:
            # On SIGTERM uvicorn stops accepting, lets in-flight requests finish, then ends
            # the lifespan here: periodic jobs get the same grace, then the driver closes.
            async with PeriodicRunner(
                periodic_jobs(app, settings), grace_s=settings.shutdown_grace_s
            ):
                yield
        finally:
            if app.state.search_index is not None:
                await app.state.search_index.stop()
            await app.state.webhook_client.aclose()
            await driver.close()
            log.info("Neo4j driver closed")

    docs = settings.api_docs_enabled
    app = FastAPI(
        title="Homeward",
        summary="Referral and partner directory for return and reintegration",
        lifespan=lifespan,
        # In production the routes are documented in README.md; the API need not map itself
        # out to anyone who asks (HOMEWARD_API_DOCS switches it back on). /docs and /redoc
        # are api/devtools.py's, from the project's own copies of their browser code.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    devtools.install(app, openapi_url=app.openapi_url, graphiql=settings.graphiql_enabled)
    app.add_exception_handler(DatabaseUnavailable, failures.database_unavailable)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(exports.router)
    app.include_router(imports.router)
    app.include_router(hsds.router)
    app.include_router(
        devtools.GraphQLRouter(
            schema_for(introspection=settings.introspection_enabled),
            context_getter=get_context,
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
        ),
        prefix="/graphql",
    )
    app.add_middleware(
        HsdsHttp,
        origins=[o.strip() for o in settings.hsds_cors_origins.split(",") if o.strip()],
    )
    # Added last, so RequestContext is the outermost: even a 413 or a 429 has a request id.
    app.add_middleware(Protection, settings=settings)
    app.add_middleware(RequestContext)
    return app
