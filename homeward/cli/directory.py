"""`homeward migrate`, `seed` and `serve`: the directory's schema, its starting data, and
the API over it."""

from __future__ import annotations

import typer

from core.settings import get_settings
from graph.driver import Graph
from graph.migrations import MIGRATIONS
from graph.migrations import migrate as run_migrations
from homeward.cli.common import console, progress, working
from homeward.cli.runner import ensure_local_neo4j, with_graph


def migrate() -> None:
    """Apply schema migrations not yet applied (idempotent)."""

    async def work(graph: Graph) -> list[int]:
        with progress() as bar:
            task = bar.add_task("migrations", total=len(MIGRATIONS))
            return await run_migrations(
                graph, progress=lambda done: bar.update(task, completed=done)
            )

    applied = with_graph(get_settings(), work)
    console.print(f"applied migrations {applied}" if applied else "schema is up to date")


def seed() -> None:
    """Load the gazetteer, taxonomy and demo directory (idempotent)."""
    from seed.loader import seed as load_seed

    async def work(graph: Graph) -> dict[str, int]:
        with working("seeding the directory"):
            return (await load_seed(graph)).counts

    for kind, count in with_graph(get_settings(), work).items():
        console.print(f"{kind}: {count} written")


def serve(
    host: str | None = typer.Option(None, help="Default HOMEWARD_HOST, 127.0.0.1."),
    port: int | None = typer.Option(None, help="Default HOMEWARD_PORT, 8000."),
) -> None:
    """Serve the API (starting the local Neo4j first when no NEO4J_URI is set)."""
    import uvicorn

    from homeward.app import create_app

    settings = get_settings()
    ensure_local_neo4j(settings)
    bind_host = host or settings.api_host
    bind_port = port or settings.api_port
    console.print(
        f"Homeward on http://{bind_host}:{bind_port}  GraphiQL: http://{bind_host}:{bind_port}"
        "/graphql  health: /health\nCtrl-C stops the API; `make stop` (homeward db stop) "
        "stops Neo4j."
    )
    from core.logs import configure_logging

    configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=bind_host,
        port=bind_port,
        # Our handler (JSON lines) and our access line, which leaves out query strings and
        # client addresses; uvicorn's own would log both.
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) or None,
    )
