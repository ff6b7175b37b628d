"""Duplicates in the web: the service form runs the registration's duplicate check, shows the
candidates with their organisation and the evidence in the page's language, and registers
anyway only with a reason, which the audit trail keeps."""

from __future__ import annotations

import json
import re
from typing import Any, LiteralString

import httpx
import pytest
from fastapi import FastAPI

from graph.driver import Graph
from graph.duplicates import DuplicatePair, Kind, State, get_candidate, list_candidates, scan
from tests import directory
from tests.web.test_pages import _signed_in


@pytest.fixture
async def a_service(app: FastAPI, people: dict[str, str], graph: Graph) -> dict[str, str]:
    """Organisation A offers trauma therapy in Prizren already; tokens by person."""
    await directory.build(graph)
    offered = directory.service(organisation_id="org-a", name="Trauma therapy")
    await directory.add_services(graph, [("svc-a", offered)])
    return people


SERVICES_OF_A: LiteralString = """
MATCH (:Organisation {id: 'org-a'})-[:PROVIDES]->(s:Service) RETURN count(s) AS n
"""
REGISTERED: LiteralString = """
MATCH (e:AuditEvent {action: 'register', entity: 'service'}) RETURN e.changes AS changes
"""


async def _count(tx: Any) -> int:
    return int((await (await tx.run(SERVICES_OF_A)).single(strict=True))["n"])


async def _registrations(tx: Any) -> list[list[dict[str, Any]]]:
    return [json.loads(r["changes"]) async for r in await tx.run(REGISTERED)]


async def test_the_service_form_shows_duplicate_candidates_and_registers_only_with_a_reason(
    client: httpx.AsyncClient, a_service: dict[str, str], graph: Graph
) -> None:
    csrf = await _signed_in(client, a_service["partner"])
    fields: dict[str, Any] = {
        "csrf": csrf,
        "name": "Trauma therapy",
        "needs": ["psychosocial.trauma-therapy"],
        "covers": ["XK-prizren"],
        "languages": ["sq"],
        "delivery": ["IN_PERSON"],
        "capacity": "AVAILABLE",
    }
    checked = await client.post("/app/services?org=org-a&lang=de", data=fields)
    assert checked.status_code == 422, checked.text
    assert await graph.read(_count) == 1
    assert "Ist es eines von diesen?" in checked.text
    candidates = re.search(r'<ul class="candidates">.*?</ul>\s*</li>\s*</ul>', checked.text, re.S)
    assert candidates is not None
    shown = candidates.group(0)
    assert '<a href="/app/services/svc-a">Trauma therapy</a> · Organisation A' in shown
    assert "Gemeinsame Bedarfe: Traumatherapie" in shown
    assert "Gebiet: Prizren" in shown
    assert "Organisation: Organisation A" in shown
    for internal in ("XK-prizren", "org-a", "psychosocial.", "needs:", "area:"):
        assert internal not in shown, internal
    assert 'name="confirm_not_duplicate" value="1"' in checked.text

    # "Register anyway" without a reason: asked for beside the field, nothing stored.
    no_reason = await client.post(
        "/app/services?org=org-a&lang=de", data={**fields, "confirm_not_duplicate": "1"}
    )
    assert no_reason.status_code == 422
    assert 'id="not_duplicate_reason-error">Begründen Sie' in no_reason.text
    assert await graph.read(_count) == 1

    reason = "Group sessions for children, the existing one is for adults"
    saved = await client.post(
        "/app/services?org=org-a",
        data={**fields, "confirm_not_duplicate": "1", "not_duplicate_reason": reason},
    )
    assert saved.status_code == 303, saved.text
    assert await graph.read(_count) == 2
    kept = [
        c["replacement"]
        for changes in await graph.read(_registrations)
        for c in changes
        if c["field"] == "not_duplicate_reason"
    ]
    assert kept == [reason]


async def test_a_service_unlike_any_other_registers_at_once(
    client: httpx.AsyncClient, a_service: dict[str, str], graph: Graph
) -> None:
    csrf = await _signed_in(client, a_service["partner"])
    fields = {
        "csrf": csrf,
        "name": "Job placement for returnees",
        "needs": ["employment"],
        "covers": ["XK-prizren"],
        "delivery": ["IN_PERSON"],
        "capacity": "AVAILABLE",
    }
    saved = await client.post("/app/services?org=org-a", data=fields)
    assert saved.status_code == 303, saved.text
    assert await graph.read(_count) == 2


@pytest.fixture
async def pair(app: FastAPI, people: dict[str, str], graph: Graph) -> str:
    """Two entries of organisation A's trauma therapy in Prizren, found by the scan; the
    candidate's id."""
    await directory.build(graph)
    offered = directory.service(organisation_id="org-a", name="Trauma therapy")
    await directory.add_services(graph, [("svc-a", offered), ("svc-a2", offered)])
    await scan(graph, kind=Kind.SERVICE)
    page = await graph.read(list_candidates, kind=Kind.SERVICE, area_id=None,
                            min_score=0.0, state=State.OPEN, first=10, after=None)  # fmt: skip
    assert len(page.edges) == 1
    return page.edges[0].node.id


async def _pair(tx: Any, *, id: str) -> DuplicatePair:
    return await get_candidate(tx, id=id)


async def test_a_duplicate_decision_takes_a_note_and_a_confirmation_and_can_be_undone(
    client: httpx.AsyncClient, people: dict[str, str], pair: str, graph: Graph
) -> None:
    csrf = await _signed_in(client, people["coordinator"])
    page = await client.get("/app/duplicates?lang=de")
    assert page.status_code == 200
    table = re.search(r"<table>.*?</table>", page.text, re.S)
    assert table is not None
    assert '"row">Gemeinsame Bedarfe</th><td>Traumatherapie</td>' in table.group(0)
    assert '"row">Gebiet</th><td>Prizren</td>' in table.group(0)
    for internal in ("XK-prizren", "org-a", "psychosocial.", "needs", ">area<", ">name<"):
        assert internal not in table.group(0), internal
    assert "Angebote · Wert" in page.text  # the kind, translated

    decide = {"csrf": csrf, "decision": "SAME", "canonical": "svc-a2"}
    no_note = await client.post(f"/app/duplicates/{pair}?lang=de", data=decide)
    assert no_note.status_code == 422
    assert f'id="note-{pair}-error">Schreiben Sie eine Notiz' in no_note.text
    assert (await graph.read(_pair, id=pair)).state is State.OPEN

    note = "Same office, same team: entered twice"
    asked = await client.post(f"/app/duplicates/{pair}?lang=de", data={**decide, "note": note})
    assert asked.status_code == 200
    assert "Entscheidung bestätigen" in asked.text
    assert "wird damit zusammengeführt" in asked.text
    assert 'name="canonical" value="svc-a2"' in asked.text
    assert 'name="confirmed" value="1"' in asked.text
    assert (await graph.read(_pair, id=pair)).state is State.OPEN  # nothing decided yet

    confirmed = {**decide, "note": note, "confirmed": "1"}
    done = await client.post(f"/app/duplicates/{pair}", data=confirmed)
    assert done.status_code == 303
    decided = await graph.read(_pair, id=pair)
    assert (decided.state, decided.canonical_id, decided.note) == (State.SAME, "svc-a2", note)

    listed = await client.get("/app/duplicates?saved=1&lang=de")
    assert "Kürzlich entschieden" in listed.text
    assert f'action="/app/duplicates/{pair}/undo"' in listed.text
    assert note in listed.text

    undone = await client.post(f"/app/duplicates/{pair}/undo", data={"csrf": csrf})
    assert undone.status_code == 303
    reopened = await graph.read(_pair, id=pair)
    assert (reopened.state, reopened.canonical_id) == (State.OPEN, None)
    assert [e.action for e in reopened.history][-2:] == ["same", "undone"]


async def test_counsellors_cannot_decide_or_undo_duplicates(
    client: httpx.AsyncClient, people: dict[str, str], pair: str, graph: Graph
) -> None:
    csrf = await _signed_in(client, people["counsellor"])
    refused = await client.post(f"/app/duplicates/{pair}/undo", data={"csrf": csrf})
    assert refused.status_code == 403
    assert (await graph.read(_pair, id=pair)).state is State.OPEN
