"""HSDS 3.0 export: the directory as HSDS tables, written as CSV files with
`datapackage.json` (folder or zip) or as nested JSON, following Homeward's profile
(`importers/hsds/profile.py`), so that importing an export restores the same records.

`Exporter` turns records into rows per table (strings, as in the CSV files); `Nester` builds
the nested JSON objects of the HSDS API from the same rows, so both forms say the same. The
`/hsds/` read API (`api/hsds.py`) builds its records with the same two, a page at a time
(`nested_services`, `nested_organisations_of`, `nested_sites`).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pycountry

from core.text import spreadsheet_row
from graph.driver import Graph
from graph.hsds import AreaFact, directory_facts
from graph.hsds_ids import site_id
from graph.needs import Need, all_needs
from graph.organisations import Organisation, organisations_after
from graph.programmes import Programme, programmes_by_ids
from graph.services import Location, Service, services_after
from graph.target_groups import TargetGroup, all_target_groups
from importers.hsds.assembly import load_extras
from importers.hsds.profile import (
    AREA_URI_PREFIX,
    GROUPS_TAXONOMY,
    IDENTIFIER_SCHEME,
    NAMESPACE,
    NEEDS_TAXONOMY,
    PROFILE_FIELDS,
    PROFILE_TAXONOMY,
    hsds_id,
    taxonomy_id,
    term_id,
)
from importers.hsds.schemas import TABLE_SCHEMAS, schema, table_columns, typed
from importers.hsds.source import KIND_TABLES, NESTED, OBJECT_KEYS, TABLE_FILES

Row = dict[str, str]
Tables = dict[str, list[Row]]

ATTRIBUTION = (
    "Open Referral, Human Services Data Specification 3.0 (CC BY-SA 4.0), "
    "https://openreferral.org; Homeward profile, see the Homeward README"
)
STATUS = {"temporarily_closed": "temporarily closed"}


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _language_name(code: str) -> str:
    found = (
        pycountry.languages.get(alpha_2=code)
        if len(code) == 2
        else pycountry.languages.get(alpha_3=code)
    )
    return str(found.name) if found is not None else code


@dataclass(frozen=True, slots=True)
class Reference:
    """What every exported record may name: the gazetteer, the taxonomy, the programmes."""

    areas: dict[str, AreaFact]
    needs: list[Need]
    groups: list[TargetGroup]
    programmes: dict[str, Programme]


async def read_reference(graph: Graph) -> Reference:
    facts = await graph.read(directory_facts)
    return Reference(
        areas={a.id: a for a in facts.areas},
        needs=await graph.read(all_needs),
        groups=await graph.read(all_target_groups),
        programmes=await graph.read(programmes_by_ids, ids=facts.programmes),
    )


class Exporter:
    """Rows of every table for records of the directory.

    `public` makes the records of the anonymous HSDS API: services get HSDS's
    `last_modified` (their change date; the file export leaves it out, so that exporting a
    re-imported directory gives the same files), and who last verified an entry (a staff
    member's e-mail address) is left out."""

    def __init__(self, reference: Reference, *, public: bool = False) -> None:
        self.areas = reference.areas
        self.needs = reference.needs
        self.groups = reference.groups
        self.programmes = reference.programmes
        self.public = public
        self.tables: Tables = defaultdict(list)
        self._seen: set[tuple[str, str]] = set()

    def add(self, table: str, row: Mapping[str, object]) -> None:
        key = (table, _text(row.get("id")))
        if key in self._seen:
            return
        self._seen.add(key)
        self.tables[table].append({k: _text(v) for k, v in row.items() if v is not None})

    def _kept(self, extra: str | None) -> dict[str, str]:
        extras = load_extras(extra)
        for table, rows in extras.tables.items():
            for row in rows:
                self.add(table, row)
        return extras.fields

    def _profile(self, entity: str, link_id: str, values: dict[str, Iterable[object]]) -> None:
        for code, items in values.items():
            for index, value in enumerate(items):
                if value is None or value == "":
                    continue
                self.add(
                    "attributes",
                    {
                        "id": _id("attribute", link_id, code, str(index)),
                        "link_id": link_id,
                        "taxonomy_term_id": term_id(PROFILE_TAXONOMY, code),
                        "link_type": "homeward_profile",
                        "link_entity": entity,
                        "value": _text(value),
                    },
                )

    # --- reference data ---------------------------------------------------------------------

    def taxonomy(self) -> None:
        descriptions = {
            NEEDS_TAXONOMY: "What a returnee needs (Homeward needs taxonomy).",
            GROUPS_TAXONOMY: "Who a service is for (Homeward target groups).",
            PROFILE_TAXONOMY: "Fields of Homeward's HSDS profile for return and reintegration "
            "work; each attribute's value holds the field's value.",
        }
        for name, description in descriptions.items():
            self.add(
                "taxonomies",
                {"id": taxonomy_id(name), "name": name, "description": description},
            )
        for kind, terms in ((NEEDS_TAXONOMY, self.needs), (GROUPS_TAXONOMY, self.groups)):
            for term in terms:
                broader = getattr(term, "broader", None)
                self.add(
                    "taxonomy_terms",
                    {
                        "id": term_id(kind, term.code),
                        "code": term.code,
                        "name": term.label("en"),
                        "description": term.description("en") or term.label("en"),
                        "parent_id": term_id(kind, broader) if broader else None,
                        "taxonomy": kind,
                        "taxonomy_id": taxonomy_id(kind),
                        "language": "en",
                    },
                )
        for fields in PROFILE_FIELDS.values():
            for code, description in fields.items():
                self.add(
                    "taxonomy_terms",
                    {
                        "id": term_id(PROFILE_TAXONOMY, code),
                        "code": code,
                        "name": code,
                        "description": description,
                        "taxonomy": PROFILE_TAXONOMY,
                        "taxonomy_id": taxonomy_id(PROFILE_TAXONOMY),
                        "language": "en",
                    },
                )

    def programme(self, programme: Programme) -> str:
        pid = hsds_id("program", programme.id)
        # HSDS requires a description; Homeward holds none, so the name stands in for it.
        self.add("programs", {"id": pid, "name": programme.name, "description": programme.name})
        self._profile(
            "program",
            pid,
            {
                "homeward-id": [programme.id] if programme.id != pid else [],
                "funder": [programme.funder],
                "sending-country": programme.sending_countries,
            },
        )
        return pid

    # --- directory ----------------------------------------------------------------------------

    def organisation(self, org: Organisation) -> str:
        oid = org.hsds_id or hsds_id("organization", org.id)
        fields = self._kept(org.hsds_extra)
        self.add(
            "organizations",
            fields
            | {
                "id": oid,
                "name": org.name,
                "alternate_name": org.alternate_names[0] if org.alternate_names else None,
                "description": org.description or "",
                "email": org.email,
                "website": org.website,
            },
        )
        if org.id != oid:
            self.add(
                "organization_identifiers",
                {
                    "id": _id("identifier", oid),
                    "organization_id": oid,
                    "identifier_scheme": IDENTIFIER_SCHEME,
                    "identifier_type": "Homeward id",
                    "identifier": org.id,
                },
            )
        if org.phone:
            self.add(
                "phones", {"id": _id("phone", oid), "organization_id": oid, "number": org.phone}
            )
        self._profile(
            "organization",
            oid,
            {
                "kind": [org.kind.value],
                "country": [org.country],
                "based-in": [org.based_in] if org.based_in != org.country else [],
                "acronym": [org.acronym],
                "alternate-name": org.alternate_names[1:],
                "independent-of-authorities": [org.independent_of_authorities],
            },
        )
        return oid

    def _area_name(self, area_id: str | None) -> str:
        area = self.areas.get(area_id) if area_id else None
        return (area.name or area.id) if area else ""

    def location(self, loc: Location, organisation: str) -> str:
        lid = loc.hsds_id or hsds_id("location", loc.id)
        fields = self._kept(loc.hsds_extra)
        given = loc.point is not None and loc.point_source != "area centroid"
        external = (
            {}
            if loc.id == lid
            else {
                "external_identifier": loc.id,
                "external_identifier_type": IDENTIFIER_SCHEME,
            }
        )
        self.add(
            "locations",
            {"location_type": "physical"}
            | fields
            | external
            | {
                "id": lid,
                "organization_id": organisation,
                "name": loc.name,
                "latitude": loc.point.lat if given and loc.point else None,
                "longitude": loc.point.lon if given and loc.point else None,
            },
        )
        # Opening hours as plain weekly schedules of the site (tables/schedules.py).
        for hours in loc.opening_hours:
            day = hours.weekday.value
            self.add(
                "schedules",
                {
                    "id": _id("schedule", lid, day, hours.opens),
                    "location_id": lid,
                    "freq": "WEEKLY",
                    "byday": day,
                    "opens_at": f"{hours.opens}:00",
                    "closes_at": f"{hours.closes}:00",
                },
            )
        # No `addresses` row of Homeward's own: HSDS 3.0 requires a postal code (and a town
        # and a region) in every address, and Homeward holds none; the area and the address
        # line travel as profile attributes instead.
        self._profile("location", lid, {"area": [loc.area_id], "address": [loc.address]})
        return lid

    def service(self, service: Service, organisation: str) -> str:
        sid = service.hsds_id or hsds_id("service", service.id)
        fields = self._kept(service.hsds_extra)
        programmes = [self.programmes[p] for p in service.programme_ids if p in self.programmes]
        self.add(
            "services",
            fields
            | {
                "id": sid,
                "organization_id": organisation,
                "program_id": hsds_id("program", programmes[0].id) if programmes else None,
                "name": service.name,
                "description": service.description,
                "status": STATUS.get(service.status.value, service.status.value),
                "eligibility_description": service.eligibility_description,
                "minimum_age": service.minimum_age,
                "maximum_age": service.maximum_age,
                "fees_description": service.fees_description,
                "application_process": service.referral_method,
            }
            # Without an address of its own, one kept from an import stays.
            | ({"email": service.email} if service.email else {})
            | ({"last_modified": service.updated_at} if self.public else {}),
        )
        if service.phone:
            self.add(
                "phones",
                {"id": _id("phone", sid), "service_id": sid, "number": service.phone},
            )
        for kind, codes in (
            (NEEDS_TAXONOMY, service.need_codes),
            (GROUPS_TAXONOMY, service.target_group_codes),
        ):
            for code in codes:
                self.add(
                    "attributes",
                    {
                        "id": _id("attribute", sid, kind, code),
                        "link_id": sid,
                        "taxonomy_term_id": term_id(kind, code),
                        "link_type": "need" if kind == NEEDS_TAXONOMY else "target_group",
                        "link_entity": "service",
                    },
                )
        capacity_known = service.capacity.value != "unknown" or service.capacity_note
        self._profile(
            "service",
            sid,
            {
                "homeward-id": [service.id] if service.id != sid else [],
                "delivery": [d.value for d in service.delivery],
                "sending-country": service.sending_countries,
                # The eligibility rule's verdict (graph/eligibility.py), so that a reader
                # sees the restriction a programme makes without applying the rule itself.
                "eligible-sending-country": service.restricted_to,
                "return-type": [t.value for t in service.return_types],
                "programme": [p.id for p in programmes[1:]],
                "expected-response-days": [service.expected_response_days],
                "capacity": [service.capacity.value] if capacity_known else [],
                "capacity-note": [service.capacity_note],
                "capacity-date": [service.capacity_date],
                "last-verified-at": [service.last_verified_at],
                "last-verified-by": [] if self.public else [service.last_verified_by],
            },
        )
        for code in service.languages:
            self.add(
                "languages",
                {
                    "id": _id("language", sid, code),
                    "service_id": sid,
                    "name": _language_name(code),
                    "code": code,
                },
            )
        for area in service.covered_area_ids:
            self.add(
                "service_areas",
                {
                    "id": _id("service_area", sid, area),
                    "service_id": sid,
                    "name": self._area_name(area),
                    "uri": AREA_URI_PREFIX + area,
                },
            )
        for loc in service.locations:
            lid = self.location(loc, organisation)
            self.add(
                "service_at_location",
                {"id": site_id(sid, lid), "service_id": sid, "location_id": lid},
            )
        return sid


async def export_tables(graph: Graph, *, page: int = 5000) -> Tables:
    """The whole directory as HSDS rows per table."""
    reference = await read_reference(graph)
    exporter = Exporter(reference)
    exporter.taxonomy()
    for programme in reference.programmes.values():
        exporter.programme(programme)
    organisations: dict[str, str] = {}
    after = ""
    while batch := await graph.read(organisations_after, after=after, limit=page):
        for org in batch:
            organisations[org.id] = exporter.organisation(org)
        after = batch[-1].id
    after = ""
    while services := await graph.read(services_after, after=after, limit=page):
        for service in services:
            exporter.service(service, organisations[service.organisation_id])
        after = services[-1].id
    return dict(exporter.tables)


# --- nesting ----------------------------------------------------------------------------------


class Nester:
    """Nested HSDS objects from rows per table: the reverse of `source._Flattener`."""

    def __init__(self, tables: Tables) -> None:
        self.by_id: dict[str, dict[str, Row]] = {
            table: {r["id"]: r for r in rows if "id" in r} for table, rows in tables.items()
        }
        self.by_key: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
        for table, rows in tables.items():
            for row in rows:
                for key in (
                    "service_id",
                    "location_id",
                    "organization_id",
                    "contact_id",
                    "phone_id",
                    "service_at_location_id",
                    "link_id",
                    "resource_id",
                ):
                    if row.get(key):
                        self.by_key[(table, key, row[key])].append(row)

    def nest(self, kind: str, row: Row, parents: frozenset[str] = frozenset()) -> dict[str, Any]:
        table = KIND_TABLES[kind]
        obj: dict[str, Any] = typed(table, row)
        own = row.get("id", "")
        inside = parents | {kind}
        for name, (child, many) in NESTED.get(kind, {}).items():
            if child in inside:
                continue
            child_table = KIND_TABLES[child]
            if many:
                key = f"{kind}_id"
                obj[name] = [
                    self.nest(child, r, inside)
                    for r in self.by_key.get((child_table, key, own), [])
                ]
            else:
                ref = row.get(OBJECT_KEYS[name], "")
                found = self.by_id.get(child_table, {}).get(ref)
                if found is not None:
                    obj[name] = self.nest(child, found, inside)
        if kind not in ("attribute", "taxonomy_term", "taxonomy", "metadata"):
            obj["attributes"] = [
                self.nest("attribute", r, inside)
                for r in self.by_key.get(("attributes", "link_id", own), [])
            ]
            obj["metadata"] = [
                typed("metadata", r) for r in self.by_key.get(("metadata", "resource_id", own), [])
            ]
        return obj


def nested_organisations(tables: Tables) -> list[dict[str, Any]]:
    nester = Nester(tables)
    return [nester.nest("organization", row) for row in tables.get("organizations", [])]


# --- records of the HSDS API ------------------------------------------------------------------

# Inside a service, its organisation is shown without what a page of services cannot know in
# full (the organisation's other sites, programmes and services), so that a service looks the
# same on every page; `/organizations/{id}` has the rest.
_ORGANISATION_IN_SERVICE_DROPS = ("locations", "programs", "services")


def one_to_one(obj: Mapping[str, Any], *, keep: Iterable[str] = ()) -> dict[str, Any]:
    """An object with only its own fields, without nested lists or objects (the HSDS API's
    list shapes); the single objects named in `keep` stay, themselves reduced the same way."""
    kept = set(keep)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            if key in kept:
                out[key] = one_to_one(value)
        elif not isinstance(value, list):
            out[key] = value
    return out


def _api_exporter(reference: Reference) -> Exporter:
    exporter = Exporter(reference, public=True)
    exporter.taxonomy()
    return exporter


def _add_services(
    exporter: Exporter,
    reference: Reference,
    services: Iterable[Service],
    organisations: Mapping[str, Organisation],
) -> list[str]:
    ids = []
    for service in services:
        first = next((p for p in service.programme_ids if p in reference.programmes), None)
        if first is not None:
            exporter.programme(reference.programmes[first])
        oid = exporter.organisation(organisations[service.organisation_id])
        ids.append(exporter.service(service, oid))
    return ids


def _trim_service(service: dict[str, Any]) -> dict[str, Any]:
    organisation = service.get("organization")
    if isinstance(organisation, dict):
        for key in _ORGANISATION_IN_SERVICE_DROPS:
            organisation.pop(key, None)
    return service


def nested_services(
    reference: Reference,
    services: list[Service],
    organisations: Mapping[str, Organisation],
) -> list[dict[str, Any]]:
    """Fully nested HSDS services, in the order given: the export's rows, nested."""
    exporter = _api_exporter(reference)
    ids = _add_services(exporter, reference, services, organisations)
    nester = Nester(exporter.tables)
    rows = nester.by_id.get("services", {})
    return [_trim_service(nester.nest("service", rows[sid])) for sid in ids]


def nested_organisations_of(
    reference: Reference,
    organisations: list[Organisation],
    services: list[Service],
    *,
    full_services: bool,
) -> list[dict[str, Any]]:
    """Fully nested HSDS organisations, in the order given, with `services` (all of theirs)
    nested fully or reduced to their own fields."""
    exporter = _api_exporter(reference)
    ids = [exporter.organisation(org) for org in organisations]
    _add_services(exporter, reference, services, {o.id: o for o in organisations})
    nester = Nester(exporter.tables)
    rows = nester.by_id.get("organizations", {})
    out = []
    for oid in ids:
        org = nester.nest("organization", rows[oid])
        org["services"] = [
            s if full_services else one_to_one(s, keep=("program",)) for s in org["services"]
        ]
        out.append(org)
    return out


def nested_sites(
    reference: Reference,
    pairs: list[tuple[str, str]],
    services: Mapping[str, Service],
    organisations: Mapping[str, Organisation],
) -> list[dict[str, Any]]:
    """Fully nested HSDS `service_at_location`s for (service id, site id) pairs, in the
    order given; each with its site and its service."""
    exporter = _api_exporter(reference)
    wanted = [services[sid] for sid in dict.fromkeys(sid for sid, _ in pairs)]
    hsds_services = dict(
        zip(
            [s.id for s in wanted],
            _add_services(exporter, reference, wanted, organisations),
            strict=True,
        )
    )
    nester = Nester(exporter.tables)
    out = []
    for sid, lid in pairs:
        location = next(loc for loc in services[sid].locations if loc.id == lid)
        key = site_id(hsds_services[sid], location.hsds_id or hsds_id("location", lid))
        site = nester.nest("service_at_location", nester.by_id["service_at_location"][key])
        if isinstance(site.get("service"), dict):
            _trim_service(site["service"])
        out.append(site)
    return out


# --- files ----------------------------------------------------------------------------------


def _csv(table: str, rows: list[Row]) -> bytes:
    columns = [name for name, _ in table_columns(table)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    # Names and descriptions come from every organisation: none may run as a formula in the
    # spreadsheet an HSDS file is opened in (core.text.spreadsheet_safe).
    writer.writerows(dict(zip(row, spreadsheet_row(row.values()), strict=True)) for row in rows)
    return out.getvalue().encode("utf-8")


# JSON Schema types and formats of the HSDS schemas -> Frictionless Table Schema ones.
_FIELD_FORMATS = {"uuid": "uuid", "uri": "uri", "email": "email"}


def _field(name: str, spec: dict[str, Any], required: bool) -> dict[str, Any]:
    kind = spec.get("datapackage_type") or spec.get("type") or "string"
    field: dict[str, Any] = {"name": name, "type": kind}
    if spec.get("title"):
        field["title"] = spec["title"]
    if spec.get("description"):
        field["description"] = spec["description"]
    if kind == "string" and spec.get("format") in _FIELD_FORMATS:
        field["format"] = _FIELD_FORMATS[spec["format"]]
    constraints = {
        k: v
        for k, v in (spec.get("constraints") or {}).items()
        if k in ("unique", "enum", "minimum", "maximum", "pattern")
    }
    if "enum" in spec:
        constraints["enum"] = spec["enum"]
    constraints["required"] = required
    field["constraints"] = constraints
    return field


def datapackage(tables: Iterable[str]) -> dict[str, Any]:
    """The HSDS 3.0 `datapackage.json`, built as the specification builds it from its table
    schemas (`schema/*.json`: their `path`, `datapackage_metadata`, properties, types,
    formats, constraints and required fields), so that `frictionless validate` checks an
    export against HSDS itself rather than against a description of the export."""
    resources = []
    for table in tables:
        spec = schema(TABLE_SCHEMAS[table])
        required = set(spec.get("required", []))
        columns = {name for name, _ in table_columns(table)}
        metadata = spec.get("datapackage_metadata", {})
        resources.append(
            {
                "name": spec["name"],
                "path": spec.get("path", TABLE_FILES[table]),
                "description": spec.get("description", ""),
                "profile": metadata.get("profile", "tabular-data-resource"),
                "format": metadata.get("format", "csv"),
                "mediatype": metadata.get("mediatype", "text/csv"),
                "encoding": "utf-8",
                "schema": {
                    "fields": [
                        _field(name, field_spec, name in required)
                        for name, field_spec in spec["properties"].items()
                        if name in columns
                    ],
                    "primaryKey": ["id"],
                },
            }
        )
    return {
        "name": "human_services_data",
        "title": "Human Services Data Specification 3.0: Homeward directory",
        "version": "3.0",
        "profile": "tabular-data-package",
        "licenses": [{"name": "CC-BY-SA-4.0", "title": ATTRIBUTION}],
        "resources": resources,
    }


def tabular_files(tables: Tables) -> dict[str, bytes]:
    """File name -> content of the tabular form: every HSDS table (empty ones with their
    header) and `datapackage.json`."""
    files = {TABLE_FILES[t]: _csv(t, tables.get(t, [])) for t in TABLE_FILES}
    files["datapackage.json"] = json.dumps(datapackage(TABLE_FILES), indent=2).encode("utf-8")
    return files


def write_tabular(tables: Tables, out: Path) -> None:
    """A folder, or a zip when `out` ends in `.zip`."""
    files = tabular_files(tables)
    if out.suffix == ".zip":
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(name, data)
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)


def write_json(tables: Tables, out: Path) -> None:
    """One JSON list of fully nested organisations, each with its services."""
    out.write_text(
        json.dumps(nested_organisations(tables), ensure_ascii=False, indent=1), encoding="utf-8"
    )
