"""The API's developer pages in a browser that can reach no other host than the application:
GraphiQL and Swagger UI still draw, from the project's own copies of their code, and
their Content-Security-Policy refuses nothing they need."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Route, expect

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def offline(context: BrowserContext, live_server: LiveServer) -> list[str]:
    """Every request to another host than the application fails, as without a network; the
    list collects what was refused."""
    refused: list[str] = []
    own = urlsplit(live_server.url).netloc

    def route(r: Route) -> None:
        url = urlsplit(r.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != own:
            refused.append(r.request.url)
            r.abort("internetdisconnected")
        else:
            r.continue_()

    context.route("**/*", route)
    return refused


def _policy_violations(page: Page) -> list[str]:
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", on_console)
    return found


def test_graphiql_draws_and_runs_a_query_offline(page: Page, offline: list[str]) -> None:
    violations = _policy_violations(page)
    page.goto("/graphql")
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    expect(editor).to_be_visible()
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("{ __typename")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".graphiql-response")).to_contain_text('"__typename": "Query"')
    assert offline == []
    assert violations == []


def test_api_docs_draw_offline(page: Page, offline: list[str]) -> None:
    violations = _policy_violations(page)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Homeward")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    assert offline == []
    assert violations == []
