"""The HSDS 3.0 JSON Schemas (Open Referral, CC BY-SA 4.0; copied in `schema/`): validators,
the columns of each table, and typing of tabular values for the JSON form."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"

# Table -> the schema of one of its rows.
TABLE_SCHEMAS = {
    "organizations": "organization",
    "programs": "program",
    "services": "service",
    "attributes": "attribute",
    "service_at_location": "service_at_location",
    "locations": "location",
    "phones": "phone",
    "contacts": "contact",
    "addresses": "address",
    "schedules": "schedule",
    "funding": "funding",
    "service_areas": "service_area",
    "required_documents": "required_document",
    "languages": "language",
    "accessibility": "accessibility",
    "taxonomies": "taxonomy",
    "taxonomy_terms": "taxonomy_term",
    "metadata": "metadata",
    "meta_table_descriptions": "meta_table_description",
    "cost_options": "cost_option",
    "organization_identifiers": "organization_identifier",
}


@lru_cache(maxsize=64)
def schema(name: str) -> dict[str, Any]:
    """`service`, or `compiled/service_list`."""
    data: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=1)
def _registry() -> Registry[Any]:
    resources = [
        (path.name, Resource.from_contents(schema(path.stem), default_specification=DRAFT202012))
        for path in SCHEMA_DIR.glob("*.json")
    ]
    return Registry().with_resources(resources)


@lru_cache(maxsize=64)
def validator(name: str) -> Draft202012Validator:
    """A validator of one HSDS object, its `$ref`s resolved against the copied schemas."""
    return Draft202012Validator(schema(name), registry=_registry(), format_checker=FormatChecker())


def problems(name: str, instance: Any) -> list[str]:
    """Every way `instance` breaks schema `name`, as `path: message`."""
    return [
        f"/{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator(name).iter_errors(instance)
    ]


@lru_cache(maxsize=32)
def table_columns(table: str) -> tuple[tuple[str, str], ...]:
    """(column, JSON type) of a table: the schema's properties that are not nested."""
    properties = schema(TABLE_SCHEMAS[table])["properties"]
    return tuple(
        (name, str(spec.get("type")))
        for name, spec in properties.items()
        if "$ref" not in spec and spec.get("type") not in ("array", "object", None)
    )


@lru_cache(maxsize=32)
def _typing(table: str) -> tuple[dict[str, str], frozenset[str]]:
    """Column types and required columns of a table (asked for every row)."""
    return dict(table_columns(table)), frozenset(schema(TABLE_SCHEMAS[table]).get("required", []))


def typed(table: str, row: dict[str, str]) -> dict[str, Any]:
    """A tabular row (strings) with the JSON types the schema gives its columns; empty values
    left out unless the schema requires the field. A value that is not of its type stays a
    string (and fails validation)."""
    types, required = _typing(table)
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or (value == "" and key not in required):
            continue
        kind = types.get(key)
        if kind in ("number", "integer") and isinstance(value, str):
            try:
                number = float(value)
                out[key] = int(number) if number.is_integer() else number
            except ValueError:
                out[key] = value
        elif kind == "boolean" and isinstance(value, str):
            out[key] = value.lower() == "true"
        else:
            out[key] = value
    return out
