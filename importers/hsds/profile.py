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
`organization_identifiers` the organisation's id (scheme `homeward`), `locations` with their
`addresses` the sites, `external_identifier` the site's id.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

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
    },
    "program": {
        "homeward-id": "the programme's Homeward id",
        "funder": "who funds the programme",
        "sending-country": "host country the programme serves (one attribute each)",
    },
}

PROFILE_CODES: Final = frozenset(code for fields in PROFILE_FIELDS.values() for code in fields)
