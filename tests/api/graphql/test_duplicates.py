"""Duplicate review over GraphQL: list, decide, undo; coordinators and admins only."""

from __future__ import annotations

import pytest

from graph.driver import Graph
from graph.duplicates import Kind, scan
from seed.loader import seed
from tests.api.graphql.conftest import GraphQLClient

CANDIDATES = """
query C($kind: DuplicateKind, $area: ID, $state: DuplicateState, $min: Float! = 0.45) {
  duplicateCandidates(kind: $kind, areaId: $area, state: $state, minScore: $min, first: 50) {
    nodes {
      id kind score state canonicalId
      evidence { field value similarity weight }
      a { id name organisation { id } service { id } }
      b { id name }
      history { action note actor }
    }
  }
}
"""

RESOLVE = """
mutation R($input: ResolveDuplicateInput!) {
  resolveDuplicate(input: $input) {
    __typename
    ... on DuplicatePairPayload { candidate { id state canonicalId history { action note } } }
    ... on ValidationError { fields { field message } }
    ... on NotFoundError { entity id }
    ... on ForbiddenError { message }
  }
}
"""

UNDO = """
mutation U($id: ID!) {
  undoDuplicateResolution(candidate: $id, note: "wrong pair") {
    __typename
    ... on DuplicatePairPayload { candidate { state canonicalId history { action } } }
  }
}
"""

ORG_PAIR = "organisation:xk-1to1-kosove:xk-one-to-one-kosova"
DRC_PAIR = "organisation:dk-drc:xk-drc"


@pytest.fixture
async def scanned(people: dict[str, str], graph: Graph) -> dict[str, str]:
    await seed(graph)
    await scan(graph, kind=Kind.ORGANISATION)
    await scan(graph, kind=Kind.SERVICE)
    return people


async def test_a_coordinator_reviews_the_planted_duplicate(
    gql: GraphQLClient, scanned: dict[str, str]
) -> None:
    token = scanned["coordinator"]
    body = await gql(CANDIDATES, {"kind": "ORGANISATION", "area": "XK"}, token=token)
    nodes = body["data"]["duplicateCandidates"]["nodes"]
    pair = next(n for n in nodes if n["id"] == ORG_PAIR)
    assert pair["a"]["organisation"]["id"] == "xk-1to1-kosove"
    assert pair["a"]["service"] is None
    assert {"name", "phone"} <= {e["field"] for e in pair["evidence"]}
    assert all(n["kind"] == "ORGANISATION" for n in nodes)
    assert [n["score"] for n in nodes] == sorted((n["score"] for n in nodes), reverse=True)

    merged = await gql(
        RESOLVE,
        {
            "input": {
                "candidate": ORG_PAIR,
                "decision": "SAME",
                "canonicalId": "xk-one-to-one-kosova",
            }
        },
        token=token,
    )
    candidate = merged["data"]["resolveDuplicate"]["candidate"]
    assert candidate["state"] == "SAME"
    assert candidate["canonicalId"] == "xk-one-to-one-kosova"

    still_open = await gql(CANDIDATES, {"kind": "ORGANISATION"}, token=token)
    assert ORG_PAIR not in {n["id"] for n in still_open["data"]["duplicateCandidates"]["nodes"]}

    undone = (await gql(UNDO, {"id": ORG_PAIR}, token=scanned["admin"]))["data"]
    assert undone["undoDuplicateResolution"]["candidate"]["state"] == "OPEN"
    assert [h["action"] for h in undone["undoDuplicateResolution"]["candidate"]["history"]] == [
        "same",
        "undone",
    ]


async def test_records_named_by_the_reviewer_and_mistakes(
    gql: GraphQLClient, scanned: dict[str, str]
) -> None:
    token = scanned["coordinator"]
    dismissed = await gql(
        RESOLVE,
        {"input": {"a": "xk-drc", "b": "dk-drc", "decision": "DIFFERENT", "note": "other office"}},
        token=token,
    )
    result = dismissed["data"]["resolveDuplicate"]
    assert result["candidate"]["id"] == DRC_PAIR
    assert result["candidate"]["history"] == [{"action": "different", "note": "other office"}]

    mixed = await gql(
        RESOLVE,
        {"input": {"a": "xk-drc", "b": "xk-krct-trauma-therapy", "decision": "SAME"}},
        token=token,
    )
    assert mixed["data"]["resolveDuplicate"]["__typename"] == "ValidationError"
    unknown = await gql(RESOLVE, {"input": {"candidate": "nope", "decision": "SAME"}}, token=token)
    assert unknown["data"]["resolveDuplicate"]["__typename"] == "NotFoundError"
    wrong = await gql(
        RESOLVE,
        {"input": {"candidate": ORG_PAIR, "decision": "SAME", "canonicalId": "xk-drc"}},
        token=token,
    )
    assert wrong["data"]["resolveDuplicate"]["fields"][0]["field"] == "input.canonicalId"


async def test_partners_may_not_review(gql: GraphQLClient, scanned: dict[str, str]) -> None:
    listed = await gql(CANDIDATES, {}, token=scanned["partner"])
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    refused = await gql(
        RESOLVE, {"input": {"candidate": ORG_PAIR, "decision": "SAME"}}, token=scanned["partner"]
    )
    assert refused["data"]["resolveDuplicate"]["__typename"] == "ForbiddenError"


async def test_merging_unrelated_records_needs_an_override_and_a_note(
    gql: GraphQLClient, scanned: dict[str, str]
) -> None:
    """Two records the scorer finds nothing alike in: a merge would hide one from search, so
    it takes a confirmed override and the reason why."""
    token = scanned["coordinator"]
    pair = {"a": "xk-drc", "b": "xk-1to1-kosove", "decision": "SAME"}
    plain = (await gql(RESOLVE, {"input": pair}, token=token))["data"]["resolveDuplicate"]
    assert plain["__typename"] == "ValidationError"
    (problem,) = plain["fields"]
    assert problem["field"] == "input.overrideLowScore"
    assert "below the candidate threshold" in problem["message"]

    silent = await gql(RESOLVE, {"input": pair | {"overrideLowScore": True}}, token=token)
    assert silent["data"]["resolveDuplicate"]["fields"][0]["field"] == "input.note"

    noted = pair | {"overrideLowScore": True, "note": "one office registered under two names"}
    merged = (await gql(RESOLVE, {"input": noted}, token=token))["data"]["resolveDuplicate"]
    assert merged["candidate"]["state"] == "SAME"
    assert merged["candidate"]["history"][-1]["note"] == "one office registered under two names"
    # Deciding DIFFERENT needs no override.
    apart = await gql(
        RESOLVE, {"input": {"a": "xk-drc", "b": "dk-drc", "decision": "DIFFERENT"}}, token=token
    )
    assert apart["data"]["resolveDuplicate"]["__typename"] == "DuplicatePairPayload"
