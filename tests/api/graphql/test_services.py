"""Partners keep their own organisation's services, and nobody else's; every change is audited."""

from __future__ import annotations

from typing import Any

import pytest

from graph.driver import Graph
from tests import directory
from tests.api.graphql.conftest import GraphQLClient

RESULT = """
  __typename
  ... on ServicePayload { service { id name version organisation { id } capacity } }
  ... on ForbiddenError { message }
  ... on VersionConflictError { message currentVersion }
  ... on ValidationError { fields { field message } }
"""
REGISTER = "mutation R($input: ServiceInput!) { registerService(input: $input) {" + RESULT + "} }"
UPDATE = (
    "mutation U($id: ID!, $v: Int!, $input: ServiceInput!) "
    "{ updateService(id: $id, expectedVersion: $v, input: $input) {" + RESULT + "} }"
)
AUDIT = """
query A($id: ID) { auditEvents(entityId: $id) { nodes {
  action actor entity entityId organisationId changes { field previous replacement } } } }
"""


def _input(**overrides: Any) -> dict[str, Any]:
    return {
        "organisationId": "org-a",
        "name": "Trauma therapy",
        "delivery": ["IN_PERSON"],
        "needs": ["psychosocial.trauma-therapy"],
        "covers": ["XK-prizren"],
        "languages": ["sq"],
        **overrides,
    }


@pytest.fixture
async def taxonomy(people: dict[str, str], graph: Graph) -> dict[str, str]:
    await directory.build(graph)
    return people


async def _register(gql: GraphQLClient, token: str, **overrides: Any) -> dict[str, Any]:
    body = await gql(REGISTER, {"input": _input(**overrides)}, token=token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["registerService"]
    return result


async def test_partner_registers_and_updates_own_service(
    gql: GraphQLClient, taxonomy: dict[str, str]
) -> None:
    created = await _register(gql, taxonomy["partner"])
    assert created["__typename"] == "ServicePayload"
    service = created["service"]
    assert service["version"] == 1
    assert service["organisation"] == {"id": "org-a"}

    updated = await gql(
        UPDATE,
        {"id": service["id"], "v": 1, "input": _input(name="Trauma therapy for families")},
        token=taxonomy["partner"],
    )
    result = updated["data"]["updateService"]
    assert result["__typename"] == "ServicePayload"
    assert result["service"]["version"] == 2
    assert result["service"]["name"] == "Trauma therapy for families"


async def test_partner_of_b_cannot_touch_a_service_of_a(
    gql: GraphQLClient, taxonomy: dict[str, str]
) -> None:
    service = (await _register(gql, taxonomy["partner"]))["service"]

    hijack = await gql(
        UPDATE,
        {"id": service["id"], "v": 1, "input": _input(name="Taken over")},
        token=taxonomy["partner_b"],
    )
    assert hijack["data"]["updateService"]["__typename"] == "ForbiddenError"
    # Nor by moving it into B, nor by registering in A's name.
    moved = await gql(
        UPDATE,
        {"id": service["id"], "v": 1, "input": _input(organisationId="org-b")},
        token=taxonomy["partner_b"],
    )
    assert moved["data"]["updateService"]["__typename"] == "ForbiddenError"
    foreign = await _register(gql, taxonomy["partner_b"], organisationId="org-a")
    assert foreign["__typename"] == "ForbiddenError"

    read = await gql("query($id: ID!) { service(id: $id) { name version } }", {"id": service["id"]})
    assert read["data"]["service"] == {"name": "Trauma therapy", "version": 1}


@pytest.mark.parametrize("person", ["counsellor", "coordinator"])
async def test_other_roles_cannot_maintain_services(
    gql: GraphQLClient, taxonomy: dict[str, str], person: str
) -> None:
    assert (await _register(gql, taxonomy[person]))["__typename"] == "ForbiddenError"


async def test_anonymous_cannot_register(gql: GraphQLClient, taxonomy: dict[str, str]) -> None:
    body = await gql(REGISTER, {"input": _input()})
    assert body["data"]["registerService"]["__typename"] == "ForbiddenError"


async def test_a_stale_version_is_a_conflict_and_writes_nothing(
    gql: GraphQLClient, taxonomy: dict[str, str]
) -> None:
    service = (await _register(gql, taxonomy["partner"]))["service"]
    token = taxonomy["partner"]
    first = await gql(
        UPDATE, {"id": service["id"], "v": 1, "input": _input(name="First")}, token=token
    )
    assert first["data"]["updateService"]["service"]["version"] == 2
    late = await gql(
        UPDATE, {"id": service["id"], "v": 1, "input": _input(name="Late")}, token=token
    )
    conflict = late["data"]["updateService"]
    assert conflict["__typename"] == "VersionConflictError"
    assert conflict["currentVersion"] == 2
    read = await gql("query($id: ID!) { service(id: $id) { name version } }", {"id": service["id"]})
    assert read["data"]["service"] == {"name": "First", "version": 2}


async def test_changes_are_audited_for_the_organisation_and_admins_only(
    gql: GraphQLClient, taxonomy: dict[str, str]
) -> None:
    service = (await _register(gql, taxonomy["partner"]))["service"]
    await gql(
        UPDATE,
        {"id": service["id"], "v": 1, "input": _input(capacity="LIMITED")},
        token=taxonomy["partner"],
    )

    own = (await gql(AUDIT, {"id": service["id"]}, token=taxonomy["partner"]))["data"]
    events = own["auditEvents"]["nodes"]
    assert [e["action"] for e in events] == ["update", "register"]
    assert events[0]["actor"] == "user-partner"
    assert events[0]["organisationId"] == "org-a"
    assert events[0]["changes"] == [
        {"field": "capacity", "previous": '"unknown"', "replacement": '"limited"'}
    ]

    admin = (await gql(AUDIT, {"id": service["id"]}, token=taxonomy["admin"]))["data"]
    assert len(admin["auditEvents"]["nodes"]) == 2
    other = (await gql(AUDIT, {"id": service["id"]}, token=taxonomy["partner_b"]))["data"]
    assert other["auditEvents"]["nodes"] == []
    anonymous = await gql(AUDIT, {"id": service["id"]})
    assert anonymous["data"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


SITE = {"id": "site-a-prizren", "name": "Centre A", "area": "XK-prizren"}
SERVICE_SITES = (
    "query($id: ID!) { service(id: $id) { version locations { id name point { lat } } } }"
)


async def test_a_site_of_another_organisation_is_refused_not_taken_over(
    gql: GraphQLClient, taxonomy: dict[str, str]
) -> None:
    owned = (await _register(gql, taxonomy["partner"], locations=[SITE]))["service"]
    moved = {**SITE, "name": "Taken", "point": {"lat": 0.5, "lon": 0.5}}

    foreign = await _register(
        gql, taxonomy["partner_b"], organisationId="org-b", name="Other", locations=[moved]
    )
    assert foreign["__typename"] == "ValidationError"
    assert [f["field"] for f in foreign["fields"]] == ["input.locations.0.id"]

    own_b = (await _register(gql, taxonomy["partner_b"], organisationId="org-b", name="Shelter B"))[
        "service"
    ]
    edit = await gql(
        UPDATE,
        {"id": own_b["id"], "v": 1, "input": _input(organisationId="org-b", locations=[moved])},
        token=taxonomy["partner_b"],
    )
    assert edit["data"]["updateService"]["__typename"] == "ValidationError"

    # Named as it is, a shared place (an airport) stays shared.
    shared = await _register(
        gql, taxonomy["partner_b"], organisationId="org-b", name="Reception", locations=[SITE]
    )
    assert shared["__typename"] == "ServicePayload"

    read = await gql(SERVICE_SITES, {"id": owned["id"]})
    assert read["data"]["service"]["version"] == 1
    assert read["data"]["service"]["locations"][0]["name"] == "Centre A"
    assert read["data"]["service"]["locations"][0]["point"]["lat"] != 0.5


async def test_a_write_to_a_shared_site_versions_and_audits_every_service_there(
    gql: GraphQLClient, taxonomy: dict[str, str]
) -> None:
    token = taxonomy["partner"]
    first = (await _register(gql, token, locations=[SITE]))["service"]
    second = (await _register(gql, token, name="Legal counselling", locations=[SITE]))["service"]
    # Registering the second service at the unchanged site changed nothing of the first.
    assert (await gql(SERVICE_SITES, {"id": first["id"]}))["data"]["service"]["version"] == 1

    renamed = {**SITE, "name": "Centre A, new address", "point": {"lat": 42.2, "lon": 20.7}}
    edit = await gql(
        UPDATE,
        {
            "id": second["id"],
            "v": 1,
            "input": _input(name="Legal counselling", locations=[renamed]),
        },
        token=token,
    )
    assert edit["data"]["updateService"]["__typename"] == "ServicePayload"

    read = (await gql(SERVICE_SITES, {"id": first["id"]}))["data"]["service"]
    assert read["version"] == 2
    assert read["locations"][0]["name"] == "Centre A, new address"
    events = (await gql(AUDIT, {"id": first["id"]}, token=token))["data"]["auditEvents"]["nodes"]
    assert [e["action"] for e in events] == ["update", "register"]
    assert [c["field"] for c in events[0]["changes"]] == ["locations"]
    # An edit of the first based on the site it saw before is now a conflict.
    stale = await gql(UPDATE, {"id": first["id"], "v": 1, "input": _input()}, token=token)
    assert stale["data"]["updateService"]["__typename"] == "VersionConflictError"
