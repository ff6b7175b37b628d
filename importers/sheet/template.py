"""The downloadable template of the spreadsheet import, made from the one mapping table
(`importers.sheet.columns`): headers in the caller's language, one example row marked as
such (the import skips it), and for XLSX the instructions and the valid needs, target
groups and areas."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from core.languages import pick
from core.text import spreadsheet_row
from graph.areas import Area, AreaLevel
from graph.needs import Need
from graph.target_groups import TargetGroup
from importers.sheet.columns import COLUMNS, EXAMPLE_MARK

# Accepted `lang` values: the template's languages, and plain `sr` (Latin script).
LANGUAGES = ("en", "de", "sq", "sr", "sr-Latn", "sr-Cyrl")

SHEET_TITLES = {
    "en": "Services",
    "de": "Angebote",
    "sq": "Shërbimet",
    "sr-Latn": "Usluge",
    "sr-Cyrl": "Услуге",
}
EXAMPLE_NOTE = (
    "Example row (illustrative, invented details): the import skips every row whose Service "
    "id is EXAMPLE. Write your services in the rows below, or over this one after clearing "
    "its Service id."
)
INSTRUCTIONS = [
    "One row per service. Lists inside a cell are separated by ';'.",
    "Needs, target groups, municipalities and languages may be given by code or by name in "
    "English, German, Albanian or Serbian (Latin or Cyrillic); the sheets Needs, Target "
    "groups and Areas list them.",
    "Headers may be in any of these languages too; the columns may come in any order and "
    "optional ones may be left out.",
    f"The example row (Service id {EXAMPLE_MARK}) is skipped on import.",
    "Importing the same file again changes nothing; a changed row updates its service.",
]


def headers(lang: str) -> list[str]:
    return [c.header(lang) for c in COLUMNS]


def example_row() -> list[str]:
    return [c.example for c in COLUMNS]


def template_csv(lang: str) -> bytes:
    """UTF-8 with a byte-order mark (so that Excel reads the letters right) and, outside
    English, ';' between columns, as Excel expects where the decimal mark is a comma."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter="," if lang == "en" else ";", lineterminator="\r\n")
    writer.writerow(spreadsheet_row(headers(lang)))
    writer.writerow(spreadsheet_row(example_row()))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


_LEVELS = [AreaLevel.COUNTRY, AreaLevel.REGION, AreaLevel.MUNICIPALITY, AreaLevel.SETTLEMENT]
_BOLD = Font(bold=True)
_EXAMPLE = Font(italic=True, color="808080")
_REQUIRED = PatternFill("solid", fgColor="FFE699")


def _table(sheet: Worksheet, header: list[str], rows: list[list[str]]) -> None:
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = _BOLD
    for row in rows:
        sheet.append(row)
    # Names of needs and places are text: openpyxl would store one starting with "=" as a
    # formula (core.text.spreadsheet_safe says why that matters).
    for line in sheet.iter_rows():
        for cell in line:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
    sheet.freeze_panes = "A2"
    for index, _ in enumerate(header):
        width = max((len(str(r[index])) for r in [header, *rows] if index < len(r)), default=10)
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(max(width + 2, 10), 60)


def template_xlsx(
    lang: str, *, needs: list[Need], target_groups: list[TargetGroup], areas: list[Area]
) -> bytes:
    workbook = Workbook()
    services = workbook.active
    assert services is not None
    services.title = pick(SHEET_TITLES, lang)
    _table(services, headers(lang), [example_row()])
    for column, cell in zip(COLUMNS, services[1], strict=True):
        if column.required:
            cell.fill = _REQUIRED
        cell.comment = Comment(column.help, "Homeward")
    for cell in services[2]:
        cell.font = _EXAMPLE
    services.cell(2, len(COLUMNS)).comment = Comment(EXAMPLE_NOTE, "Homeward")

    instructions = workbook.create_sheet("Instructions")
    _table(
        instructions,
        ["Column", "Required", "What to write", "Example"],
        [
            [c.header(lang), "yes" if c.required else "", c.help, c.example]
            for c in COLUMNS
            if c.key != "id"
        ]
        + [[COLUMNS[-1].header(lang), "", COLUMNS[-1].help, ""], []]
        + [[text] for text in INSTRUCTIONS],
    )
    _table(
        workbook.create_sheet("Needs"),
        ["Code", "Name", "Broader need", "Name (English)"],
        [[n.code, n.label(lang), n.broader or "", n.label("en")] for n in needs],
    )
    _table(
        workbook.create_sheet("Target groups"),
        ["Code", "Name", "Name (English)"],
        [[g.code, g.label(lang), g.label("en")] for g in target_groups],
    )
    by_id = {a.id: a for a in areas}
    _table(
        workbook.create_sheet("Areas"),
        ["Id", "Name", "Level", "Part of"],
        [
            [
                a.id,
                a.name(lang),
                a.level.value,
                by_id[a.parent_id].name(lang) if a.parent_id in by_id else "",
            ]
            for a in sorted(areas, key=lambda a: (_LEVELS.index(a.level), a.parent_id or "", a.id))
        ],
    )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
