"""updateOrganisation: an organisation keeps its own name and contacts up to date, checked
against the version the caller saw, scoped to its own partners, and audited."""

from __future__ import annotations

from typing import Any

from tests.api.graphql.conftest import GraphQLClient

UPDATE = """
mutation U($id: ID!, $version: Int!, $input: OrganisationContactsInput!) {
  updateOrganisation(id: $id, expectedVersion: $version, input: $input) {
    __typename
    ... on OrganisationPayload { organisation { name phone email website version kind } }
    ... on ValidationError { fields { field } }
    ... on VersionConflictError { currentVersion }
    ... on ForbiddenError { message }
  }
}
"""
AUDIT = """
query A($id: ID) { auditEvents(entityId: $id) { nodes {
  action actor organisationId changes { field previous replacement } } } }
"""
CONTACTS = {
    "name": "Organisation A e.V.",
    "phone": "+383 38 000 000",
    "email": "Office@Example.org",
    "website": "https://a.example.org",
}


async def _update(gql: GraphQLClient, token: str, version: int, **input: Any) -> dict[str, Any]:
    variables = {"id": "org-a", "version": version, "input": CONTACTS | input}
    result: dict[str, Any] = (await gql(UPDATE, variables, token=token))["data"][
        "updateOrganisation"
    ]
    return result


async def test_a_partner_updates_its_organisation_once_per_version_and_it_is_audited(
    gql: GraphQLClient, people: dict[str, str]
) -> None:
    updated = await _update(gql, people["partner"], 1)
    assert updated["__typename"] == "OrganisationPayload"
    assert updated["organisation"] == {
        "name": "Organisation A e.V.",
        "phone": "+383 38 000 000",
        "email": "office@example.org",
        "website": "https://a.example.org/",
        "version": 2,
        "kind": "NGO",
    }
    # Someone who saw version 1 is told, and nothing of theirs is written.
    stale = await _update(gql, people["partner"], 1, name="Stale name")
    assert stale == {"__typename": "VersionConflictError", "currentVersion": 2}
    bad = await _update(gql, people["partner"], 2, phone="call us", email="nope")
    assert bad["__typename"] == "ValidationError"
    assert {f["field"] for f in bad["fields"]} == {"input.phone", "input.email"}
    # Another organisation's partner and a counsellor may not.
    other = await _update(gql, people["partner_b"], 2, name="Taken over")
    assert other["__typename"] == "ForbiddenError"
    counsellor = await _update(gql, people["counsellor"], 2, name="Taken over")
    assert counsellor["__typename"] == "ForbiddenError"

    events = (await gql(AUDIT, {"id": "org-a"}, token=people["partner"]))["data"]["auditEvents"]
    update = [e for e in events["nodes"] if e["action"] == "update"]
    assert len(update) == 1
    assert update[0]["actor"] == "user-partner"
    changed = {c["field"]: c["replacement"] for c in update[0]["changes"]}
    assert changed["name"] == '"Organisation A e.V."'
    assert changed["phone"] == '"+383 38 000 000"'
