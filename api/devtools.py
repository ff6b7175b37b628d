"""The API's pages for developers: GraphiQL on GET /graphql and Swagger UI on /docs. Their
browser code is the copy `make install` takes from package-lock.json into
api/static/vendor and serves from here, so the pages work on a machine without internet and
never ask another host for code at view time (Strawberry's and FastAPI's own pages load it
from public CDNs). There is no /redoc: Redoc resolves every `$ref` of the OpenAPI document
before it draws anything, and the HSDS routes refer to Open Referral's schema files on their
own host (api/hsds.py), so it cannot draw without internet.

The pages carry a Content-Security-Policy like the web pages' (web/headers.py): script and
connections to this origin only. Styles may be inline, as GraphiQL and Swagger UI inject
theirs at run time.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

from api.graphql.protection import BoundedGraphQLRouter

STATIC = Path(__file__).parent / "static"
STATIC_URL = "/api/static"
VENDOR_URL = f"{STATIC_URL}/vendor"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _page(title: str, *, styles: list[str], scripts: list[str], body: str) -> HTMLResponse:
    links = "".join(f'<link rel="stylesheet" href="{escape(href)}">' for href in styles)
    tags = "".join(f'<script src="{escape(src)}" defer></script>' for src in scripts)
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>{links}{tags}</head><body>{body}</body></html>"
    )
    return HTMLResponse(html, headers=HEADERS)


def graphiql_page() -> HTMLResponse:
    return _page(
        "Homeward GraphiQL",
        styles=[f"{VENDOR_URL}/graphiql/graphiql.min.css", f"{STATIC_URL}/graphiql.css"],
        scripts=[
            f"{VENDOR_URL}/react/react.production.min.js",
            f"{VENDOR_URL}/react-dom/react-dom.production.min.js",
            f"{VENDOR_URL}/graphiql/graphiql.min.js",
            f"{STATIC_URL}/graphiql.js",
        ],
        body='<div id="graphiql">Loading…</div>',
    )


class GraphQLRouter(BoundedGraphQLRouter):
    """The GraphQL router whose IDE is GraphiQL from this API's own files."""

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return graphiql_page()


def install(app: FastAPI, *, openapi_url: str | None, graphiql: bool) -> None:
    """Serve the developer pages' files, and /docs when the OpenAPI document is served."""
    if openapi_url is None and not graphiql:
        return
    app.mount(STATIC_URL, StaticFiles(directory=STATIC), name="api-static")
    if openapi_url is None:
        return
    spec = escape(openapi_url)

    async def swagger_ui(request: Request) -> HTMLResponse:
        return _page(
            "Homeward API",
            styles=[f"{VENDOR_URL}/swagger-ui/swagger-ui.css"],
            scripts=[f"{VENDOR_URL}/swagger-ui/swagger-ui-bundle.js", f"{STATIC_URL}/swagger.js"],
            body=f'<div id="swagger-ui" data-openapi="{spec}"></div>',
        )

    # A Starlette route like FastAPI's own documentation route: public, outside the schema
    # and outside the access rules of api/policy.py.
    app.add_route("/docs", swagger_ui, include_in_schema=False)
