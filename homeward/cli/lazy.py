"""Command groups imported when used.

Typer builds every command when the app starts, so one `import` line per group would load
the Neo4j driver, matplotlib and the importers for `homeward --help` or `homeward db stop`.
The root group instead knows each command by name and summary, and imports its module only
when that command runs; the help listing shows the summaries without importing anything.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import ClassVar

import typer
from typer import _click
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True, slots=True)
class Entry:
    """A command (a function) or a group (a `typer.Typer`) as `module:attribute`, with the
    summary the root help lists; it must match the first paragraph of the command's help,
    which a test checks."""

    target: str
    summary: str

    def load(self, name: str) -> _click.Command:
        module, _, attribute = self.target.partition(":")
        found = getattr(importlib.import_module(module), attribute)
        command: _click.Command
        if isinstance(found, typer.Typer):
            # A group even when it holds one command, as `add_typer` would make it.
            command = typer.main.get_group(found)
        else:
            single = typer.Typer(add_completion=False)
            single.command(name)(found)
            command = typer.main.get_command(single)
        command.name = name
        return command


class LazyGroup(TyperGroup):
    """The root group: `entries` are loaded by `get_command`, except while the help is
    listing them."""

    entries: ClassVar[dict[str, Entry]] = {}
    _listing = False

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in self.entries if n not in self.commands)]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        found = super().get_command(ctx, cmd_name)
        entry = self.entries.get(cmd_name)
        if found is not None or entry is None:
            return found
        if self._listing:
            return TyperCommand(cmd_name, help=entry.summary)
        self.commands[cmd_name] = command = entry.load(cmd_name)
        return command

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
