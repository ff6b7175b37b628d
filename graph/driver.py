"""The async driver and the one way the rest of the code runs transactions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, LiteralString, ParamSpec, TypeVar

from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction, Auth
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from homeward.errors import DatabaseUnavailable
from homeward.metrics import NEO4J_LATENCY, count_error
from homeward.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")

Work = Callable[Concatenate[AsyncManagedTransaction, P], Awaitable[T]]


def create_driver(settings: Settings) -> AsyncDriver:
    """One driver per process; it pools connections and reconnects by itself."""
    auth: Auth | None = None
    if not settings.uses_local_neo4j:
        auth = Auth("basic", settings.neo4j_user, settings.neo4j_password.get_secret_value(), None)
    return AsyncGraphDatabase.driver(
        settings.effective_neo4j_uri,
        auth=auth,
        connection_timeout=settings.neo4j_connection_timeout_s,
        # A request must fail fast while Neo4j is away instead of queueing for a minute.
        connection_acquisition_timeout=settings.neo4j_connection_timeout_s * 2,
        max_transaction_retry_time=settings.neo4j_connection_timeout_s * 3,
        # neo4j-rust-ext speeds up the PackStream codec; no other effect.
        notifications_min_severity="OFF",
    )


def _observe(access: str, work: Callable[..., object], started: float) -> None:
    # The transaction function's name is the label: bounded by the code, and it says which
    # query was slow without logging the query or its parameters.
    name = getattr(work, "__name__", "other")
    NEO4J_LATENCY.labels(access=access, work=name).observe(time.perf_counter() - started)


class Graph:
    """A driver bound to one database. Reads run in read transactions (cluster readers can
    serve them), writes in write transactions; both are retried by the driver on transient
    errors, which is why every transaction function must be safe to run twice."""

    def __init__(self, driver: AsyncDriver, database: str | None) -> None:
        self.driver = driver
        self.database = database
        # Transactions run through this Graph; tests read it to hold the DataLoaders to a
        # constant number of round trips per request.
        self.transactions = 0

    async def read(self, work: Work[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        self.transactions += 1
        started = time.perf_counter()
        try:
            async with self.driver.session(database=self.database) as session:
                return await session.execute_read(work, *args, **kwargs)
        except (ServiceUnavailable, SessionExpired) as exc:
            count_error("database_unavailable")
            raise DatabaseUnavailable(f"Neo4j is unavailable: {exc}") from exc
        finally:
            _observe("read", work, started)

    async def write(self, work: Work[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        self.transactions += 1
        started = time.perf_counter()
        try:
            async with self.driver.session(database=self.database) as session:
                return await session.execute_write(work, *args, **kwargs)
        except (ServiceUnavailable, SessionExpired) as exc:
            count_error("database_unavailable")
            raise DatabaseUnavailable(f"Neo4j is unavailable: {exc}") from exc
        finally:
            _observe("write", work, started)

    async def run_schema(self, statement: LiteralString) -> None:
        """Schema DDL cannot share a transaction with data writes, and a batched backfill
        (`CALL { ... } IN TRANSACTIONS`) needs an implicit transaction, so these run alone."""
        try:
            async with self.driver.session(database=self.database) as session:
                result = await session.run(statement)
                await result.consume()
        except (ServiceUnavailable, SessionExpired) as exc:
            raise DatabaseUnavailable(f"Neo4j is unavailable: {exc}") from exc

    async def ping(self, *, timeout_s: float) -> dict[str, Any]:
        """Server facts for /health; raises DatabaseUnavailable when Neo4j does not answer."""
        try:
            async with asyncio.timeout(timeout_s):
                info = await self.driver.get_server_info()
        except (TimeoutError, ServiceUnavailable, SessionExpired, OSError) as exc:
            raise DatabaseUnavailable(f"Neo4j did not answer: {exc or 'timeout'}") from exc
        return {"address": str(info.address), "agent": info.agent}
