"""What the commands share: the two consoles, failures printed as plain text, progress on
stderr and JSON on stdout.

Both consoles have markup switched off: the texts printed are names, paths, emails and
exception messages (a Neo4j log tail is full of `[...]`), and rich would read them as markup
and crash on a stray `[/...]`. Colour is given as a style, never inside the text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from core.errors import HomewardError, ValidationFailed

M = TypeVar("M", bound=BaseModel)

# Results on stdout (so that `homeward users list --json > users.json` holds only JSON);
# errors and progress on stderr.
console = Console(markup=False)
err = Console(stderr=True, markup=False)

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON on stdout instead.")
]


def error(message: str) -> None:
    err.print(Text.assemble(("error", "red"), " ", message))


def fail(exc: HomewardError) -> typer.Exit:
    """Print a domain error (each problem of a validation failure on its own line) and
    return the exit to raise."""
    if isinstance(exc, ValidationFailed):
        for problem in exc.problems:
            error(f"{problem.field}: {problem.message}")
    else:
        error(exc.message)
    return typer.Exit(code=1)


def validated(model: type[M], data: dict[str, object]) -> M:
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        for problem in exc.errors():
            where = ".".join(str(p) for p in problem["loc"])
            error(f"{where}: {problem['msg']}")
        raise typer.Exit(code=1) from exc


def print_json(data: object) -> None:
    """JSON on stdout, bypassing rich: no wrapping, no colour, nothing else in the stream."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def progress() -> Progress:
    """Bars for work whose size is known, on stderr, gone when done."""
    return Progress(
        TextColumn("{task.description:<14}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


@contextmanager
def working(description: str) -> Iterator[Callable[[str], None]]:
    """A spinner with the time taken, on stderr, for work whose size is not known ahead;
    it yields a function that renames the step as the work moves on."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as spinner:
        task = spinner.add_task(description, total=None)
        yield lambda step: spinner.update(task, description=step)
