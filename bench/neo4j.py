"""The benchmark's own local Neo4j: `.neo4j/bench` on port 7698 (`HOMEWARD_BENCH_NEO4J_PORT`
chooses another, e.g. when several copies of the project share a machine).

Separate from the instance of `make run` (`.neo4j/data`, 7687) and of `make test`
(`.neo4j/test`, 7697), so that loading data set M never touches either, and bigger (2 GB heap,
2 GB page cache) so that M fits in memory. Starting and stopping go through `homeward.neo4j_server`,
whose pid file makes `stop` signal only the process started here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from neo4j import AsyncGraphDatabase

from core.errors import LocalNeo4jError
from core.settings import PROJECT_ROOT
from graph.driver import Graph
from homeward import neo4j_server

BENCH_HOME = PROJECT_ROOT / ".neo4j" / "bench"
# HOMEWARD_BENCH_NEO4J_PORT lets a second checkout run its own benchmark Neo4j beside this one.
BENCH_PORT = int(os.environ.get("HOMEWARD_BENCH_NEO4J_PORT", "7698"))
BENCH_HEAP = "2g"
BENCH_PAGECACHE = "2g"
# A 2 GB heap and the launcher compiled from source take longer to come up than the defaults.
START_TIMEOUT_S = 120.0


def bench_instance(home: Path = BENCH_HOME) -> neo4j_server.LocalNeo4j:
    """The benchmark Neo4j; another `home` under `.neo4j/` (named `bench-...`) is a second
    database of the same size on the same port, e.g. the empty one an import is timed on."""
    return neo4j_server.LocalNeo4j(
        home=home, port=BENCH_PORT, heap=BENCH_HEAP, pagecache=BENCH_PAGECACHE
    )


def start_bench(home: Path = BENCH_HOME) -> int:
    """Start the benchmark Neo4j unless it runs already; return its pid once Bolt answers."""
    return neo4j_server.start(bench_instance(home), timeout_s=START_TIMEOUT_S)


def stop_bench(home: Path = BENCH_HOME) -> bool:
    """Stop it cleanly; False if it was not running."""
    return neo4j_server.stop(bench_instance(home), grace_s=60.0)


@contextmanager
def running_bench(home: Path = BENCH_HOME) -> Iterator[neo4j_server.LocalNeo4j]:
    """The benchmark Neo4j of `home`, started unless it runs already; on leaving it is
    stopped again only if it was started here, so a database kept running stays up."""
    instance = bench_instance(home)
    started_here = neo4j_server.running_pid(instance) is None
    start_bench(home)
    try:
        yield instance
    finally:
        if started_here:
            stop_bench(home)


def wipe_bench(home: Path = BENCH_HOME) -> None:
    """Stop the benchmark Neo4j of `home` and delete its folder, and nothing else."""
    resolved = home.resolve()
    # A guard against a changed constant: this must only ever remove .neo4j/bench(-*).
    if (
        not (resolved.name == "bench" or resolved.name.startswith("bench-"))
        or resolved.parent != (PROJECT_ROOT / ".neo4j").resolve()
    ):
        raise LocalNeo4jError(f"refusing to delete {resolved}: not a benchmark folder")
    stop_bench(home)
    if neo4j_server.running_pid(bench_instance(home)) is not None:
        raise LocalNeo4jError(f"the Neo4j in {resolved} is still running; not deleting it")
    if resolved.exists():
        shutil.rmtree(resolved)


@asynccontextmanager
async def bench_graph(home: Path = BENCH_HOME) -> AsyncIterator[Graph]:
    """A `Graph` on the benchmark Neo4j, with timeouts meant for bulk loads rather than for
    requests that must fail fast (those of `graph.driver.create_driver`)."""
    driver = AsyncGraphDatabase.driver(
        bench_instance(home).uri,
        auth=None,
        connection_timeout=10.0,
        max_transaction_retry_time=60.0,
        notifications_min_severity="OFF",
    )
    try:
        yield Graph(driver, None)
    finally:
        await driver.close()


def start_api(
    instance: neo4j_server.LocalNeo4j, port: int, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """An API process on 127.0.0.1:`port` against `instance`, as the benchmarks run it (with
    `env` added to its environment); the caller terminates it."""
    return subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "uvicorn", "homeward.main:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=api_environment(instance) | (env or {}),
        cwd=PROJECT_ROOT,
    )  # fmt: skip


def wait_for_api(port: int, deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the API did not become healthy within {deadline_s:g} s")


async def wait_for_search_index(port: int, deadline_s: float = 600.0) -> int:
    """Until the API process on `port` says (on /health) that its search index is built; its
    size. Until then its searches take the ranked query, which is not what is measured."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        while time.monotonic() - started < deadline_s:
            response = await http.get("/health")
            index = (response.json() or {}).get("search_index") or {}
            if index.get("built"):
                return int(index["services"])
            await asyncio.sleep(1.0)
    raise RuntimeError("the search index was not built in time")


@contextmanager
def serving_api(
    port: int, env: dict[str, str] | None = None
) -> Iterator[tuple[neo4j_server.LocalNeo4j, subprocess.Popen[bytes]]]:
    """The benchmark Neo4j and an API process against it on 127.0.0.1:`port`, healthy. On
    leaving, the API is stopped, and the Neo4j too when it was not running before."""
    with running_bench() as instance:
        api = start_api(instance, port, env)
        try:
            wait_for_api(port)
            yield instance, api
        finally:
            api.terminate()
            api.wait(timeout=30)


def api_environment(instance: neo4j_server.LocalNeo4j) -> dict[str, str]:
    """Environment of an API process that the benchmarks start against `instance`."""
    return dict(os.environ) | {
        "NEO4J_URI": instance.uri,
        "HOMEWARD_ENV": "production",  # no GraphiQL, no demo identities
        "HOMEWARD_MIGRATE_ON_STARTUP": "false",
        # Production refuses to start without data keys; the benchmarks' requests carry no
        # personal data, so a key made for this run will do.
        "HOMEWARD_DATA_KEYS": os.environ.get("HOMEWARD_DATA_KEYS")
        or Fernet.generate_key().decode("ascii"),
        # The benchmarks measure the service, not the per-caller rate limit, which a few
        # clients on loopback would reach within seconds (HOMEWARD_RATE_LIMIT: '' is off).
        "HOMEWARD_RATE_LIMIT": "",
        "HOMEWARD_RATE_LIMIT_ANONYMOUS": "",
    }
