"""Homeward's HSDS profile: how what HSDS 3.0 does not model travels as HSDS attributes.

HSDS ids are UUIDs; Homeward's are readable codes ("xk-krct"). An exported record gets the
UUID `uuid5(NAMESPACE, "<kind>:<id>")` (the same every time) and, unless its id is a UUID
already, carries its own id as the attribute `homeward-id`, so that an import restores it.

Three taxonomies carry the rest (fixed ids, so that every export names them the same way):

- **Homeward needs**: one term per need (`code` = need code, `parent_id` = broader need); a
  service's needs are attributes with these terms.
- **Homeward target groups**: one term per target group, linked the same way.
- **Homeward returnee profile**: one term per field beyond HSDS (below); the attribute's
  `value` holds the field's value, one attribute per value for lists.

Unchanged HSDS fields carry the rest: `application_process` is the referral method,
`languages` the languages, `service_areas` the covered areas (`uri` = `urn:homeward:area:<id>`),
`organization_identifiers` the organisation's id (scheme `homeward`), `locations` the sites
(their area and address line as the attributes `area` and `address`: HSDS addresses require
a postal code, which Homeward does not hold), `external_identifier` the site's id.

`profile_document()` publishes all this, with the read API's extensions, as an HSDS profile
(JSON Merge Patches of the 3.0 schemas and API), served at `/hsds/profile`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final

# The derivation lives beside the graph's writes, which store each record's HSDS id.
from graph.hsds_ids import NAMESPACE as NAMESPACE
from graph.hsds_ids import hsds_id as hsds_id

NEEDS_TAXONOMY: Final = "Homeward needs"
GROUPS_TAXONOMY: Final = "Homeward target groups"
PROFILE_TAXONOMY: Final = "Homeward returnee profile"
AREA_URI_PREFIX: Final = "urn:homeward:area:"
IDENTIFIER_SCHEME: Final = "homeward"


@lru_cache(maxsize=64)
def taxonomy_id(name: str) -> str:
    return hsds_id("taxonomy", name)


# Cached: a few hundred terms, named by every exported record.
@lru_cache(maxsize=4096)
def term_id(taxonomy: str, code: str) -> str:
    return hsds_id(f"term:{taxonomy}", code)


# Fields of the returnee profile, per entity (attribute `link_entity`): term code -> what
# it holds. Lists are one attribute per value.
PROFILE_FIELDS: Final[dict[str, dict[str, str]]] = {
    "organization": {
        "homeward-id": "the organisation's Homeward id",
        "kind": "kind of actor (ngo, government, municipal_office, ...)",
        "country": "ISO 3166-1 alpha-2 country code (XK: Kosovo)",
        "based-in": "Homeward area id of its office's town or region",
        "acronym": "acronym",
        "alternate-name": "further alternate names (the first is HSDS `alternate_name`)",
        "independent-of-authorities": "true or false",
    },
    "service": {
        "homeward-id": "the service's Homeward id",
        "delivery": "in_person, remote or outreach (one attribute each)",
        "sending-country": "host country it serves returnees from (ISO 3166-1 alpha-2)",
        "eligible-sending-country": "host country whose returnees may use the service by "
        "Homeward's eligibility rule: its own sending countries, else those every programme "
        "funding it names; none: returnees from everywhere. Derived; ignored on import",
        "return-type": "voluntary, mandatory or forced (one attribute each)",
        "programme": "Homeward programme id (one attribute each)",
        "expected-response-days": "days to answer a referral",
        "capacity": "available, limited, full or unknown",
        "capacity-note": "note on capacity",
        "capacity-date": "date capacity was last stated (YYYY-MM-DD)",
        "last-verified-at": "when the entry was last confirmed (ISO 8601)",
        "last-verified-by": "who confirmed it",
    },
    "location": {
        "homeward-id": "the site's Homeward id",
        "area": "Homeward area id the site lies in",
        "address": "the site's address as one line: HSDS addresses require a postal code, "
        "which Homeward does not hold, so a site's address travels here",
    },
    "program": {
        "homeward-id": "the programme's Homeward id",
        "funder": "who funds the programme",
        "sending-country": "host country the programme serves (one attribute each)",
    },
}

PROFILE_CODES: Final = frozenset(code for fields in PROFILE_FIELDS.values() for code in fields)


BASE_SPECIFICATION: Final = "https://github.com/openreferral/specification/tree/3.0"
# The read API's parameters beyond HSDS, on the lists of services and services at locations.
_NEAR_PARAMETERS: Final = [
    {"name": "lat", "in": "query", "schema": {"type": "number", "minimum": -90, "maximum": 90},
     "description": "Latitude (WGS 84) to search around; with lng. Results nearest first."},
    {"name": "lng", "in": "query", "schema": {"type": "number", "minimum": -180, "maximum": 180},
     "description": "Longitude (WGS 84); with lat."},
    {"name": "radius_km", "in": "query", "schema": {"type": "number", "default": 25},
     "description": "Kilometres around lat/lng (default 25)."},
    {"name": "proximity", "in": "query", "schema": {"type": "number"},
     "description": "HSDS: metres around the place, which is lat/lng (Homeward holds no "
     "postcodes; `postcode` is refused)."},
]  # fmt: skip


def profile_document() -> dict[str, Any]:
    """Homeward's HSDS profile: what it adds to HSDS 3.0, as JSON Merge Patches (RFC 7396)
    of the specification's schemas and API description, in the shape of HSDS profiles."""
    taxonomies = {
        NEEDS_TAXONOMY: "a service's needs: attributes with these terms",
        GROUPS_TAXONOMY: "who a service is for: attributes with these terms",
        PROFILE_TAXONOMY: "the fields below: the attribute's value holds the field's value",
    }
    return {
        "name": "homeward",
        "title": "Homeward: return and reintegration directory",
        "hsds_version": "3.0",
        "base": BASE_SPECIFICATION,
        "description": "Records of a directory of services for returnees: eligibility by "
        "sending country and programme, capacity, needs and target groups, areas of a "
        "gazetteer. Everything beyond HSDS 3.0 travels as attributes of three taxonomies, "
        "so that any HSDS 3.0 reader can read the records.",
        "taxonomies": {
            name: {"id": taxonomy_id(name), "description": text}
            for name, text in taxonomies.items()
        },
        "profile_fields": {
            entity: {
                code: {"term_id": term_id(PROFILE_TAXONOMY, code), "description": text}
                for code, text in fields.items()
            }
            for entity, fields in PROFILE_FIELDS.items()
        },
        "schema_patches": {
            "service_area": {
                "properties": {
                    "uri": {"description": "urn:homeward:area:<id> names a Homeward area"}
                }
            },
            "organization_identifier": {
                "properties": {"identifier_scheme": {"description": "'homeward': the Homeward id"}}
            },
        },
        "openapi_patch": {
            "paths": {
                path: {"get": {"x-homeward-parameters": _NEAR_PARAMETERS}}
                for path in ("/services", "/service_at_locations")
            }
        },
    }
