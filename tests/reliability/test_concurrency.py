"""Many clients at once over HTTP on 127.0.0.1: 16 clients of 20 operations each register
services, edit one shared service from the version they read, create and send referrals and
move them through the lifecycle. Afterwards no update is lost, no node exists twice, every
referral's history is one unbroken chain, and it all finished in bounded time."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from core.settings import Settings
from graph.driver import Graph
from graph.referrals import TRANSITIONS, Action, ReferralStatus, Side
from tests import directory
from tests.reliability.conftest import LiveServer, serve

pytestmark = pytest.mark.neo4j

CLIENTS = 16
OPERATIONS = 20
TIME_LIMIT_S = 300

SERVICE_INPUT: dict[str, Any] = {
    "organisationId": "org-b",
    "name": "Shared service",
    "delivery": ["IN_PERSON"],
    "needs": ["psychosocial.trauma-therapy"],
    "targetGroups": ["rae"],
    "covers": ["XK-prizren"],
    "languages": ["sq"],
}
SERVICE_RESULT = """
  __typename ... on ServicePayload { service { id version } }
  ... on VersionConflictError { currentVersion }
"""
REGISTER = (
    "mutation R($input: ServiceInput!) { registerService(input: $input, "
    "confirmNotDuplicate: true) {" + SERVICE_RESULT + "} }"
)
UPDATE = (
    "mutation U($id: ID!, $v: Int!, $input: ServiceInput!) "
    "{ updateService(id: $id, expectedVersion: $v, input: $input) {" + SERVICE_RESULT + "} }"
)
READ_SERVICE = "query($id: ID!) { service(id: $id) { version description } }"
REFERRAL_RESULT = """
  __typename ... on ReferralPayload { referral { id status version } }
  ... on IllegalTransitionError { currentStatus }
  ... on VersionConflictError { currentVersion }
  ... on ConsentMissingError { message }
"""
CREATE = (
    "mutation C($input: ReferralInput!) { createReferral(input: $input) {" + REFERRAL_RESULT + "} }"
)
CONSENT = """
mutation G($input: ConsentInput!) { grantConsent(input: $input) { __typename } }
"""
READ_REFERRAL = """
query($id: ID!) { referral(id: $id) { status version events { fromStatus toStatus } } }
"""
FIELD = {
    Action.SEND: "sendReferral",
    Action.ACKNOWLEDGE: "acknowledgeReferral",
    Action.ACCEPT: "acceptReferral",
    Action.DECLINE: "declineReferral",
    Action.START: "startReferral",
    Action.COMPLETE: "completeReferral",
    Action.CANCEL: "cancelReferral",
}
EXTRA = {Action.DECLINE: ("reason", "NO_CAPACITY"), Action.COMPLETE: ("outcome", "GOT_HELP")}


def step_mutation(action: Action) -> str:
    extra = EXTRA.get(action)
    passed = f", {extra[0]}: {extra[1]}" if extra else ""
    return (
        f"mutation S($id: ID!, $v: Int) {{ {FIELD[action]}(id: $id, expectedVersion: $v"
        f"{passed}) {{" + REFERRAL_RESULT + "} }"
    )


@pytest.fixture(scope="module")
def live(test_settings: Settings) -> Iterator[LiveServer]:
    yield from serve(test_settings)


class Client:
    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.token = token

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = next(iter(body["data"].values()))
        return data


async def test_concurrent_clients_lose_no_update_and_duplicate_no_node(
    live: LiveServer, people: dict[str, str], graph: Graph
) -> None:
    await directory.build(graph)
    await directory.add_services(graph, [("svc-b", directory.service(organisation_id="org-b"))])
    outcomes: Counter[str] = Counter()
    registered: list[str] = []
    referrals: list[str] = []

    async with httpx.AsyncClient(base_url=live.url, timeout=60) as http:
        partner = Client(http, people["partner_b"])
        counsellor = Client(http, people["counsellor"])
        shared = await partner(REGISTER, input=SERVICE_INPUT)
        shared_id = shared["service"]["id"]

        async def edit_shared(c: int, n: int) -> None:
            version = (await partner(READ_SERVICE, id=shared_id))["version"]
            description = f"edited by client {c}, operation {n}"
            result = await partner(
                UPDATE, id=shared_id, v=version, input=SERVICE_INPUT | {"description": description}
            )
            outcomes[f"update:{result['__typename']}"] += 1

        async def register(c: int, n: int) -> None:
            result = await partner(
                REGISTER, input=SERVICE_INPUT | {"name": f"Concurrent service {c}-{n}"}
            )
            assert result["__typename"] == "ServicePayload", result
            registered.append(result["service"]["id"])

        async def refer(c: int, n: int) -> None:
            referral = await counsellor(
                CREATE,
                input={
                    "serviceId": "svc-b",
                    "destination": "XK-prizren",
                    "needs": ["psychosocial.trauma-therapy"],
                    "returnType": "VOLUNTARY",
                    "household": {"adults": 1, "children": []},
                    "plannedArrival": (date.today() + timedelta(days=30)).isoformat(),
                },
            )
            assert referral["__typename"] == "ReferralPayload", referral
            rid = referral["referral"]["id"]
            consent = await counsellor(
                CONSENT,
                input={
                    "referralId": rid,
                    "categories": ["NEEDS", "HOUSEHOLD"],
                    "purpose": "concurrency test",
                    "evidenceReference": "form (illustrative)",
                    "expiresOn": (date.today() + timedelta(days=365)).isoformat(),
                },
            )
            assert consent["__typename"] == "ConsentPayload", consent
            referrals.append(rid)

        async def move(rng: random.Random) -> None:
            if not referrals:
                return
            rid = rng.choice(referrals)
            action = rng.choice(list(Action))
            who = counsellor if TRANSITIONS[action].side is Side.SENDER else partner
            # The version the client saw a moment ago, which another client may have moved on.
            seen = await counsellor(READ_REFERRAL, id=rid)
            result = await who(step_mutation(action), id=rid, v=seen["version"])
            kind = result["__typename"]
            assert kind in {
                "ReferralPayload",
                "IllegalTransitionError",
                "VersionConflictError",
                "ForbiddenError",  # a receiver never sees a draft
                "NotFoundError",
            }, result
            outcomes[f"step:{kind}"] += 1

        async def client(c: int) -> None:
            rng = random.Random(c)
            for n in range(OPERATIONS):
                match n % 4:
                    case 0:
                        await edit_shared(c, n)
                    case 1:
                        await register(c, n)
                    case 2:
                        await refer(c, n)
                    case _:
                        await move(rng)

        await asyncio.wait_for(
            asyncio.gather(*(client(c) for c in range(CLIENTS))), timeout=TIME_LIMIT_S
        )

        # No lost update: the shared service moved one version per successful edit.
        final = await partner(READ_SERVICE, id=shared_id)
        assert final["version"] == 1 + outcomes["update:ServicePayload"]
        assert outcomes["update:ServicePayload"] >= 1
        # Each referral's history is one chain that ends in its status.
        for rid in referrals:
            referral = await counsellor(READ_REFERRAL, id=rid)
            events = referral["events"]
            for before, after in itertools.pairwise(events):
                assert after["fromStatus"] == before["toStatus"], events
            last = events[-1]["toStatus"] if events else ReferralStatus.DRAFT.name
            assert referral["status"] == last

    # The figures docs/reliability.md quotes (shown with `pytest -s`).
    print(f"concurrency: {CLIENTS} clients x {OPERATIONS} operations: {dict(outcomes)}")
    assert len(registered) == CLIENTS * OPERATIONS // 4
    assert len(referrals) == CLIENTS * OPERATIONS // 4
    assert outcomes["step:ReferralPayload"] >= 1
    # No node twice: ids are unique within each label, the services registered all exist.
    duplicates = await graph.read(_duplicate_ids)
    assert duplicates == []
    assert await graph.read(_count_services, ids=registered) == len(registered)


async def _duplicate_ids(tx: Any) -> list[dict[str, Any]]:
    result = await tx.run(
        "MATCH (n) WHERE n.id IS NOT NULL "
        "WITH labels(n) AS labels, n.id AS id, count(*) AS copies WHERE copies > 1 "
        "RETURN labels, id, copies LIMIT 10"
    )
    rows: list[dict[str, Any]] = await result.data()
    return rows


async def _count_services(tx: Any, ids: list[str]) -> int:
    record = await (
        await tx.run("MATCH (s:Service) WHERE s.id IN $ids RETURN count(s)", ids=ids)
    ).single()
    return int(record[0])
