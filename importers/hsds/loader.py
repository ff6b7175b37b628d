"""HSDS 3.0 import: read, check every row, then write the good ones in UNWIND batches.

1. `importers.hsds.source` reads the files into rows per table (a malformed file stops
   everything here, before anything is written).
2. The table importers of `LOAD_ORDER` read the rows into drafts; each rejected row is
   reported as `file:line: field: message`.
3. `plan` turns the drafts into the application's own input models (`OrganisationInput`,
   `ServiceInput`: their rules are the rules), places sites in areas and resolves every
   reference; what fails is reported the same way.
4. `importers.plan.write_plan` writes countries, programmes, organisations and services,
   each in batches of its own transaction. Every write MERGEs on ids and replaces a
   record's relationships, so running the same import again changes nothing, and an import
   interrupted half way, run again, ends in the same graph as one uninterrupted run.

With `strict`, any error raises `ImportRejected` after step 3, with nothing written.

How sites are placed in areas: a site's `area` profile attribute (Homeward's own exports)
names the area. Otherwise its first address gives the country (ISO 3166-1 code, alpha-2,
alpha-3 or English name; a country the gazetteer lacks is created, from ISO 3166, with no
centroid) and the town (`city`, else `region` / `state_province`), matched in any spelling
against that country's areas; a town that matches no single area leaves the site in its
country; a site without an address that is in the directory already stays in its area.
An organisation's country is its `country` attribute, else the country of its own
sites, else of its services' sites, else the address country of any of those locations
(virtual or postal ones too), else the one it has in the directory already, else the
`default_country` given to the import (with a warning on its row).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from types import ModuleType
from typing import Any

import pycountry
from pydantic import ValidationError

from core.geometry import boundary_from_text
from core.text import fold
from graph.areas import AreaLevel, AreaRecord, GeoPoint
from graph.driver import Graph
from graph.duplicates import (
    OrganisationFeatures,
    ServiceFeatures,
    organisation_features,
    service_features,
)
from graph.duplicates.scoring import distance_km
from graph.hsds import (
    directory_facts,
    locations_by_refs,
    organisations_by_refs,
    probable_duplicates,
)
from graph.organisations import OrganisationInput, organisation_properties
from graph.programmes import ProgrammeRecord
from graph.services import LocationInput, ServiceInput, upsert_row
from graph.users import SYSTEM
from importers.hsds.assembly import (
    AreaFacts,
    Assembly,
    Draft,
    Known,
    LocationDraft,
    OrganisationDraft,
    ServiceDraft,
)
from importers.hsds.merge import merge_stored
from importers.hsds.source import Source
from importers.hsds.tables import (
    accessibility,
    addresses,
    attributes,
    contacts,
    cost_options,
    funding,
    languages,
    locations,
    meta_table_descriptions,
    metadata,
    organization_identifiers,
    organizations,
    phones,
    programs,
    required_documents,
    schedules,
    service_areas,
    service_at_location,
    service_capacity,
    services,
    taxonomies,
    taxonomy_terms,
    urls,
)
from importers.hsds.tables.addresses import country_code
from importers.hsds.taxonomy_map import TaxonomyMap, load_map
from importers.plan import BATCH_SIZE, AfterBatch, Plan, Progress, Provenance, write_plan
from importers.report import ImportRejected, ImportReport

# Each table after those it refers to: taxonomies before their terms, organisations before
# their sites and services, sites before the services delivered there, every record before
# the attributes and kept rows that name it.
LOAD_ORDER: tuple[ModuleType, ...] = (
    taxonomies,
    taxonomy_terms,
    organizations,
    programs,
    locations,
    addresses,
    accessibility,
    services,
    service_at_location,
    service_areas,
    attributes,
    urls,
    languages,
    phones,
    contacts,
    schedules,
    funding,
    cost_options,
    required_documents,
    organization_identifiers,
    metadata,
    meta_table_descriptions,
)

# ServiceInput / OrganisationInput field -> the HSDS field a problem is reported on.
SERVICE_FIELDS = {
    "referral_method": "application_process",
    "needs": "attributes (needs)",
    "target_groups": "attributes (target groups)",
    "delivery": "attributes (delivery)",
    "covers": "service_areas",
    "locations": "service_at_location",
    "programmes": "program_id",
    "organisation_id": "organization_id",
}
# How far a site given by its point alone may lie from the centroid of the town it is placed
# in, where no boundary of the gazetteer holds the point.
NEAREST_KM = 30.0
ORGANISATION_FIELDS = {"alternate_names": "alternate_name", "based_in": "attributes (based-in)"}


def _known(facts: Any) -> Known:
    return Known(
        needs=set(facts.needs),
        target_groups=set(facts.target_groups),
        programmes=set(facts.programmes),
        areas={
            a.id: AreaFacts(
                a.id,
                a.level,
                a.parent,
                tuple(a.keys),
                (a.lat, a.lon) if a.lat is not None and a.lon is not None else None,
                boundary_from_text(a.boundary) if a.boundary else None,
            )
            for a in facts.areas
        },
    )


def read_tables(source: Source, known: Known, mapping: TaxonomyMap) -> Assembly:
    assembly = Assembly(report=ImportReport(), known=known, mapping=mapping)
    assembly.report.repeated.update(source.repeated)
    for where, message in source.notices:
        assembly.report.add(where, "(file)", message, "warning")
    for module in LOAD_ORDER:
        module.load(assembly, source.rows(module.TABLE))
    # After the attributes: a capacity the profile gives wins over HSDS 3.1's.
    service_capacity.load(
        assembly, source.rows(service_capacity.TABLE), source.rows(service_capacity.UNITS)
    )
    for term_id, uses in assembly.unknown_terms.items():
        term = assembly.terms[term_id]
        assembly.report.add(
            term.where,
            "name",
            f"term {term.name!r} ({f'code {term.code!r}, ' if term.code else ''}"
            f"taxonomy {term.taxonomy!r}) maps to no "
            f"Homeward need or target group; kept as an HSDS attribute on {uses} record(s). "
            "Add it to the mapping file to use it in search",
            "warning",
        )
    assembly.report_dropped()
    return assembly


def _reject(
    draft: Draft, assembly: Assembly, table: str, exc: ValidationError, names: dict[str, str]
) -> None:
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        name = names.get(loc[0], loc[0]) if loc else "(row)"
        detail = ".".join(loc[1:])
        assembly.report.add(draft.row.where, f"{name}.{detail}" if detail else name, error["msg"])
    assembly.report.rejected[table] += 1


class _Planner:
    def __init__(self, assembly: Assembly, default_country: str | None) -> None:
        self.a = assembly
        self.known = assembly.known
        self.report = assembly.report
        # As given on the command line: "xk", "AUT" and "Austria" are all read.
        self.default_country = (
            (country_code(default_country) or default_country.upper()) if default_country else None
        )
        self.plan = Plan()
        self.location_areas: dict[str, str] = {}  # HSDS location id -> area id
        self.organisation_ids: dict[str, str] = {}  # HSDS org id -> Homeward id (accepted)
        self.by_town: dict[tuple[str, str], list[str]] = {}
        self._sites: dict[str, list[str]] | None = None  # organisation -> sites (sites_of)
        for area in self.known.areas.values():
            country = self.known.country_of(area.id)
            if area.level != "country" and country is not None:
                for key in area.keys:
                    self.by_town.setdefault((country, key), []).append(area.id)

    def ensure_country(self, code: str) -> bool:
        if code in self.known.areas:
            return self.known.areas[code].level == "country"
        country = pycountry.countries.get(alpha_2=code)
        if country is None:
            return False
        self.plan.countries.append(
            AreaRecord(
                id=code,
                level=AreaLevel.COUNTRY,
                names={"en": str(getattr(country, "common_name", country.name))},
                source="ISO 3166-1, created by an HSDS import",
            )
        )
        self.known.areas[code] = AreaFacts(code, "country", None, (fold(country.name),))
        return True

    def place(self, location: LocationDraft) -> None:
        if location.virtual:
            return  # not a site: its services are delivered remotely
        area = location.profile_value("area")
        if area and area in self.known.areas:
            location.extras.tables.pop("addresses", None)
            self.location_areas[location.hsds_id] = area
            return
        where = location.row.where
        if area:
            self.report.add(where, "attributes (area)", f"unknown area {area!r}")
            self.report.rejected["locations"] += 1
            return
        existing = self.known.locations.get(location.hsds_id) or self.known.locations.get(
            location.id
        )
        if location.country is None and existing:
            self.location_areas[location.hsds_id] = existing
            return
        if location.country is None and location.latitude is not None:
            nearest = self.area_at(location.latitude, location.longitude or 0.0)
            if nearest is not None:
                self.location_areas[location.hsds_id] = nearest
                return
            self.report.add(
                where,
                "latitude",
                f"no address with a country, no boundary of the gazetteer holding the point "
                f"and no town within "
                f"{NEAREST_KM:g} km of ({location.latitude:g}, {location.longitude:g})",
            )
            self.report.rejected["locations"] += 1
            return
        if location.country is None:
            self.report.add(
                where,
                "addresses",
                "no address with a country: Homeward places every site in an area",
            )
            self.report.rejected["locations"] += 1
            return
        if not self.ensure_country(location.country):
            self.report.add(where, "addresses.country", f"unknown country {location.country!r}")
            self.report.rejected["locations"] += 1
            return
        found = location.country
        for town in (location.city, location.region):
            matches = self.by_town.get((location.country, fold(town)), []) if town else []
            if len(matches) == 1:
                found = matches[0]
                break
        self.location_areas[location.hsds_id] = found

    def area_at(self, lat: float, lon: float) -> str | None:
        """The area whose boundary holds the point (a municipality of Kosovo), as a site placed
        by the API is; where no boundary does (countries the gazetteer has no boundaries
        for), the town (any level below country) whose centroid is nearest, within
        `NEAREST_KM`."""
        for area in sorted(self.known.areas.values(), key=lambda a: a.id):
            if area.boundary is not None and area.boundary.contains(lat, lon):
                return area.id
        best: tuple[float, str] | None = None
        for area in self.known.areas.values():
            if area.level == "country" or area.centroid is None:
                continue
            km = distance_km((lat, lon), area.centroid)
            if km <= NEAREST_KM and (best is None or (km, area.id) < best):
                best = (km, area.id)
        return best[1] if best else None

    def sites_of(self, organisation: str) -> list[str]:
        """The organisation's own sites, then its services' sites, in the order read. Indexed
        once for all organisations: scanning every site and service per organisation would
        make an import without `country` attributes quadratic."""
        if self._sites is None:
            self._sites = {}
            for loc in self.a.locations.values():
                if loc.organization_id:
                    self._sites.setdefault(loc.organization_id, []).append(loc.hsds_id)
            served: dict[str, list[str]] = {}
            for service in self.a.services.values():
                if service.organization_id:
                    served.setdefault(service.organization_id, []).extend(service.location_ids)
            for org, loc_ids in served.items():
                self._sites.setdefault(org, []).extend(loc_ids)
        return self._sites.get(organisation, [])

    def organisation_country(self, draft: OrganisationDraft) -> str | None:
        """The country the data gives: the profile attribute, else the country its own
        sites or its services' sites are placed in, else the `country` of an address of
        any of those locations (a virtual or postal one too: where an organisation writes
        from is still where it is), else its country in the directory."""
        given = draft.profile_value("country")
        if given:
            return country_code(given) or given
        locations = self.sites_of(draft.hsds_id)
        for loc_id in locations:
            area = self.location_areas.get(loc_id)
            country = self.known.country_of(area) if area else None
            if country:
                return country
        for loc_id in locations:
            location = self.a.locations.get(loc_id)
            if location is not None and location.country:
                return location.country
        existing = self.known.organisations.get(draft.hsds_id) or self.known.organisations.get(
            draft.id
        )
        return existing[1] if existing else None

    def organisation(self, draft: OrganisationDraft) -> None:
        country = self.organisation_country(draft)
        if country is None and self.default_country:
            country = self.default_country
            self.report.add(
                draft.row.where,
                "country",
                f"the data gives no country (no `country` attribute, no address with a "
                f"country on its locations or its services' locations); the default country "
                f"{country} is taken",
                "warning",
            )
        if country is None:
            self.report.add(
                draft.row.where,
                "country",
                "cannot tell the organisation's country: no `country` attribute, no address "
                "with a country on its locations or its services' locations, and no default "
                "country (give one)",
            )
            self.report.rejected["organizations"] += 1
            return
        if not self.ensure_country(country):
            self.report.add(draft.row.where, "attributes (country)", f"unknown country {country!r}")
            self.report.rejected["organizations"] += 1
            return
        based_in = draft.profile_value("based-in")
        independent = draft.profile_value("independent-of-authorities")
        data = draft.fields | {
            "alternate_names": draft.fields["alternate_names"]
            + draft.profile.get("alternate-name", []),
            "acronym": draft.profile_value("acronym"),
            "kind": draft.profile_value("kind") or "other",
            "phone": draft.phone,
            "country": country,
            "independent_of_authorities": None if independent is None else independent == "true",
            "based_in": based_in if based_in in self.known.areas else None,
        }
        try:
            organisation = OrganisationInput.model_validate(data)
        except ValidationError as exc:
            _reject(draft, self.a, "organizations", exc, ORGANISATION_FIELDS)
            return
        self.organisation_ids[draft.hsds_id] = draft.id
        self.plan.organisations.append(
            (
                draft.id,
                organisation,
                {"hsds_id": draft.hsds_id, "hsds_extra": draft.extras.dump()},
            )
        )

    def programme(self, draft: Draft) -> None:
        assert hasattr(draft, "name")
        try:
            record = ProgrammeRecord(
                id=draft.id,
                name=draft.name,
                funder=draft.profile_value("funder"),
                sending_countries=draft.profile.get("sending-country", []),
            )
        except ValidationError as exc:
            _reject(draft, self.a, "programs", exc, {})
            return
        self.known.programmes.add(record.id)
        self.plan.programmes.append(record)

    def service(self, draft: ServiceDraft) -> None:
        where = draft.row.where
        problems_before = self.report.error_count
        organisation = self.organisation_ids.get(draft.organization_id or "")
        if organisation is None:
            existing = self.known.organisations.get(draft.organization_id or "")
            organisation = existing[0] if existing else None
        if organisation is None:
            rejected = draft.organization_id in self.a.organisations
            self.report.add(
                where,
                "organization_id",
                f"organisation {draft.organization_id} was rejected (see its row)"
                if rejected
                else f"no organisation {draft.organization_id} in the import or the directory",
            )
        sites: list[dict[str, Any]] = []
        site_extras: dict[str, dict[str, Any]] = {}
        physical = remote = False
        for loc_id in draft.location_ids:
            area = self.location_areas.get(loc_id)
            location = self.a.locations[loc_id]
            if location.virtual:
                # Kept as HSDS data, so that an export gives the virtual location back.
                remote = True
                draft.extras.keep_row("locations", location.row)
                if loc_id in draft.site_rows:
                    draft.extras.keep_row("service_at_location", draft.site_rows[loc_id])
                continue
            physical = True
            if area is None:
                self.report.add(
                    where,
                    "service_at_location",
                    f"site {loc_id} was rejected (see its row); the service is imported without it",
                    "warning",
                )
                continue
            point = (
                GeoPoint(lat=location.latitude, lon=location.longitude)
                if location.latitude is not None and location.longitude is not None
                else None
            )
            sites.append(
                {
                    "id": location.id,
                    "name": location.name,
                    "address": location.address or location.profile_value("address"),
                    "area": area,
                    "point": point,
                    "opening_hours": location.opening_hours,
                }
            )
            site_extras[location.id] = {
                "hsds_id": location.hsds_id,
                "hsds_extra": location.extras.dump(),
            }
        needs = list(draft.needs)
        if not needs and self.a.mapping.default_need:
            needs = [self.a.mapping.default_need]
            self.report.add(
                where,
                "attributes",
                f"no taxonomy term maps to a Homeward need; filed under "
                f"{self.a.mapping.default_need!r}",
                "warning",
            )
        programmes = list(draft.profile.get("programme", []))
        if draft.program_id:
            programme = self.a.programmes.get(draft.program_id)
            programme_id = programme.id if programme else draft.program_id
            if programme_id not in programmes:
                programmes.insert(0, programme_id)
        for programme_id in programmes:
            if programme_id not in self.known.programmes:
                self.report.add(where, "program_id", f"no programme {programme_id}")
        for country in draft.profile.get("sending-country", []):
            if country.upper() not in self.known.areas:
                self.report.add(where, "attributes (sending-country)", f"unknown {country!r}")
        if needs and needs[0] not in self.known.needs:
            self.report.add(where, "attributes", f"default need {needs[0]!r} does not exist")
        data = draft.fields | {
            "organisation_id": organisation or "-",
            "delivery": draft.profile.get("delivery")
            or (["in_person"] if physical or draft.covers else [])
            + (["remote"] if remote or not (physical or draft.covers) else []),
            "needs": needs,
            "target_groups": draft.target_groups,
            "covers": draft.covers,
            "locations": [LocationInput.model_validate(s) for s in sites],
            "languages": draft.languages,
            "programmes": programmes,
            "sending_countries": draft.profile.get("sending-country", []),
            "return_types": draft.profile.get("return-type", []),
            "expected_response_days": draft.profile_value("expected-response-days"),
            "capacity": draft.profile_value("capacity"),
            "capacity_note": draft.profile_value("capacity-note"),
            "capacity_date": draft.profile_value("capacity-date"),
        }
        data = {k: v for k, v in data.items() if v is not None}
        try:
            service = ServiceInput.model_validate(data)
        except ValidationError as exc:
            _reject(draft, self.a, "services", exc, SERVICE_FIELDS)
            return
        if self.report.error_count > problems_before:
            self.report.rejected["services"] += 1
            return
        extra: dict[str, Any] = {
            "hsds_id": draft.hsds_id,
            "hsds_extra": draft.extras.dump(),
            "last_verified_at": _moment(draft.profile_value("last-verified-at")),
            "last_verified_by": draft.profile_value("last-verified-by"),
        }
        row = upsert_row(draft.id, service, extra)
        for site in row["locations"]:
            site["extra"] = site_extras.get(site["id"], {})
        self.plan.services.append(row)


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = datetime.combine(date.fromisoformat(value), datetime.min.time())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def make_plan(assembly: Assembly, *, default_country: str | None) -> Plan:
    planner = _Planner(assembly, default_country)
    for location in assembly.locations.values():
        planner.place(location)
    for organisation in assembly.organisations.values():
        planner.organisation(organisation)
    for programme in assembly.programmes.values():
        planner.programme(programme)
    for service in assembly.services.values():
        planner.service(service)
    return planner.plan


def _features(plan: Plan) -> tuple[list[OrganisationFeatures], list[ServiceFeatures]]:
    organisations = []
    for id, data, _ in plan.organisations:
        props = organisation_properties(data)
        organisations.append(
            organisation_features(
                id=id,
                name=data.name,
                alternate_names=data.alternate_names,
                acronym=data.acronym,
                domain=props["website_domain"],
                phone=props["phone_digits"],
                email=props["email"],
                country=data.country,
                area=data.based_in or data.country,
            )
        )
    services = [
        service_features(
            id=row["id"],
            name=row["props"]["name"],
            organisation_id=row["organisation"],
            needs=row["needs"],
            groups=row["groups"],
            areas=[*row["covers"], *(site["area"] for site in row["locations"])],
            points=[
                (site["lat"], site["lon"]) for site in row["locations"] if site["lat"] is not None
            ],
        )
        for row in plan.services
    ]
    return organisations, services


async def _report_duplicates(graph: Graph, plan: Plan, assembly: Assembly, *, strict: bool) -> None:
    """New records that the registration check says probably exist already: a warning on
    their row (an error with `strict`, which then writes nothing)."""
    organisations, services = _features(plan)
    found = await graph.read(probable_duplicates, organisations=organisations, services=services)
    if not found:
        return
    rows = {("organisation", d.id): d.row.where for d in assembly.organisations.values()}
    rows |= {("service", d.id): d.row.where for d in assembly.services.values()}
    for duplicate in found:
        names = ", ".join(f"{c.name!r} ({c.id})" for c in duplicate.candidates)
        assembly.report.add(
            rows.get((duplicate.entity, duplicate.id), duplicate.id),
            "id",
            f"new {duplicate.entity} {duplicate.id} probably repeats {names} of the directory; "
            "give it that record's id to update it",
            "error" if strict else "warning",
        )


async def prepare(
    graph: Graph,
    source: Source,
    *,
    mapping: TaxonomyMap | None = None,
    default_country: str | None = None,
    strict: bool = False,
) -> tuple[Plan, ImportReport]:
    """Read and check everything; nothing is written."""
    known = _known(await graph.read(directory_facts))
    kept = await merge_stored(graph, source)
    assembly = read_tables(source, known, mapping or load_map())
    # Rows taken from the directory are not rows read.
    assembly.report.read.subtract(kept)
    assembly.report.read += Counter()
    assembly.report.merged.update(table for table, _ in source.known_ids)
    for table, drafts in (
        ("organizations", assembly.organisations),
        ("services", assembly.services),
        ("locations", assembly.locations),
        ("programs", assembly.programmes),
    ):
        for hsds, draft in drafts.items():
            draft.known_id = source.known_ids.get((table, hsds))
    # Services may name organisations of the directory; organisations already there keep
    # their country when the import says none.
    refs = sorted(
        {s.organization_id for s in assembly.services.values() if s.organization_id}
        | {o.id for o in assembly.organisations.values()}
        | set(assembly.organisations)
    )
    if refs:
        found = await graph.read(organisations_by_refs, refs=refs)
        known.organisations = {f.ref: (f.id, f.country) for f in found}
    site_refs = sorted(set(assembly.locations) | {d.id for d in assembly.locations.values()})
    if site_refs:
        sites = await graph.read(locations_by_refs, refs=site_refs)
        known.locations = {s.ref: s.area for s in sites if s.area}
    plan = make_plan(assembly, default_country=default_country)
    await _report_duplicates(graph, plan, assembly, strict=strict)
    return plan, assembly.report


async def import_hsds(
    graph: Graph,
    source: Source,
    *,
    strict: bool = False,
    mapping: TaxonomyMap | None = None,
    default_country: str | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    after_batch: AfterBatch | None = None,
    provenance: Provenance | None = None,
) -> ImportReport:
    plan, report = await prepare(
        graph, source, mapping=mapping, default_country=default_country, strict=strict
    )
    if strict and report.errors:
        raise ImportRejected(report)
    await write_plan(
        graph,
        plan,
        report,
        provenance=provenance or Provenance(SYSTEM, "hsds"),
        batch_size=batch_size,
        progress=progress,
        after_batch=after_batch,
    )
    return report
