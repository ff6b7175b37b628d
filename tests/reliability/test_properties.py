"""Property tests of the inputs: the pydantic input models of graph/, the partner search
through the API and the referral lifecycle through the API. Whatever the input, the answer
is a value or a typed, explained refusal; never an unexpected exception."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from graph.driver import Graph
from graph.organisations import OrganisationInput
from graph.referrals import TRANSITIONS, Action, ConsentInput, FollowUpInput, ReferralInput
from graph.search import PartnerSearch
from graph.services import LocationInput, ServiceInput
from graph.users import UserInput
from graph.webhooks import SubscriptionInput
from tests import directory
from tests.reliability.test_concurrency import FIELD, REFERRAL_RESULT, step_mutation

MODELS: list[type[BaseModel]] = [
    OrganisationInput,
    ServiceInput,
    LocationInput,
    ReferralInput,
    ConsentInput,
    FollowUpInput,
    UserInput,
    SubscriptionInput,
    PartnerSearch,
]

# JSON as a client can send it, with the strings that tend to break things.
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", " ", "XK", "xk-prizren", "sq", "2026-02-30", "1e309", "\x00", "Пећ"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def payloads(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    names = sorted(model.model_fields)
    return st.dictionaries(st.sampled_from(names), JSON, max_size=len(names))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=60)
@given(data=st.data())
def test_input_models_accept_or_explain(model: type[BaseModel], data: st.DataObject) -> None:
    payload = data.draw(payloads(model))
    problems: list[Any] = []
    try:
        parsed = model.model_validate(payload)
    except ValidationError as exc:
        problems = exc.errors()
    if problems:
        # Every refusal says what is wrong and where (the model itself, for a rule that
        # spans fields such as "exactly one destination").
        assert all(p["msg"] and isinstance(p["loc"], tuple) for p in problems)
        return
    # What was accepted survives a round trip through JSON unchanged.
    again = model.model_validate(json.loads(parsed.model_dump_json()))
    assert again == parsed


SEARCH = """
query S($query: PartnerSearchInput!, $first: Int, $after: String) {
  searchPartners(query: $query, first: $first, after: $after) {
    __typename
    ... on PartnerSearchResults { totalCount nodes { score reasons service { id } } }
    ... on ValidationError { fields { field message } }
  }
}
"""
NEEDS = ["psychosocial", "psychosocial.trauma-therapy", "employment", "nothing-like-it"]
PLACES = ["Prizren", "Призрен", "prizreni", "Pejë", "", "  ", "*", "Prizren~2", "\\", "\u0000x"]


@st.composite
def search_queries(draw: st.DrawFn) -> dict[str, Any]:
    query: dict[str, Any] = {
        "needs": draw(st.lists(st.sampled_from(NEEDS) | st.text(max_size=20), max_size=4))
    }
    destination = draw(st.sampled_from(["areaId", "place", "point", "none", "all"]))
    if destination in ("areaId", "all"):
        query["areaId"] = draw(st.sampled_from(["XK-prizren", "XK", "DE", "nowhere"]) | st.text())
    if destination in ("place", "all"):
        query["place"] = draw(st.sampled_from(PLACES) | st.text(max_size=130))
    if destination in ("point", "all"):
        query["lat"] = draw(st.floats(min_value=-100, max_value=100))
        query["lon"] = draw(st.floats(min_value=-200, max_value=200))
    optional = {
        "radiusKm": st.floats(min_value=-10, max_value=1e6),
        "targetGroups": st.lists(st.sampled_from(["rae", "none"]) | st.text(), max_size=3),
        "languages": st.lists(st.sampled_from(["sq", "de", "xx", "sr-Latn"]), max_size=3),
        "sendingCountry": st.sampled_from(["DE", "de", "D", "123"]),
        "programme": st.text(max_size=20),
        "returnType": st.sampled_from(["VOLUNTARY", "FORCED"]),
        "text": st.text(max_size=60) | st.sampled_from(['"', "AND OR", "te*", "(x", "~"]),
        "includeRemote": st.booleans(),
        "includeFull": st.booleans(),
        "includeTemporarilyClosed": st.booleans(),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            query[name] = draw(strategy)
    return query


@pytest.fixture
async def searchable(people: dict[str, str], graph: Graph) -> dict[str, str]:
    await directory.build(graph)
    await directory.add_services(graph, [("svc-b", directory.service(organisation_id="org-b"))])
    return people


@pytest.mark.neo4j
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=search_queries(),
    first=st.none() | st.integers(min_value=-5, max_value=500),
    after=st.none() | st.text(max_size=30) | st.sampled_from(["MC41fDAuMA==", "abc"]),
)
async def test_any_search_returns_results_or_a_validation_error(
    client: httpx.AsyncClient,
    searchable: dict[str, str],
    query: dict[str, Any],
    first: int | None,
    after: str | None,
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": SEARCH, "variables": {"query": query, "first": first, "after": after}},
        headers={"Authorization": f"Bearer {searchable['counsellor']}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    if "errors" in body:
        # Only what GraphQL itself refuses before any resolver runs (a string where a
        # float belongs, a float too large): no execution error reaches the caller.
        assert body.get("data") is None, body
        assert all("path" not in e for e in body["errors"]), body
        return
    result = body["data"]["searchPartners"]
    assert result["__typename"] in {"PartnerSearchResults", "ValidationError"}, result
    if result["__typename"] == "ValidationError":
        assert result["fields"], result


CREATE = (
    "mutation C($input: ReferralInput!) { createReferral(input: $input) {" + REFERRAL_RESULT + "} }"
)
CONSENT = "mutation G($input: ConsentInput!) { grantConsent(input: $input) { __typename } }"
READ = "query($id: ID!) { referral(id: $id) { status version allowedActions } }"
STEP = """
  __typename
  ... on ReferralPayload { referral { status version } }
  ... on IllegalTransitionError { currentStatus allowedActions }
  ... on VersionConflictError { currentVersion }
  ... on NotFoundError { message }
  ... on ForbiddenError { message }
"""


@pytest.mark.neo4j
@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(list(Action)), st.booleans(), st.booleans()), max_size=8
    )
)
async def test_random_steps_through_the_api_follow_the_transitions(
    client: httpx.AsyncClient, searchable: dict[str, str], steps: list[tuple[Action, bool, bool]]
) -> None:
    """Each step is taken by the right side or the wrong one, with the version the caller
    last saw or a stale one. Legal steps move the referral exactly as TRANSITIONS says; every
    other step is refused with a typed error and changes nothing."""
    tokens = {"SENDER": searchable["counsellor"], "RECEIVER": searchable["partner_b"]}

    async def call(query: str, token: str, **variables: Any) -> dict[str, Any]:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = next(iter(body["data"].values()))
        return data

    created = await call(
        CREATE,
        tokens["SENDER"],
        input={
            "serviceId": "svc-b",
            "destination": "XK-prizren",
            "needs": ["psychosocial.trauma-therapy"],
            "returnType": "VOLUNTARY",
        },
    )
    rid = created["referral"]["id"]
    consent = {
        "referralId": rid,
        "categories": ["NEEDS"],
        "purpose": "property test",
        "evidenceReference": "form (illustrative)",
        "expiresOn": "2099-01-01",
    }
    assert (await call(CONSENT, tokens["SENDER"], input=consent))["__typename"] == (
        "ConsentPayload"
    )
    status, version = "DRAFT", (await call(READ, tokens["SENDER"], id=rid))["version"]
    for action, right_side, stale in steps:
        side = TRANSITIONS[action].side.name
        actor = side if right_side else ("RECEIVER" if side == "SENDER" else "SENDER")
        query = step_mutation(action).replace(REFERRAL_RESULT, STEP)
        result = await call(query, tokens[actor], id=rid, v=version - 1 if stale else version)
        kind = result["__typename"]
        legal = status in {s.name for s in TRANSITIONS[action].sources}
        if kind == "ReferralPayload":
            assert legal, (action, status)
            assert right_side, (action, actor)
            assert not stale
            status = TRANSITIONS[action].target.name
            assert result["referral"]["status"] == status
            assert result["referral"]["version"] > version
            version = result["referral"]["version"]
            continue
        # Refused: typed, and nothing moved.
        assert kind in {
            "IllegalTransitionError",
            "VersionConflictError",
            "ForbiddenError",
            "NotFoundError",
        }, result
        if kind == "IllegalTransitionError":
            assert not legal
            assert result["currentStatus"].upper() == status
        seen = await call(READ, tokens["SENDER"], id=rid)
        assert (seen["status"], seen["version"]) == (status, version)
    assert FIELD.keys() == TRANSITIONS.keys()
