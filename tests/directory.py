"""A small, fully known directory for tests: taxonomy, Kosovo areas, two organisations."""

from __future__ import annotations

from typing import Any

from graph.driver import Graph
from graph.needs import NeedRecord, Term, upsert_needs
from graph.organisations import OrganisationInput, upsert_organisations
from graph.services import ServiceInput, upsert_row, upsert_services
from graph.target_groups import upsert_target_groups

NEEDS = [
    NeedRecord(
        code="psychosocial", labels={"en": "Psychosocial support", "sq": "Mbështetje psikosociale"}
    ),
    NeedRecord(
        code="psychosocial.trauma-therapy",
        broader="psychosocial",
        labels={"en": "Trauma therapy", "de": "Traumatherapie", "sq": "Terapi e traumës"},
    ),
    NeedRecord(code="employment", labels={"en": "Employment", "de": "Beschäftigung"}),
]
GROUPS = [Term(code="rae", labels={"en": "Roma, Ashkali and Egyptian communities"})]


def service(**overrides: Any) -> ServiceInput:
    data: dict[str, Any] = {
        "organisation_id": "org-krct",
        "name": "Trauma therapy",
        "delivery": ["in_person"],
        "needs": ["psychosocial.trauma-therapy"],
        "target_groups": ["rae"],
        "covers": ["XK-prizren"],
        "languages": ["sq", "sr"],
    }
    return ServiceInput.model_validate(data | overrides)


async def build(graph: Graph) -> None:
    """Needs, a target group and organisations on top of the `countries` fixture's areas."""
    await graph.write(upsert_needs, records=NEEDS)
    await graph.write(upsert_target_groups, records=GROUPS)
    orgs = [
        ("org-krct", {"name": "KRCT", "kind": "health_provider", "country": "XK"}),
        ("org-aprk", {"name": "APRK", "kind": "employment_agency", "country": "XK"}),
    ]
    await graph.write(
        upsert_organisations,
        rows=[(i, OrganisationInput.model_validate(d), {}) for i, d in orgs],
    )


async def add_services(graph: Graph, services: list[tuple[str, ServiceInput]]) -> None:
    await graph.write(upsert_services, rows=[upsert_row(i, s, {}) for i, s in services])
