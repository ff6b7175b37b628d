"""REST imports: upload an HSDS package or a partner's spreadsheet (admins), and download
the spreadsheet template (anyone who may read the directory).

Uploads are `multipart/form-data` with the file in the field `file`; the body is counted
as it arrives and refused with 413 past `HOMEWARD_IMPORT_MAX_BYTES`, before it is parsed;
a zip or workbook that would unpack beyond `importers.bounds` is a 413 too, before parsing.
The answer is the import report: counts per kind written, rows read and rejected per
table, and every rejected row as `{file, line, field, message}`. With `strict=true` any
rejected row means nothing is written (422 with the report).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from api.deps import ActorDep, GraphDep, SettingsDep, authorize
from core.errors import NotFound
from graph.areas import areas_by_ids
from graph.hsds import directory_facts
from graph.needs import all_needs
from graph.target_groups import all_target_groups
from importers.bounds import UnpacksTooLarge
from importers.hsds.loader import import_hsds
from importers.hsds.source import read_bytes
from importers.plan import Provenance
from importers.report import ImportRejected, ImportReport, Problem
from importers.rows import MalformedInput
from importers.sheet.loader import import_sheet
from importers.sheet.source import read_sheet
from importers.sheet.template import LANGUAGES, template_csv, template_xlsx

router = APIRouter(prefix="/imports", tags=["imports"], dependencies=[Depends(authorize)])

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RowProblem(BaseModel):
    file: str
    line: int | str | None
    field: str
    message: str


class ImportResult(BaseModel):
    strict: bool
    # Entity id of the import's audit events (`auditEvents(entityId: ...)`); none when
    # nothing was written.
    import_id: str | None
    # Records written per kind (organisations, services, ...).
    imported: dict[str, int]
    # Rows read and rejected per table.
    read: dict[str, int]
    rejected_rows: dict[str, int]
    # Rows read but not used (each with a warning), and records of the input the directory
    # held already (merged with what is stored), per table.
    skipped_rows: dict[str, int] = {}
    merged: dict[str, int] = {}
    # Nested objects repeating an id given before in the input, merged into the first.
    repeated: dict[str, int] = {}
    rejected: list[RowProblem]
    warnings: list[RowProblem]


def _row_problem(problem: Problem) -> RowProblem:
    """`file:line` apart again; uploaded file names hold no ':' (see `_file_name`)."""
    file, _, line = problem.where.partition(":")
    return RowProblem(
        file=file,
        line=int(line) if line.isdigit() else (line or None),
        field=problem.field,
        message=problem.message,
    )


def _result(report: ImportReport, *, strict: bool) -> ImportResult:
    return ImportResult(
        strict=strict,
        import_id=report.import_id,
        imported=report.written,
        read=dict(report.read),
        rejected_rows=dict(report.rejected),
        skipped_rows=dict(report.skipped),
        merged=dict(report.merged),
        repeated=dict(report.repeated),
        rejected=[_row_problem(p) for p in report.errors],
        warnings=[_row_problem(p) for p in report.warnings],
    )


def _file_name(given: str | None, default: str) -> str:
    name = PurePath((given or "").replace("\\", "/")).name.replace(":", "_").strip()
    return name or default


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        413,
        f"the upload is larger than {limit} bytes (HOMEWARD_IMPORT_MAX_BYTES); split it, "
        "or import it with `homeward import`",
    )


def _unreadable(exc: MalformedInput) -> HTTPException:
    """413 for a file that unpacks beyond any real one's size, 422 for any other."""
    return HTTPException(413 if isinstance(exc, UnpacksTooLarge) else 422, exc.message)


async def _upload(request: Request, limit: int, default_name: str) -> tuple[str, bytes]:
    """The uploaded file's name and content, refusing more than `limit` bytes of body."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise _too_large(limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(415, "send the file as multipart/form-data, in a field named 'file'")

    async def counted() -> AsyncGenerator[bytes, None]:
        # A body without a (truthful) Content-Length is stopped here as it arrives.
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise _too_large(limit)
            yield chunk

    parser = MultiPartParser(request.headers, counted(), max_files=1, max_fields=20)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise HTTPException(400, f"not a readable multipart upload: {exc.message}") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(422, "no file in the form field 'file'")
        return _file_name(upload.filename, default_name), await upload.read()
    finally:
        await form.close()


async def _report(work: Awaitable[ImportReport], *, strict: bool) -> JSONResponse:
    try:
        report = await work
    except ImportRejected as exc:
        body = _result(exc.report, strict=strict).model_dump()
        return JSONResponse(body | {"message": exc.message}, status_code=422)
    except NotFound as exc:
        raise HTTPException(422, exc.message) from exc
    return JSONResponse(_result(report, strict=strict).model_dump())


StrictQuery = Annotated[
    bool, Query(description="Any rejected row aborts the import; nothing is written.")
]


@router.post("/sheet", response_model=ImportResult)
async def import_sheet_upload(
    request: Request,
    actor: ActorDep,
    graph: GraphDep,
    settings: SettingsDep,
    strict: StrictQuery = False,
    organisation: Annotated[
        str | None, Query(description="Id of the organisation every row belongs to.")
    ] = None,
) -> JSONResponse:
    """A partner's spreadsheet (CSV or XLSX), one row per service."""
    name, data = await _upload(request, settings.import_max_bytes, "upload.csv")
    try:
        sheet = await asyncio.to_thread(
            read_sheet, name, data, organisation_given=organisation is not None
        )
    except MalformedInput as exc:
        raise _unreadable(exc) from exc
    return await _report(
        import_sheet(
            graph,
            sheet,
            strict=strict,
            organisation_id=organisation,
            provenance=Provenance(actor, name),
        ),
        strict=strict,
    )


@router.post("/hsds", response_model=ImportResult)
async def import_hsds_upload(
    request: Request,
    actor: ActorDep,
    graph: GraphDep,
    settings: SettingsDep,
    strict: StrictQuery = False,
    default_country: Annotated[
        str | None,
        Query(description="ISO 3166-1 code for organisations whose sites give no country."),
    ] = None,
) -> JSONResponse:
    """Open Referral HSDS 3.0: a zip of the tabular form, or nested JSON (`*_full.json`)."""
    name, data = await _upload(request, settings.import_max_bytes, "upload.zip")
    try:
        source = await asyncio.to_thread(read_bytes, name, data)
    except MalformedInput as exc:
        raise _unreadable(exc) from exc
    return await _report(
        import_hsds(
            graph,
            source,
            strict=strict,
            default_country=default_country,
            provenance=Provenance(actor, name),
        ),
        strict=strict,
    )


LangQuery = Annotated[
    str, Query(description="Language of the headers: en, de, sq, sr (Latin) or sr-Cyrl.")
]


def _lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise HTTPException(422, f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")
    return lang


@router.get("/template.xlsx", response_class=Response)
async def sheet_template_xlsx(graph: GraphDep, lang: LangQuery = "en") -> Response:
    """The spreadsheet template: headers, an example row, instructions and the valid needs,
    target groups and areas."""
    lang = _lang(lang)
    needs = await graph.read(all_needs)
    groups = await graph.read(all_target_groups)
    facts = await graph.read(directory_facts)
    areas = await graph.read(areas_by_ids, ids=[a.id for a in facts.areas])
    body = await asyncio.to_thread(
        template_xlsx, lang, needs=needs, target_groups=groups, areas=list(areas.values())
    )
    return Response(
        body,
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="homeward-services-{lang}.xlsx"'},
    )


@router.get("/template.csv", response_class=Response)
async def sheet_template_csv(lang: LangQuery = "en") -> Response:
    """The header row and the example row; the lists of valid values are in the XLSX."""
    return Response(
        template_csv(_lang(lang)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="homeward-services-{lang}.csv"'},
    )
