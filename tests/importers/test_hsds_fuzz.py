"""Random rows through the HSDS importer: whatever the CSV cells hold, an import either is
refused as a whole with a domain error (nothing written) or writes only whole records and
reports the rest as problems. Never an unexpected exception, never half a service."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import HomewardError
from graph.driver import Graph
from importers.hsds.loader import import_hsds
from importers.hsds.source import read_path
from tests.importers.conftest import EXAMPLES

pytestmark = pytest.mark.neo4j

ORG = "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610"
IDS = [ORG, "ac148810-d857-441c-9679-408f346de14b", "x", "", "00000000-0000-0000-0000-000000000001"]
NASTY = st.sampled_from(
    ["", " ", "-1", "999999999999999999999", "NaN", "2026-02-30", "\x00", '"', "a,b", "\n", "Пећ"]
)


def _table(name: str) -> tuple[list[str], list[dict[str, str]]]:
    with (EXAMPLES / "csv" / name).open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@st.composite
def rows(draw: st.DrawFn, name: str) -> str:
    """The example table with 1 to 4 rows whose cells are the example's, an id of another
    row, a nasty value or random text."""
    header, examples = _table(name)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        row: dict[str, Any] = {}
        for column in header:
            original = examples[0].get(column, "") if examples else ""
            cell = st.just(original) | NASTY | st.text(max_size=30)
            if column == "id" or column.endswith("_id"):
                cell = st.sampled_from(IDS) | cell
            row[column] = draw(cell)
        writer.writerow(row)
    return out.getvalue()


COUNTS = """
MATCH (n) WHERE n:Service OR n:Organisation OR n:Location RETURN count(n) AS n
"""
BROKEN = """
MATCH (s:Service)
WHERE COUNT { (:Organisation)-[:PROVIDES]->(s) } <> 1 OR NOT (s)-[:ADDRESSES]->(:Need)
RETURN count(s) AS n
"""


async def _count(graph: Graph, query: str) -> int:
    async with graph.driver.session(database=graph.database) as session:
        record = await (await session.run(query)).single(strict=True)
    return int(record["n"])


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(services=rows("services.csv"), organisations=rows("organizations.csv"), strict=st.booleans())
async def test_random_rows_import_whole_or_not_at_all(
    reference: Graph, services: str, organisations: str, strict: bool
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="hsds-fuzz-"))
    try:
        shutil.copytree(EXAMPLES / "csv", folder, dirs_exist_ok=True)
        (folder / "services.csv").write_text(services, encoding="utf-8")
        (folder / "organizations.csv").write_text(organisations, encoding="utf-8")
        before = await _count(reference, COUNTS)
        try:
            report = await import_hsds(reference, read_path(folder), strict=strict)
        except HomewardError:
            # Refused as a whole: nothing of it was written.
            assert await _count(reference, COUNTS) == before
        else:
            # No more services than rows (a service is never split into several).
            rows_given = len(list(csv.DictReader(io.StringIO(services))))
            assert report.written.get("services", 0) <= rows_given
            assert await _count(reference, "MATCH (s:Service) RETURN count(s) AS n") <= rows_given
        assert await _count(reference, BROKEN) == 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        async with reference.driver.session(database=reference.database) as session:
            await (
                await session.run("MATCH (n:Service|Organisation|Location) DETACH DELETE n")
            ).consume()
