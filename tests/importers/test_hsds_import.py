"""HSDS 3.0 import: the specification's examples, a broken copy, idempotency, strict mode,
malformed files and an interrupted import."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from pathlib import Path

import pytest

from graph.audit import AuditEvent, list_events
from graph.driver import Graph
from graph.organisations import organisations_by_ids
from graph.services import services_by_ids
from graph.users import Actor
from importers.hsds.loader import import_hsds
from importers.hsds.source import read_bytes, read_path
from importers.plan import Provenance
from importers.report import ImportRejected
from importers.rows import MalformedInput
from tests.importers.snapshot import snapshot

ORG = "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610"
SERVICE = "ac148810-d857-441c-9679-408f346de14b"

COUNT_SERVICES = "MATCH (s:Service) RETURN count(s) AS n"


async def _count(graph: Graph, query: str = COUNT_SERVICES) -> int:
    async with graph.driver.session(database=graph.database) as session:
        record = await (await session.run(query)).single(strict=True)
    return int(record["n"])


async def test_the_tabular_examples_import_cleanly(reference: Graph, examples: Path) -> None:
    report = await import_hsds(reference, read_path(examples / "csv"))

    assert report.errors == []
    assert report.written == {"countries": 1, "programmes": 1, "organisations": 1, "services": 1}
    # Reported, not dropped: the broken datapackage link, the example's impossible point,
    # the term no mapping knows, and the service filed under the default need.
    warnings = "\n".join(str(w) for w in report.warnings)
    assert "datapackage.json: (file): not JSON" in warnings
    assert "locations.csv:2: latitude: (100, 101) is not a WGS-84 point" in warnings
    assert "services.csv:2: attributes: no taxonomy term maps to a Homeward need" in warnings

    organisation = (await reference.read(organisations_by_ids, ids=[ORG]))[ORG]
    assert organisation.name == "Example Organization Inc."
    assert organisation.alternate_names == ["Example Org"]
    assert organisation.country == "US"  # from the address of its service's site
    service = (await reference.read(services_by_ids, ids=[SERVICE]))[SERVICE]
    assert service.organisation_id == ORG
    assert service.need_codes == ["information-outreach"]
    assert service.languages == ["ur"]
    assert service.minimum_age == 12
    assert service.maximum_age == 100
    assert service.programme_ids == ["e7ec2e57-4540-43fa-b2c7-6be5a0ef7f42"]
    assert [(loc.name, loc.area_id, loc.point) for loc in service.locations] == [
        ("MyCity Civic Center", "US", None)
    ]


@pytest.mark.parametrize(
    "name",
    [
        "service_full.json",
        "organization_full.json",
        "service_at_location_full.json",
        "tabular.json",
    ],
)
async def test_the_json_examples_import_cleanly(
    reference: Graph, examples: Path, name: str
) -> None:
    report = await import_hsds(reference, read_path(examples / name))
    assert report.errors == [], [str(p) for p in report.errors]
    assert report.written["organisations"] == report.written["services"] == 1


async def test_the_list_examples_update_what_the_full_ones_created(
    reference: Graph, examples: Path
) -> None:
    # The list forms hold one-to-one fields only: no sites, so no country for a new
    # organisation; an organisation of the directory keeps its own.
    alone = await import_hsds(reference, read_path(examples / "organization_list.json"))
    assert [str(p) for p in alone.errors] == [
        "organization_list.json:/contents/0: country: cannot tell the organisation's country: "
        "no `country` attribute, no address with a country on its locations or its services' "
        "locations, and no default country (give one)"
    ]
    await import_hsds(reference, read_path(examples / "organization_full.json"))
    for name in ["organization_list.json", "service_list.json", "service_at_location_list.json"]:
        report = await import_hsds(reference, read_path(examples / name))
        assert report.errors == [], [str(p) for p in report.errors]


async def test_nested_and_tabular_forms_give_the_same_service(
    reference: Graph, examples: Path
) -> None:
    await import_hsds(reference, read_path(examples / "service_full.json"))
    nested = (await reference.read(services_by_ids, ids=[SERVICE]))[SERVICE]
    await import_hsds(reference, read_path(examples / "csv"))
    tabular = (await reference.read(services_by_ids, ids=[SERVICE]))[SERVICE]
    # What Homeward models is the same; the kept HSDS content differs where the examples do
    # (the nested attribute names the service, the tabular one names nothing).
    volatile = {"created_at", "updated_at", "hsds_extra"}
    assert nested.model_dump(exclude=volatile) == tabular.model_dump(exclude=volatile)


async def test_importing_again_changes_nothing_and_a_changed_row_updates(
    reference: Graph, examples: Path
) -> None:
    await import_hsds(reference, read_path(examples / "csv"))
    first = await snapshot(reference)
    await import_hsds(reference, read_path(examples / "csv"))
    assert await snapshot(reference) == first

    services = examples / "csv" / "services.csv"
    services.write_text(services.read_text().replace("Community Counselling", "Counselling"))
    await import_hsds(reference, read_path(examples / "csv"))
    service = (await reference.read(services_by_ids, ids=[SERVICE]))[SERVICE]
    assert service.name == "Counselling"


def _append_rows(path: Path, rows: list[dict[str, str]], *, raw: bytes = b"") -> None:
    header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    for row in rows:
        writer.writerow(row)
    with path.open("ab") as f:
        f.write(b"" if path.read_bytes().endswith(b"\n") else b"\n")
        f.write(out.getvalue().encode("utf-8") + raw)


GOOD = "0d7fb2a4-5d43-4d6a-9f0e-3c6f1d2b9a11"
MISSING_ORG = "11111111-2222-4333-8444-555555555555"


def _break(folder: Path) -> None:
    """A copy of the examples with one mistake per row, and one more good service."""
    base = {"organization_id": ORG, "status": "active", "name": "Job placement"}
    _append_rows(
        folder / "services.csv",
        [
            base | {"id": "not-a-uuid"},  # line 3
            base | {"id": str(uuid.uuid4()), "organization_id": MISSING_ORG},  # 4
            base | {"id": str(uuid.uuid4()), "minimum_age": "twelve"},  # 5
            base | {"id": str(uuid.uuid4()), "name": ""},  # 6
            base | {"id": str(uuid.uuid4()), "status": "open"},  # 7
            base | {"id": GOOD},  # 8
        ],
        # line 9: written in Latin-1, not UTF-8
        raw=f"{uuid.uuid4()},{ORG},,Caf\xe9 for returnees,,,,,active{',' * 14}\n".encode("latin-1"),
    )
    _append_rows(
        folder / "locations.csv",
        [{"id": str(uuid.uuid4()), "location_type": "physical", "latitude": "north"}],
    )
    _append_rows(folder / "organizations.csv", [{"id": str(uuid.uuid4()), "name": ""}])
    _append_rows(
        folder / "service_at_location.csv",
        [{"id": str(uuid.uuid4()), "service_id": GOOD, "location_id": MISSING_ORG}],
    )


async def test_a_broken_copy_is_reported_row_by_row_and_the_good_rows_imported(
    reference: Graph, examples: Path
) -> None:
    _break(examples / "csv")
    report = await import_hsds(reference, read_path(examples / "csv"))

    assert [str(p) for p in report.errors] == [
        "organizations.csv:3: name: required, but empty or missing",
        "locations.csv:3: latitude: 'north' is not a number",
        "services.csv:3: id: 'not-a-uuid' is not a UUID",
        "services.csv:5: minimum_age: 'twelve' is not a number",
        "services.csv:6: name: required, but empty or missing",
        "services.csv:7: status: 'open' is not one of active, inactive, defunct, "
        "temporarily closed",
        "services.csv:9: name: not UTF-8 text; save the file as UTF-8",
        f"service_at_location.csv:3: location_id: no location {MISSING_ORG} in the import",
        f"services.csv:4: organization_id: no organisation {MISSING_ORG} in the import or "
        "the directory",
    ]
    assert report.rejected["services"] == 6
    assert sorted(await reference.read(services_by_ids, ids=[SERVICE, GOOD])) == sorted(
        [SERVICE, GOOD]
    )
    assert await _count(reference) == 2


async def test_strict_writes_nothing_when_any_row_is_bad(reference: Graph, examples: Path) -> None:
    _break(examples / "csv")
    before = await snapshot(reference)
    with pytest.raises(ImportRejected) as raised:
        await import_hsds(reference, read_path(examples / "csv"), strict=True)
    assert len(raised.value.report.errors) == 9
    assert await snapshot(reference) == before


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"hsds/{path.name}")
    return buffer.getvalue()


async def test_a_zip_imports_like_the_folder(reference: Graph, examples: Path) -> None:
    report = await import_hsds(reference, read_bytes("hsds.zip", _zip(examples / "csv")))
    assert report.errors == []
    assert report.written["services"] == 1


def test_malformed_files_are_named_not_tracebacks(examples: Path) -> None:
    folder = examples / "csv"
    whole = _zip(folder)
    with pytest.raises(MalformedInput, match=r"hsds.zip: not a readable zip file"):
        read_bytes("hsds.zip", whole[: len(whole) // 2])
    with pytest.raises(MalformedInput, match=r"directory.json:1: not valid JSON"):
        read_bytes("directory.json", b'{"id": ')
    with pytest.raises(MalformedInput, match=r"neither a zip of HSDS CSV files nor HSDS JSON"):
        read_bytes("directory.xlsx", b"\x01\x02binary")

    services = folder / "services.csv"
    services.write_text(services.read_text().replace(",", ";"))
    with pytest.raises(MalformedInput, match=r"services.csv:1: the header is one column"):
        read_path(folder)
    services.write_bytes(b"id,name\n\x00\x01\x02")
    with pytest.raises(MalformedInput, match=r"services.csv: not a CSV file"):
        read_path(folder)
    services.write_text('id,name\n"unterminated,x\n')
    with pytest.raises(MalformedInput, match=r"services.csv:\d+: not valid CSV"):
        read_path(folder)
    with pytest.raises(MalformedInput, match=r"no such file or folder"):
        read_path(folder / "missing")


def _more_services(folder: Path, count: int) -> None:
    """The example organisation with `count` more services, so that an import takes several
    batches."""
    _append_rows(
        folder / "services.csv",
        [
            {
                "id": str(uuid.UUID(int=i + 1)),
                "organization_id": ORG,
                "name": f"Service {i}",
                "status": "active",
            }
            for i in range(count)
        ],
    )


class Interrupted(Exception):
    pass


async def test_an_interrupted_import_run_again_converges(reference: Graph, examples: Path) -> None:
    folder = examples / "csv"
    _more_services(folder, 9)
    await import_hsds(reference, read_path(folder), batch_size=3)
    uninterrupted = await snapshot(reference)

    async with reference.driver.session(database=reference.database) as session:
        await (
            await session.run("MATCH (n:Service|Organisation|Location) DETACH DELETE n")
        ).consume()

    def stop_half_way(kind: str, done: int) -> None:
        if kind == "services" and done >= 5:
            raise Interrupted

    with pytest.raises(Interrupted):
        await import_hsds(reference, read_path(folder), batch_size=3, after_batch=stop_half_way)
    assert 0 < await _count(reference) < 10
    await import_hsds(reference, read_path(folder), batch_size=3)
    assert await snapshot(reference) == uninterrupted


async def _import_events(graph: Graph, provenance: Provenance) -> list[AuditEvent]:
    page = await graph.read(
        list_events, entity_id=provenance.id, organisations=None, first=100, after=None
    )
    return [edge.node for edge in page.edges]


async def _ids(graph: Graph, label: str) -> set[str]:
    async with graph.driver.session(database=graph.database) as session:
        result = await session.run(f"MATCH (n:{label}) RETURN n.id AS id")
        return {r["id"] async for r in result}


def _written(events: list[AuditEvent], entity: str) -> list[str]:
    return [
        id
        for event in events
        if event.entity == entity
        for change in event.changes
        if change.field == "ids"
        for id in change.replacement
    ]


async def test_each_batch_is_written_with_an_audit_event_of_who_imported_what(
    reference: Graph, examples: Path
) -> None:
    folder = examples / "csv"
    _more_services(folder, 9)  # 10 services: four batches of 3
    admin = Actor(user_id="user-admin-example")
    stopped = Provenance(admin, "directory.zip")

    def stop_after_first_services_batch(kind: str, done: int) -> None:
        if kind == "services":
            raise Interrupted

    with pytest.raises(Interrupted):
        await import_hsds(
            reference,
            read_path(folder),
            batch_size=3,
            after_batch=stop_after_first_services_batch,
            provenance=stopped,
        )
    events = await _import_events(reference, stopped)
    # Exactly the batches that were written have their event, and they name what they wrote.
    assert sorted(_written(events, "service")) == sorted(await _ids(reference, "Service"))
    assert len(_written(events, "service")) == 3
    assert sorted(_written(events, "organisation")) == sorted(await _ids(reference, "Organisation"))
    for event in events:
        assert (event.actor, event.action, event.entity_id) == (admin.label, "import", stopped.id)
        assert {c.field: c.replacement for c in event.changes}["source"] == "directory.zip"

    finished = Provenance(admin, "directory.zip")
    report = await import_hsds(reference, read_path(folder), batch_size=3, provenance=finished)
    assert report.import_id == finished.id
    events = await _import_events(reference, finished)
    assert len([e for e in events if e.entity == "service"]) == 4
    assert sorted(_written(events, "service")) == sorted(await _ids(reference, "Service"))


@pytest.mark.parametrize(
    ("example", "table"),
    [
        ("organization_list.json", "organizations"),
        ("service_list.json", "services"),
        ("service_at_location_list.json", "service_at_location"),
        ("location.json", "locations"),
        ("taxonomy_term.json", "taxonomy_terms"),
        ("taxonomy.json", "taxonomies"),
    ],
)
def test_the_kind_of_object_is_told_by_its_content_not_the_file_name(
    examples: Path, example: str, table: str
) -> None:
    source = read_bytes("page.json", (examples / example).read_bytes())
    assert len(source.rows(table)) == 1


def test_ndjson_is_read_one_object_a_line(examples: Path) -> None:
    lines = [
        (examples / name).read_text().replace("\n", "")
        for name in ("service_full.json", "organization_full.json")
    ]
    source = read_bytes("records.ndjson", ("\n".join(lines) + "\n").encode())
    assert len(source.rows("services")) == 1
    assert len(source.rows("organizations")) == 1
    with pytest.raises(MalformedInput, match=r"records.ndjson:2: not valid JSON"):
        read_bytes("records.ndjson", (lines[0] + "\n{oops\n").encode())


LOCATION = "3a19ff88-4620-4d17-9830-ac1d859eb5d5"


async def test_plain_weekly_schedules_and_a_service_phone_become_hours_and_contacts(
    reference: Graph, examples: Path
) -> None:
    with (examples / "csv" / "schedules.csv").open("a", newline="") as f:
        writer = csv.writer(f)
        # The site's own weekly hours: nothing but weekdays and times.
        plain = ["" for _ in range(23)]
        plain[0], plain[2], plain[11], plain[13] = str(uuid.uuid4()), LOCATION, "WEEKLY", "MO,WE"
        plain[18], plain[19] = "09:00:00", "12:30:00"
        writer.writerow(plain)
    with (examples / "csv" / "phones.csv").open("a", newline="") as f:
        csv.writer(f).writerow(
            [str(uuid.uuid4()), "", SERVICE, "", "", "", "+44 1234 000111", "", "", ""]
        )
    report = await import_hsds(reference, read_path(examples / "csv"))
    assert report.errors == [], [str(p) for p in report.errors[:5]]

    service = (await reference.read(services_by_ids, ids=[SERVICE]))[SERVICE]
    assert service.phone == "+44 1234 000111"
    assert service.email == "email@example.com"
    [site] = service.locations
    assert [(h.weekday.value, h.opens, h.closes) for h in site.opening_hours] == [
        ("MO", "09:00", "12:30"),
        ("WE", "09:00", "12:30"),
    ]
    # The example's own schedule (of a service at a site, with validity dates and a
    # description) says more than hours: it stays HSDS data, exported as it came.
    assert site.hsds_extra is None or "48102e86" not in site.hsds_extra
    assert service.hsds_extra is not None
    assert "48102e86-bb50-41c4-8f1e-e269368c41d1" in service.hsds_extra
