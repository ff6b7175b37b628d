"""Probable duplicates at the front door: before a registration creates a record, look for
records that already describe the same organisation or service.

The keys are written with every organisation (`name_keys`, `website_domain`,
`phone_digits`, `email`) so that the check is a single indexed read. Each candidate carries
the evidence that made it one. The batch review of the coordination work extends this.
"""

from __future__ import annotations

import re
from typing import Any, LiteralString
from urllib.parse import urlsplit

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel

from graph.text import search_keys
from homeward.errors import HomewardError

# Phone numbers are compared on their last digits: "+383 38 000 041", "038/000-041" and
# "00383 38 000041" are one number written three ways.
PHONE_DIGITS = 8


class Evidence(BaseModel):
    field: str
    value: str


class DuplicateCandidate(BaseModel):
    entity: str
    id: str
    name: str
    evidence: list[Evidence]


def website_domain(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    host = host.lower().removeprefix("www.")
    return host or None


def phone_digits(phone: str | None) -> str | None:
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
    return digits[-PHONE_DIGITS:] if len(digits) >= PHONE_DIGITS else None


def organisation_keys(
    *, name: str, alternate_names: list[str], acronym: str | None, website: str | None,
    phone: str | None, email: str | None,
) -> dict[str, Any]:  # fmt: skip
    """The derived properties an organisation is matched on."""
    return {
        "name_keys": search_keys([name, *alternate_names, acronym or ""]),
        "website_domain": website_domain(website),
        "phone_digits": phone_digits(phone),
        "email": email.lower() if email else None,
    }


ORGANISATION_CANDIDATES: LiteralString = """
MATCH (o:Organisation)
WHERE any(k IN o.name_keys WHERE k IN $name_keys)
   OR ($domain IS NOT NULL AND o.website_domain = $domain)
   OR ($phone IS NOT NULL AND o.phone_digits = $phone)
   OR ($email IS NOT NULL AND o.email = $email)
RETURN o.id AS id, o.name AS name,
       [k IN o.name_keys WHERE k IN $name_keys] AS names,
       o.website_domain = $domain AS same_domain,
       o.phone_digits = $phone AS same_phone,
       o.email = $email AS same_email,
       o.website_domain AS domain, o.phone AS phone
ORDER BY o.name, o.id
LIMIT 10
"""


async def organisation_candidates(
    tx: AsyncManagedTransaction, *, keys: dict[str, Any], exclude_id: str | None = None
) -> list[DuplicateCandidate]:
    result = await tx.run(
        ORGANISATION_CANDIDATES,
        name_keys=keys["name_keys"],
        domain=keys["website_domain"],
        phone=keys["phone_digits"],
        email=keys["email"],
    )
    candidates = []
    async for r in result:
        if r["id"] == exclude_id:
            continue
        evidence = [Evidence(field="name", value=n) for n in r["names"]]
        if r["same_domain"]:
            evidence.append(Evidence(field="website", value=r["domain"]))
        if r["same_phone"]:
            evidence.append(Evidence(field="phone", value=r["phone"]))
        if r["same_email"]:
            evidence.append(Evidence(field="email", value=keys["email"]))
        candidates.append(
            DuplicateCandidate(entity="organisation", id=r["id"], name=r["name"], evidence=evidence)
        )
    return candidates


# A service is a probable duplicate when its folded name equals one of the same organisation,
# or of another organisation's service in one of the same areas.
SERVICE_CANDIDATES: LiteralString = """
MATCH (s:Service)
WHERE s.name_key = $name_key
OPTIONAL MATCH (o:Organisation)-[:PROVIDES]->(s)
WITH s, o,
     COLLECT { MATCH (s)-[:COVERS]->(a:Area) WHERE a.id IN $areas RETURN a.id } +
     COLLECT { MATCH (s)-[:DELIVERED_AT]->(:Location)-[:IN]->(a:Area) WHERE a.id IN $areas
               RETURN a.id } AS shared
WHERE o.id = $organisation OR size(shared) > 0
RETURN s.id AS id, s.name AS name, o.id = $organisation AS same_organisation,
       o.name AS organisation, shared
ORDER BY s.name, s.id
LIMIT 10
"""


async def service_candidates(
    tx: AsyncManagedTransaction, *, name: str, organisation_id: str, area_ids: list[str]
) -> list[DuplicateCandidate]:
    keys = search_keys([name])
    if not keys:
        return []
    result = await tx.run(
        SERVICE_CANDIDATES, name_key=keys[0], organisation=organisation_id, areas=area_ids
    )
    candidates = []
    async for r in result:
        evidence = [Evidence(field="name", value=r["name"])]
        if r["same_organisation"]:
            evidence.append(Evidence(field="organisation", value=r["organisation"]))
        evidence += [Evidence(field="area", value=a) for a in sorted(set(r["shared"]))]
        candidates.append(
            DuplicateCandidate(entity="service", id=r["id"], name=r["name"], evidence=evidence)
        )
    return candidates


class PossibleDuplicates(HomewardError):
    """A registration that probably repeats an existing record; nothing was written."""

    def __init__(self, entity: str, candidates: list[DuplicateCandidate]) -> None:
        names = ", ".join(f"{c.name} ({c.id})" for c in candidates)
        super().__init__(
            f"this {entity} probably exists already: {names}; register it anyway with "
            "confirmNotDuplicate: true if it is a different one"
        )
        self.candidates = candidates
