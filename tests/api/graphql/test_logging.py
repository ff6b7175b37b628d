"""Structured logs: one JSON object per line with the request id, and never a token, an
Authorization header or a referral's personal data."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from core.logs import JsonFormatter
from graph.users import split_token
from tests.api.graphql.conftest import GraphQLClient
from tests.api.graphql.test_referrals import (  # noqa: F401 - `world` is a fixture
    CONTACT,
    HEALTH,
    NOTE,
    create,
    world,
)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything any logger writes, at every level, as the server's handler formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_logs_are_json_with_request_ids_and_nothing_personal(
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    world: dict[str, str],  # noqa: F811
    json_log: io.StringIO,
) -> None:
    token = world["counsellor"]
    referral = await create(gql, token, contact=CONTACT)
    read = await client.post(
        "/graphql",
        json={
            "query": "query ReadReferral($id: ID!) { referral(id: $id) { contact health } }",
            "variables": {"id": referral["id"]},
        },
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "trace-1"},
    )
    assert read.json()["data"]["referral"]["contact"] == CONTACT
    # A refused token, and a query with a validation error that echoes what was sent.
    wrong = token[:-4] + "abcd"
    assert (
        await client.post(
            "/graphql", json={"query": "{ needs { code } }"}, headers={"Authorization": wrong}
        )
    ).status_code == 401
    await client.post(
        "/graphql",
        json={"query": "{ referral(id: 1) { contact } }", "variables": {"contact": CONTACT}},
        headers={"Authorization": f"Bearer {token}"},
    )

    text = json_log.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    access = [entry for entry in lines if entry["logger"] == "homeward.access"]
    # The driver's debug lines would print every query's parameters.
    assert not [e for e in lines if e["logger"].startswith("neo4j") and e["level"] == "debug"]
    assert len(access) == 4
    for entry in access:
        assert {"time", "level", "logger", "message", "request_id", "status", "duration_ms"} <= set(
            entry
        )
        assert entry["route"] == "/graphql"
    traced = [entry for entry in access if entry["request_id"] == "trace-1"]
    assert traced[0]["operation"] == "ReadReferral"
    assert traced[0]["status"] == 200
    assert [entry["status"] for entry in access].count(401) == 1
    # The whole secret, not `split("_")[-1]`: a url-safe secret may itself hold "_", and a
    # two-letter tail of it turns up by chance in any long log.
    parts = split_token(token)
    assert parts is not None
    for secret in (token, wrong, parts[1], "Bearer", "authorization"):
        assert secret.lower() not in text.lower(), secret
    for personal in (CONTACT, HEALTH, NOTE, "+383"):
        assert personal not in text, personal
