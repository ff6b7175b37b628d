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
