"""The API's developer pages (GraphiQL, Swagger UI) load their code from the
application itself, never from another host, and carry a Content-Security-Policy that keeps
it so."""

from __future__ import annotations

import re

import httpx
import pytest

from api.devtools import STATIC_URL

URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")
LOCAL = re.compile(r"""(?:src|href)="(/[^"]*)\"""")
PAGES = [
    pytest.param("/graphql", "react.production.min.js", id="graphiql"),
    pytest.param("/docs", "swagger-ui-bundle.js", id="swagger-ui"),
]


@pytest.mark.parametrize(("path", "library"), PAGES)
async def test_a_developer_page_loads_nothing_from_another_host(
    client: httpx.AsyncClient, path: str, library: str
) -> None:
    page = await client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert URL.findall(page.text) == []
    assets = LOCAL.findall(page.text)
    assert any(a.endswith(library) for a in assets), assets
    for asset in assets:
        assert asset.startswith(STATIC_URL + "/"), asset
        answer = await client.get(asset)
        assert answer.status_code == 200, asset
        assert len(answer.content) > 100, asset
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "connect-src 'self';" in policy
    # No inline script: the policy forbids it, so the page must not depend on one.
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) is None
