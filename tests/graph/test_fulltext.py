"""The full-text indexes of migration 3 find names in any script and without diacritics."""

from __future__ import annotations

import pytest

from core.text import fold
from graph.driver import Graph
from seed.loader import seed


@pytest.fixture
async def seeded(graph: Graph) -> Graph:
    await seed(graph)
    return graph


async def _query(graph: Graph, index: str, text: str) -> list[str]:
    async with graph.driver.session(database=graph.database) as session:
        result = await session.run(
            "CALL db.index.fulltext.queryNodes($index, $text) YIELD node "
            "RETURN coalesce(node.id, node.code) AS key LIMIT 20",
            index=index,
            text=fold(text),
        )
        return [r["key"] async for r in result]


@pytest.mark.parametrize("spelling", ["Rehabilitation Centre", "rehabilitation centre"])
async def test_directory_text_finds_organisations(seeded: Graph, spelling: str) -> None:
    assert "xk-krct" in await _query(seeded, "directory_text", spelling)


@pytest.mark.parametrize("spelling", ["Пећ", "Peć", "pec", "Pejë", "peje"])
async def test_area_text_folds_scripts_and_diacritics(seeded: Graph, spelling: str) -> None:
    assert "XK-peje" in await _query(seeded, "area_text", spelling)


async def test_taxonomy_text_finds_labels_in_other_languages(seeded: Graph) -> None:
    assert "psychosocial.trauma-therapy" in await _query(seeded, "taxonomy_text", "Traumatherapie")
