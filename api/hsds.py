"""The HSDS 3.0 read API under `/hsds/`: the endpoints of Open Referral's `openapi.json`
(HSDS 3.0, CC BY-SA 4.0, copied in `importers/hsds/schema/`), answered with the records the
HSDS export writes (`importers/hsds/export.py`), so that the API and the files say the same.

Every list pages in Cypher (ids only), then reads the page's records in one go: a request
costs the same few transactions whatever its page size. Beyond HSDS: `lat`, `lng` and
`radius_km` keep services and service-at-locations with a site within that distance, nearest
first.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from api.deps import GraphDep, authorize
from core.batching import batches
from core.text import fold
from graph.areas import GeoPoint
from graph.driver import Graph
from graph.hsds import (
    PageKeys,
    ServiceFilter,
    organisation_page,
    service_ids_of,
    service_page,
    site_page,
)
from graph.hsds_ids import find_by_hsds_id
from graph.organisations import organisations_by_ids
from graph.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from graph.reference import REFERENCE_TTL_S
from graph.search import lucene_query
from graph.services import services_by_ids
from importers.hsds.export import (
    Exporter,
    Reference,
    nested_organisations_of,
    nested_services,
    nested_sites,
    one_to_one,
    read_reference,
)
from importers.hsds.profile import GROUPS_TAXONOMY, NEEDS_TAXONOMY, profile_document, term_id
from importers.hsds.profile import taxonomy_id as hsds_taxonomy_id
from importers.hsds.schemas import typed

HSDS_VERSION = "3.0"
# Where HSDS's own openapi.json points for each object's schema.
HSDS_SCHEMA_URL = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"
MAX_RADIUS_KM = 500.0
# A streamed (ndjson) answer reads its records this many at a time.
STREAM_CHUNK = 100
NDJSON = "application/x-ndjson"

router = APIRouter(prefix="/hsds", tags=["hsds"], dependencies=[Depends(authorize)])


# --- per-process state ------------------------------------------------------------------------


@dataclass
class HsdsState:
    """What the API keeps per process, like the reference cache: the export's reference data,
    read again after `ttl_s`. Records are found by their HSDS id in the graph, where every
    write keeps it (graph/hsds_ids.py), so a new record is found at once and a deleted one
    is a 404."""

    ttl_s: float = REFERENCE_TTL_S
    clock: Callable[[], float] = time.monotonic
    _reference: tuple[float, Reference] | None = None

    async def reference(self, graph: Graph) -> Reference:
        if self._reference is None or self.clock() - self._reference[0] > self.ttl_s:
            self._reference = (self.clock(), await read_reference(graph))
        return self._reference[1]


# Dependencies are `async def` so that FastAPI does not hand them to its thread pool.
async def _state(request: Request) -> HsdsState:
    state: HsdsState = request.app.state.hsds
    return state


StateDep = Annotated[HsdsState, Depends(_state)]


# --- parameters and errors --------------------------------------------------------------------


def _bad(parameter: str, message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own, naming the query parameter."""
    return HTTPException(
        422, [{"loc": ["query", parameter], "msg": message, "type": "value_error"}]
    )


def _not_found(kind: str, id: str) -> HTTPException:
    return HTTPException(404, f"no {kind} with id {id!r} in this directory")


SearchQ = Annotated[
    str | None, Query(max_length=200, description="Full text: every word must occur.")
]
PageQ = Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1.")]
PerPageQ = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Results per page, 1 to {MAX_PAGE_SIZE}.")
]
FormatQ = Annotated[
    str,
    Query(
        pattern="^(json|ndjson)$",
        description="`json` (pages) or `ndjson`: every result, one per line, streamed.",
    ),
]
TermQ = Annotated[
    str | None,
    Query(description="Services with this taxonomy term (a need or target group term)."),
]
TaxonomyQ = Annotated[str | None, Query(description="Services with any term of this taxonomy.")]
OrganisationQ = Annotated[str | None, Query(description="Services of this organization.")]
ModifiedQ = Annotated[
    datetime | None,
    Query(description="Results changed at or after this ISO 8601 time (UTC if no offset)."),
]
FullQ = Annotated[bool, Query(description="Fully nested records instead of their own fields.")]
MinimalQ = Annotated[bool, Query(description="Only id, name, status and last_modified.")]
FullServiceQ = Annotated[
    bool, Query(description="Nest each organization's services fully, not their own fields.")
]
LatQ = Annotated[
    float | None,
    Query(ge=-90, le=90, description="Homeward extension: latitude (WGS 84) to search around."),
]
LngQ = Annotated[
    float | None,
    Query(ge=-180, le=180, description="Homeward extension: longitude (WGS 84)."),
]
RadiusQ = Annotated[
    float,
    Query(
        gt=0,
        le=MAX_RADIUS_KM,
        description=f"Homeward extension: km around lat/lng, up to {MAX_RADIUS_KM:g}.",
    ),
]
ProximityQ = Annotated[
    float | None,
    Query(
        gt=0,
        le=MAX_RADIUS_KM * 1000,
        description="HSDS: metres around the place; Homeward has no postcodes, so the place "
        "is given by lat and lng. Overrides radius_km.",
    ),
]
PostcodeQ = Annotated[
    str | None,
    Query(
        max_length=20,
        description="HSDS: refused, Homeward holds no postcodes; give lat and lng instead.",
    ),
]


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int
    format: str


async def _paging(
    page: PageQ = 1, per_page: PerPageQ = DEFAULT_PAGE_SIZE, format: FormatQ = "json"
) -> Paging:
    return Paging(page, per_page, format)


PagingDep = Annotated[Paging, Depends(_paging)]


def _items(schema: str) -> Any:
    return Field(json_schema_extra={"items": {"$ref": f"{HSDS_SCHEMA_URL}{schema}.json"}})


class ApiInfo(BaseModel):
    version: str = Field(description="HSDS version of this API.")
    profile: str = Field(description="URL of the information on the HSDS profile of this API.")
    openapi_url: str = Field(description="URL of the openapi JSON file which defines this API.")


class HsdsPage(BaseModel):
    """HSDS's page envelope (`#/components/schemas/Page` of its openapi.json)."""

    total_items: int
    total_pages: int
    page_number: int
    size: int
    first_page: bool
    last_page: bool
    empty: bool


class ServicePage(HsdsPage):
    contents: list[dict[str, Any]] = _items("compiled/service_list")


class OrganizationPage(HsdsPage):
    contents: list[dict[str, Any]] = _items("compiled/organization_list")


class ServiceAtLocationPage(HsdsPage):
    contents: list[dict[str, Any]] = _items("compiled/service_at_location_list")


class TaxonomyPage(HsdsPage):
    contents: list[dict[str, Any]] = _items("taxonomy")


class TaxonomyTermPage(HsdsPage):
    contents: list[dict[str, Any]] = _items("taxonomy_term")


def _one(schema: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {
                "application/json": {"schema": {"$ref": f"{HSDS_SCHEMA_URL}{schema}.json"}}
            },
        },
        404: {"description": "No record with this id."},
    }


def _listed(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {NDJSON: {}}}}


def _envelope(total: int, page: int, per_page: int, contents: list[dict[str, Any]]) -> JSONResponse:
    pages = math.ceil(total / per_page)
    return JSONResponse(
        {
            "total_items": total,
            "total_pages": pages,
            "page_number": page,
            "size": len(contents),
            "first_page": page == 1,
            "last_page": page >= pages,
            "empty": not contents,
            "contents": contents,
        }
    )


Build = Callable[[list[list[str]]], Awaitable[list[dict[str, Any]]]]
PageRead = Callable[[int, int], Awaitable[PageKeys]]


async def _answer(
    read_page: PageRead, build: Build, paging: Paging
) -> JSONResponse | StreamingResponse:
    """A page in the HSDS envelope, or every result as NDJSON (read and built a chunk at a
    time, so memory stays bounded by the chunk)."""
    page, per_page = paging.page, paging.per_page
    if paging.format == "ndjson":
        everything = await read_page(0, 1_000_000_000)

        async def lines() -> AsyncIterator[bytes]:
            keys = everything.keys
            for chunk in batches(keys, STREAM_CHUNK):
                for record in await build(list(chunk)):
                    yield _json_line(record)

        return StreamingResponse(lines(), media_type=NDJSON)
    found = await read_page((page - 1) * per_page, per_page)
    return _envelope(found.total, page, per_page, await build(found.keys))


def _json_line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


async def _single(
    graph: Graph,
    kind: str,
    id: str,
    build: Callable[[list[str]], Awaitable[list[dict[str, Any]]]],
) -> JSONResponse:
    """One record by its HSDS id (one indexed read), or a 404 naming it."""
    key = await graph.read(find_by_hsds_id, kind=kind, id=id)
    found = await build(key) if key else []
    if not found:
        raise _not_found(kind, id)
    return JSONResponse(found[0])


def _empty() -> PageKeys:
    return PageKeys(total=0, keys=[])


# --- builders ---------------------------------------------------------------------------------


async def _services(graph: Graph, state: HsdsState, ids: list[str]) -> list[dict[str, Any]]:
    """Fully nested services, in the order of `ids`: two reads, whatever their number."""
    reference = await state.reference(graph)
    found = await graph.read(services_by_ids, ids=ids)
    services = [found[i] for i in ids if i in found]
    orgs = await graph.read(organisations_by_ids, ids=sorted({s.organisation_id for s in services}))
    return nested_services(reference, services, orgs)


def _minimal(service: dict[str, Any]) -> dict[str, Any]:
    return {k: service[k] for k in ("id", "name", "status", "last_modified") if k in service}


def _service_shape(full: bool, minimal: bool) -> Callable[[dict[str, Any]], dict[str, Any]]:
    if minimal:
        return _minimal
    if full:
        return lambda s: s
    return lambda s: one_to_one(s, keep=("organization", "program"))


async def _service_filter(
    graph: GraphDep,
    state: StateDep,
    search: SearchQ = None,
    taxonomy_term_id: TermQ = None,
    taxonomy_id: TaxonomyQ = None,
    organization_id: OrganisationQ = None,
    modified_after: ModifiedQ = None,
    lat: LatQ = None,
    lng: LngQ = None,
    radius_km: RadiusQ = 25.0,
    proximity: ProximityQ = None,
    postcode: PostcodeQ = None,
) -> ServiceFilter | None:
    """The filter of the service lists in Homeward's terms; None when it can match nothing
    (an unknown id, a search without a word). A blank `search` is no filter."""
    where = ServiceFilter()
    if search is not None and search.strip():
        where.terms = lucene_query(search)
        if where.terms is None:
            return None
    if postcode is not None:
        raise _bad(
            "postcode", "Homeward holds no postcodes; give lat and lng (and proximity) instead"
        )
    if (lat is None) != (lng is None):
        raise _bad("lng" if lng is None else "lat", "give lat and lng together")
    if proximity is not None and lat is None:
        raise _bad("proximity", "give lat and lng with proximity (Homeward has no postcodes)")
    if lat is not None and lng is not None:
        where.near = GeoPoint(lat=lat, lon=lng)
        where.radius_m = proximity if proximity is not None else radius_km * 1000
    if modified_after is not None:
        where.modified_after = (
            modified_after if modified_after.tzinfo else modified_after.replace(tzinfo=UTC)
        )
    if organization_id is not None:
        found = await graph.read(find_by_hsds_id, kind="organization", id=organization_id)
        if found is None:
            return None
        where.organisation_id = found[0]
    if taxonomy_term_id is not None:
        reference = await state.reference(graph)
        term = taxonomy_term_id.lower()
        needs = {term_id(NEEDS_TAXONOMY, n.code): n.code for n in reference.needs}
        groups = {term_id(GROUPS_TAXONOMY, g.code): g.code for g in reference.groups}
        if term in needs:
            where.need = needs[term]
        elif term in groups:
            where.target_group = groups[term]
        elif term in {t["id"] for t in _taxonomy_tables(reference)["taxonomy_terms"]}:
            raise _bad(
                "taxonomy_term_id",
                "only terms of the taxonomies 'Homeward needs' and 'Homeward target groups' "
                "select services",
            )
        else:
            return None
    if taxonomy_id is not None:
        where.taxonomy = {
            hsds_taxonomy_id(NEEDS_TAXONOMY): "needs",
            hsds_taxonomy_id(GROUPS_TAXONOMY): "groups",
        }.get(taxonomy_id.lower(), "none")
        if where.taxonomy == "none":
            return None
    return where


FilterDep = Annotated[ServiceFilter | None, Depends(_service_filter)]


def _taxonomy_tables(reference: Reference) -> dict[str, list[dict[str, str]]]:
    exporter = Exporter(reference)
    exporter.taxonomy()
    return dict(exporter.tables)


def _matches(text: str | None, row: dict[str, str]) -> bool:
    if not text:
        return True
    words = fold(" ".join(row.get(k, "") for k in ("name", "description", "code"))).split()
    haystack = " ".join(words)
    return all(w in haystack for w in fold(text).split())


async def _static_page(
    rows: list[dict[str, Any]], paging: Paging
) -> JSONResponse | StreamingResponse:
    """Pages of a small list held in memory (taxonomies and their terms)."""
    by_id = {r["id"]: r for r in rows}

    async def read_page(skip: int, limit: int) -> PageKeys:
        return PageKeys(total=len(rows), keys=[[r["id"]] for r in rows[skip : skip + limit]])

    async def build(keys: list[list[str]]) -> list[dict[str, Any]]:
        return [by_id[k[0]] for k in keys]

    return await _answer(read_page, build, paging)


# --- endpoints --------------------------------------------------------------------------------


@router.get("/", response_model=ApiInfo)
async def api_info(request: Request) -> ApiInfo:
    """Retrieve information about this API and its relationship with HSDS."""
    return ApiInfo(
        version=HSDS_VERSION,
        profile=str(request.url_for("hsds_profile")),
        openapi_url=str(request.url_for("openapi")),
    )


@router.get("/profile", name="hsds_profile")
async def hsds_profile() -> dict[str, Any]:
    """Homeward's HSDS profile: its extensions of HSDS 3.0 (proximity, eligibility by
    sending country and programme, capacity, ...) as JSON Merge Patches."""
    return profile_document()


@router.get(
    "/services",
    response_model=ServicePage,
    responses=_listed("A page of services: their own fields, organization and program."),
)
async def list_services(
    graph: GraphDep,
    state: StateDep,
    where: FilterDep,
    paging: PagingDep,
    minimal: MinimalQ = False,
    full: FullQ = False,
) -> Any:
    """Paginated services, by id (nearest site first with `lat`/`lng`)."""
    shape = _service_shape(full, minimal)

    async def read_page(skip: int, limit: int) -> PageKeys:
        if where is None:
            return _empty()
        return await graph.read(service_page, where=where, skip=skip, limit=limit)

    async def build(keys: list[list[str]]) -> list[dict[str, Any]]:
        return [shape(s) for s in await _services(graph, state, [k[0] for k in keys])]

    return await _answer(read_page, build, paging)


@router.get(
    "/services/{id}",
    responses=_one("compiled/service", "A fully nested service."),
)
async def get_service(id: str, graph: GraphDep, state: StateDep) -> JSONResponse:
    """A fully nested service with all related data."""

    async def build(key: list[str]) -> list[dict[str, Any]]:
        return await _services(graph, state, key)

    return await _single(graph, "service", id, build)


async def _organisations(
    graph: Graph, state: HsdsState, ids: list[str], *, full_service: bool
) -> list[dict[str, Any]]:
    reference = await state.reference(graph)
    found = await graph.read(organisations_by_ids, ids=ids)
    orgs = [found[i] for i in ids if i in found]
    service_ids = await graph.read(service_ids_of, organisation_ids=[o.id for o in orgs])
    services = await graph.read(services_by_ids, ids=service_ids)
    return nested_organisations_of(
        reference, orgs, [services[i] for i in service_ids], full_services=full_service
    )


@router.get(
    "/organizations",
    response_model=OrganizationPage,
    responses=_listed("A page of organizations: their own fields."),
)
async def list_organizations(
    graph: GraphDep,
    state: StateDep,
    paging: PagingDep,
    search: SearchQ = None,
    full_service: FullServiceQ = False,
    full: FullQ = False,
) -> Any:
    """Paginated organizations, by id."""
    # A blank search is no filter.
    searching = search is not None and bool(search.strip())
    terms = lucene_query(search) if search is not None and searching else None

    async def read_page(skip: int, limit: int) -> PageKeys:
        if searching and terms is None:
            return _empty()
        return await graph.read(organisation_page, terms=terms, skip=skip, limit=limit)

    async def build(keys: list[list[str]]) -> list[dict[str, Any]]:
        if not (full or full_service):
            # Own fields only: no services needed.
            reference = await state.reference(graph)
            found = await graph.read(organisations_by_ids, ids=[k[0] for k in keys])
            orgs = [found[k[0]] for k in keys if k[0] in found]
            return [
                one_to_one(o)
                for o in nested_organisations_of(reference, orgs, [], full_services=False)
            ]
        return await _organisations(graph, state, [k[0] for k in keys], full_service=full_service)

    return await _answer(read_page, build, paging)


@router.get(
    "/organizations/{id}",
    responses=_one("compiled/organization", "A fully nested organization."),
)
async def get_organization(
    id: str, graph: GraphDep, state: StateDep, full_service: FullServiceQ = False
) -> JSONResponse:
    """A fully nested organization; its services with their own fields unless
    `full_service`."""

    async def build(key: list[str]) -> list[dict[str, Any]]:
        return await _organisations(graph, state, key, full_service=full_service)

    return await _single(graph, "organization", id, build)


async def _sites(graph: Graph, state: HsdsState, pairs: list[list[str]]) -> list[dict[str, Any]]:
    reference = await state.reference(graph)
    services = await graph.read(services_by_ids, ids=sorted({p[0] for p in pairs}))
    orgs = await graph.read(
        organisations_by_ids, ids=sorted({s.organisation_id for s in services.values()})
    )
    present = [
        (sid, lid)
        for sid, lid in pairs
        if sid in services and any(loc.id == lid for loc in services[sid].locations)
    ]
    return nested_sites(reference, present, services, orgs)


@router.get(
    "/service_at_locations",
    response_model=ServiceAtLocationPage,
    responses=_listed("A page of services at locations: their own fields, location, service."),
)
async def list_service_at_locations(
    graph: GraphDep,
    state: StateDep,
    where: FilterDep,
    paging: PagingDep,
    full: FullQ = False,
) -> Any:
    """Paginated services at their sites, by service and site (nearest first with
    `lat`/`lng`)."""

    async def read_page(skip: int, limit: int) -> PageKeys:
        if where is None:
            return _empty()
        return await graph.read(site_page, where=where, skip=skip, limit=limit)

    async def build(keys: list[list[str]]) -> list[dict[str, Any]]:
        sites = await _sites(graph, state, keys)
        return sites if full else [one_to_one(s, keep=("location", "service")) for s in sites]

    return await _answer(read_page, build, paging)


@router.get(
    "/service_at_locations/{id}",
    responses=_one("compiled/service_at_location", "A fully nested service at a location."),
)
async def get_service_at_location(id: str, graph: GraphDep, state: StateDep) -> JSONResponse:
    """A fully nested service_at_location with its location and service."""

    async def build(pair: list[str]) -> list[dict[str, Any]]:
        return await _sites(graph, state, [pair])

    return await _single(graph, "service_at_location", id, build)


@router.get(
    "/taxonomies",
    response_model=TaxonomyPage,
    responses=_listed("A page of taxonomies."),
)
async def list_taxonomies(
    graph: GraphDep,
    state: StateDep,
    paging: PagingDep,
    search: SearchQ = None,
) -> Any:
    """Homeward's taxonomies: needs, target groups and the returnee profile."""
    rows = _typed("taxonomies", _taxonomy_tables(await state.reference(graph))["taxonomies"])
    return await _static_page([r for r in rows if _matches(search, r)], paging)


@router.get(
    "/taxonomies/{id}",
    responses=_one("taxonomy", "A taxonomy."),
)
async def get_taxonomy(id: str, graph: GraphDep, state: StateDep) -> JSONResponse:
    rows = _typed("taxonomies", _taxonomy_tables(await state.reference(graph))["taxonomies"])
    return JSONResponse(_by_id(rows, id, "taxonomy"))


def _typed(table: str, rows: Iterable[dict[str, str]]) -> list[dict[str, Any]]:
    return sorted((typed(table, r) for r in rows), key=lambda r: str(r["id"]))


def _by_id(rows: list[dict[str, Any]], id: str, kind: str) -> dict[str, Any]:
    found = next((r for r in rows if r["id"] == id.lower()), None)
    if found is None:
        raise _not_found(kind, id)
    return found


def _terms(reference: Reference) -> list[dict[str, Any]]:
    tables = _taxonomy_tables(reference)
    taxonomies = {t["id"]: typed("taxonomies", t) for t in tables["taxonomies"]}
    terms = _typed("taxonomy_terms", tables["taxonomy_terms"])
    for term in terms:
        term["taxonomy_detail"] = taxonomies[term["taxonomy_id"]]
    return terms


@router.get(
    "/taxonomy_terms",
    response_model=TaxonomyTermPage,
    responses=_listed("A page of taxonomy terms."),
)
async def list_taxonomy_terms(
    graph: GraphDep,
    state: StateDep,
    paging: PagingDep,
    search: SearchQ = None,
    taxonomy_id: Annotated[str | None, Query(description="Terms of this taxonomy.")] = None,
    top_only: Annotated[bool, Query(description="Only terms without a parent term.")] = False,
    parent_id: Annotated[str | None, Query(description="Terms whose parent is this term.")] = None,
) -> Any:
    """The terms of Homeward's taxonomies (needs with their broader need as parent)."""
    rows = [
        t
        for t in _terms(await state.reference(graph))
        if _matches(search, t)
        and (taxonomy_id is None or t["taxonomy_id"] == taxonomy_id.lower())
        and (not top_only or "parent_id" not in t)
        and (parent_id is None or t.get("parent_id") == parent_id.lower())
    ]
    return await _static_page(rows, paging)


@router.get(
    "/taxonomy_terms/{id}",
    responses=_one("taxonomy_term", "A taxonomy term."),
)
async def get_taxonomy_term(id: str, graph: GraphDep, state: StateDep) -> JSONResponse:
    return JSONResponse(_by_id(_terms(await state.reference(graph)), id, "taxonomy_term"))
