"""The coordination exports over HTTP, on the seeded demo directory: the public 3W table, the
gap GeoJSON and the maps."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import geojson
import httpx
import hxl
import pyogrio
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
    # Public like /hsds/: no token.
    response = await client.get("/exports/3w.csv", params={"country": "XK", "lang": "sq"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 by its BOM
    assert "Pejë" in response.content.decode("utf-8-sig")
    path = tmp_path / "3w.csv"
    path.write_bytes(response.content)

    local = hxl.InputOptions(allow_local=True)  # libhxl refuses local files by default
    # From memory: libhxl leaves the files it reads unclosed (a ResourceWarning here).
    dataset = hxl.data(io.BytesIO(path.read_bytes()), local)
    tags = [column.display_tag for column in dataset.columns]
    rows = list(dataset)
    assert "#org+impl+name" in tags
    assert "#beneficiary+type" in tags
    assert not [t for t in tags if t.startswith("#targeted")]  # #targeted is a number in HXL
    assert rows
    ferizaj = {
        r.get("#org+impl+name")
        for r in rows
        if r.get("#adm2+code") == "XK03"
        and r.get("#subsector+code") == "employment.business-start-up"
    }
    assert len(ferizaj) == 3
    assert all(r.get("#country+code") == "XKX" for r in rows)
    assert {r.get("#sector+cluster") for r in rows} >= {"Protection", "Health", "Early Recovery"}
    assert all(r.get("#sector+cluster") for r in rows)
    # Target groups by their labels, in the asked language.
    assert any("Fëmijët dhe të rinjtë" in (r.get("#beneficiary+type") or "") for r in rows)

    # libhxl's own default schema (numbers, dates, spelling): no error at all.
    problems: list[Any] = []
    hxl.schema(callback=problems.append).validate(hxl.data(io.BytesIO(path.read_bytes()), local))
    errors = [p for p in problems if p.rule.severity == "error"]
    assert not errors, [(p.message, p.value) for p in errors[:5]]
    # An HXL schema that requires the core columns in every row.
    schema = hxl.schema(
        [
            ["#valid_tag", "#valid_required"],
            ["#org+impl+name", "true"],
            ["#subsector+code", "true"],
            ["#sector+cluster", "true"],
            ["#adm2+code", "false"],
        ]
    )
    assert schema.validate(hxl.data(io.BytesIO(path.read_bytes()), local))

    plain = await client.get("/exports/3w.csv", params={"country": "XK", "bom": "false"})
    assert plain.content.startswith(b"Organisation,")


async def test_gap_geojson_is_one_polygon_per_municipality(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    params: dict[str, Any] = {
        "need": ["psychosocial.trauma-therapy", "employment"],
        "country": "XK",
        "since": "2026-01-01",
        "until": "2026-12-31",
        "lang": "de",
    }
    geo = await client.get("/exports/gaps.geojson", params=params, headers=seeded)
    assert geo.status_code == 200, geo.text
    document = geojson.loads(geo.text)
    assert document.is_valid, document.errors()
    features = document["features"]
    assert len(features) == 38
    ids = [f["id"] for f in features]
    assert len(set(ids)) == 38
    assert "XK-ferizaj" in ids
    assert {f["geometry"]["type"] for f in features} <= {"Polygon", "MultiPolygon"}
    # Flat: every property a plain value, one column per need and measure.
    for feature in features:
        assert not [v for v in feature["properties"].values() if isinstance(v, dict | list)]
    by_name = {f["properties"]["name"]: f["properties"] for f in features}
    unmet = {
        name for name, p in by_name.items() if p["psychosocial.trauma-therapy:state"] == "unmet"
    }
    assert unmet == {"Ferizaj", "Gjilan", "Vushtrri"}
    assert by_name["Ferizaj"]["psychosocial.trauma-therapy:state_label"] == "Bedarf, kein Partner"
    assert by_name["Ferizaj"]["code"] == "XK03"
    assert "employment:supply" in by_name["Ferizaj"]
    assert max(p["employment:overlap_organisations"] for p in by_name.values()) >= 2


def _legend(svg_text: str) -> list[str]:
    legend = svg_text.split('<g class="legend">')[1].split("</g>")[0]
    return re.findall(r"<text[^>]*>([^<]*\(\d+\))</text>", legend)


async def test_gap_map_is_a_choropleth_in_the_readers_language(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    params: dict[str, Any] = {
        "need": "psychosocial.trauma-therapy",
        "country": "XK",
        "since": "2026-01-01",
        "until": "2026-12-31",
        "lang": "de",
    }
    svg = await client.get("/exports/gaps.svg", params=params, headers=seeded)
    assert svg.status_code == 200, svg.text
    assert svg.headers["content-type"].startswith("image/svg+xml")
    text = svg.text
    ElementTree.fromstring(svg.content)  # well-formed
    assert text.count("<path ") == 38  # every municipality as a shape
    assert 'data-area="XK-ferizaj"' in text
    title = re.search(r"<title>([^<]*)</title>", text)
    assert title is not None
    assert title.group(1) == "Traumatherapie — Kosovo"
    assert "01.01.2026 – 30.12.2026" in text  # until is the first day left out
    assert "Datenstand" in text
    assert "© OpenStreetMap contributors, geoBoundaries" in text
    assert "Quelle: Homeward-Verzeichnis" in text
    legend = _legend(text)
    assert "Bedarf, kein Partner (3)" in legend
    assert legend
    assert not [entry for entry in legend if entry.endswith("(0)")]
    # Labels: names inside the map, none drawn over another.
    assert ">Ferizaj</text>" in text

    png = await client.get("/exports/gaps.png", params=params, headers=seeded)
    assert png.status_code == 200
    assert png.content.startswith(b"\x89PNG")

    english = await client.get("/exports/gaps.svg", params=params | {"lang": "en"}, headers=seeded)
    assert "<title>Trauma therapy — Kosovo</title>" in english.text


async def test_maps_of_supply_overlap_and_arrivals(
    client: httpx.AsyncClient, seeded: dict[str, str], graph: Graph
) -> None:
    params: dict[str, Any] = {"need": "employment", "country": "XK", "lang": "en"}
    for question, legend_title in (
        ("supply", "Services able to take a referral, per municipality"),
        ("overlap", "Organisations offering the same need locally"),
        ("arrivals", "Planned arrivals (households)"),
    ):
        response = await client.get(
            "/exports/gaps.svg", params=params | {"question": question}, headers=seeded
        )
        assert response.status_code == 200, response.text
        assert legend_title in response.text
        assert not [e for e in _legend(response.text) if e.endswith("(0)")]
    overlap = await client.get(
        "/exports/gaps.svg", params=params | {"question": "overlap"}, headers=seeded
    )
    assert re.search(r">2 \(\d+\)</text>|>3 \(\d+\)</text>", overlap.text)

    # With every municipality's population known, supply is per 10,000 residents; the new
    # outlines replace the kept ones.
    async def populate(tx: Any) -> None:
        await tx.run("MATCH (m:Area {level: 'municipality'}) SET m.population = 50000")

    await graph.write(populate)
    rate = await client.get(
        "/exports/gaps.svg", params=params | {"question": "supply"}, headers=seeded
    )
    assert "per 10,000 residents" in rate.text
    wrong = await client.get(
        "/exports/gaps.svg", params=params | {"question": "rain"}, headers=seeded
    )
    assert wrong.status_code == 422


async def test_exports_are_for_coordinators_and_name_what_is_wrong(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    assert (await client.get("/exports/gaps.svg", params={"need": "health"})).status_code == 401
    partner = {"Authorization": f"Bearer {TOKENS['partner']}"}
    geo = await client.get("/exports/gaps.geojson", params={"need": "health"}, headers=partner)
    assert geo.status_code == 403
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


async def test_gap_geojson_loads_as_polygons_in_gdal(
    client: httpx.AsyncClient, seeded: dict[str, str], tmp_path: Path
) -> None:
    """What QGIS does with the file: GDAL's GeoJSON driver (through pyogrio) reads one polygon
    layer, one feature per municipality, one column per need and measure."""
    params: dict[str, Any] = {"need": ["psychosocial.trauma-therapy", "employment"], "lang": "sq"}
    geo = await client.get("/exports/gaps.geojson", params=params, headers=seeded)
    assert geo.status_code == 200, geo.text
    path = tmp_path / "gaps.geojson"
    path.write_bytes(geo.content)

    info = pyogrio.read_info(path)
    assert info["features"] == 38
    # Polygons and multipolygons (islands, exclaves) mixed: GDAL calls the layer "Unknown"
    # and each feature says what it is.
    assert info["crs"] == "EPSG:4326"
    columns = list(info["fields"])
    assert {"area_id", "name", "psychosocial.trauma-therapy:state", "employment:supply"} <= set(
        columns
    )
    _, _, geometries, values = pyogrio.raw.read(path)
    # Well-known binary: a byte-order mark, then the type (3 Polygon, 6 MultiPolygon).
    kinds = [int.from_bytes(g[1:5], "little" if g[0] == 1 else "big") for g in geometries]
    assert len(kinds) == 38
    assert set(kinds) <= {3, 6}
    names = list(values[columns.index("name")])
    assert "Pejë" in names
    state = values[columns.index("psychosocial.trauma-therapy:state")]
    states = dict(zip(names, state, strict=True))
    assert states["Ferizaj"] == "unmet"


async def test_a_kept_map_is_drawn_again_after_a_write(
    client: httpx.AsyncClient, seeded: dict[str, str], graph: Graph
) -> None:
    params: dict[str, Any] = {
        "need": "psychosocial.trauma-therapy",
        "country": "XK",
        "since": "2026-01-01",
        "until": "2026-12-31",
    }
    first = await client.get("/exports/gaps.svg", params=params, headers=seeded)
    again = await client.get("/exports/gaps.svg", params=params, headers=seeded)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    unmet = _legend(first.text)[0]
    assert unmet.endswith("(3)"), unmet  # Ferizaj, Gjilan, Vushtrri

    async def forget_referrals(tx: Any) -> None:
        await tx.run("MATCH (r:Referral) DETACH DELETE r")

    await graph.write(forget_referrals)
    after = await client.get("/exports/gaps.svg", params=params, headers=seeded)
    assert after.status_code == 200
    # Without demand no municipality is unmet any more: the map was drawn from the new graph.
    assert not [e for e in _legend(after.text) if e.startswith(unmet.rsplit(" (", 1)[0] + " (3")]
    assert after.content != first.content
