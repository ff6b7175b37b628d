"""The coordinator's pages on the seeded demo directory: support by sending country, overlaps
side by side, planned arrivals, each table as CSV with HXL, and the interactive maps with the
script and GeoJSON they read."""

from __future__ import annotations

import csv
import html as html_module
import io
import json
import re
from datetime import date
from typing import Any

import geojson
import httpx
import hxl
import pytest
from fastapi import FastAPI

from graph.coordination import support_comparison
from graph.driver import Graph
from seed.identities import DEMO_IDENTITIES, create_demo_identities
from seed.loader import seed
from tests.web.test_pages import _signed_in

TOKENS = {i.role.value: i.token for i in DEMO_IDENTITIES}


@pytest.fixture
async def coordinator(client: httpx.AsyncClient, graph: Graph) -> httpx.AsyncClient:
    """The client, signed in as the demo coordinator on the seeded directory."""
    await seed(graph)
    await graph.write(create_demo_identities)
    await _signed_in(client, TOKENS["coordinator"])
    return client


def read_hxl(content: bytes) -> tuple[list[list[str]], list[Any]]:
    """The rows of a downloaded table, and the errors libhxl's default schema finds in it
    (numbers that are not numbers, dates that are not dates)."""
    assert content.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 by its byte-order mark
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    problems: list[Any] = []
    local = hxl.InputOptions(allow_local=True)
    hxl.schema(callback=problems.append).validate(hxl.data(io.BytesIO(content), local))
    return rows, [p for p in problems if p.rule.severity == "error"]


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The text of each body row's cells of the table with this id."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</tbody>", 1)[0].split("<tbody>", 1)[1]
    return [
        [
            " ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


async def test_support_by_sending_country_is_the_graphs_comparison_and_downloads_as_hxl(
    coordinator: httpx.AsyncClient, graph: Graph
) -> None:
    params = {
        "country": "XK",
        "destination": "XK-ferizaj",
        "need": "employment.business-start-up",
        "sending": "de, dk",
    }
    page = await coordinator.get("/app/support", params=params)
    assert page.status_code == 200, page.text
    expected = await graph.read(
        support_comparison,
        destination_id="XK-ferizaj",
        need="employment.business-start-up",
        sending_countries=["DE", "DK"],
    )
    shown = {row[0]: row for row in table_rows(page.text, "support")}
    assert set(shown) == {"Germany (DE)", "Denmark (DK)"}
    for r in expected.rows:
        row = shown[next(k for k in shown if k.endswith(f"({r.sending_country})"))]
        assert row[1] == str(len(r.services))
        for s in r.services:
            assert s.name in row[3]
    # The seed's point: returnees from Germany and Denmark are offered different things.
    assert shown["Germany (DE)"][3] != shown["Denmark (DK)"][3]
    assert 'href="/app/support.csv?' in page.text

    download = await coordinator.get("/app/support.csv", params=params | {"lang": "de"})
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    rows, errors = read_hxl(download.content)
    assert not errors, [(e.message, e.value) for e in errors[:5]]
    assert rows[0][0] == "Herkunftsland der Rückkehr"  # titles in the page's language
    assert rows[1][:2] == ["#country+origin+name", "#country+origin+code"]
    by_code = {r[1]: r for r in rows[2:]}
    assert set(by_code) == {"DEU", "DNK"}
    assert by_code["DEU"][3] == "XK03"  # the municipality's standard code
    germany = next(r for r in expected.rows if r.sending_country == "DE")
    assert by_code["DEU"][6] == str(len(germany.services))


async def test_overlaps_show_the_offers_side_by_side_and_download_one_row_each(
    coordinator: httpx.AsyncClient,
) -> None:
    params = {"country": "XK", "need": "employment.business-start-up"}
    page = await coordinator.get("/app/overlaps", params=params)
    assert page.status_code == 200, page.text
    ferizaj = page.text.split('id="area-XK-ferizaj"', 1)[1].split("</section>", 1)[0]
    assert "3 organisations" in ferizaj
    assert "Offer 3" in ferizaj
    assert "Offer 4" not in ferizaj
    for organisation in ("International Organization for Migration", "AWO Heimatgarten"):
        assert organisation in ferizaj

    download = await coordinator.get("/app/overlaps.csv", params=params)
    rows, errors = read_hxl(download.content)
    assert not errors, [(e.message, e.value) for e in errors[:5]]
    tags = rows[1]
    in_ferizaj = [r for r in rows[2:] if r[tags.index("#adm2+code")] == "XK03"]
    assert len(in_ferizaj) == 3
    assert {r[tags.index("#indicator+organisations+num")] for r in in_ferizaj} == {"3"}
    assert len({r[tags.index("#activity+code")] for r in in_ferizaj}) == 3


PLANNED_CASE = """
MATCH (d:Area {id: $area})
CREATE (c:ReturnCase {id: $id, phase: 'preparing', planned_arrival: $arrival})
CREATE (c)-[:DESTINATION]->(d)
WITH c
UNWIND range(1, $members) AS n
CREATE (:HouseholdMember {id: $id + '-' + toString(n)})-[:OF]->(c)
"""


async def test_planned_arrivals_hide_small_counts_on_the_page_and_in_the_download(
    coordinator: httpx.AsyncClient, graph: Graph
) -> None:
    async def plan(tx: Any) -> None:
        for n in range(4):
            march = date(2027, 3, 5)
            await tx.run(PLANNED_CASE, id=f"f{n}", area="XK-ferizaj", arrival=march, members=2)
        april = date(2027, 4, 1)
        await tx.run(PLANNED_CASE, id="g", area="XK-gjilan", arrival=april, members=5)
        # Gjilan's one household is hidden, and so is the smallest other cell, or the
        # period's total would give it back (core.disclosure): Prizren's three, not Ferizaj.
        for n in range(3):
            may = date(2027, 5, 2)
            await tx.run(PLANNED_CASE, id=f"p{n}", area="XK-prizren", arrival=may, members=1)

    await graph.write(plan)
    params = {"country": "XK", "since": "2027-01-01", "until": "2027-07-01"}
    page = await coordinator.get("/app/arrivals", params=params)
    assert page.status_code == 200, page.text
    rows = table_rows(page.text, "arrivals")
    assert ["Ferizaj", "2027-03", "4", "8"] in rows
    assert ["Gjilan", "2027-04", "fewer than 3 (hidden)", "fewer than 3 (hidden)"] in rows

    download = await coordinator.get("/app/arrivals.csv", params=params)
    table, errors = read_hxl(download.content)
    assert not errors, [(e.message, e.value) for e in errors[:5]]
    assert table[1] == [
        "#adm2+name",
        "#adm2+code",
        "#date+planned",
        "#population+returnees+planned+hh",
        "#population+returnees+planned+ind",
    ]
    assert ["Ferizaj", "XK03", "2027-03", "4", "8"] in table
    # A hidden count is an empty cell, never the number.
    gjilan = next(r for r in table if r[0] == "Gjilan")
    assert gjilan[3:] == ["", ""]

    outside = await coordinator.get("/app/arrivals", params={"since": "2030-01-01"})
    assert "No planned arrivals in this period." in outside.text


async def test_gap_table_downloads_and_the_map_opens_the_municipalitys_row(
    coordinator: httpx.AsyncClient,
) -> None:
    params = {"country": "XK", "need": "psychosocial.trauma-therapy"}
    page = await coordinator.get("/app/gaps", params=params)
    assert page.status_code == 200, page.text
    # The interactive map: Leaflet and the page's script, served by the application itself.
    assert 'src="/app/static/vendor/leaflet/leaflet.js"' in page.text
    for script in ("/app/static/vendor/leaflet/leaflet.js", "/app/static/map.js"):
        served = await coordinator.get(script)
        assert served.status_code == 200, script
        assert "javascript" in served.headers["content-type"]
    assert "L.map" in (await coordinator.get("/app/static/map.js")).text
    assert (await coordinator.get("/app/static/vendor/leaflet/leaflet.css")).status_code == 200
    live = re.search(r'data-map="gaps" data-geojson="([^"]+)" data-need="([^"]+)"', page.text)
    assert live is not None
    assert live.group(2) == "psychosocial.trauma-therapy"
    answer = await coordinator.get(html_module.unescape(live.group(1)))
    assert answer.status_code == 200
    document = geojson.loads(answer.text)
    assert document.is_valid
    # Each shape the script colours opens a row of the page's table: one per municipality.
    ids = {f["id"] for f in document["features"]}
    rows = set(re.findall(r'<tr id="area-([^"]+)"', page.text))
    assert rows
    assert rows <= ids
    assert "XK-ferizaj" in rows
    assert "psychosocial.trauma-therapy:state" in document["features"][0]["properties"]

    download = await coordinator.get("/app/gaps.csv", params=params)
    table, errors = read_hxl(download.content)
    assert not errors, [(e.message, e.value) for e in errors[:5]]
    tags = table[1]
    name, state = tags.index("#adm2+name"), tags.index("#status+unmet")
    unmet = {r[name] for r in table[2:] if r[state] == "yes"}
    assert {"Ferizaj", "Gjilan"} <= unmet
    assert all(r[tags.index("#country+code")] == "XKX" for r in table[2:])


async def test_search_results_map_reads_the_public_outlines(
    client: httpx.AsyncClient, graph: Graph, app: FastAPI
) -> None:
    await seed(graph)
    await graph.write(create_demo_identities)
    await _signed_in(client, TOKENS["counsellor"])
    page = await client.get(
        "/app/search", params={"needs": "employment.business-start-up", "place": "Ferizaj"}
    )
    assert page.status_code == 200, page.text
    live = re.search(r'data-map="points" data-geojson="([^"]+)" data-points="([^"]+)"', page.text)
    assert live is not None, "no results map"
    points = json.loads(html_module.unescape(live.group(2)))
    assert points
    assert all(41.8 < p["lat"] < 43.3 and 20.0 < p["lon"] < 21.8 for p in points)
    assert any("Ferizaj" in p["label"] or "IOM" in p["label"] for p in points)
    # One dot per result, at its site nearest Ferizaj.
    results = page.text.count('<li class="card result">')
    assert len(points) <= results
    assert len({p["label"] for p in points}) == len(points)
    # The base map is public, as the directory is: no session needed.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anyone:
        outlines = await anyone.get(html_module.unescape(live.group(1)))
    assert outlines.status_code == 200
    document = geojson.loads(outlines.text)
    assert document.is_valid
    assert len(document["features"]) == 38
    assert {f["geometry"]["type"] for f in document["features"]} <= {"Polygon", "MultiPolygon"}
    unknown = await client.get("/exports/outlines.geojson", params={"country": "QQ"})
    assert unknown.status_code == 404


async def test_the_pages_are_for_coordinators_only(client: httpx.AsyncClient, graph: Graph) -> None:
    await seed(graph)
    await graph.write(create_demo_identities)
    await _signed_in(client, TOKENS["partner"])
    for path in ("/app/support", "/app/support.csv", "/app/overlaps.csv", "/app/arrivals"):
        assert (await client.get(path)).status_code == 403, path
