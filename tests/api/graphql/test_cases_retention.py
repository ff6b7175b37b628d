"""A closed return case keeps its personal data for the retention period, then the
housekeeping job (and `homeward referrals purge`) erases it: the household, notes, documents,
file number and the consent's free text go; phase, whereabouts, arrival and visits stay, and
so do the coordinators' counts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from neo4j import AsyncManagedTransaction

from api.app import periodic_jobs
from core.settings import Settings
from graph.cases.statistics import case_statistics
from graph.driver import Graph
from tests.api.graphql.conftest import START, Clock, GraphQLClient
from tests.api.graphql.test_cases import (
    CONSENT,
    STATUS,
    VISIT,
    _ok,
    _open,
    _refer,
    world,  # noqa: F401 (the fixture)
)
from tests.api.graphql.test_referrals import DECLINE, SEND

READ = """
query C($id: ID!) { returnCase(id: $id) {
  phase whereabouts actualArrival fileNumber note languages purgedAt
  members { role } documents { document } needs { code }
  events { action note } followUps { monthsAfterArrival note employment }
  consents { purpose evidenceReference recipients { id } }
} }
"""
STATISTICS = """
{ returnCaseStatistics { total byPhase { key count } byWhereabouts { key count }
    followedUpAt6Months reMigrationRate } }
"""
STORED = """
MATCH (c:ReturnCase {id: $id})
RETURN c {.*} AS c,
  COLLECT { MATCH (x)-[:OF]->(c) RETURN x {.*, labels: labels(x)} } AS parts,
  COLLECT { MATCH (k:Consent {case_reference: c.reference}) RETURN k {.*} } AS consents
"""
NOTE = "Father found seasonal work through a cousin (illustrative)"


async def _housekeeping(app: FastAPI, settings: Settings) -> None:
    (job,) = [j for j in periodic_jobs(app, settings) if j.name == "referrals"]
    await job.run()


async def _stored(graph: Graph, case_id: str) -> dict[str, Any]:
    async def read(tx: AsyncManagedTransaction) -> dict[str, Any]:
        record = await (await tx.run(STORED, id=case_id)).single(strict=True)
        return dict(record)

    return await graph.read(read)


async def test_a_closed_case_is_purged_after_the_retention_period_and_the_counts_stay(
    gql: GraphQLClient,
    world: dict[str, str],  # noqa: F811
    graph: Graph,
    clock: Clock,
    app: FastAPI,
    test_settings: Settings,
) -> None:
    counsellor = world["counsellor"]
    case = await _open(gql, counsellor)
    still_open = await _open(gql, counsellor, fileNumber="M-2026-0043")
    referral = await _refer(gql, counsellor, case["id"], "svc-b", ["psychosocial.trauma-therapy"])
    await gql(
        CONSENT,
        {
            "input": {
                "caseId": case["id"],
                "recipients": ["org-b"],
                "categories": ["NEEDS", "HOUSEHOLD"],
                "purpose": "support after return",
                "evidenceReference": "form 7 (illustrative)",
                "expiresOn": (START.date() + timedelta(days=300)).isoformat(),
            }
        },
        token=counsellor,
    )
    await gql(SEND, {"id": referral["id"]}, token=counsellor)
    await gql(DECLINE, {"id": referral["id"], "reason": "NO_CAPACITY"}, token=world["partner_b"])
    _ok(
        await gql(
            STATUS,
            {"input": {"caseId": case["id"], "whereabouts": "IN_DESTINATION", "note": NOTE}},
            token=counsellor,
        ),
        "recordCaseStatus",
    )
    clock.now = START + timedelta(days=40)
    _ok(
        await gql(
            VISIT,
            {
                "input": {
                    "caseId": case["id"],
                    "monthsAfterArrival": 1,
                    "visitedOn": clock.now.date().isoformat(),
                    "whereabouts": "IN_DESTINATION",
                    "employment": "EMPLOYED",
                    "note": NOTE,
                }
            },
            token=counsellor,
        ),
        "recordCaseFollowUp",
    )
    _ok(
        await gql(STATUS, {"input": {"caseId": case["id"], "phase": "CLOSED"}}, token=counsellor),
        "recordCaseStatus",
    )
    before = await gql(STATISTICS, token=world["coordinator"])
    # The same counts without the small-count rule, which hides everything of two cases.
    counted_before = await graph.read(
        case_statistics, area_id=None, today=START.date(), minimum_count=1
    )
    assert "errors" not in before, before

    # Within the retention period nothing goes.
    clock.now = START + timedelta(days=40 + 364)
    await _housekeeping(app, test_settings)
    kept = (await gql(READ, {"id": case["id"]}, token=counsellor))["data"]["returnCase"]
    assert kept["purgedAt"] is None
    assert kept["note"] == "Mother prefers a female therapist (illustrative)"
    assert len(kept["members"]) == 4

    clock.now = START + timedelta(days=40 + 366)
    await _housekeeping(app, test_settings)
    purged = (await gql(READ, {"id": case["id"]}, token=counsellor))["data"]["returnCase"]
    assert purged["purgedAt"] is not None
    assert (purged["phase"], purged["whereabouts"]) == ("CLOSED", "IN_DESTINATION")
    assert purged["actualArrival"] == START.date().isoformat()
    for personal in ("fileNumber", "note"):
        assert purged[personal] is None
    for personal in ("languages", "members", "documents", "needs"):
        assert purged[personal] == []
    assert [e["note"] for e in purged["events"]] == [None] * len(purged["events"])
    assert purged["followUps"] == [
        {"monthsAfterArrival": 1, "note": None, "employment": "EMPLOYED"}
    ]
    assert purged["consents"] == [
        {"purpose": "", "evidenceReference": "", "recipients": [{"id": "org-b"}]}
    ]
    stored = await _stored(graph, case["id"])
    assert not [k for k in stored["c"] if k.endswith("_enc")]
    assert "file_number" not in stored["c"]
    assert [p for p in stored["parts"] if "HouseholdMember" in p["labels"]] == []
    assert not [k for p in stored["parts"] for k in p if k.endswith("_enc")]
    assert not [k for c in stored["consents"] for k in c if k.endswith("_enc")]

    # An open case keeps everything; the counts are the same as before the purge.
    other = (await gql(READ, {"id": still_open["id"]}, token=counsellor))["data"]["returnCase"]
    assert other["purgedAt"] is None
    assert len(other["members"]) == 4
    after = await gql(STATISTICS, token=world["coordinator"])
    assert after == before
    counted_after = await graph.read(
        case_statistics, area_id=None, today=START.date(), minimum_count=1
    )
    assert counted_after == counted_before
    assert counted_after.total == 2
