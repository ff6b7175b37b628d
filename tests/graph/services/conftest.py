"""The small directory of `tests.directory`, for the service tests that need a graph."""

from __future__ import annotations

import pytest

from graph.driver import Graph
from tests import directory


@pytest.fixture
async def directory_graph(countries: Graph) -> Graph:
    await directory.build(countries)
    return countries
