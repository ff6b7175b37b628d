"""Imports merge, never erase: what the input does not say is taken from the directory.

HSDS records travel partial on purpose: the API's list items "need not contain arrays of
child entities", and a service on a page of services at locations carries neither its
attributes nor its languages. So before the rows are read, every organisation, service, site
and programme of the input that the directory knows already (by its Homeward id, the HSDS id
it was imported with, or the HSDS id Homeward gives it) is exported as HSDS rows, the same
rows `/hsds/` and the file export give, and merged under the input:

- a field absent from the input's row is the stored one; a field present, even empty, is
  the input's;
- a child table the input gives for the record (a nested array present, even `[]`, or the
  table's file in a tabular package) replaces the stored rows; one it does not give keeps
  them;
- what the kept rows name (the sites of kept `service_at_location` rows, programmes,
  taxonomy terms) comes along, so that they resolve as they did.

Then the import reads the merged rows as usual; as an export read back restores the same
records, what the input leaves out stays as it was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from core.batching import batches
from graph.driver import Graph
from graph.hsds import locations_by_refs, organisations_by_refs, services_by_refs
from graph.hsds_ids import hsds_id
from graph.organisations import Organisation, organisations_by_ids
from graph.services import Service, services_by_ids
from importers.hsds.export import Exporter, Nester, read_reference
from importers.hsds.profile import PROFILE_TAXONOMY, term_id
from importers.hsds.source import Source
from importers.rows import Row

# Where a merged row comes from, in the report.
STORED = "(directory)"
LOOKUP_BATCH = 5000

# The child tables of each record, by the field that names the record.
CHILDREN: dict[str, tuple[tuple[str, str], ...]] = {
    "organizations": (
        ("phones", "organization_id"),
        ("contacts", "organization_id"),
        ("funding", "organization_id"),
        ("organization_identifiers", "organization_id"),
        ("urls", "organization_id"),
        ("attributes", "link_id"),
    ),
    "services": (
        ("phones", "service_id"),
        ("schedules", "service_id"),
        ("service_areas", "service_id"),
        ("service_at_location", "service_id"),
        ("languages", "service_id"),
        ("funding", "service_id"),
        ("cost_options", "service_id"),
        ("required_documents", "service_id"),
        ("contacts", "service_id"),
        ("service_capacity", "service_id"),
        ("urls", "service_id"),
        ("attributes", "link_id"),
    ),
    "locations": (
        ("languages", "location_id"),
        ("addresses", "location_id"),
        ("contacts", "location_id"),
        ("accessibility", "location_id"),
        ("phones", "location_id"),
        ("schedules", "location_id"),
        ("attributes", "link_id"),
    ),
    "programs": (("attributes", "link_id"),),
}
# Profile fields the public `/hsds/` records leave out: a record read from there and
# imported again keeps them.
UNPUBLISHED = frozenset({term_id(PROFILE_TAXONOMY, "last-verified-by")})


def _ids(rows: Iterable[Row]) -> list[str]:
    return sorted({row.get("id").strip().lower() for row in rows if row.get("id").strip()})


class _Merger:
    def __init__(self, source: Source, stored: dict[str, list[dict[str, str]]]) -> None:
        self.source = source
        self.nester = Nester(stored)
        self.present: dict[str, set[str]] = {
            table: {r.get("id").strip().lower() for r in rows}
            for table, rows in source.tables.items()
        }
        self.added: Counter[str] = Counter()

    def add(self, table: str, data: dict[str, str]) -> Row | None:
        id = data.get("id", "").lower()
        if id in self.present.setdefault(table, set()):
            return None
        self.present[table].add(id)
        row = Row(STORED, f"{table}/{id}", dict(data))
        self.source.add(table, row)
        self.added[table] += 1
        return row

    def stored_row(self, table: str, id: str) -> dict[str, str] | None:
        return self.nester.by_id.get(table, {}).get(id)

    def merge(self, table: str, row: Row, stored_id: str) -> None:
        """Fill `row` (of the input, or just added) from the stored record `stored_id`."""
        stored = self.stored_row(table, stored_id)
        if stored is None:
            return
        own = row.get("id").strip().lower()
        for key, value in stored.items():
            if key not in row.data:
                row.data[key] = value
        for child, key in CHILDREN.get(table, ()):
            given = child in self.source.complete or child in row.given
            for kept in self.nester.by_key.get((child, key, stored_id), []):
                if given and not (child == "attributes" and self._unpublished(kept, own)):
                    continue
                added = self.add(child, kept | {key: own})
                if added is not None:
                    self.follow(child, added)

    def _unpublished(self, attribute: dict[str, str], own: str) -> bool:
        """A profile field `/hsds/` leaves out that the input does not give either."""
        term = attribute.get("taxonomy_term_id", "")
        return term in UNPUBLISHED and not any(
            r.get("link_id").lower() == own and r.get("taxonomy_term_id") == term
            for r in self.source.rows("attributes")
        )

    def follow(self, table: str, row: Row) -> None:
        """Bring along what a kept row names and the import lacks."""
        refs: list[tuple[str, str]] = []
        if table == "service_at_location":
            refs.append(("locations", row.get("location_id")))
        elif table == "attributes":
            refs.append(("taxonomy_terms", row.get("taxonomy_term_id")))
        elif table == "services":
            refs.append(("programs", row.get("program_id")))
        elif table == "taxonomy_terms":
            refs.append(("taxonomies", row.get("taxonomy_id")))
        for target, id in refs:
            stored = self.stored_row(target, id.lower()) if id else None
            if stored is None:
                continue
            added = self.add(target, stored)
            if added is not None:
                self.merge(target, added, id.lower())
                self.follow(target, added)


async def merge_stored(graph: Graph, source: Source) -> Counter[str]:
    """Merge what the directory holds of the input's records under them (in place); fill
    `source.known_ids`. Returns how many rows of each table came from the directory."""
    wanted = {
        table: _ids(source.rows(table)) for table in ("organizations", "services", "locations")
    }
    organisations: dict[str, str] = {}
    services: dict[str, str] = {}
    sites: dict[str, tuple[str, str | None]] = {}
    for chunk in batches(wanted["organizations"], LOOKUP_BATCH):
        for o in await graph.read(organisations_by_refs, refs=list(chunk)):
            organisations[o.ref] = o.id
    for chunk in batches(wanted["services"], LOOKUP_BATCH):
        for s in await graph.read(services_by_refs, refs=list(chunk)):
            services[s.ref] = s.id
    for chunk in batches(wanted["locations"], LOOKUP_BATCH):
        for loc in await graph.read(locations_by_refs, refs=list(chunk)):
            sites[loc.ref] = (loc.id, loc.service)
    reference = await read_reference(graph)
    programmes = {hsds_id("program", p): p for p in reference.programmes}
    matched_programmes = {
        id: programmes[id] for id in _ids(source.rows("programs")) if id in programmes
    }
    for table, found in (("organizations", organisations), ("services", services)):
        for ref, our_id in found.items():
            source.known_ids[(table, ref)] = our_id
    for ref, (our_id, _) in sites.items():
        source.known_ids[("locations", ref)] = our_id
    for ref, our_id in matched_programmes.items():
        source.known_ids[("programs", ref)] = our_id
    if not (organisations or services or sites or matched_programmes):
        return Counter()

    stored_services: dict[str, Service] = {}
    service_ids = sorted(set(services.values()) | {s for _, s in sites.values() if s})
    for chunk in batches(service_ids, LOOKUP_BATCH):
        stored_services |= await graph.read(services_by_ids, ids=list(chunk))
    organisation_ids = sorted(
        set(organisations.values()) | {s.organisation_id for s in stored_services.values()}
    )
    stored_organisations: dict[str, Organisation] = {}
    for chunk in batches(organisation_ids, LOOKUP_BATCH):
        stored_organisations |= await graph.read(organisations_by_ids, ids=list(chunk))

    exporter = Exporter(reference)
    exporter.taxonomy()
    for programme in reference.programmes.values():
        exporter.programme(programme)
    exported: dict[tuple[str, str], str] = {}  # (table, Homeward id) -> stored HSDS id
    for org in stored_organisations.values():
        exported[("organizations", org.id)] = exporter.organisation(org)
    for service in stored_services.values():
        org_hsds = exported[("organizations", service.organisation_id)]
        exported[("services", service.id)] = exporter.service(service, org_hsds)
        for site in service.locations:
            exported[("locations", site.id)] = site.hsds_id or hsds_id("location", site.id)
    for programme_hsds in matched_programmes:
        exported[("programs", matched_programmes[programme_hsds])] = programme_hsds

    merger = _Merger(source, dict(exporter.tables))
    for table in ("organizations", "services", "locations", "programs"):
        for row in list(source.rows(table)):
            ref = row.get("id").strip().lower()
            known = source.known_ids.get((table, ref))
            stored_id = exported.get((table, known)) if known else None
            if stored_id is None:
                continue
            merger.merge(table, row, stored_id.lower())
            if table == "services":
                merger.follow(table, row)
    # The input's own attributes may name terms only the directory's taxonomies hold.
    for row in list(source.rows("attributes")):
        merger.follow("attributes", row)
    return merger.added
