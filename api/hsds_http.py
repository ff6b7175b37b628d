"""HTTP around the `/hsds/` read API: CORS, so that a web page elsewhere can read this public,
read-only API, and validators (`ETag`, `Last-Modified`) with `304 Not Modified`, so that a
client polling a list or a record fetches it again only when it changed.

Plain ASGI, like `api/middleware.py`. Only `GET`/`HEAD` answers and preflights under `/hsds`
are touched; JSON answers are read whole (a page is at most 100 records) to hash them, and
NDJSON streams pass through untouched but for the CORS header.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/hsds"
ALLOWED_METHODS = "GET, HEAD, OPTIONS"
# How long a browser may keep a preflight's answer.
PREFLIGHT_MAX_AGE = "86400"


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def _last_modified(body: bytes) -> datetime | None:
    """The latest `last_modified` of the records of an answer (services carry one)."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    records: list[Any] = document.get("contents", [document]) if isinstance(document, dict) else []
    moments = []
    for record in records:
        value = record.get("last_modified") if isinstance(record, dict) else None
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                continue
            if moment.tzinfo is not None:
                moments.append(moment.replace(microsecond=0))
    return max(moments) if moments else None


def _not_modified(scope: Scope, etag: str, modified: datetime | None) -> bool:
    """RFC 9110: If-None-Match first; If-Modified-Since only without it."""
    match = _header(scope, b"if-none-match")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return "*" in tags or etag in tags
    since = _header(scope, b"if-modified-since")
    if since is None or modified is None:
        return False
    try:
        return modified <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


class HsdsHttp:
    """`origins`: "*" for any origin, else the allowed origins; empty: no CORS."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        self.app = app
        self.origins = origins

    def _allow_origin(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        origin = _header(scope, b"origin")
        if origin is None or not self.origins:
            return []
        if "*" in self.origins:
            return [(b"access-control-allow-origin", b"*")]
        if origin in self.origins:
            return [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]
        return []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        cors = self._allow_origin(scope)
        if method == "OPTIONS" and cors and _header(scope, b"access-control-request-method"):
            headers = [
                *cors,
                (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                (b"access-control-allow-headers", b"If-None-Match, If-Modified-Since"),
                (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
            ]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if method not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        exposed = [(b"access-control-expose-headers", b"ETag, Last-Modified")] if cors else []
        start: Message | None = None
        chunks: list[bytes] = []
        buffering = False

        async def answer(message: Message) -> None:
            nonlocal start, buffering
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                json_answer = content_type.startswith(b"application/json")
                buffering = message["status"] == 200 and json_answer
                if not buffering:
                    message["headers"] = [*message.get("headers", []), *cors]
                    await send(message)
                    return
                start = message
                return
            if not buffering:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            body = b"".join(chunks)
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            modified = _last_modified(body)
            validators = [(b"etag", etag.encode())]
            if modified is not None:
                stamp = format_datetime(modified, usegmt=True)
                validators.append((b"last-modified", stamp.encode()))
            kept = [
                (k, v)
                for k, v in start.get("headers", [])
                if k not in (b"content-length", b"etag", b"last-modified")
            ]
            if _not_modified(scope, etag, modified):
                plain = [(k, v) for k, v in kept if k != b"content-type"]
                await send(
                    {
                        "type": "http.response.start",
                        "status": 304,
                        "headers": plain + validators + cors + exposed,
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
            length = [(b"content-length", str(len(body)).encode())]
            await send({**start, "headers": kept + length + validators + cors + exposed})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, answer)
