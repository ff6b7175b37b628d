"""Running the command line from async tests."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner, Result

from homeward import cli


async def run_cli(*args: str, input: str | None = None) -> Result:
    # The command line runs its own event loop, so it must not share the test's thread.
    runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that tables are not cut
    return await asyncio.to_thread(runner.invoke, cli.app, list(args), input)
