"""What an import says about its input: each problem at its `file:line` and field, the
counts read, rejected and written. Shared by every importer (HSDS, spreadsheets) and shown
alike by the command line and the API.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from core.errors import HomewardError

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.message}"


@dataclass
class ImportReport:
    problems: list[Problem] = field(default_factory=list)
    read: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    # Rows read but not used, with a warning on each (a language that names no language, a
    # row whose record is not in the import): not errors, nothing of their parent is lost.
    skipped: Counter[str] = field(default_factory=Counter)
    written: dict[str, int] = field(default_factory=dict)
    # Records of the input the directory held already, per table: merged with what is
    # stored (what the input leaves out stays), not written twice.
    merged: Counter[str] = field(default_factory=Counter)
    # Nested objects of the input that repeat an id given before in it, per table: merged
    # into the first (the organisation nested in each of its services).
    repeated: Counter[str] = field(default_factory=Counter)
    # The audit entity id of the import's events (graph/audit.py), once written.
    import_id: str | None = None
    # Kept as problems are added: the planner asks after every service whether it added an
    # error, and counting the list each time would make a large import quadratic.
    error_count: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def add(self, where: str, field: str, message: str, severity: Severity = "error") -> None:
        self.problems.append(Problem(where, field, message, severity))
        if severity == "error":
            self.error_count += 1


class ImportRejected(HomewardError):
    """`--strict` and at least one error: nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.errors)} errors; nothing was imported (strict)")
        self.report = report
