"""The async driver and the one way the rest of the code runs transactions."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, LiteralString, ParamSpec, TypeVar, cast

from neo4j import (
    READ_ACCESS,
    WRITE_ACCESS,
    AsyncDriver,
    AsyncGraphDatabase,
    AsyncManagedTransaction,
    AsyncResult,
    AsyncSession,
    Auth,
    Query,
    unit_of_work,
)
from neo4j.exceptions import (
    ConnectionAcquisitionTimeoutError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
)

from core.errors import DatabaseUnavailable
from core.metrics import NEO4J_LATENCY, count_error
from core.settings import Settings

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


# `Graph.read_autocommit`'s mode: a read, in an auto-commit transaction.
AUTOCOMMIT_READ = "AUTOCOMMIT_READ"


class _AutoCommit:
    """What a transaction function sees of an auto-commit transaction: `run`."""

    def __init__(self, session: AsyncSession, timeout_s: float | None) -> None:
        self.session = session
        self.timeout_s = timeout_s

    async def run(self, query: LiteralString, **parameters: Any) -> AsyncResult:
        return await self.session.run(Query(query, timeout=self.timeout_s), parameters)


def _observe(access: str, work: Callable[..., object], started: float) -> None:
    # The transaction function's name is the label: bounded by the code, and it says which
    # query was slow without logging the query or its parameters.
    name = getattr(work, "__name__", "other")
    NEO4J_LATENCY.labels(access=access, work=name).observe(time.perf_counter() - started)


# Transient failures (deadlocks, lock timeouts, a leader switch) are retried with backoff for
# this long; every transaction function is idempotent, so running it again is safe.
TRANSIENT_RETRY_S = 10.0
# An unreachable Neo4j is retried only briefly (a pooled connection gone stale after a restart
# is replaced at once), so that requests answer 503 within about a second instead of queueing.
UNAVAILABLE_RETRY_S = 0.5
FIRST_RETRY_DELAY_S = 0.05
MAX_RETRY_DELAY_S = 1.0


# Any statement will do: what is wanted is the bookmark of the read transaction around it.
DATA_VERSION: LiteralString = "RETURN 1"


class Graph:
    """A driver bound to one database. Reads run in read transactions (cluster readers can
    serve them), writes in write transactions; both are retried on transient errors, which
    is why every transaction function must be safe to run twice.

    The retry loop is ours rather than the driver's: the driver retries an unreachable server
    as patiently as a deadlock (30 s by default), and a request must fail fast in the first
    case and keep trying in the second."""

    def __init__(
        self,
        driver: AsyncDriver,
        database: str | None,
        *,
        transient_retry_s: float = TRANSIENT_RETRY_S,
        unavailable_retry_s: float = UNAVAILABLE_RETRY_S,
        query_timeout_s: float | None = None,
    ) -> None:
        self.driver = driver
        self.database = database
        # Per attempt, enforced here (a Neo4j that hangs never answers the driver) and sent
        # to Neo4j as the transaction's timeout (it ends the work on its side). None: no limit,
        # for the command line's long jobs.
        self.query_timeout_s = query_timeout_s
        self.transient_retry_s = transient_retry_s
        self.unavailable_retry_s = unavailable_retry_s
        # Transactions run through this Graph; tests read it to hold the DataLoaders to a
        # constant number of round trips per request.
        self.transactions = 0
        # Attempts that failed and were run again, for the reliability tests and /metrics.
        self.retries = 0

    async def read(self, work: Work[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._run(READ_ACCESS, work, *args, **kwargs)

    async def write(self, work: Work[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._run(WRITE_ACCESS, work, *args, **kwargs)

    async def _run(self, mode: str, work: Work[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        self.transactions += 1
        started = time.perf_counter()
        try:
            return await self._attempts(mode, work, *args, **kwargs)
        except DatabaseUnavailable:
            count_error("database_unavailable")
            raise
        finally:
            _observe("write" if mode == WRITE_ACCESS else "read", work, started)

    async def _attempts(self, mode: str, work: Work[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        started = time.monotonic()
        delay = FIRST_RETRY_DELAY_S
        while True:
            try:
                async with asyncio.timeout(self.query_timeout_s):
                    return await self._attempt(mode, work, *args, **kwargs)
            except TimeoutError as exc:
                # Not retried: a Neo4j that did not answer in this time will not answer the
                # next attempt sooner, and the caller is waiting. A write that timed out may
                # still have committed; every write is idempotent, so trying again is safe.
                raise DatabaseUnavailable(
                    f"Neo4j did not answer within {self.query_timeout_s:g} s"
                ) from exc
            except ConnectionAcquisitionTimeoutError as exc:
                # Every pooled connection is busy: the caller is told to come back (503 with
                # Retry-After) rather than kept waiting in a queue that only grows.
                raise DatabaseUnavailable(
                    "every Neo4j connection is in use; try again in a few seconds"
                ) from exc
            except (ServiceUnavailable, SessionExpired) as exc:
                if time.monotonic() - started + delay > self.unavailable_retry_s:
                    raise DatabaseUnavailable(f"Neo4j is unavailable: {exc}") from exc
            except Neo4jError as exc:
                if exc.code is not None and "TransactionTimedOut" in exc.code:
                    raise DatabaseUnavailable(
                        f"Neo4j ended the transaction after {self.query_timeout_s:g} s"
                    ) from exc
                if not exc.is_retryable():
                    raise
                if time.monotonic() - started + delay > self.transient_retry_s:
                    raise DatabaseUnavailable(
                        f"Neo4j stayed busy for {self.transient_retry_s:g} s: {exc.message}"
                    ) from exc
            self.retries += 1
            # Jitter, so that the two sides of a deadlock do not collide again in step.
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311
            delay = min(delay * 2, MAX_RETRY_DELAY_S)

    async def read_autocommit(self, work: Work[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`read` of a transaction function that runs one query, in an auto-commit
        transaction: the same retries and time limit, without the BEGIN and COMMIT of a
        managed transaction, which for one cheap query cost the API more than the query
        (the search's clock read). The query alone runs, so `work` must send only one."""
        return await self._run(AUTOCOMMIT_READ, work, *args, **kwargs)

    async def _attempt(self, mode: str, work: Work[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        # No waiting retries inside the driver: the loop in `_attempts` decides.
        async with self.driver.session(
            database=self.database,
            default_access_mode=WRITE_ACCESS if mode == WRITE_ACCESS else READ_ACCESS,
            max_transaction_retry_time=0.0,
            initial_retry_delay=0.0,
        ) as session:
            if mode == AUTOCOMMIT_READ:
                auto = cast("AsyncManagedTransaction", _AutoCommit(session, self.query_timeout_s))
                return await work(auto, *args, **kwargs)
            if self.query_timeout_s is not None:
                work = unit_of_work(timeout=self.query_timeout_s)(work)
            if mode == READ_ACCESS:
                return await session.execute_read(work, *args, **kwargs)
            return await session.execute_write(work, *args, **kwargs)

    async def run_schema(self, statement: LiteralString) -> None:
        """Schema DDL cannot share a transaction with data writes, and a batched backfill
        (`CALL { ... } IN TRANSACTIONS`) needs an implicit transaction, so these run alone."""
        try:
            async with self.driver.session(database=self.database) as session:
                result = await session.run(statement)
                await result.consume()
        except (ServiceUnavailable, SessionExpired) as exc:
            raise DatabaseUnavailable(f"Neo4j is unavailable: {exc}") from exc

    async def data_version(self) -> str | None:
        """The database's last committed transaction, as Neo4j names it in the bookmark it
        gives a read transaction: it changes with every write, whoever made it (another
        process, an import on the command line), and costs one round trip. None when the
        server gave no bookmark, so that a caller keeping answers by it keeps none."""
        self.transactions += 1
        try:
            async with self.driver.session(
                database=self.database, default_access_mode=READ_ACCESS
            ) as session:
                result = await session.run(DATA_VERSION)
                await result.consume()
                bookmarks = await session.last_bookmarks()
        except (ServiceUnavailable, SessionExpired) as exc:
            raise DatabaseUnavailable(f"Neo4j is unavailable: {exc}") from exc
        return ",".join(sorted(bookmarks.raw_values)) or None

    async def ping(self, *, timeout_s: float) -> dict[str, Any]:
        """Server facts for /health; raises DatabaseUnavailable when Neo4j does not answer."""
        try:
            async with asyncio.timeout(timeout_s):
                info = await self.driver.get_server_info()
        except (TimeoutError, ServiceUnavailable, SessionExpired, OSError) as exc:
            raise DatabaseUnavailable(f"Neo4j did not answer: {exc or 'timeout'}") from exc
        return {"address": str(info.address), "agent": info.agent}
