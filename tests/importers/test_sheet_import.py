"""Spreadsheet import: CSV and XLSX in several header languages and encodings, the row
report, strict mode, idempotency, matching what the directory holds, malformed files."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest
from openpyxl import Workbook

from core.text import fold
from graph.driver import Graph
from graph.organisations import (
    OrganisationInput,
    OrganisationKind,
    organisations_by_ids,
    upsert_organisations,
)
from graph.services import (
    LocationInput,
    OpeningHours,
    Service,
    ServiceInput,
    Weekday,
    services_by_ids,
    services_of_organisation,
    upsert_row,
    upsert_services,
)
from importers.report import ImportRejected
from importers.rows import MalformedInput
from importers.sheet.loader import import_sheet, stable_id
from importers.sheet.source import read_sheet
from tests.importers.snapshot import snapshot

ENGLISH = (
    "Organisation,Service name,Description,Needs,Municipalities,Languages,Target groups,"
    "Phone,E-mail,Website,Capacity,Minimum age\n"
    "Return Aid Prizren,Job placement,Placement with local employers,"
    "employment.job-placement; Trauma therapy,Prizren; Pejë,sq; Serbian,forced-returnees,"
    "+383 44 000 001,info@return-aid.example,return-aid.example,available,18\n"
    "Return Aid Prizren,Legal help,,Këshillim juridik,Призрен,Deutsch,,,,,,\n"
)
GERMAN = (
    "Organisation;Angebot;Bedarfe;Gemeinden;Sprachen;Zielgruppen;Kapazität\n"
    "Rückkehrhilfe Süd;Traumatherapie für Rückkehrende;Traumatherapie;Pejë;Albanisch;"
    "Ältere Menschen;begrenzt\n"
)
SERBIAN_LATIN = (
    "Organizacija;Naziv usluge;Potrebe;Opštine;Jezici\n"
    "Centar za socijalni rad Peć;Obnova kuća;Obnova i popravka kuća;Peć;srpski\n"
)


async def _services(graph: Graph, organisation: str) -> dict[str, Service]:
    page = await graph.read(
        services_of_organisation, organisation_id=organisation, first=50, after=None
    )
    return {e.node.name: e.node for e in page.edges}


def _xlsx(rows: Sequence[Sequence[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


async def test_an_english_csv_imports_with_names_in_any_language(reference: Graph) -> None:
    report = await import_sheet(reference, read_sheet("list.csv", ENGLISH.encode("utf-8-sig")))

    assert report.errors == [], [str(p) for p in report.errors]
    assert report.written["organisations"] == 1
    assert report.written["services"] == 2
    organisation_id = stable_id("organisation", "return aid prizren")
    organisation = (await reference.read(organisations_by_ids, ids=[organisation_id]))[
        organisation_id
    ]
    assert organisation.country == "XK"  # from its first municipality
    assert organisation.phone == "+383 44 000 001"
    assert organisation.website == "https://return-aid.example/"
    services = await _services(reference, organisation_id)
    job = services["Job placement"]
    assert job.need_codes == ["employment.job-placement", "psychosocial.trauma-therapy"]
    assert job.covered_area_ids == ["XK-peje", "XK-prizren"]
    assert job.languages == ["sq", "sr"]
    assert job.target_group_codes == ["forced-returnees"]
    assert job.capacity.value == "available"
    assert job.minimum_age == 18
    assert [d.value for d in job.delivery] == ["in_person"]
    legal = services["Legal help"]
    assert legal.need_codes == ["legal-counselling"]  # named in Albanian
    assert legal.covered_area_ids == ["XK-prizren"]  # named in Cyrillic
    assert legal.languages == ["de"]


@pytest.mark.parametrize(
    ("name", "data", "organisation", "need", "encoding"),
    [
        ("liste.csv", GERMAN.encode("cp1252"), "Rückkehrhilfe Süd", "psychosocial.trauma-therapy",
         "Windows-1252"),
        ("spisak.csv", SERBIAN_LATIN.encode("cp1250"), "Centar za socijalni rad Peć",
         "housing.reconstruction", "Windows-1250"),
        ("spisak.csv", SERBIAN_LATIN.encode("utf-8"), "Centar za socijalni rad Peć",
         "housing.reconstruction", None),
    ],
)  # fmt: skip
async def test_legacy_encodings_and_semicolons(
    reference: Graph,
    name: str,
    data: bytes,
    organisation: str,
    need: str,
    encoding: str | None,
) -> None:
    report = await import_sheet(reference, read_sheet(name, data))
    assert report.errors == [], [str(p) for p in report.errors]
    # The organisation's name came through with its letters, so its id is the one derived
    # from the name as written.
    services = await _services(reference, stable_id("organisation", fold(organisation)))
    [service] = services.values()
    assert service.need_codes == [need]
    assert service.covered_area_ids == ["XK-peje"]
    notices = [str(w) for w in report.warnings if "(file)" in str(w)]
    if encoding is None:
        assert notices == []
    else:
        assert notices == [f"{name}: (file): not UTF-8; read as {encoding} (check the letters "
                           "ë, č, ü)"]  # fmt: skip


@pytest.mark.parametrize(
    "header",
    [
        ["Organizata", "Emri i shërbimit", "Nevojat", "Komunat", "Gjuhët"],
        ["Организација", "Назив услуге", "Потребе", "Општине", "Језици"],
        ["ORGANISATION", "angebot", "BEDARFE", "gemeinden", "sprachen"],
    ],
)
async def test_xlsx_with_headers_in_albanian_cyrillic_and_any_case(
    reference: Graph, header: list[str]
) -> None:
    data = _xlsx(
        [header, ["Qendra Ballkanike", "Kurse gjuhe", "Kurse gjuhe për fëmijë", "Ferizaj", "shqip"]]
    )
    report = await import_sheet(reference, read_sheet("lista.xlsx", data))
    assert report.errors == [], [str(p) for p in report.errors]
    services = await _services(reference, stable_id("organisation", "qendra ballkanike"))
    assert services["Kurse gjuhe"].need_codes == ["education.language-classes"]
    assert services["Kurse gjuhe"].covered_area_ids == ["XK-ferizaj"]
    assert services["Kurse gjuhe"].languages == ["sq"]


BROKEN = (
    "Organisation,Service name,Needs,Municipalities,Languages,Capacity,Minimum age,E-mail\n"
    "Return Aid Prizren,Job placement,employment.job-placement,Prizren,sq,,,\n"
    "Return Aid Prizren,Housing,houseing,Prizrn,sq,,,\n"
    ",Orphan service,legal-counselling,Prizren,,,,\n"
    "Return Aid Prizren,Therapy,Trauma therapy,Prizren,klingon,lots,twelve,\n"
    "New Office,Counselling,legal-counselling,,,,,not-an-address\n"
    "Return Aid Prizren,Job placement,employment.job-placement,Prizren,sq,,,\n"
)


async def test_a_broken_file_reports_each_row_and_imports_the_good_ones(
    reference: Graph,
) -> None:
    report = await import_sheet(reference, read_sheet("broken.csv", BROKEN.encode()))

    assert [str(p) for p in report.errors] == [
        "broken.csv:3: Needs: unknown need 'houseing'; did you mean housing, "
        "housing.social-housing?",
        # The gazetteer knows villages too: Përzeren (Suharekë) is spelt close.
        "broken.csv:3: Municipalities: unknown area 'Prizrn'; did you mean Prizren, Përzeren?",
        "broken.csv:4: Organisation: required, but empty",
        "broken.csv:5: Languages: unknown language 'klingon'; did you mean kongo (kg)?",
        "broken.csv:5: Capacity: 'lots' is not one of available, limited, full, unknown",
        "broken.csv:5: Minimum age: 'twelve' is not a whole number",
        "broken.csv:6: Organisation: 'New Office' is not in the directory, and its country is "
        "unknown: fill in 'Country' or the municipalities",
        "broken.csv:7: Service name: the same service as line 2; one row per service",
    ]
    assert report.read["services"] == 6
    assert report.rejected["services"] == 5
    assert report.written["organisations"] == 1
    assert report.written["services"] == 1
    services = await _services(reference, stable_id("organisation", "return aid prizren"))
    assert list(services) == ["Job placement"]


async def test_strict_writes_nothing_and_a_second_import_changes_nothing(
    reference: Graph,
) -> None:
    before = await snapshot(reference)
    with pytest.raises(ImportRejected) as rejected:
        await import_sheet(reference, read_sheet("broken.csv", BROKEN.encode()), strict=True)
    assert len(rejected.value.report.errors) == 8
    assert await snapshot(reference) == before

    first = await import_sheet(reference, read_sheet("list.csv", ENGLISH.encode()), strict=True)
    assert first.errors == []
    after_first = await snapshot(reference)
    again = await import_sheet(reference, read_sheet("list.csv", ENGLISH.encode()))
    assert again.errors == []
    assert again.written["organisations"] == 0  # found in the directory this time
    assert await snapshot(reference) == after_first


async def test_existing_organisations_and_services_are_matched_not_duplicated(
    reference: Graph,
) -> None:
    krct = OrganisationInput(
        name="Kosova Rehabilitation Centre for Torture Victims",
        acronym="KRCT",
        kind=OrganisationKind.NGO,
        country="XK",
        email="office@krct.example",
    )
    await reference.write(upsert_organisations, rows=[("xk-krct", krct, {})])
    registered = ServiceInput(
        organisation_id="xk-krct",
        name="Trauma therapy",
        delivery=["in_person"],
        needs=["psychosocial.trauma-therapy"],
        locations=[
            LocationInput(
                id="krct-site",
                name="Office",
                area="XK-prizren",
                opening_hours=[OpeningHours(weekday=Weekday.TU, opens="09:00", closes="15:00")],
            )
        ],
        programmes=[],
        phone="+383 38 000 111",
        email="therapy@krct.example",
    )
    await reference.write(upsert_services, rows=[upsert_row("krct-trauma", registered, {})])
    sheet = (
        "Organisation,Service name,Needs,Municipalities,E-mail\n"
        "krct,TRAUMA THERAPY,psychosocial.trauma-therapy,Gjilan,help@krct.example\n"
        "KRCT,Counselling,psychosocial.counselling,Gjilan,\n"
    )
    report = await import_sheet(reference, read_sheet("krct.csv", sheet.encode()))

    assert report.errors == []
    assert [str(w) for w in report.warnings] == [
        "krct.csv:2: E-mail: 'help@krct.example' differs from 'office@krct.example' in the "
        "directory; not changed"
    ]
    assert report.written["organisations"] == 0
    services = await _services(reference, "xk-krct")
    assert sorted(services) == ["Counselling", "TRAUMA THERAPY"]
    trauma = (await reference.read(services_by_ids, ids=["krct-trauma"]))["krct-trauma"]
    assert trauma.name == "TRAUMA THERAPY"
    assert trauma.covered_area_ids == ["XK-gjilan"]
    assert [loc.id for loc in trauma.locations] == ["krct-site"]  # no column: kept
    # Nor for opening hours, or the service's own phone and e-mail: kept as they were.
    assert [h.stored() for h in trauma.locations[0].opening_hours] == ["TU 09:00 15:00"]
    assert (trauma.phone, trauma.email) == ("+383 38 000 111", "therapy@krct.example")


async def test_one_organisation_for_the_whole_sheet(reference: Graph) -> None:
    office = OrganisationInput(
        name="Municipal Office Pejë", kind=OrganisationKind.OTHER, country="XK"
    )
    await reference.write(upsert_organisations, rows=[("xk-mocr-peje", office, {})])
    sheet = "Service name,Needs,Municipalities,Organisation\nReception,arrival-reception,Pejë,\n"
    report = await import_sheet(
        reference, read_sheet("office.csv", sheet.encode()), organisation_id="xk-mocr-peje"
    )
    assert report.errors == []
    assert list(await _services(reference, "xk-mocr-peje")) == ["Reception"]

    other = sheet.replace("Pejë,\n", "Pejë,Someone Else\n")
    report = await import_sheet(
        reference, read_sheet("office.csv", other.encode()), organisation_id="xk-mocr-peje"
    )
    assert [str(p) for p in report.errors] == [
        "office.csv:2: Organisation: this import is for 'Municipal Office Pejë' (xk-mocr-peje); "
        "the row names 'Someone Else'"
    ]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("list.csv", b"", "list.csv: the file is empty"),
        ("list.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
         "list.xls: an old Excel .xls workbook; save it as .xlsx or CSV"),
        ("list.xlsx", b"PK\x03\x04broken", "list.xlsx: not a readable XLSX workbook"),
        ("list.csv", b"Organisation Service Needs\nA B C\n",
         "list.csv:1: the header is one column"),
        ("list.csv", b"Organisation,Needs\nA,legal-counselling\n",
         "list.csv:1: no column for Service name / Angebot / Emri i sh\u00ebrbimit"),
        ("list.csv", b"Organisation,Service name,Needs,Bedarfe\n",
         "list.csv:1: columns 'Needs' and 'Bedarfe' both mean 'Needs'; keep one"),
        ("list.csv", b"Organisation,Service name,Needs\n\x00\x01\x02",
         "list.csv: not a CSV file (binary content)"),
        ("list.csv", "Organisation,Service name,Needs\nA,\u0411,x\n".encode("utf-16-le"),
         "list.csv: not a CSV file (binary content)"),
    ],
)  # fmt: skip
def test_a_malformed_file_is_one_clear_error(name: str, data: bytes, message: str) -> None:
    with pytest.raises(MalformedInput) as raised:
        read_sheet(name, data)
    assert raised.value.message.startswith(message), raised.value.message
