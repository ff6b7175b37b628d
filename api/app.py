"""The FastAPI application: one driver per process, created and closed by the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from strawberry.fastapi import GraphQLRouter

from api import health
from api.auth import JwtVerifier
from api.graphql.context import get_context
from api.graphql.schema import schema
from graph.driver import Graph, create_driver
from graph.geocoding import GazetteerGeocoder, Geocoder, NominatimGeocoder
from graph.migrations import migrate
from graph.reference import ReferenceCache
from graph.users import utcnow
from homeward.errors import DatabaseUnavailable
from homeward.settings import Settings, get_settings

log = logging.getLogger("homeward.api")


def make_geocoder(settings: Settings, graph: Graph) -> Geocoder:
    if settings.geocoder == "nominatim":
        return NominatimGeocoder(
            user_agent=settings.nominatim_user_agent,
            domain=settings.nominatim_domain,
            scheme=settings.nominatim_scheme,
        )
    return GazetteerGeocoder(graph)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        driver = create_driver(settings)
        graph = Graph(driver, settings.neo4j_database)
        app.state.settings = settings
        app.state.graph = graph
        # Tests replace the clock to see entries age; everything else reads it from here.
        app.state.clock = utcnow
        app.state.geocoder = make_geocoder(settings, graph)
        # Areas, needs, target groups and programmes; per process, like the driver.
        app.state.reference_cache = ReferenceCache()
        app.state.jwt_verifier = JwtVerifier(settings) if settings.oidc_enabled else None
        if settings.migrate_on_startup:
            try:
                applied = await migrate(graph)
                if applied:
                    log.info("applied migrations %s", applied)
            except DatabaseUnavailable as exc:
                # Serve anyway: /health reports the outage and requests recover when Neo4j
                # is back; `homeward migrate` applies what is missing.
                log.warning("migrations not applied, Neo4j unavailable: %s", exc.message)
        try:
            yield
        finally:
            await driver.close()

    app = FastAPI(
        title="Homeward",
        summary="Referral and partner directory for return and reintegration",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(
        GraphQLRouter(
            schema,
            context_getter=get_context,
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
        ),
        prefix="/graphql",
    )
    return app
