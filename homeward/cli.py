"""`homeward`: the operator's command line."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console

from graph import runtime
from graph.driver import Graph, create_driver
from graph.migrations import migrate as run_migrations
from homeward.errors import HomewardError, ValidationFailed
from homeward.settings import Settings, get_settings

T = TypeVar("T")

app = typer.Typer(
    help="Homeward: referral and partner directory for return work.", no_args_is_help=True
)
db_app = typer.Typer(help="The local Neo4j (not used when NEO4J_URI is set).", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()
err = Console(stderr=True)


def _local(settings: Settings) -> runtime.LocalNeo4j:
    return runtime.LocalNeo4j(
        home=settings.local_neo4j_home,
        port=settings.local_neo4j_port,
        heap=settings.local_neo4j_heap,
        pagecache=settings.local_neo4j_pagecache,
    )


def _fail(exc: HomewardError) -> typer.Exit:
    if isinstance(exc, ValidationFailed):
        for problem in exc.problems:
            err.print(f"[red]error[/red] {problem.field}: {problem.message}")
    else:
        err.print(f"[red]error[/red] {exc.message}")
    return typer.Exit(code=1)


def _with_graph(settings: Settings, work: Callable[[Graph], Awaitable[T]]) -> T:
    async def main() -> T:
        driver = create_driver(settings)
        try:
            return await work(Graph(driver, settings.neo4j_database))
        finally:
            await driver.close()

    try:
        return asyncio.run(main())
    except HomewardError as exc:
        raise _fail(exc) from exc


def _ensure_local_neo4j(settings: Settings) -> None:
    if not settings.uses_local_neo4j:
        return
    instance = _local(settings)
    with console.status(f"starting Neo4j on {instance.uri} ..."):
        try:
            pid = runtime.start(instance, timeout_s=settings.local_neo4j_start_timeout_s)
        except HomewardError as exc:
            raise _fail(exc) from exc
    console.print(f"Neo4j up on {instance.uri} (pid {pid}, data in {instance.home})")


@db_app.command("start")
def db_start() -> None:
    """Start the local Neo4j and wait until it answers (at most HOMEWARD_NEO4J_START_TIMEOUT)."""
    settings = get_settings()
    if not settings.uses_local_neo4j:
        console.print(f"NEO4J_URI is set ({settings.neo4j_uri}); no local Neo4j is started.")
        return
    _ensure_local_neo4j(settings)


@db_app.command("stop")
def db_stop() -> None:
    """Stop the local Neo4j cleanly."""
    instance = _local(get_settings())
    if runtime.stop(instance):
        console.print(f"Neo4j on {instance.uri} stopped")
    else:
        console.print("Neo4j was not running")


@db_app.command("status")
def db_status() -> None:
    """Say whether the local Neo4j runs and answers; exit 1 if it does not."""
    settings = get_settings()
    if not settings.uses_local_neo4j:
        console.print(f"external Neo4j: {settings.neo4j_uri}")
        info = _with_graph(settings, lambda g: g.ping(timeout_s=5.0))
        console.print(f"answering: {info['agent']} at {info['address']}")
        return
    instance = _local(settings)
    pid = runtime.running_pid(instance)
    if pid is None:
        console.print(f"Neo4j is not running (data in {instance.home})")
        raise typer.Exit(code=1)
    info = _with_graph(settings, lambda g: g.ping(timeout_s=5.0))
    console.print(f"Neo4j running, pid {pid}, {info['agent']} on {instance.uri}")


@app.command()
def migrate() -> None:
    """Apply schema migrations not yet applied (idempotent)."""
    applied = _with_graph(get_settings(), run_migrations)
    console.print(f"applied migrations {applied}" if applied else "schema is up to date")


@app.command()
def seed() -> None:
    """Load the gazetteer, taxonomy and demo directory (idempotent)."""
    from seed.loader import seed as load_seed

    report = _with_graph(get_settings(), load_seed)
    for kind, count in report.counts.items():
        console.print(f"{kind}: {count} written")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Default HOMEWARD_HOST, 127.0.0.1."),
    port: int | None = typer.Option(None, help="Default HOMEWARD_PORT, 8000."),
) -> None:
    """Serve the API (starting the local Neo4j first when no NEO4J_URI is set)."""
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    _ensure_local_neo4j(settings)
    bind_host = host or settings.api_host
    bind_port = port or settings.api_port
    console.print(
        f"Homeward on http://{bind_host}:{bind_port}  GraphiQL: http://{bind_host}:{bind_port}"
        "/graphql  health: /health\nCtrl-C stops the API; `make stop` (homeward db stop) "
        "stops Neo4j."
    )
    uvicorn.run(create_app(settings), host=bind_host, port=bind_port, log_level="info")
