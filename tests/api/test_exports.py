"""The coordination exports over HTTP, on the seeded demo directory."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import hxl
import pytest

from graph.driver import Graph
from seed.identities import DEMO_IDENTITIES, create_demo_identities
from seed.loader import seed

TOKENS = {i.role.value: i.token for i in DEMO_IDENTITIES}


@pytest.fixture
async def seeded(graph: Graph) -> dict[str, str]:
    await seed(graph)
    await graph.write(create_demo_identities)
    return {"Authorization": f"Bearer {TOKENS['coordinator']}"}


async def test_3w_round_trips_through_libhxl(
    client: httpx.AsyncClient, seeded: dict[str, str], tmp_path: Path
) -> None:
    response = await client.get("/exports/3w.csv", params={"country": "XK"}, headers=seeded)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    path = tmp_path / "3w.csv"
    path.write_bytes(response.content)

    local = hxl.InputOptions(allow_local=True)  # libhxl refuses local files by default
    # From memory: libhxl leaves the files it reads unclosed (a ResourceWarning here).
    dataset = hxl.data(io.BytesIO(path.read_bytes()), local)
    tags = [column.display_tag for column in dataset.columns]
    rows = list(dataset)
    assert "#org+name" in tags
    assert "#adm2+code" in tags
    assert rows
    ferizaj = {
        r.get("#org+name")
        for r in rows
        if r.get("#adm2+code") == "XK-ferizaj"
        and r.get("#sector+code") == "employment.business-start-up"
    }
    assert len(ferizaj) == 3
    assert all(r.get("#country+code") == "XK" for r in rows)
    # An HXL schema that requires the core columns in every row.
    schema = hxl.schema(
        [["#valid_tag", "#valid_required"], ["#org+name", "true"], ["#sector+code", "true"]]
    )
    assert schema.validate(hxl.data(io.BytesIO(path.read_bytes()), local))


async def test_gap_geojson_and_map_picture(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    params: dict[str, Any] = {
        "need": "psychosocial.trauma-therapy",
        "country": "XK",
        "since": "2026-01-01",
        "until": "2026-12-31",
    }
    geo = await client.get("/exports/gaps.geojson", params=params, headers=seeded)
    assert geo.status_code == 200, geo.text
    features = geo.json()["features"]
    assert len(features) == 38
    unmet = {
        f["properties"]["name"]
        for f in features
        if f["properties"]["state"] == "demand, no partner"
    }
    assert unmet == {"Ferizaj", "Gjilan", "Vushtrri"}
    assert features[0]["geometry"]["type"] == "Point"

    png = await client.get("/exports/gaps.png", params=params, headers=seeded)
    assert png.status_code == 200
    assert png.content.startswith(b"\x89PNG")
    svg = await client.get("/exports/gaps.svg", params=params, headers=seeded)
    assert b"Ferizaj" in svg.content  # the names are drawn


async def test_exports_are_for_coordinators_and_name_what_is_wrong(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    assert (await client.get("/exports/3w.csv")).status_code == 401
    partner = {"Authorization": f"Bearer {TOKENS['partner']}"}
    assert (await client.get("/exports/3w.csv", headers=partner)).status_code == 403
    unknown = await client.get("/exports/3w.csv", params={"country": "QQ"}, headers=seeded)
    assert unknown.status_code == 404
    assert "QQ" in unknown.text
    bad_need = await client.get("/exports/gaps.geojson", params={"need": "flying"}, headers=seeded)
    assert bad_need.status_code == 404
    assert "flying" in bad_need.text


async def test_3w_cells_never_start_a_formula(
    client: httpx.AsyncClient, seeded: dict[str, str], graph: Graph
) -> None:
    formula = '=HYPERLINK("http://example.org/x","Open")'

    before = await client.get("/exports/3w.csv", params={"country": "XK"}, headers=seeded)
    service_id = list(csv.reader(io.StringIO(before.text)))[2][4]

    async def rename(tx: Any) -> None:
        await tx.run("MATCH (s:Service {id: $id}) SET s.name = $name", id=service_id, name=formula)

    await graph.write(rename)
    response = await client.get("/exports/3w.csv", params={"country": "XK"}, headers=seeded)
    cells = [cell for row in csv.reader(io.StringIO(response.text)) for cell in row]
    assert "'" + formula in cells
    assert not [c for c in cells if c[:1] in {"=", "+", "-", "@", "\t", "\r"}]
