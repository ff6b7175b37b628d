from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.errors import ValidationFailed
from graph.areas import find_areas_by_name
from graph.driver import Graph
from seed.loader import DATA_DIR, load_area_records, seed


async def _counts(graph: Graph) -> dict[str, int]:
    async with graph.driver.session(database=graph.database) as session:
        nodes = await (
            await session.run("MATCH (n) WHERE NOT n:SchemaMigration RETURN count(n) AS c")
        ).single()
        rels = await (await session.run("MATCH ()-[r]->() RETURN count(r) AS c")).single()
    assert nodes is not None
    assert rels is not None
    return {"nodes": nodes["c"], "relationships": rels["c"]}


async def test_seeding_twice_changes_no_count(graph: Graph) -> None:
    await seed(graph)
    first = await _counts(graph)
    await seed(graph)
    assert await _counts(graph) == first
    assert first["nodes"] > 0


async def test_seeded_areas_hang_off_their_parents(graph: Graph) -> None:
    await seed(graph)
    records = load_area_records()
    assert any(r.id == "XK" for r in records)
    async with graph.driver.session() as session:
        orphans = await (
            await session.run(
                "MATCH (a:Area) WHERE a.level <> 'country' AND NOT (a)-[:PART_OF]->() "
                "RETURN collect(a.id) AS ids"
            )
        ).single()
    assert orphans is not None
    assert orphans["ids"] == []
    kosovo = await graph.read(find_areas_by_name, name="Косово")
    # The country, and a village of that name.
    assert (kosovo[0].id, kosovo[0].level) == ("XK", "country")
    assert {a.level for a in kosovo[1:]} == {"settlement"}


def _copy_data(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


async def test_a_bad_entry_is_named_and_nothing_is_written(graph: Graph, tmp_path: Path) -> None:
    data = _copy_data(tmp_path)
    countries_file = data / "areas" / "countries.json"
    entries = json.loads(countries_file.read_text(encoding="utf-8"))
    entries[1]["centroid"]["lat"] = 123.0
    countries_file.write_text(json.dumps(entries), encoding="utf-8")

    with pytest.raises(ValidationFailed) as failure:
        await seed(graph, data_dir=data)
    assert failure.value.problems[0].field == "countries.json[1].centroid.lat"
    assert await _counts(graph) == {"nodes": 0, "relationships": 0}


async def test_broken_json_is_reported_with_its_line(graph: Graph, tmp_path: Path) -> None:
    data = _copy_data(tmp_path)
    (data / "organisations.json").write_text('[\n  {"id": "x",\n', encoding="utf-8")
    with pytest.raises(ValidationFailed, match=r"organisations.json:3: not valid JSON"):
        await seed(graph, data_dir=data)


async def test_a_settlement_outside_its_municipality_or_a_broken_row_is_named_by_line(
    graph: Graph, tmp_path: Path
) -> None:
    data = _copy_data(tmp_path)
    settlements = data / "areas" / "xk_settlements_geonames.tsv"
    lines = settlements.read_text(encoding="utf-8").split("\n")
    # Line 3 is Zhur (Prizren): move it 30 km north, into Suharekë. Line 5 loses its fields.
    fields = lines[2].split("\t")
    assert fields[1] == "Zhur"
    fields[4] = str(float(fields[4]) + 0.27)
    lines[2] = "\t".join(fields)
    lines[4] = "\t".join(lines[4].split("\t")[:5])
    settlements.write_text("\n".join(lines), encoding="utf-8")

    with pytest.raises(ValidationFailed) as failure:
        await seed(graph, data_dir=data)
    problems = {p.field: p.message for p in failure.value.problems}
    assert set(problems) == {
        "xk_settlements_geonames.tsv:3.latitude",
        "xk_settlements_geonames.tsv:5",
    }
    assert (
        "outside its municipality XK-prizren" in problems["xk_settlements_geonames.tsv:3.latitude"]
    )
    assert await _counts(graph) == {"nodes": 0, "relationships": 0}


async def test_villages_hang_off_their_municipalities_with_names_per_language(
    graph: Graph,
) -> None:
    await seed(graph)
    [zhur] = await graph.read(find_areas_by_name, name="Жур")
    assert zhur.parent_id == "XK-prizren"
    assert zhur.names["sq"] == "Zhur"
    assert zhur.names["sr-Latn"] == "Žur"
    async with graph.driver.session() as session:
        counts = await (
            await session.run(
                "MATCH (s:Area {level: 'settlement'})-[:PART_OF]->(m:Area {level: 'municipality'}) "
                "RETURN count(s) AS settlements, count(DISTINCT m) AS municipalities, "
                "COUNT { MATCH (b:Area) WHERE b.boundary IS NOT NULL } AS bounded"
            )
        ).single()
    assert counts is not None
    assert counts["settlements"] == 2503
    assert counts["bounded"] == 38
