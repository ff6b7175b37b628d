"""The rows a reader gives the importers, each knowing where in which file it was, and the
error of a file that cannot be read at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import HomewardError


class MalformedInput(HomewardError):
    """A file that cannot be read at all (not CSV, not XLSX, not HSDS); nothing of the import
    is written."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


@dataclass(slots=True)
class Row:
    file: str
    line: int | str
    data: dict[str, str]
    # Problems found while reading (bad encoding, wrong number of fields): field, message.
    problems: list[tuple[str, str]] = field(default_factory=list)
    # The child tables this row gives in full (a nested JSON array present, even empty): an
    # import replaces those of the stored record and keeps the others.
    given: frozenset[str] = frozenset()

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def get(self, name: str) -> str:
        return self.data.get(name, "")
