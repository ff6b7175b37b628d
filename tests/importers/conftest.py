"""Fixtures of the exchange-format tests: the seed's gazetteer and taxonomy, and copies of
the HSDS 3.0 examples (Open Referral, CC BY-SA 4.0) that tests may break."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from graph.areas import area_rows, upsert_areas
from graph.driver import Graph
from graph.needs import upsert_needs
from graph.programmes import upsert_programmes
from graph.target_groups import upsert_target_groups
from seed.loader import read_seed

EXAMPLES = Path(__file__).resolve().parent / "hsds_examples"


@pytest.fixture
async def reference(graph: Graph) -> Graph:
    """Areas, needs, target groups and programmes of the seed; no directory."""
    data = read_seed()
    await graph.write(upsert_areas, rows=area_rows(data.areas))
    await graph.write(upsert_needs, records=data.needs)
    await graph.write(upsert_target_groups, records=data.target_groups)
    await graph.write(upsert_programmes, records=data.programmes)
    return graph


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A writable copy of the HSDS examples: `csv/` and the JSON files."""
    target = tmp_path / "examples"
    shutil.copytree(EXAMPLES, target)
    for path in target.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    return target
