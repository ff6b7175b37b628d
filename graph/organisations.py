"""Organisations: any actor that sends, receives or coordinates returns.

Field names follow HSDS 3.0's `organization` where HSDS has the concept (name, alternate
names, description, email, website); the rest (kind, country, independence from authorities)
is what the return field needs beyond HSDS.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from core.errors import Forbidden, NotFound, ValidationFailed, VersionConflict
from core.text import search_keys
from graph.areas import country_exists
from graph.audit import diff, record_event
from graph.duplicates import (
    CANONICAL_ORGANISATION,
    PossibleDuplicates,
    organisation_candidates,
    organisation_features,
    organisation_keys,
)
from graph.hsds_ids import hsds_id, hsds_key
from graph.pagination import (
    Page,
    ParentPage,
    decode_cursor,
    pages_by_parent,
    paginate,
    parent_cursors,
)
from graph.search_changes import organisations_changed
from graph.temporal import native
from graph.users import Actor


class OrganisationKind(StrEnum):
    NGO = "ngo"
    INTERNATIONAL_ORGANISATION = "international_organisation"
    GOVERNMENT = "government"
    MUNICIPAL_OFFICE = "municipal_office"
    LIAISON_OFFICE = "liaison_office"
    SOCIAL_WORK_CENTRE = "social_work_centre"
    EMPLOYMENT_AGENCY = "employment_agency"
    HEALTH_PROVIDER = "health_provider"
    EMPLOYER = "employer"
    NETWORK = "network"
    OTHER = "other"


def _strip(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


class OrganisationInput(BaseModel):
    """What a registration may say about an organisation; the single source of its rules."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    alternate_names: list[str] = Field(default_factory=list, max_length=20)
    acronym: str | None = Field(default=None, max_length=20)
    kind: OrganisationKind
    description: str | None = Field(default=None, max_length=5000)
    website: HttpUrl | None = None
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, max_length=40, pattern=r"^\+?[0-9 ()/.-]{5,}$")
    country: str = Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2, XK: Kosovo")
    independent_of_authorities: bool | None = None
    based_in: str | None = Field(
        default=None, max_length=64, description="Area id of the town or region of its office."
    )

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("alternate_names")
    @classmethod
    def _clean_names(cls, names: list[str]) -> list[str]:
        cleaned = [n.strip() for n in names if n.strip()]
        if any(len(n) > 200 for n in cleaned):
            raise ValueError("an alternate name is longer than 200 characters")
        return list(dict.fromkeys(cleaned))

    @field_validator("acronym", "description")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return _strip(value)


class Organisation(BaseModel):
    id: str
    # What an HSDS import kept: the HSDS id and unmodelled HSDS content (JSON).
    hsds_id: str | None = None
    hsds_extra: str | None = None
    name: str
    alternate_names: list[str]
    acronym: str | None
    kind: OrganisationKind
    description: str | None
    website: str | None
    email: str | None
    phone: str | None
    country: str
    independent_of_authorities: bool | None
    based_in: str | None
    version: int
    created_at: datetime
    updated_at: datetime


def _organisation(node: Any, based_in: str | None) -> Organisation:
    props = dict(node)
    return Organisation(
        id=props["id"],
        name=props["name"],
        alternate_names=list(props.get("alternate_names") or []),
        acronym=props.get("acronym"),
        kind=OrganisationKind(props["kind"]),
        description=props.get("description"),
        website=props.get("website"),
        email=props.get("email"),
        phone=props.get("phone"),
        country=props["country"],
        independent_of_authorities=props.get("independent_of_authorities"),
        based_in=based_in,
        hsds_id=props.get("hsds_id"),
        hsds_extra=props.get("hsds_extra"),
        version=props["version"],
        created_at=native(props["created_at"]),
        updated_at=native(props["updated_at"]),
    )


def organisation_properties(data: OrganisationInput) -> dict[str, Any]:
    return {
        "name": data.name,
        "alternate_names": data.alternate_names,
        "acronym": data.acronym,
        "kind": data.kind.value,
        "description": data.description,
        "website": str(data.website) if data.website else None,
        "email": data.email.lower() if data.email else None,
        "phone": data.phone,
        "country": data.country,
        "independent_of_authorities": data.independent_of_authorities,
        "search_text": " ".join(
            search_keys([data.name, *data.alternate_names, data.acronym or ""])
        ),
    } | organisation_keys(
        name=data.name,
        alternate_names=data.alternate_names,
        acronym=data.acronym,
        website=str(data.website) if data.website else None,
        phone=data.phone,
        email=data.email,
    )


# MERGE on the id the caller generated: a retried transaction finds its own node again and
# changes nothing, instead of creating a second organisation.
# The walk starts at the town, which has one chain of PART_OF upwards; starting from the
# country would expand every area below it.
# The organisation is BASED_IN its most specific known area: the town if given, else the
# country (whose code is also kept as a property for cheap filtering).
REGISTER: LiteralString = """
MATCH (country:Area {id: $props.country, level: 'country'})
OPTIONAL MATCH (town:Area {id: $based_in})
WHERE country IN COLLECT { MATCH (town)-[:PART_OF*]->(up:Area) RETURN up }
MERGE (o:Organisation {id: $id})
ON CREATE SET o += $props, o.version = 1, o.created_at = datetime(), o.updated_at = datetime(),
              o.hsds_key = $hsds_key
WITH o, coalesce(town, country) AS home
MERGE (o)-[:BASED_IN]->(home)
RETURN o, home.id AS based_in
"""

BASED_IN_VALID: LiteralString = """
OPTIONAL MATCH (town:Area {id: $based_in})
RETURN town IS NOT NULL
       AND $country IN COLLECT { MATCH (town)-[:PART_OF*]->(up:Area) RETURN up.id } AS ok
"""


async def register_organisation(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    data: OrganisationInput,
    actor: Actor,
    confirm_not_duplicate: bool = False,
) -> Organisation:
    existing = await organisations_by_ids(tx, ids=[id])
    if id in existing:
        return existing[id]  # a retried registration: already done, nothing more to record
    if not await country_exists(tx, code=data.country):
        raise ValidationFailed.single("country", f"unknown country code {data.country!r}")
    if data.based_in is not None:
        check = await tx.run(BASED_IN_VALID, based_in=data.based_in, country=data.country)
        if not (await check.single(strict=True))["ok"]:
            raise ValidationFailed.single(
                "based_in", f"{data.based_in!r} is not an area of {data.country}"
            )
    props = organisation_properties(data)
    if not confirm_not_duplicate:
        features = organisation_features(
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
        candidates = await organisation_candidates(tx, record=features)
        if candidates:
            raise PossibleDuplicates("organisation", candidates)
    result = await tx.run(
        REGISTER,
        id=id,
        props=props,
        based_in=data.based_in,
        hsds_key=hsds_key("organization", id, None),
    )
    record = await result.single(strict=True)
    organisation = _organisation(record["o"], record["based_in"])
    await record_event(
        tx,
        actor=actor,
        action="register",
        entity="organisation",
        entity_id=id,
        organisation_id=id,
        changes=diff(None, organisation.model_dump(exclude=_UNAUDITED)),
    )
    return organisation


_UNAUDITED = {"id", "version", "created_at", "updated_at"}


RETURN_ORGANISATION: LiteralString = """
RETURN o {.*, created_at: toString(o.created_at), updated_at: toString(o.updated_at)} AS o,
  COLLECT { MATCH (o)-[:BASED_IN]->(a:Area) RETURN a.id }[0] AS based_in
"""

BY_IDS: LiteralString = "UNWIND $ids AS id MATCH (o:Organisation {id: id}) " + RETURN_ORGANISATION

AFTER: LiteralString = (
    "MATCH (o:Organisation) WHERE o.id > $after WITH o ORDER BY o.id LIMIT $limit "
    + RETURN_ORGANISATION
)


async def organisations_after(
    tx: AsyncManagedTransaction, *, after: str, limit: int
) -> list[Organisation]:
    """Every organisation in id order, a page at a time (exports)."""
    result = await tx.run(AFTER, after=after, limit=limit)
    return [_organisation(r["o"], r["based_in"]) async for r in result]


async def organisations_by_ids(
    tx: AsyncManagedTransaction, *, ids: list[str]
) -> dict[str, Organisation]:
    result = await tx.run(BY_IDS, ids=ids)
    return {r["o"]["id"]: _organisation(r["o"], r["based_in"]) async for r in result}


async def get_organisation(tx: AsyncManagedTransaction, *, id: str) -> Organisation:
    found = await organisations_by_ids(tx, ids=[id])
    if id not in found:
        raise NotFound("organisation", id)
    return found[id]


UPSERT_MANY: LiteralString = """
UNWIND $rows AS row
MATCH (country:Area {id: row.props.country, level: 'country'})
OPTIONAL MATCH (town:Area {id: row.based_in})
WHERE country IN COLLECT { MATCH (town)-[:PART_OF*]->(up:Area) RETURN up }
MERGE (o:Organisation {id: row.id})
ON CREATE SET o.version = 1, o.created_at = datetime(), o.updated_at = datetime()
SET o += row.props
// An HSDS id given now replaces the one kept; without one the kept one stays.
SET o.hsds_key = toLower(coalesce(o.hsds_id, row.derived_hsds_id))
WITH o, coalesce(town, country) AS home
OPTIONAL MATCH (o)-[old:BASED_IN]->(other:Area) WHERE other <> home
DELETE old
MERGE (o)-[:BASED_IN]->(home)
RETURN count(DISTINCT o) AS written
"""


async def upsert_organisations(
    tx: AsyncManagedTransaction, *, rows: list[tuple[str, OrganisationInput, dict[str, Any]]]
) -> int:
    """Bulk load (seed, import): same id, same node; `extra` holds provenance properties."""
    params = [
        {
            "id": id,
            "props": {**organisation_properties(data), **extra},
            "based_in": data.based_in,
            "derived_hsds_id": hsds_id("organization", id),
        }
        for id, data, extra in rows
    ]
    result = await tx.run(UPSERT_MANY, rows=params)
    record = await result.single(strict=True)
    # Search pages keep organisations in memory (graph/search_cache.py): a changed one is
    # read again.
    await organisations_changed(tx, ids=[id for id, _, _ in rows])
    return int(record["written"])


# Organisations based in each area or anywhere below it, by name: the pages of many areas in
# one query, so that a list of areas with their organisations costs one read per level.
IN_AREAS: LiteralString = (
    """
UNWIND $wanted AS w
CALL (w) {
  MATCH (a:Area {id: w.parent})<-[:PART_OF*0..]-(:Area)<-[:BASED_IN]-(o:Organisation)
  WITH DISTINCT o
  WHERE o.name > w.after_name OR (o.name = w.after_name AND o.id > w.after_id)
  WITH o ORDER BY o.name, o.id LIMIT $limit
  RETURN o
}
WITH w, o
"""
    + RETURN_ORGANISATION
    + ", w.parent AS parent, w.after AS after"
)


async def organisations_in_areas(
    tx: AsyncManagedTransaction, *, wanted: list[ParentPage], first: int
) -> dict[ParentPage, Page[Organisation]]:
    result = await tx.run(IN_AREAS, wanted=parent_cursors(wanted), limit=first + 1)
    rows = [(r["parent"], r["after"], _organisation(r["o"], r["based_in"])) async for r in result]
    return pages_by_parent(wanted, [(p, a, o.name, o.id, o) for p, a, o in rows], first)


ALL: LiteralString = (
    """
MATCH (o:Organisation)
WHERE o.name > $after_name OR (o.name = $after_name AND o.id > $after_id)
WITH o ORDER BY o.name, o.id LIMIT $limit
"""
    + RETURN_ORGANISATION
)


async def list_organisations(
    tx: AsyncManagedTransaction, *, area_id: str | None, first: int, after: str | None
) -> Page[Organisation]:
    if area_id is not None:
        pages = await organisations_in_areas(tx, wanted=[(area_id, after)], first=first)
        return pages[(area_id, after)]
    name, last_id = decode_cursor(after)
    result = await tx.run(ALL, after_name=name, after_id=last_id, limit=first + 1)
    orgs = [_organisation(r["o"], r["based_in"]) async for r in result]
    return paginate([(o.name, o.id, o) for o in orgs], first)


class OrganisationMatch(BaseModel):
    """An organisation an import names by id or by one of its names (folded)."""

    id: str
    name: str
    country: str
    keys: list[str]
    phone: str | None
    email: str | None
    website: str | None


# A name finds only canonical records (one merged into another is the same organisation);
# an id finds its record whatever it is.
BY_NAMES: LiteralString = (
    """
MATCH (o:Organisation)
WHERE o.id IN $ids
   OR (any(k IN o.name_keys WHERE k IN $keys) AND """
    + CANONICAL_ORGANISATION
    + """)
RETURN o.id AS id, o.name AS name, o.country AS country, o.name_keys AS keys,
       o.phone AS phone, o.email AS email, o.website AS website
ORDER BY o.id
"""
)


async def organisations_by_names(
    tx: AsyncManagedTransaction, *, keys: list[str], ids: list[str]
) -> list[OrganisationMatch]:
    """Organisations whose id is in `ids` or one of whose folded names, alternate names or
    acronym is in `keys` (see `core.text.fold`)."""
    result = await tx.run(BY_NAMES, keys=keys, ids=ids)
    return [OrganisationMatch.model_validate(dict(r)) async for r in result]


# --- an organisation's own description ----------------------------------------------------


class OrganisationContacts(BaseModel):
    """What an organisation keeps up to date about itself after registration: its name and
    how to reach it. Kind and country stay as registered (a coordinator's matter)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    acronym: str | None = Field(default=None, max_length=20)
    description: str | None = Field(default=None, max_length=5000)
    website: HttpUrl | None = None
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, max_length=40, pattern=r"^\+?[0-9 ()/.-]{5,}$")

    @field_validator("acronym", "description", "email", "phone", mode="before")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return _strip(value)

    @field_validator("website", mode="before")
    @classmethod
    def _no_website(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


BUMP_ORGANISATION: LiteralString = """
MATCH (o:Organisation {id: $id})
SET o.version = o.version + 1, o.updated_at = datetime()
RETURN o.version - 1 AS previous
"""

SET_PROPERTIES: LiteralString = "MATCH (o:Organisation {id: $id}) SET o += $props"

UNAUDITED = {"id", "version", "created_at", "updated_at", "hsds_id", "hsds_extra"}


async def update_organisation(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    expected_version: int,
    data: OrganisationContacts,
    actor: Actor,
    allowed_organisations: set[str] | None,
) -> Organisation:
    """Replace the organisation's name and contacts if the caller saw its current version;
    `allowed_organisations` comes from the access policy (None: every one)."""
    if allowed_organisations is not None and id not in allowed_organisations:
        raise Forbidden(f"you may not change organisation {id!r}")
    record = await (await tx.run(BUMP_ORGANISATION, id=id)).single()
    if record is None:
        raise NotFound("organisation", id)
    before = await get_organisation(tx, id=id)
    if record["previous"] != expected_version:
        raise VersionConflict("organisation", id, expected_version, record["previous"])
    # The whole description again, so that the derived keys (duplicate matching, search) follow.
    whole = OrganisationInput.model_validate(
        before.model_dump(include=set(OrganisationInput.model_fields))
        | data.model_dump()
        | {"based_in": None}
    )
    await tx.run(SET_PROPERTIES, id=id, props=organisation_properties(whole))
    await organisations_changed(tx, ids=[id])
    after = await get_organisation(tx, id=id)
    await record_event(
        tx,
        actor=actor,
        action="update",
        entity="organisation",
        entity_id=id,
        organisation_id=id,
        changes=diff(before.model_dump(exclude=UNAUDITED), after.model_dump(exclude=UNAUDITED)),
    )
    return after
