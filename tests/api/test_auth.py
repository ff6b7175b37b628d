"""Authentication over HTTP: API tokens, OIDC access tokens, and every way they go wrong."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from core.clock import utcnow
from core.settings import Settings
from graph.driver import Graph
from graph.users import issue_token, new_token, revoke_token, set_user_disabled
from homeward.app import create_app
from seed.identities import DEMO_IDENTITIES, create_demo_identities

ME = {"query": "{ me { email memberships { organisationId role } } }"}
PUBLIC = {"query": '{ areas(name: "Prizren") { nodes { id } } }'}


async def _post(
    client: httpx.AsyncClient, body: dict[str, Any], auth: str | None
) -> httpx.Response:
    headers = {"Authorization": auth} if auth is not None else {}
    return await client.post("/graphql", json=body, headers=headers)


async def test_a_valid_token_identifies_the_user(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    response = await _post(client, ME, f"Bearer {people['partner']}")
    assert response.status_code == 200
    assert response.json()["data"]["me"] == {
        "email": "partner@example.org",
        "memberships": [{"organisationId": "org-a", "role": "PARTNER"}],
    }


async def test_anonymous_reads_the_public_directory_but_has_no_me(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    assert (await _post(client, PUBLIC, None)).json()["data"]["areas"]["nodes"]
    me = (await _post(client, ME, None)).json()
    assert me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic dXNlcjpwYXNz", "use 'Authorization: Bearer <token>'"),
        ("Bearer", "holds no single bearer token"),
        ("Bearer a b", "holds no single bearer token"),
        ("Bearer hwt_nope_wrongsecret", "unknown token"),
        ("Bearer not-a-token", "not a Homeward token"),
        ("Bearer a.b.c", "not a Homeward token"),  # a JWT, but no identity provider is set
        ("Bearer hwt__", "not a Homeward token"),
    ],
)
async def test_bad_credentials_are_401_with_a_reason(
    client: httpx.AsyncClient, people: dict[str, str], header: str, message: str
) -> None:
    response = await _post(client, PUBLIC, header)
    assert response.status_code == 401
    assert message in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_wrong_secret_for_a_real_token_id_is_refused(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    _, token_id, _ = people["partner"].split("_", 2)
    response = await _post(client, ME, f"Bearer hwt_{token_id}_guessed")
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown token"


async def test_revoked_expired_and_disabled_are_refused(
    client: httpx.AsyncClient, people: dict[str, str], graph: Graph
) -> None:
    revoked = people["counsellor"]
    await graph.write(revoke_token, token_id=revoked.split("_")[1])
    assert (await _post(client, ME, f"Bearer {revoked}")).json()["detail"] == (
        "the token has been revoked"
    )

    expired, token_id, secret_hash = new_token()
    await graph.write(
        issue_token,
        user_id="user-admin",
        token_id=token_id,
        secret_hash=secret_hash,
        label=None,
        expires_at=utcnow() - timedelta(minutes=1),
    )
    assert (await _post(client, ME, f"Bearer {expired}")).json()["detail"] == (
        "the token has expired"
    )

    await graph.write(set_user_disabled, id="user-coordinator", disabled=True)
    response = await _post(client, ME, f"Bearer {people['coordinator']}")
    assert response.status_code == 401
    assert response.json()["detail"] == "the account is disabled"


async def test_last_use_is_recorded(
    client: httpx.AsyncClient, people: dict[str, str], graph: Graph
) -> None:
    await _post(client, ME, f"Bearer {people['admin']}")
    async with graph.driver.session() as session:
        record = await (
            await session.run(
                "MATCH (t:ApiToken {id: $id}) RETURN t.last_used_at AS at",
                id=people["admin"].split("_")[1],
            )
        ).single()
    assert record is not None
    assert record["at"] is not None


@pytest.fixture
async def demo_graph(graph: Graph) -> Graph:
    from seed.loader import seed

    await seed(graph)
    await graph.write(create_demo_identities)
    await graph.write(create_demo_identities)  # idempotent
    return graph


async def _app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_demo_identities_work_and_can_be_switched_off(
    demo_graph: Graph, test_settings: Settings, client: httpx.AsyncClient
) -> None:
    partner = next(i for i in DEMO_IDENTITIES if i.role.value == "partner")
    assert (await _post(client, ME, f"Bearer {partner.token}")).status_code == 200

    off = test_settings.model_copy(update={"demo_users": False})
    async for other in _app_client(off):
        response = await _post(other, ME, f"Bearer {partner.token}")
        assert response.status_code == 401
        assert "demo accounts are switched off" in response.json()["detail"]


async def test_anonymous_reading_can_be_switched_off(
    people: dict[str, str], test_settings: Settings
) -> None:
    closed = test_settings.model_copy(update={"allow_anonymous_read": False})
    async for client in _app_client(closed):
        body = (await _post(client, PUBLIC, None)).json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        signed_in = (await _post(client, PUBLIC, f"Bearer {people['counsellor']}")).json()
        assert signed_in["data"]["areas"]["nodes"]


# --- OIDC ----------------------------------------------------------------------------------

ISSUER = "https://id.example.org/realms/homeward"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def oidc_client(
    people: dict[str, str], test_settings: Settings, signing_key: rsa.RSAPrivateKey
) -> AsyncIterator[httpx.AsyncClient]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    jwks = json.dumps({"keys": [public | {"kid": "k1", "use": "sig", "alg": "RS256"}]})
    settings = test_settings.model_copy(
        update={"oidc_issuer": ISSUER, "oidc_audience": "homeward-api", "oidc_jwks": jwks}
    )
    async for client in _app_client(settings):
        yield client


def _jwt(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": "homeward-api",
        "sub": "abc",
        "email": "partner@example.org",
        "iat": now,
        "exp": now + 300,
    } | claims
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})


async def test_an_oidc_access_token_maps_to_the_account_by_email(
    oidc_client: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey
) -> None:
    response = await _post(oidc_client, ME, f"Bearer {_jwt(signing_key)}")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["me"]["email"] == "partner@example.org"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": int(time.time()) - 60}, "has expired"),
        ({"aud": "someone-else"}, "not valid"),
        ({"iss": "https://evil.example.org"}, "not valid"),
        ({"email": "stranger@example.org"}, "no active Homeward account"),
        ({"email": None}, "no 'email' claim"),
    ],
)
async def test_bad_oidc_tokens_are_401(
    oidc_client: httpx.AsyncClient,
    signing_key: rsa.RSAPrivateKey,
    claims: dict[str, Any],
    message: str,
) -> None:
    response = await _post(oidc_client, ME, f"Bearer {_jwt(signing_key, **claims)}")
    assert response.status_code == 401
    assert message in response.json()["detail"]


async def test_a_token_signed_by_another_key_is_401(oidc_client: httpx.AsyncClient) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = await _post(oidc_client, ME, f"Bearer {_jwt(stranger)}")
    assert response.status_code == 401
    assert "not valid" in response.json()["detail"]
