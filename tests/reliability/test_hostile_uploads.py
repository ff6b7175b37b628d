"""Uploads built to exhaust the API: zip bombs, workbooks with huge or hostile XML, JSON nested
thousands deep. Each is refused before it is parsed, with 413 (it would unpack too large) or
422 (it cannot be read safely) and a message that says why; random damage to a workbook or
random nesting gives a report or a 422, never a 500."""

from __future__ import annotations

import contextlib
import io
import time
import zipfile
from collections.abc import Callable

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from importers.bounds import MAX_JSON_DEPTH, MAX_MEMBERS, MAX_UNPACKED_BYTES
from importers.hsds.source import read_bytes
from importers.rows import MalformedInput
from importers.sheet.source import read_sheet

pytestmark = pytest.mark.neo4j

HEADER = ["Organisation", "Service name", "Needs"]
ROW = ["Org", "Svc", "employment"]


def workbook(*rows: list[str]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [HEADER, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rezip(data: bytes, change: dict[str, bytes]) -> bytes:
    """The zip with some members replaced or added."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            if member.filename not in change:
                target.writestr(member, source.read(member))
        for name, content in change.items():
            target.writestr(name, content)
    return out.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in members.items():
            target.writestr(name, content)
    return out.getvalue()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


VALID = workbook(ROW)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
    b'uniqueCount="1"><si><t>&lol9;</t></si></sst>'
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
    b'uniqueCount="1"><si><t>&xxe;</t></si></sst>'
)
# 100 MB of one character compresses to about 100 kB.
BOMB = b"a" * (MAX_UNPACKED_BYTES + 1024 * 1024)

CASES: dict[str, tuple[str, str, Callable[[], bytes], int, str]] = {
    "a zip bomb as an HSDS package": (
        "hsds",
        "bomb.zip",
        lambda: zipped({"organizations.csv": b"id,name\n" + BOMB}),
        413,
        "unpacks to more than",
    ),
    "an HSDS zip of too many members": (
        "hsds",
        "many.zip",
        lambda: zipped({f"t{i}.csv": b"id\n" for i in range(MAX_MEMBERS + 1)}),
        413,
        "files, more than",
    ),
    "a workbook with a huge comment": (
        "sheet",
        "list.xlsx",
        lambda: rezip(VALID, {"xl/comments1.xml": BOMB}),
        413,
        "unpacks to more than",
    ),
    "a workbook whose shared strings are a billion laughs": (
        "sheet",
        "list.xlsx",
        lambda: rezip(VALID, {"xl/sharedStrings.xml": BILLION_LAUGHS}),
        422,
        "DTD or entities",
    ),
    "a workbook naming an external entity": (
        "sheet",
        "list.xlsx",
        lambda: rezip(VALID, {"xl/sharedStrings.xml": EXTERNAL_ENTITY}),
        422,
        "DTD or entities",
    ),
    "a workbook with broken XML": (
        "sheet",
        "list.xlsx",
        lambda: rezip(workbook(ROW), {"xl/worksheets/sheet1.xml": b"<worksheet><sheetData"}),
        422,
        "list.xlsx",
    ),
    "a cell of 20,000 characters": (
        "sheet",
        "list.xlsx",
        lambda: workbook(["Org", "x" * 20_000, "employment"]),
        422,
        "list.xlsx:2 (Service name): a cell of 20000 characters",
    ),
    "HSDS JSON nested 5,000 deep": (
        "hsds",
        "deep.json",
        lambda: ('{"organizations": ' + nested(5000) + "}").encode(),
        422,
        f"JSON nested more than {MAX_JSON_DEPTH} deep",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_hostile_upload_is_refused_before_it_is_parsed(
    client: httpx.AsyncClient, people: dict[str, str], case: str
) -> None:
    kind, name, build, status, message = CASES[case]
    started = time.monotonic()
    response = await client.post(
        f"/imports/{kind}",
        files={"file": (name, build())},
        headers={"Authorization": f"Bearer {people['admin']}"},
    )
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert time.monotonic() - started < 30


async def test_graphql_variables_nested_5000_deep_are_a_422(client: httpx.AsyncClient) -> None:
    body = '{"query": "query Q($x: String) { __typename }", "variables": {"x": ' + nested(5000)
    response = await client.post(
        "/graphql", content=body + "}}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "nests JSON more than" in response.text
    fine = await client.post("/graphql", json={"query": "{ __typename }", "variables": {}})
    assert fine.status_code == 200


# Properties: whatever the damage or the nesting, a report or MalformedInput, nothing else.


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(1, 255)), max_size=8))
def test_a_damaged_workbook_reads_or_is_malformed(flips: list[tuple[int, int]]) -> None:
    data = bytearray(VALID)
    for at, xor in flips:
        data[at] ^= xor
    with contextlib.suppress(MalformedInput):
        read_sheet("list.xlsx", bytes(data))


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(1, 3 * MAX_JSON_DEPTH), opener=st.sampled_from(["[", '{"a": ']))
def test_nested_hsds_json_reads_or_is_malformed(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = opener * depth + "1" + closer * depth
    if depth > MAX_JSON_DEPTH:
        with pytest.raises(MalformedInput, match="nested more than"):
            read_bytes("deep.json", text.encode())
    else:
        with contextlib.suppress(MalformedInput):
            read_bytes("deep.json", text.encode())


@settings(max_examples=30, deadline=None)
@given(
    members=st.dictionaries(
        st.from_regex(r"[a-z]{1,8}\.(csv|json|xml)", fullmatch=True),
        st.binary(max_size=200),
        max_size=6,
    )
)
def test_any_small_zip_reads_or_is_malformed(members: dict[str, bytes]) -> None:
    data = zipped(members)
    for reader in (read_bytes, read_sheet):
        with contextlib.suppress(MalformedInput):
            reader("upload.zip", data)
