"""Reading HSDS 3.0 data into rows per table, whatever form it comes in.

Forms: the tabular one (a folder or a zip of CSV files, named as in HSDS, described by
`datapackage.json`), and the nested JSON one (`*_full.json` objects, lists of them, HSDS API
pages with `contents`, or the `tabular.json` shape of one list per CSV file). Nested objects
are flattened into the same rows as the CSV files would hold, with their parent's id filled
in, so that one set of table importers reads both.

Every row knows where it came from: `file:line` for CSV (the line the row starts on), and
`file:/json/pointer` for JSON. A file that cannot be read at all (not CSV, wrong delimiter,
truncated zip, not JSON) raises `MalformedInput`, naming the file and what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from importers.bounds import check_json_depth, check_zip
from importers.rows import MalformedInput, Row

# HSDS 3.0 tables and their file names, as in `datapackage.json` of the specification.
TABLE_FILES: dict[str, str] = {
    "organizations": "organizations.csv",
    "programs": "programs.csv",
    "services": "services.csv",
    "attributes": "attributes.csv",
    "service_at_location": "service_at_location.csv",
    "locations": "locations.csv",
    "phones": "phones.csv",
    "contacts": "contacts.csv",
    "addresses": "addresses.csv",
    "schedules": "schedules.csv",
    "funding": "funding.csv",
    "service_areas": "service_areas.csv",
    "required_documents": "required_documents.csv",
    "languages": "languages.csv",
    "accessibility": "accessibility.csv",
    "taxonomies": "taxonomies.csv",
    "taxonomy_terms": "taxonomy_terms.csv",
    "metadata": "metadata.csv",
    "meta_table_descriptions": "meta_table_descriptions.csv",
    "cost_options": "cost_options.csv",
    "organization_identifiers": "organization_identifiers.csv",
}
FILE_TABLES = {name: table for table, name in TABLE_FILES.items()}


@dataclass
class Source:
    tables: dict[str, list[Row]] = field(default_factory=dict)
    notices: list[tuple[str, str]] = field(default_factory=list)  # where, message

    def rows(self, table: str) -> list[Row]:
        return self.tables.get(table, [])

    def add(self, table: str, row: Row) -> None:
        self.tables.setdefault(table, []).append(row)


# --- CSV -------------------------------------------------------------------------------


# Undecodable bytes, as `surrogateescape` leaves them.
BAD_BYTES = re.compile("[\udc80-\udcff]")


def read_csv(name: str, data: bytes) -> Iterator[Row]:
    """Rows of one CSV file; a file that is not comma-separated text raises."""
    if b"\x00" in data[:65536]:
        raise MalformedInput(name, "not a CSV file (binary content)")
    # Undecodable bytes survive as surrogates, so that the rows they are in can be reported
    # and the others imported.
    text = data.decode("utf-8-sig", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
            raise MalformedInput(
                f"{name}:1", "the header is one column; HSDS CSV files are comma-separated"
            )
        if "id" not in header:
            raise MalformedInput(f"{name}:1", f"no 'id' column in the header {header!r}")
        # Searched once for the whole file: most files have none, and then no value needs
        # a look of its own.
        suspect = BAD_BYTES.search(text) is not None
        width = len(header)
        start = reader.line_num + 1
        for values in reader:
            line, start = start, reader.line_num + 1
            if not "".join(values).strip():
                continue
            row = Row(name, line, dict(zip(header, values, strict=False)))
            if len(values) != width:
                row.problems.append(("(row)", f"has {len(values)} fields, the header has {width}"))
            if suspect:
                for key, value in row.data.items():
                    if BAD_BYTES.search(value):
                        row.problems.append((key, "not UTF-8 text; save the file as UTF-8"))
                        row.data[key] = value.encode("utf-8", "surrogateescape").decode(
                            "utf-8", "replace"
                        )
            yield row
    except csv.Error as exc:
        raise MalformedInput(f"{name}:{reader.line_num}", f"not valid CSV: {exc}") from exc


# --- folders and zips ----------------------------------------------------------------------


class _Files:
    """The files of a folder or a zip, by path relative to the package root."""

    def __init__(self, names: dict[str, Any], reader: Any, label: str) -> None:
        self.names = names
        self.reader = reader
        self.label = label

    def read(self, name: str) -> bytes:
        data: bytes = self.reader(self.names[name])
        return data


def _folder(path: Path) -> _Files:
    names = {p.relative_to(path).as_posix(): p for p in path.rglob("*") if p.is_file()}
    return _Files(names, lambda p: p.read_bytes(), path.name)


def _zip(name: str, data: bytes) -> _Files:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise MalformedInput(name, f"not a readable zip file ({exc})") from exc
    # Inflating every member once also checks each one's checksum.
    check_zip(name, archive)
    names = {i.filename: i.filename for i in archive.infolist() if not i.is_dir()}

    def read(member: str) -> bytes:
        try:
            return archive.read(member)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise MalformedInput(f"{name}/{member}", f"cannot be read ({exc})") from exc

    return _Files(names, read, name)


def _package_root(files: _Files) -> str:
    """The folder inside the package that holds datapackage.json or the CSV files."""
    candidates = sorted(
        (n for n in files.names if PurePosixPath(n).name == "datapackage.json"),
        key=lambda n: n.count("/"),
    )
    if candidates:
        return str(PurePosixPath(candidates[0]).parent).removeprefix(".")
    tables = sorted(
        (n for n in files.names if PurePosixPath(n).name in FILE_TABLES), key=lambda n: n.count("/")
    )
    return str(PurePosixPath(tables[0]).parent).removeprefix(".") if tables else ""


def _join(root: str, name: str) -> str:
    return f"{root}/{name}" if root else name


def read_tabular(files: _Files) -> Source:
    source = Source()
    root = _package_root(files)
    paths = {table: _join(root, name) for table, name in TABLE_FILES.items()}
    descriptor = _join(root, "datapackage.json")
    if descriptor in files.names:
        raw = files.read(descriptor)
        try:
            package = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            source.notices.append(
                (
                    "datapackage.json",
                    f"not JSON (it holds {raw[:60].decode('utf-8', 'replace')!r}, perhaps a "
                    "link that was not followed); tables are read by their HSDS file names",
                )
            )
            package = None
        for resource in (package or {}).get("resources", []) if isinstance(package, dict) else []:
            path = resource.get("path") if isinstance(resource, dict) else None
            table = FILE_TABLES.get(PurePosixPath(path).name) if isinstance(path, str) else None
            if table is not None and isinstance(path, str):
                paths[table] = _join(root, path)
    found = False
    for table, path in paths.items():
        if path not in files.names:
            continue
        found = True
        for row in read_csv(PurePosixPath(path).name, files.read(path)):
            source.add(table, row)
    if not found:
        raise MalformedInput(files.label, "no HSDS table (organizations.csv, services.csv, ...)")
    return source


# --- nested JSON ----------------------------------------------------------------------------

# For each kind of object: its nested fields -> (kind of the nested object, whether it is a
# list). A nested object's parent id goes into the child's `<parent>_id` field where HSDS
# has one; attributes get `link_id` and `link_entity` instead.
NESTED: dict[str, dict[str, tuple[str, bool]]] = {
    "organization": {
        "funding": ("funding", True),
        "contacts": ("contact", True),
        "phones": ("phone", True),
        "locations": ("location", True),
        "programs": ("program", True),
        "organization_identifiers": ("organization_identifier", True),
        "services": ("service", True),
    },
    "service": {
        "phones": ("phone", True),
        "schedules": ("schedule", True),
        "service_areas": ("service_area", True),
        "service_at_locations": ("service_at_location", True),
        "languages": ("language", True),
        "organization": ("organization", False),
        "funding": ("funding", True),
        "cost_options": ("cost_option", True),
        "program": ("program", False),
        "required_documents": ("required_document", True),
        "contacts": ("contact", True),
    },
    "service_at_location": {
        "contacts": ("contact", True),
        "phones": ("phone", True),
        "schedules": ("schedule", True),
        "location": ("location", False),
        "service": ("service", False),
    },
    "location": {
        "languages": ("language", True),
        "addresses": ("address", True),
        "contacts": ("contact", True),
        "accessibility": ("accessibility", True),
        "phones": ("phone", True),
        "schedules": ("schedule", True),
    },
    "contact": {"phones": ("phone", True)},
    "phone": {"languages": ("language", True)},
    "attribute": {"taxonomy_term": ("taxonomy_term", False)},
    "taxonomy_term": {"taxonomy_detail": ("taxonomy", False)},
}
KIND_TABLES = {
    "organization": "organizations",
    "service": "services",
    "service_at_location": "service_at_location",
    "location": "locations",
    "phone": "phones",
    "contact": "contacts",
    "schedule": "schedules",
    "service_area": "service_areas",
    "language": "languages",
    "funding": "funding",
    "cost_option": "cost_options",
    "program": "programs",
    "required_document": "required_documents",
    "attribute": "attributes",
    "metadata": "metadata",
    "address": "addresses",
    "accessibility": "accessibility",
    "organization_identifier": "organization_identifiers",
    "taxonomy_term": "taxonomy_terms",
    "taxonomy": "taxonomies",
    "meta_table_description": "meta_table_descriptions",
}
# The id field a nested single object fills in on its parent.
OBJECT_KEYS = {
    "organization": "organization_id",
    "program": "program_id",
    "location": "location_id",
    "service": "service_id",
    "taxonomy_term": "taxonomy_term_id",
    "taxonomy_detail": "taxonomy_id",
}


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Flattener:
    def __init__(self, file: str) -> None:
        self.file = file
        self.source = Source()
        self.seen: dict[tuple[str, str], Row] = {}

    def emit(self, kind: str, obj: Any, pointer: str, inherited: dict[str, str]) -> str | None:
        if not isinstance(obj, dict):
            row = Row(self.file, pointer or "/", {})
            row.problems.append(("(object)", f"expected a JSON object for {kind}"))
            self.source.add(KIND_TABLES[kind], row)
            return None
        data = {k: _scalar(v) for k, v in obj.items() if not isinstance(v, dict | list)}
        for key, value in inherited.items():
            if not data.get(key):
                data[key] = value
        own_id = data.get("id", "")
        nested = NESTED.get(kind, {})
        for name, value in obj.items():
            if name in ("attributes", "metadata") and isinstance(value, list):
                child = "attribute" if name == "attributes" else "metadata"
                for i, item in enumerate(value):
                    links = (
                        {"link_id": own_id, "link_entity": kind}
                        if child == "attribute"
                        else {"resource_id": own_id, "resource_type": kind}
                    )
                    self.emit(child, item, f"{pointer}/{name}/{i}", links)
            elif name in nested:
                child, many = nested[name]
                fk = {f"{kind}_id": own_id} if kind != "taxonomy_term" else {}
                if kind == "organization" and child == "service":
                    fk = {"organization_id": own_id}
                if many and isinstance(value, list):
                    for i, item in enumerate(value):
                        self.emit(child, item, f"{pointer}/{name}/{i}", fk)
                elif not many and isinstance(value, dict):
                    child_id = self.emit(child, value, f"{pointer}/{name}", {})
                    if child_id and not data.get(OBJECT_KEYS[name]):
                        data[OBJECT_KEYS[name]] = child_id
        table = KIND_TABLES[kind]
        seen_key = (table, own_id)
        if own_id and seen_key in self.seen:
            first = self.seen[seen_key]
            for k, v in data.items():
                if v and not first.data.get(k):
                    first.data[k] = v
            return own_id
        row = Row(self.file, pointer or "/", data)
        if own_id:
            self.seen[seen_key] = row
        self.source.add(table, row)
        return own_id


def _kind_of(file: str, item: dict[str, Any]) -> str | None:
    stem = PurePosixPath(file).stem.lower()
    for prefix in (
        "service_at_location",
        "organization",
        "service",
        "taxonomy_term",
        "taxonomy",
        "location",
    ):
        if stem.startswith(prefix):
            return prefix
    if "services" in item or "organization_identifiers" in item:
        return "organization"
    if "service_at_locations" in item or "status" in item:
        return "service"
    if "location" in item and "service_id" in item:
        return "service_at_location"
    return None


def read_json(name: str, data: bytes) -> Source:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedInput(name, f"not UTF-8 text (byte {exc.start})") from exc
    check_json_depth(name, text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedInput(f"{name}:{exc.lineno}", f"not valid JSON: {exc.msg}") from exc
    if isinstance(document, dict) and document and all(k.endswith(".csv") for k in document):
        return _tabular_json(name, document)
    pointer: str | None = ""
    items: Any = document
    if isinstance(document, dict) and isinstance(document.get("contents"), list):
        items, pointer = document["contents"], "/contents"
    elif isinstance(document, dict):
        items, pointer = [document], None
    if not isinstance(items, list):
        raise MalformedInput(name, "expected an HSDS object, a list of them or a page")
    flat = _Flattener(name)
    for i, item in enumerate(items):
        where = f"{pointer}/{i}" if pointer is not None else ""
        kind = _kind_of(name, item) if isinstance(item, dict) else None
        if kind is None:
            raise MalformedInput(
                f"{name}:{where or '/'}",
                "cannot tell which HSDS object this is (organization, service, ...)",
            )
        flat.emit(kind, item, where, {})
    return flat.source


def _tabular_json(name: str, document: dict[str, Any]) -> Source:
    source = Source()
    for file, rows in document.items():
        table = FILE_TABLES.get(file)
        if table is None or not isinstance(rows, list):
            source.notices.append((f"{name}:/{file}", "not an HSDS table; ignored"))
            continue
        for i, row in enumerate(rows):
            data = {k: _scalar(v) for k, v in row.items()} if isinstance(row, dict) else {}
            source.add(table, Row(name, f"/{file}/{i}", data))
    return source


# --- entry points ---------------------------------------------------------------------------


def read_path(path: Path) -> Source:
    if not path.exists():
        raise MalformedInput(str(path), "no such file or folder")
    if path.is_dir():
        json_files = sorted(path.glob("*.json"))
        if not any(path.glob("*.csv")) and json_files:
            return _merge([read_json(p.name, p.read_bytes()) for p in json_files])
        return read_tabular(_folder(path))
    return read_bytes(path.name, path.read_bytes())


def read_bytes(name: str, data: bytes) -> Source:
    """An uploaded or named file: a zip of the tabular form, or a JSON document."""
    if data[:4] == b"PK\x03\x04" or name.lower().endswith(".zip"):
        return read_tabular(_zip(name, data))
    if name.lower().endswith(".json") or data.lstrip()[:1] in (b"{", b"["):
        return read_json(name, data)
    if name.lower().endswith(".csv"):
        raise MalformedInput(
            name, "a single CSV file is not an HSDS package: give the folder or a zip of it"
        )
    raise MalformedInput(name, "neither a zip of HSDS CSV files nor HSDS JSON")


def _merge(sources: list[Source]) -> Source:
    merged = Source()
    for source in sources:
        merged.notices += source.notices
        for table, rows in source.tables.items():
            merged.tables.setdefault(table, []).extend(rows)
    return merged
