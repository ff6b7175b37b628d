"""Reading a partner's spreadsheet (CSV or XLSX) into rows keyed by the columns of
`importers.sheet.columns`.

CSV comes in whatever encoding the partner's office program wrote: UTF-8 with or without a
byte-order mark, UTF-16 with one (Excel's "Unicode text"), or Windows-1250 / Windows-1252,
told apart by which of the two reads as the letters of the languages used here. The
delimiter (`,`, `;` or tab) is the one the header row uses. A file that cannot be read at
all raises `MalformedInput` naming the file and what is wrong; nothing is imported then.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from importers.bounds import check_cell, check_zip
from importers.rows import MalformedInput, Row
from importers.sheet.columns import COLUMN_BY_KEY, COLUMNS, HeaderMap, header_index, header_key

# The letters of Albanian, German and Serbian Latin beyond ASCII: the encoding that reads
# more of them (and fewer other letters) is the one the file was written in.
_EXPECTED = set("ëËçÇčČćĆđĐšŠžŽäÄöÖüÜßéÉ")
# On a tie (a text whose letters both read alike) the first wins.
LEGACY_ENCODINGS = ("cp1252", "cp1250")
ENCODING_NAMES = {"cp1250": "Windows-1250", "cp1252": "Windows-1252"}
DELIMITERS = (",", ";", "\t")
# A row is a service; a partner's list is never this long, a file this long is a mistake.
MAX_ROWS = 20_000


@dataclass
class Sheet:
    name: str
    columns: HeaderMap
    rows: list[Row] = field(default_factory=list)
    notices: list[tuple[str, str]] = field(default_factory=list)  # where, message


def decode(name: str, data: bytes) -> tuple[str, str | None]:
    """The text of a CSV file and, when it was not UTF-8, the encoding it was read in."""
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(name, data, "utf-8-sig"), None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(name, data, "utf-16"), None
    if b"\x00" in data[:4096]:
        raise MalformedInput(name, "not a CSV file (binary content); save it as CSV or XLSX")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    readings: list[tuple[int, str, str]] = []
    for encoding in LEGACY_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        odd = sum(1 for ch in text if ord(ch) > 127 and ch.isalpha() and ch not in _EXPECTED)
        expected = sum(1 for ch in text if ch in _EXPECTED)
        readings.append((expected - 2 * odd, encoding, text))
    if not readings:
        raise MalformedInput(
            name,
            "not UTF-8, Windows-1250 or Windows-1252 text; save it as 'CSV UTF-8' or as XLSX",
        )
    _, encoding, text = max(readings, key=lambda r: r[0])
    return text, encoding


def _strict(name: str, data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise MalformedInput(
            name, f"starts as {encoding} text but byte {exc.start} is not; save it again"
        ) from exc


def _delimiter(name: str, header_line: str) -> str:
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise MalformedInput(
            f"{name}:1",
            "the header is one column; columns are separated by ',', ';' or tabs "
            f"(found {header_line[:80]!r})",
        )
    return best


def map_header(name: str, header: list[str], *, organisation_given: bool) -> HeaderMap:
    """Which column is which; a header without the required columns, or with one column
    twice, is a malformed file."""
    index = header_index()
    columns = HeaderMap()
    for position, text in enumerate(header):
        text = text.strip()
        if not text:
            continue
        key = index.get(header_key(text))
        if key is None:
            columns.unknown.append(text)
            continue
        if key in columns.positions:
            raise MalformedInput(
                f"{name}:1",
                f"columns {columns.positions[key][1]!r} and {text!r} both mean "
                f"{COLUMN_BY_KEY[key].headers['en']!r}; keep one",
            )
        columns.positions[key] = (position, text)
    required = [
        c for c in COLUMNS if c.required and not (c.key == "organisation" and organisation_given)
    ]
    missing = [c for c in required if c.key not in columns.positions]
    if missing:
        wanted = "; ".join(" / ".join(dict.fromkeys(c.headers.values())) for c in missing)
        raise MalformedInput(
            f"{name}:1",
            f"no column for {wanted} (the header row has {[h for h in header if h][:12]!r}); "
            "download the template for the column names",
        )
    return columns


def _row(name: str, line: int, values: list[str], columns: HeaderMap) -> Row:
    data = {
        key: check_cell(f"{name}:{line} ({header})", values[position].strip())
        if position < len(values)
        else ""
        for key, (position, header) in columns.positions.items()
    }
    return Row(name, line, data)


def _check_size(name: str, count: int) -> None:
    if count > MAX_ROWS:
        raise MalformedInput(name, f"more than {MAX_ROWS} rows; split the file")


def read_csv(name: str, data: bytes, *, organisation_given: bool = False) -> Sheet:
    text, encoding = decode(name, data)
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    if not first_line.strip():
        raise MalformedInput(f"{name}:1", "the first line is empty; it must be the header row")
    delimiter = _delimiter(name, first_line)
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        columns = map_header(name, header, organisation_given=organisation_given)
        sheet = Sheet(name, columns)
        start = reader.line_num + 1
        for values in reader:
            line, start = start, reader.line_num + 1
            if any(v.strip() for v in values):
                sheet.rows.append(_row(name, line, values, columns))
                _check_size(name, len(sheet.rows))
    except csv.Error as exc:
        raise MalformedInput(f"{name}:{reader.line_num}", f"not valid CSV: {exc}") from exc
    if encoding is not None:
        sheet.notices.append(
            (name, f"not UTF-8; read as {ENCODING_NAMES[encoding]} (check the letters ë, č, ü)")
        )
    return sheet


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number or an age typed into a number cell
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def read_xlsx(name: str, data: bytes, *, organisation_given: bool = False) -> Sheet:
    """The first worksheet whose first row is a header of known columns (the template's
    reference sheets are skipped)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise MalformedInput(name, f"not a readable XLSX workbook ({exc})") from exc
    check_zip(name, archive, xml=True)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise MalformedInput(name, f"not a readable XLSX workbook ({exc})") from exc
    except SyntaxError as exc:  # the XML parsers' errors (ParseError and defusedxml's)
        raise MalformedInput(name, f"not a readable XLSX workbook: broken XML ({exc})") from exc
    try:
        problem: MalformedInput | None = None
        for worksheet in workbook.worksheets:
            rows = worksheet.iter_rows(values_only=True)
            header = [_cell(v) for v in next(rows, ())]
            if not any(header):
                continue
            try:
                columns = map_header(
                    f"{name}[{worksheet.title}]", header, organisation_given=organisation_given
                )
            except MalformedInput as exc:
                problem = problem or exc
                continue
            sheet = Sheet(name, columns)
            for line, raw in enumerate(rows, start=2):
                values = [_cell(v) for v in raw]
                if any(v.strip() for v in values):
                    sheet.rows.append(_row(name, line, values, columns))
                    _check_size(name, len(sheet.rows))
            if len(workbook.worksheets) > 1:
                sheet.notices.append((name, f"read the worksheet {worksheet.title!r}"))
            return sheet
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, SyntaxError) as exc:
        raise MalformedInput(name, f"the workbook is damaged ({exc})") from exc
    finally:
        workbook.close()
    raise problem or MalformedInput(name, "no worksheet has a header row")


def read_sheet(name: str, data: bytes, *, organisation_given: bool = False) -> Sheet:
    """A CSV or XLSX file, told apart by its content (a renamed file still reads)."""
    if not data.strip():
        raise MalformedInput(name, "the file is empty")
    if data.startswith(b"PK\x03\x04"):
        return read_xlsx(name, data, organisation_given=organisation_given)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise MalformedInput(name, "an old Excel .xls workbook; save it as .xlsx or CSV")
    if name.lower().endswith((".xlsx", ".xlsm")):
        raise MalformedInput(name, "not a readable XLSX workbook (not a zip file)")
    return read_csv(name, data, organisation_given=organisation_given)
