"""Reading HSDS 3.0 data into rows per table, whatever form it comes in.

Forms: the tabular one (a folder or a zip of CSV files, named as in HSDS, described by
`datapackage.json`), and the nested JSON one (`*_full.json` objects, lists of them, HSDS API
pages with `contents`, NDJSON with one object a line as `/hsds/` serves it, or the
`tabular.json` shape of one list per CSV file). Nested objects are flattened into the same
rows as the CSV files would hold, with their parent's id filled in, so that one set of table
importers reads both. What kind of object each is (organization, service, ...) is told by its
content, whatever the file is called.

What the input gives in full is recorded, for imports merge and never erase
(`importers/hsds/merge.py`): a table present in a tabular package gives every row of that
table (`Source.complete`); a nested array present in an object, even empty, gives that
object's rows of it (`Row.given`); anything else is left as stored.

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
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from core.text import spreadsheet_unsafe
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
# Tables of HSDS 3.1 that Homeward reads: capacities of services (mapped onto Homeward's
# capacity), their units, and the further urls of services and organisations (kept).
TABLE_FILES_31: dict[str, str] = {
    "service_capacity": "service_capacity.csv",
    "units": "unit.csv",
    "urls": "url.csv",
}
# Other names the specification's own examples give these files (its 3.1 example of units
# is `units.csv`; its 3.1 CSV examples name every table in the singular, `service.csv`,
# `organization.csv`, ...), read when the file of the first name is not there.
OTHER_NAMES: dict[str, str] = {
    "units.csv": "units",
    "urls.csv": "urls",
    "organization.csv": "organizations",
    "program.csv": "programs",
    "service.csv": "services",
    "attribute.csv": "attributes",
    "location.csv": "locations",
    "phone.csv": "phones",
    "contact.csv": "contacts",
    "address.csv": "addresses",
    "schedule.csv": "schedules",
    "service_area.csv": "service_areas",
    "required_document.csv": "required_documents",
    "language.csv": "languages",
    "taxonomy.csv": "taxonomies",
    "taxonomy_term.csv": "taxonomy_terms",
    "meta_table_description.csv": "meta_table_descriptions",
    "cost_option.csv": "cost_options",
    "organization_identifier.csv": "organization_identifiers",
}
FILE_TABLES = {name: table for table, name in (TABLE_FILES | TABLE_FILES_31).items()}
FILE_TABLES |= OTHER_NAMES
# Nested arrays of HSDS 3.1 objects -> the 3.1 table of their rows.
NESTED_31: dict[str, dict[str, str]] = {
    "service": {
        "capacities": "service_capacity",
        "additional_urls": "urls",
    },
    "organization": {"additional_websites": "urls"},
}


@dataclass
class Source:
    tables: dict[str, list[Row]] = field(default_factory=dict)
    notices: list[tuple[str, str]] = field(default_factory=list)  # where, message
    # Tables given in full (files of a tabular package): for every record of the import,
    # its rows of these tables are all it has.
    complete: set[str] = field(default_factory=set)
    # Records known already, found by one of their ids: (table, id in the input) -> the
    # Homeward id (filled by `importers.hsds.merge`).
    known_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    # Nested objects repeating an id given before (the organisation of every service of a
    # page), per table: each merged into the first with that id.
    repeated: Counter[str] = field(default_factory=Counter)

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
            # A cell an export kept from running as a formula reads back as it was written.
            cells = [spreadsheet_unsafe(v) for v in values]
            row = Row(name, line, dict(zip(header, cells, strict=False)))
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
    paths = {table: _join(root, name) for table, name in (TABLE_FILES | TABLE_FILES_31).items()}
    for other, of_table in OTHER_NAMES.items():
        if paths[of_table] not in files.names and _join(root, other) in files.names:
            paths[of_table] = _join(root, other)
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
        source.complete.add(table)
        for row in read_csv(PurePosixPath(path).name, files.read(path)):
            source.add(table, row)
    if not found:
        raise MalformedInput(files.label, "no HSDS table (organizations.csv, services.csv, ...)")
    known = set(paths.values()) | {descriptor}
    for name in sorted(files.names):
        inside = name.startswith(f"{root}/") if root else "/" not in name
        if inside and name not in known and name.lower().endswith(".csv"):
            source.notices.append((name, "not an HSDS table Homeward reads; ignored"))
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
        self.repeated: Counter[str] = Counter()
        # Nested fields Homeward does not read ("service.capacities" of HSDS 3.1 are read;
        # others are not), with how many objects have them.
        self.unknown: Counter[str] = Counter()

    def extension(self, kind: str, own_id: str, table: str, items: list[Any], at: str) -> None:
        """Rows of an HSDS 3.1 table from a nested array, with their parent's id."""
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            data = {k: _scalar(v) for k, v in item.items() if not isinstance(v, dict | list)}
            data[f"{kind}_id"] = own_id
            unit = item.get("unit")
            if isinstance(unit, dict):
                data["unit_id"] = _scalar(unit.get("id"))
                data["unit_name"] = _scalar(unit.get("name"))
            self.source.add(table, Row(self.file, f"{at}/{i}", data))

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
        given: set[str] = set()
        for name, value in obj.items():
            extension = NESTED_31.get(kind, {}).get(name)
            if extension is not None and isinstance(value, list):
                self.extension(kind, own_id, extension, value, f"{pointer}/{name}")
                continue
            if (
                isinstance(value, dict | list)
                and name not in nested
                and name
                not in (
                    "attributes",
                    "metadata",
                )
            ):
                self.unknown[f"{kind}.{name}"] += 1
                continue
            if name in ("attributes", "metadata") and isinstance(value, list):
                child = "attribute" if name == "attributes" else "metadata"
                given.add(KIND_TABLES[child])
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
                    given.add(KIND_TABLES[child])
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
            first.given |= given
            self.repeated[table] += 1
            return own_id
        row = Row(self.file, pointer or "/", data, given=frozenset(given))
        if own_id:
            self.seen[seen_key] = row
        self.source.add(table, row)
        return own_id


# Fields that tell a kind of HSDS object, each kind after those that may share them (a
# location may have an `organization_id`, as a service does; a service an `email`, as an
# organisation does).
_KIND_FIELDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("service_at_location", frozenset({"service_id", "service"})),
    (
        "location",
        frozenset(
            {"location_type", "latitude", "longitude", "addresses", "accessibility"}
            | {"transportation", "external_identifier"}
        ),
    ),
    (
        "service",
        frozenset(
            {"status", "service_at_locations", "service_areas", "eligibility_description"}
            | {"application_process", "fees_description", "program_id", "organization_id"}
        ),
    ),
    ("taxonomy_term", frozenset({"taxonomy_id", "taxonomy_detail", "parent_id", "term_uri"})),
    (
        "organization",
        frozenset(
            {"services", "organization_identifiers", "year_incorporated", "legal_status"}
            | {"parent_organization_id", "website", "email", "tax_id", "logo", "programs"}
            | {"funding", "locations"}
        ),
    ),
    ("taxonomy", frozenset({"version"})),
)
_FILE_KINDS = ("service_at_location", "organization", "service", "taxonomy_term", "taxonomy")


def _kind_of(file: str, item: dict[str, Any]) -> str | None:
    """The kind of an HSDS object by its fields; the file name only when they say nothing
    (an object with only an id and a name)."""
    keys = set(item)
    for kind, fields in _KIND_FIELDS:
        if keys & fields and "id" in keys:
            return kind
    stem = PurePosixPath(file).stem.lower()
    for prefix in (*_FILE_KINDS, "location"):
        if stem.startswith(prefix):
            return prefix
    if {"name", "description"} >= keys - {"id", "attributes", "metadata"} and "name" in keys:
        # A taxonomy has no field an organisation lacks; an organisation without its own
        # fields is most likely what a directory file holds.
        return "organization"
    return None


def _ndjson(name: str, text: str) -> list[tuple[str, Any]]:
    """(line number, object) of each non-blank line of NDJSON."""
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((str(number), json.loads(line)))
        except json.JSONDecodeError as exc:
            raise MalformedInput(f"{name}:{number}", f"not valid JSON: {exc.msg}") from exc
    return items


def read_json(name: str, data: bytes) -> Source:
    """A JSON document (an object, a list, a page) or NDJSON (one object a line)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedInput(name, f"not UTF-8 text (byte {exc.start})") from exc
    check_json_depth(name, text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        # A second value after the first, on a line of its own: NDJSON.
        if exc.msg != "Extra data" or text[: exc.pos].count("\n") != exc.lineno - 1:
            raise MalformedInput(f"{name}:{exc.lineno}", f"not valid JSON: {exc.msg}") from exc
        return _objects(name, _ndjson(name, text))
    if isinstance(document, dict) and document and all(k.endswith(".csv") for k in document):
        return _tabular_json(name, document)
    if isinstance(document, dict) and isinstance(document.get("contents"), list):
        items = document["contents"]
        return _objects(name, [(f"/contents/{i}", item) for i, item in enumerate(items)])
    if isinstance(document, dict):
        return _objects(name, [("", document)])
    if not isinstance(document, list):
        raise MalformedInput(name, "expected an HSDS object, a list of them or a page")
    return _objects(name, [(f"/{i}", item) for i, item in enumerate(document)])


def _objects(name: str, items: list[tuple[str, Any]]) -> Source:
    flat = _Flattener(name)
    for where, item in items:
        kind = _kind_of(name, item) if isinstance(item, dict) else None
        if kind is None:
            raise MalformedInput(
                f"{name}:{where or '/'}",
                "cannot tell which HSDS object this is (organization, service, ...)",
            )
        flat.emit(kind, item, where, {})
    flat.source.repeated = flat.repeated
    for field_name, count in sorted(flat.unknown.items()):
        flat.source.notices.append(
            (
                name,
                f"{field_name} ({count} object(s)) is not HSDS 3.0 and Homeward does not "
                "read it; ignored",
            )
        )
    return flat.source


def _tabular_json(name: str, document: dict[str, Any]) -> Source:
    source = Source()
    for file, rows in document.items():
        table = FILE_TABLES.get(file)
        if table is None or not isinstance(rows, list):
            source.notices.append((f"{name}:/{file}", "not an HSDS table; ignored"))
            continue
        source.complete.add(table)
        for i, row in enumerate(rows):
            data = {k: _scalar(v) for k, v in row.items()} if isinstance(row, dict) else {}
            source.add(table, Row(name, f"/{file}/{i}", data))
    return source


# --- entry points ---------------------------------------------------------------------------


def read_path(path: Path) -> Source:
    if not path.exists():
        raise MalformedInput(str(path), "no such file or folder")
    if path.is_dir():
        json_files = sorted(
            p for p in path.iterdir() if p.suffix.lower() in (".json", ".ndjson", ".jsonl")
        )
        if not any(path.glob("*.csv")) and json_files:
            return _merge([read_json(p.name, p.read_bytes()) for p in json_files])
        return read_tabular(_folder(path))
    return read_bytes(path.name, path.read_bytes())


def read_bytes(name: str, data: bytes) -> Source:
    """An uploaded or named file: a zip of the tabular form, or a JSON document."""
    if data[:4] == b"PK\x03\x04" or name.lower().endswith(".zip"):
        return read_tabular(_zip(name, data))
    if name.lower().endswith((".json", ".ndjson", ".jsonl")) or data.lstrip()[:1] in (b"{", b"["):
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
        merged.complete |= source.complete
        merged.repeated += source.repeated
        for table, rows in source.tables.items():
            merged.tables.setdefault(table, []).extend(rows)
    return merged
