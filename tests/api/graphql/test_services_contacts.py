"""A service's own phone and e-mail and its sites' opening hours: stored, read back, and
refused with the field named when they make no sense."""

from __future__ import annotations

from typing import Any

import pytest

from graph.driver import Graph
from tests import directory
from tests.api.graphql.conftest import GraphQLClient

RESULT = """
  __typename
  ... on ServicePayload { service { id version phone email
    locations { id name opening_hours: openingHours { weekday opens closes } } } }
  ... on ValidationError { fields { field message } }
"""
REGISTER = "mutation R($input: ServiceInput!) { registerService(input: $input) {" + RESULT + "} }"
UPDATE = (
    "mutation U($id: ID!, $v: Int!, $input: ServiceInput!) "
    "{ updateService(id: $id, expectedVersion: $v, input: $input) {" + RESULT + "} }"
)

WEEKDAYS = [
    {"weekday": "MO", "opens": "08:30", "closes": "12:00"},
    {"weekday": "MO", "opens": "13:00", "closes": "16:30"},
    {"weekday": "FR", "opens": "09:00", "closes": "13:00"},
]


def _input(**overrides: Any) -> dict[str, Any]:
    return {
        "organisationId": "org-a",
        "name": "Trauma therapy",
        "delivery": ["IN_PERSON"],
        "needs": ["psychosocial.trauma-therapy"],
        "languages": ["sq"],
        "phone": "+383 29 222 333",
        "email": "Prizren@Example.org",
        "locations": [
            {
                "name": "Prizren centre",
                "address": "Rruga e Shadervanit 1",
                "area": "XK-prizren",
                # Given out of order: read back in week order.
                "openingHours": [WEEKDAYS[2], WEEKDAYS[1], WEEKDAYS[0]],
            }
        ],
        **overrides,
    }


@pytest.fixture
async def taxonomy(people: dict[str, str], graph: Graph) -> dict[str, str]:
    await directory.build(graph)
    return people


async def test_contacts_and_opening_hours_are_stored_and_read_back(
    gql: GraphQLClient, taxonomy: dict[str, str]
) -> None:
    body = await gql(REGISTER, {"input": _input()}, token=taxonomy["partner"])
    result = body["data"]["registerService"]
    assert result["__typename"] == "ServicePayload", result
    service = result["service"]
    assert service["phone"] == "+383 29 222 333"
    assert service["email"] == "prizren@example.org"
    [site] = service["locations"]
    assert site["opening_hours"] == WEEKDAYS

    # An edit that leaves the hours out of the site clears them; the phone goes with it.
    edited = _input(phone=None)
    edited["locations"][0] |= {"id": site["id"], "openingHours": [WEEKDAYS[2]]}
    body = await gql(
        UPDATE, {"id": service["id"], "v": 1, "input": edited}, token=taxonomy["partner"]
    )
    updated = body["data"]["updateService"]["service"]
    assert updated["phone"] is None
    assert updated["locations"][0]["opening_hours"] == [WEEKDAYS[2]]


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        ({"weekday": "TU", "opens": "17:00", "closes": "09:00"}, "closes"),
        ({"weekday": "TU", "opens": "9 am", "closes": "17:00"}, "opens"),
        ({"weekday": "TU", "opens": "09:00", "closes": "24:30"}, "closes"),
    ],
)
async def test_impossible_hours_name_the_field(
    gql: GraphQLClient, taxonomy: dict[str, str], hours: dict[str, str], field: str
) -> None:
    given = _input()
    given["locations"][0]["openingHours"] = [hours]
    body = await gql(REGISTER, {"input": given}, token=taxonomy["partner"])
    result = body["data"]["registerService"]
    assert result["__typename"] == "ValidationError"
    assert [f["field"] for f in result["fields"]] == [f"input.locations.0.openingHours.0.{field}"]


async def test_overlapping_hours_on_a_day_are_refused(
    gql: GraphQLClient, taxonomy: dict[str, str]
) -> None:
    given = _input()
    given["locations"][0]["openingHours"] = [
        {"weekday": "WE", "opens": "09:00", "closes": "14:00"},
        {"weekday": "WE", "opens": "13:00", "closes": "17:00"},
    ]
    body = await gql(REGISTER, {"input": given}, token=taxonomy["partner"])
    result = body["data"]["registerService"]
    assert result["__typename"] == "ValidationError"
    assert [f["field"] for f in result["fields"]] == ["input.locations.0.openingHours"]


async def test_an_unknown_weekday_is_refused_by_the_schema(
    gql: GraphQLClient, taxonomy: dict[str, str]
) -> None:
    given = _input()
    given["locations"][0]["openingHours"] = [{"weekday": "XX", "opens": "09:00", "closes": "12:00"}]
    body = await gql(REGISTER, {"input": given}, token=taxonomy["partner"])
    assert "Weekday" in body["errors"][0]["message"]


async def test_a_malformed_phone_or_email_names_the_field(
    gql: GraphQLClient, taxonomy: dict[str, str]
) -> None:
    body = await gql(
        REGISTER, {"input": _input(phone="call us", email="nobody")}, token=taxonomy["partner"]
    )
    result = body["data"]["registerService"]
    assert result["__typename"] == "ValidationError"
    assert sorted(f["field"] for f in result["fields"]) == ["input.email", "input.phone"]
