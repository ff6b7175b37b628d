"""The import endpoints over HTTP: the template filled in and uploaded, the row report,
strict mode, HSDS uploads, access and the upload bound."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from core.settings import Settings
from graph.driver import Graph
from homeward.app import create_app
from seed.identities import DEMO_IDENTITIES, create_demo_identities
from seed.loader import seed

TOKENS = {i.role.value: i.token for i in DEMO_IDENTITIES}
ADMIN = {"Authorization": f"Bearer {TOKENS['admin']}"}
HSDS_EXAMPLES = Path(__file__).resolve().parents[1] / "importers" / "hsds_examples"

SEARCH = """
query S($q: PartnerSearchInput!) {
  searchPartners(query: $q, first: 50) {
    ... on PartnerSearchResults { edges { node { service { id name } organisation { name } } } }
  }
}
"""
COUNT_SERVICES = "MATCH (s:Service) RETURN count(s) AS n"


@pytest.fixture
async def seeded(graph: Graph) -> Graph:
    await seed(graph)
    await graph.write(create_demo_identities)
    return graph


async def _search(client: httpx.AsyncClient, **query: Any) -> list[tuple[str, str]]:
    response = await client.post("/graphql", json={"query": SEARCH, "variables": {"q": query}})
    edges = response.json()["data"]["searchPartners"]["edges"]
    return [(e["node"]["organisation"]["name"], e["node"]["service"]["name"]) for e in edges]


async def _count(graph: Graph) -> int:
    async with graph.driver.session(database=graph.database) as session:
        record = await (await session.run(COUNT_SERVICES)).single(strict=True)
    return int(record["n"])


def _file(name: str, data: bytes) -> dict[str, tuple[str, bytes]]:
    return {"file": (name, data)}


async def test_the_xlsx_template_filled_in_and_uploaded_is_found_by_search(
    client: httpx.AsyncClient, seeded: Graph
) -> None:
    response = await client.get("/imports/template.xlsx", params={"lang": "de"})
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Angebote", "Instructions", "Needs", "Target groups", "Areas"]
    services = workbook["Angebote"]
    header = [c.value for c in services[1]]
    assert header[:5] == ["Organisation", "Angebot", "Beschreibung", "Bedarfe", "Gemeinden"]
    assert services.cell(2, len(header)).value == "EXAMPLE"
    needs = {row[0]: row[1] for row in workbook["Needs"].iter_rows(min_row=2, values_only=True)}
    assert needs["psychosocial.trauma-therapy"] == "Traumatherapie"
    assert len(needs) == 44

    # A partner fills in a row under the example, with names rather than codes.
    row = dict.fromkeys(header, None) | {
        "Organisation": "Rückkehrhilfe Gjilan (illustrative)",
        "Angebot": "Traumatherapie für Familien",
        "Bedarfe": "Traumatherapie; Psychosoziale Beratung",
        "Gemeinden": "Gjilan; Гњилане",
        "Sprachen": "Albanisch; Deutsch",
    }
    services.append(list(row.values()))
    filled = io.BytesIO()
    workbook.save(filled)
    upload = await client.post(
        "/imports/sheet",
        files=_file("angebote.xlsx", filled.getvalue()),
        params={"strict": "true"},
        headers=ADMIN,
    )
    assert upload.status_code == 200, upload.text
    body = upload.json()
    assert body["rejected"] == []
    assert body["imported"]["services"] == 1
    assert body["imported"]["organisations"] == 1
    assert body["read"] == {"services": 2}
    assert {"file": "angebote.xlsx", "line": 2, "field": "Angebots-ID",
            "message": "the template's example row; skipped"} in body["warnings"]  # fmt: skip

    found = await _search(client, place="Gjilan", needs=["psychosocial.trauma-therapy"])
    assert ("Rückkehrhilfe Gjilan (illustrative)", "Traumatherapie für Familien") in found


async def test_the_csv_template_in_albanian(client: httpx.AsyncClient, seeded: Graph) -> None:
    response = await client.get("/imports/template.csv", params={"lang": "sq"})
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    header, example = text.splitlines()
    assert header.startswith("Organizata;Emri i shërbimit;Përshkrimi;Nevojat;Komunat")
    assert example.endswith(";EXAMPLE")
    columns = header.split(";")
    values = {
        "Organizata": "Shoqata e Kthimit (illustrative)",
        "Emri i shërbimit": "Ndihmë juridike",
        "Nevojat": "Këshillim juridik",
        "Komunat": "Pejë",
    }
    line = ";".join(values.get(c, "") for c in columns)
    filled = (text + line + "\r\n").encode("utf-8-sig")
    upload = await client.post("/imports/sheet", files=_file("lista.csv", filled), headers=ADMIN)
    assert upload.status_code == 200, upload.text
    assert upload.json()["imported"]["services"] == 1
    found = await _search(client, place="Peja", needs=["legal-counselling"])
    assert ("Shoqata e Kthimit (illustrative)", "Ndihmë juridike") in found

    assert (await client.get("/imports/template.csv", params={"lang": "fr"})).status_code == 422


BROKEN = (
    "Organisation;Service name;Needs;Municipalities\n"
    "Return Aid (illustrative);Job placement;employment.job-placement;Prizren\n"
    "Return Aid (illustrative);Housing;houseing;Prizren\n"
)


async def test_rejected_rows_are_listed_and_strict_writes_nothing(
    client: httpx.AsyncClient, seeded: Graph
) -> None:
    before = await _count(seeded)
    strict = await client.post(
        "/imports/sheet",
        files=_file("list.csv", BROKEN.encode()),
        params={"strict": "true"},
        headers=ADMIN,
    )
    assert strict.status_code == 422
    assert strict.json()["imported"] == {}
    assert await _count(seeded) == before

    lenient = await client.post(
        "/imports/sheet", files=_file("list.csv", BROKEN.encode()), headers=ADMIN
    )
    assert lenient.status_code == 200
    body = lenient.json()
    assert body["rejected"] == [
        {
            "file": "list.csv",
            "line": 3,
            "field": "Needs",
            "message": "unknown need 'houseing'; did you mean housing, housing.social-housing?",
        }
    ]
    assert body["rejected_rows"] == {"services": 1}
    assert body["imported"]["services"] == 1
    assert await _count(seeded) == before + 1

    malformed = await client.post(
        "/imports/sheet", files=_file("list.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 64), headers=ADMIN
    )
    assert malformed.status_code == 422
    assert "old Excel .xls workbook" in malformed.json()["detail"]
    unknown = await client.post(
        "/imports/sheet",
        files=_file("list.csv", BROKEN.encode()),
        params={"organisation": "no-such-org"},
        headers=ADMIN,
    )
    assert unknown.status_code == 422
    assert "no-such-org" in unknown.json()["detail"]


def _zip(folder: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
    return out.getvalue()


async def test_hsds_upload(client: httpx.AsyncClient, seeded: Graph) -> None:
    upload = await client.post(
        "/imports/hsds", files=_file("hsds.zip", _zip(HSDS_EXAMPLES / "csv")), headers=ADMIN
    )
    assert upload.status_code == 200, upload.text
    body = upload.json()
    assert body["rejected"] == []
    assert body["imported"]["organisations"] == 1
    assert body["imported"]["services"] == 1
    assert body["read"]["services"] == 1
    assert any(w["file"] == "locations.csv" and w["line"] == 2 for w in body["warnings"])
    # The upload is in the audit trail under the admin who sent it, with the file's name.
    admin = next(i for i in DEMO_IDENTITIES if i.role.value == "admin")
    audit = await client.post(
        "/graphql",
        json={
            "query": "query A($id: ID) { auditEvents(entityId: $id) { nodes { actor action "
            "entity changes { field replacement } } } }",
            "variables": {"id": body["import_id"]},
        },
        headers=ADMIN,
    )
    events = audit.json()["data"]["auditEvents"]["nodes"]
    assert {(e["actor"], e["action"]) for e in events} == {(admin.user_id, "import")}
    written = {
        e["entity"]: {c["field"]: json.loads(c["replacement"]) for c in e["changes"]}
        for e in events
    }
    for entity in ("organisation", "service"):
        assert written[entity]["source"] == "hsds.zip"
        assert len(written[entity]["ids"]) == 1

    nested = (HSDS_EXAMPLES / "service_full.json").read_bytes()
    again = await client.post(
        "/imports/hsds", files=_file("service_full.json", nested), headers=ADMIN
    )
    assert again.status_code == 200, again.text
    assert again.json()["imported"]["services"] == 1

    truncated = await client.post(
        "/imports/hsds", files=_file("hsds.zip", _zip(HSDS_EXAMPLES / "csv")[:200]), headers=ADMIN
    )
    assert truncated.status_code == 422
    assert truncated.json()["detail"].startswith("hsds.zip: not a readable zip file")


@pytest.mark.parametrize("path", ["/imports/sheet", "/imports/hsds"])
async def test_uploads_are_for_admins(client: httpx.AsyncClient, seeded: Graph, path: str) -> None:
    files = _file("list.csv", BROKEN.encode())
    assert (await client.post(path, files=files)).status_code == 401
    for role in ("partner", "coordinator", "counsellor"):
        headers = {"Authorization": f"Bearer {TOKENS[role]}"}
        refused = await client.post(path, files=files, headers=headers)
        assert refused.status_code == 403, role
        assert "admins" in refused.json()["detail"]
    assert await _count(seeded) == 109  # the demo directory, untouched


@pytest.fixture
async def small_client(graph: Graph, test_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The application with uploads bounded at 2,000 bytes."""
    settings = test_settings.model_copy(update={"import_max_bytes": 2000})
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_a_large_upload_is_refused_with_413(
    small_client: httpx.AsyncClient, seeded: Graph
) -> None:
    big = BROKEN + "Return Aid;More;legal-counselling;Prizren\n" * 100
    declared = await small_client.post(
        "/imports/sheet", files=_file("list.csv", big.encode()), headers=ADMIN
    )
    assert declared.status_code == 413
    assert "HOMEWARD_IMPORT_MAX_BYTES" in declared.json()["detail"]

    # Without a Content-Length the body is counted as it arrives.
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="list.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\n{big}\r\n--{boundary}--\r\n"
    ).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    streamed = await small_client.post(
        "/imports/sheet",
        content=chunks(),
        headers=ADMIN | {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert streamed.status_code == 413
    assert await _count(seeded) == 109

    small = await small_client.post(
        "/imports/sheet", files=_file("list.csv", BROKEN.encode()), headers=ADMIN
    )
    assert small.status_code == 200


async def test_an_upload_over_the_general_body_limit_but_within_its_own_is_read(
    graph: Graph, test_settings: Settings, seeded: Graph
) -> None:
    """Uploads are bounded by HOMEWARD_IMPORT_MAX_BYTES, not the smaller limit of other
    requests; every other route keeps that one."""
    settings = test_settings.model_copy(
        update={"max_body_bytes": 2048, "import_max_bytes": 100_000}
    )
    application = create_app(settings)
    big = BROKEN + "Return Aid;More;legal-counselling;Prizren\n" * 100
    assert 2048 < len(big) < 100_000
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            upload = await c.post(
                "/imports/sheet", files=_file("list.csv", big.encode()), headers=ADMIN
            )
            assert upload.status_code == 200, upload.text
            graphql = await c.post("/graphql", json={"query": "{ __typename }", "x": big})
            assert graphql.status_code == 413
            assert "HOMEWARD_MAX_BODY_BYTES" in graphql.json()["detail"]
