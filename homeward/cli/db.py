"""`homeward db`: the local Neo4j."""

from __future__ import annotations

import typer

from core.settings import get_settings
from homeward import neo4j_server
from homeward.cli.common import console
from homeward.cli.runner import ensure_local_neo4j, local, with_graph

app = typer.Typer(
    help="The local Neo4j (not used when NEO4J_URI is set).",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("start")
def db_start() -> None:
    """Start the local Neo4j and wait until it answers: as long as it runs and its log
    moves, at most HOMEWARD_NEO4J_START_TIMEOUT."""
    settings = get_settings()
    if not settings.uses_local_neo4j:
        console.print(f"NEO4J_URI is set ({settings.neo4j_uri}); no local Neo4j is started.")
        return
    ensure_local_neo4j(settings)


@app.command("stop")
def db_stop() -> None:
    """Stop the local Neo4j cleanly."""
    instance = local(get_settings())
    if neo4j_server.stop(instance):
        console.print(f"Neo4j on {instance.uri} stopped")
    else:
        console.print("Neo4j was not running")


@app.command("status")
def db_status() -> None:
    """Say whether the local Neo4j runs and answers; exit 1 if it does not."""
    settings = get_settings()
    if not settings.uses_local_neo4j:
        console.print(f"external Neo4j: {settings.neo4j_uri}")
        info = with_graph(settings, lambda g: g.ping(timeout_s=5.0))
        console.print(f"answering: {info['agent']} at {info['address']}")
        return
    instance = local(settings)
    pid = neo4j_server.running_pid(instance)
    if pid is None:
        console.print(f"Neo4j is not running (data in {instance.home})")
        raise typer.Exit(code=1)
    info = with_graph(settings, lambda g: g.ping(timeout_s=5.0))
    console.print(f"Neo4j running, pid {pid}, {info['agent']} on {instance.uri}")
