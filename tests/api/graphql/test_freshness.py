"""Verification, freshness by the clock, capacity, concurrent edits and the duplicate warning."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from graph.driver import Graph
from graph.services import flag_for_reverification, verification_due
from tests import directory
from tests.api.graphql.conftest import START, Clock, GraphQLClient

FIELDS = (
    "id version freshness lastVerifiedAt lastVerifiedBy capacity capacityNote reverificationReason"
)
RESULT = f"""
  __typename
  ... on ServicePayload {{ service {{ {FIELDS} }} }}
  ... on VersionConflictError {{ currentVersion }}
  ... on ForbiddenError {{ message }}
  ... on PossibleDuplicatesError {{ message candidates {{ id name evidence {{ field value }} }} }}
"""
REGISTER = (
    "mutation R($input: ServiceInput!, $confirm: Boolean! = false) "
    "{ registerService(input: $input, confirmNotDuplicate: $confirm) {" + RESULT + "} }"
)
UPDATE = (
    "mutation U($id: ID!, $v: Int!, $input: ServiceInput!) "
    "{ updateService(id: $id, expectedVersion: $v, input: $input) {" + RESULT + "} }"
)
VERIFY = "mutation V($id: ID!) { verifyService(id: $id) {" + RESULT + "} }"
CAPACITY = (
    "mutation C($id: ID!, $c: Capacity!, $note: String) "
    "{ setServiceCapacity(id: $id, capacity: $c, note: $note) {" + RESULT + "} }"
)
READ = "query($id: ID!) { service(id: $id) { " + FIELDS + " } }"


def _input(**overrides: Any) -> dict[str, Any]:
    return {
        "organisationId": "org-a",
        "name": "Trauma therapy",
        "delivery": ["IN_PERSON"],
        "needs": ["psychosocial.trauma-therapy"],
        "covers": ["XK-prizren"],
        **overrides,
    }


@pytest.fixture
async def partner(people: dict[str, str], graph: Graph, clock: Clock) -> str:
    await directory.build(graph)
    return people["partner"]


async def _service(gql: GraphQLClient, token: str, **overrides: Any) -> dict[str, Any]:
    body = await gql(REGISTER, {"input": _input(**overrides)}, token=token)
    result: dict[str, Any] = body["data"]["registerService"]
    assert result["__typename"] == "ServicePayload", result
    service: dict[str, Any] = result["service"]
    return service


async def test_an_edit_is_not_a_verification(gql: GraphQLClient, partner: str) -> None:
    service = await _service(gql, partner)
    assert service["freshness"] == "UNVERIFIED"

    edited = await gql(
        UPDATE, {"id": service["id"], "v": 1, "input": _input(name="Trauma care")}, token=partner
    )
    after_edit = edited["data"]["updateService"]["service"]
    assert after_edit["freshness"] == "UNVERIFIED"
    assert after_edit["lastVerifiedAt"] is None

    verified = (await gql(VERIFY, {"id": service["id"]}, token=partner))["data"]["verifyService"]
    assert verified["service"]["freshness"] == "FRESH"
    assert verified["service"]["lastVerifiedBy"] == "partner@example.org"
    assert verified["service"]["version"] == 2  # verification is not an edit either


async def test_who_verified_is_shown_to_the_public_as_the_organisation(
    gql: GraphQLClient, partner: str, people: dict[str, str]
) -> None:
    service = await _service(gql, partner)
    await gql(VERIFY, {"id": service["id"]}, token=partner)

    anonymous = (await gql(READ, {"id": service["id"]}))["data"]["service"]
    assert anonymous["lastVerifiedBy"] == "Organisation A"
    member = (await gql(READ, {"id": service["id"]}, token=people["partner_b"]))["data"]
    assert member["service"]["lastVerifiedBy"] == "partner@example.org"


async def test_entries_age_by_the_clock(gql: GraphQLClient, partner: str, clock: Clock) -> None:
    service = await _service(gql, partner)
    await gql(VERIFY, {"id": service["id"]}, token=partner)

    async def freshness_at(days: int) -> str:
        clock.now = START + timedelta(days=days)
        read = await gql(READ, {"id": service["id"]})
        return str(read["data"]["service"]["freshness"])

    assert await freshness_at(180) == "FRESH"
    assert await freshness_at(181) == "AGEING"
    assert await freshness_at(365) == "AGEING"
    assert await freshness_at(366) == "STALE"


async def test_flagged_and_old_entries_are_due(
    gql: GraphQLClient, partner: str, graph: Graph, clock: Clock
) -> None:
    fresh = await _service(gql, partner, name="Fresh one")
    await gql(VERIFY, {"id": fresh["id"]}, token=partner)
    never = await _service(gql, partner, name="Never verified", covers=["XK"])

    due = await graph.read(
        verification_due, due_before=START - timedelta(days=180), organisation_id="org-a"
    )
    assert [s.id for s in due] == [never["id"]]

    # A referral came back "could not contact": the fresh entry must be confirmed again.
    await graph.write(flag_for_reverification, id=fresh["id"], reason="could not contact", at=START)
    due = await graph.read(
        verification_due, due_before=START - timedelta(days=180), organisation_id=None
    )
    assert {s.id for s in due} == {fresh["id"], never["id"]}
    flagged = (await gql(READ, {"id": fresh["id"]}))["data"]["service"]
    assert flagged["reverificationReason"] == "could not contact"

    await gql(VERIFY, {"id": fresh["id"]}, token=partner)
    assert (await gql(READ, {"id": fresh["id"]}))["data"]["service"]["reverificationReason"] is None


async def test_capacity_is_set_without_touching_the_version(
    gql: GraphQLClient, partner: str, people: dict[str, str]
) -> None:
    service = await _service(gql, partner, capacity="AVAILABLE")
    assert service["capacity"] == "AVAILABLE"
    full = await gql(
        CAPACITY,
        {"id": service["id"], "c": "FULL", "note": "waiting list until March"},
        token=partner,
    )
    result = full["data"]["setServiceCapacity"]["service"]
    assert (result["capacity"], result["capacityNote"], result["version"]) == (
        "FULL",
        "waiting list until March",
        1,
    )

    # An edit without capacity keeps it.
    edited = await gql(
        UPDATE, {"id": service["id"], "v": 1, "input": _input(name="Therapy")}, token=partner
    )
    assert edited["data"]["updateService"]["service"]["capacity"] == "FULL"

    other = await gql(CAPACITY, {"id": service["id"], "c": "AVAILABLE"}, token=people["partner_b"])
    assert other["data"]["setServiceCapacity"]["__typename"] == "ForbiddenError"


async def test_of_two_concurrent_edits_from_one_version_exactly_one_wins(
    gql: GraphQLClient, partner: str
) -> None:
    service = await _service(gql, partner)
    results = await asyncio.gather(
        *(
            gql(
                UPDATE,
                {"id": service["id"], "v": 1, "input": _input(name=f"Edit {i}")},
                token=partner,
            )
            for i in range(4)
        )
    )
    kinds = sorted(r["data"]["updateService"]["__typename"] for r in results)
    assert kinds == ["ServicePayload"] + ["VersionConflictError"] * 3
    final = (await gql(READ, {"id": service["id"]}))["data"]["service"]
    assert final["version"] == 2


async def test_a_near_duplicate_service_returns_candidates(
    gql: GraphQLClient, partner: str
) -> None:
    first = await _service(gql, partner, name="Trauma Therapy")
    again = await gql(REGISTER, {"input": _input(name="trauma therapy ")}, token=partner)
    warning = again["data"]["registerService"]
    assert warning["__typename"] == "PossibleDuplicatesError"
    assert [c["id"] for c in warning["candidates"]] == [first["id"]]
    assert {"field": "area", "value": "XK-prizren"} in warning["candidates"][0]["evidence"]

    confirmed = await gql(
        REGISTER, {"input": _input(name="trauma therapy"), "confirm": True}, token=partner
    )
    assert confirmed["data"]["registerService"]["__typename"] == "ServicePayload"


ORG = """
mutation O($input: RegisterOrganisationInput!, $confirm: Boolean! = false) {
  registerOrganisation(input: $input, confirmNotDuplicate: $confirm) {
    __typename
    ... on PossibleDuplicatesError { candidates { id evidence { field value } } }
  }
}
"""


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        ({"name": "One to One Kosovë"}, {"name": "ONE-TO-ONE KOSOVE"}, "name"),
        ({"name": "Centar za socijalni rad"}, {"name": "Центар за социјални рад"}, "name"),
        (
            {"name": "Qendra Kosovare", "acronym": "KRCT"},
            {"name": "Another", "acronym": "krct"},
            "acronym",
        ),
        (
            {"name": "A", "website": "https://www.krct.example.org/en"},
            {"name": "B", "website": "http://krct.example.org"},
            "website",
        ),
        ({"name": "A", "phone": "+383 38 000 041"}, {"name": "B", "phone": "038/000-041"}, "phone"),
        (
            {"name": "A", "email": "Info@Example.org"},
            {"name": "B", "email": "info@example.org"},
            "email",
        ),
    ],
)
async def test_a_near_duplicate_organisation_returns_candidates(
    gql: GraphQLClient,
    people: dict[str, str],
    first: dict[str, str],
    second: dict[str, str],
    field: str,
) -> None:
    token = people["coordinator"]
    base = {"kind": "NGO", "country": "XK"}
    created = await gql(ORG, {"input": base | first}, token=token)
    assert created["data"]["registerOrganisation"]["__typename"] == "RegisterOrganisationPayload"
    warned = (await gql(ORG, {"input": base | second}, token=token))["data"]["registerOrganisation"]
    assert warned["__typename"] == "PossibleDuplicatesError"
    assert field in {e["field"] for e in warned["candidates"][0]["evidence"]}
    confirmed = await gql(ORG, {"input": base | second, "confirm": True}, token=token)
    assert confirmed["data"]["registerOrganisation"]["__typename"] == "RegisterOrganisationPayload"
