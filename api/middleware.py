"""What every HTTP request goes through before the routes: a request id, the access log
line and metrics, the rate limit and the body size limit.

Plain ASGI middleware rather than Starlette's `BaseHTTPMiddleware`, so that bodies stream
through untouched and the request id's context variable is the one the routes see.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
import uuid
from collections import OrderedDict
from typing import Any

from limits import parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import bearer_token
from core.errors import Unauthenticated
from core.logs import CURRENT_REQUEST, RequestInfo
from core.metrics import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    NOT_GRAPHQL,
    OPERATION_NAMES,
    count_error,
)
from core.settings import Settings
from graph.users import split_token

access_log = logging.getLogger("homeward.access")
log = logging.getLogger("homeward.api")

REQUEST_ID_HEADER = "x-request-id"
# A caller's own id is kept when it could not smuggle anything into a log line or a header.
WELL_FORMED_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
# Probes and scrapes are never throttled: a throttled health check looks like an outage.
UNLIMITED_PATHS = frozenset({"/health", "/metrics"})
# File uploads (api/imports.py): bounded by HOMEWARD_IMPORT_MAX_BYTES instead.
UPLOAD_PATHS = frozenset({"/imports/hsds", "/imports/sheet"})
# Token ids known to authenticate, kept per process; one forgotten is charged to its address
# again until its next answer.
GENUINE_TOKENS_KEPT = 50_000


def request_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if WELL_FORMED_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


async def send_json(send: Send, status: int, body: dict[str, Any], headers: list[Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def route_template(scope: Scope) -> str | None:
    """The path template of the route the request matched, prefix included
    (`/exports/gaps.{image_format}`, `/app/referrals/{referral_id}`); None before a route
    matched."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    pattern = getattr(route, "path_regex", None)
    if template is None or pattern is None:
        return None
    path: str = scope["path"]
    # The route knows its own part of the path only; what precedes it is the routers' prefix.
    for start in range(len(path) + 1):
        if pattern.match(path[start:]):
            return str(path[:start] + template)
    return None


def route_label(scope: Scope, status: int) -> str:
    """The route template the request matched, so that a label never holds an id or whatever
    path a caller made up."""
    template = route_template(scope) if status != 404 else None
    return template or "unmatched"


class RequestContext:
    """Outermost: gives the request its id, echoes it, times the request, writes the access
    log line and the metrics, and turns an exception no route handled into a 500 that names
    the request id (the traceback goes to the log under the same id)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        info = RequestInfo(request_id=request_id_from(scope))
        token = CURRENT_REQUEST.set(info)
        id_header = (b"x-request-id", info.request_id.encode())
        status = 500
        started_response = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                message["headers"] = [*message.get("headers", []), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            count_error("unexpected")
            status = 500
            if not started_response:
                await send_json(
                    send,
                    500,
                    {"detail": "internal error", "requestId": info.request_id},
                    [id_header],
                )
        finally:
            duration = time.perf_counter() - started
            route = route_label(scope, status)
            operation = OPERATION_NAMES.label(info.operation) if info.operation else NOT_GRAPHQL
            if route == "/graphql" and not operation:
                operation = "none"  # GraphiQL's page, or a request refused before parsing
            method = scope["method"]
            HTTP_LATENCY.labels(method=method, route=route, operation=operation).observe(duration)
            HTTP_REQUESTS.labels(
                method=method, route=route, operation=operation, status=str(status)
            ).inc()
            if status == 401:
                count_error("unauthenticated")
            access_log.info(
                "%s %s %d",
                method,
                route,
                status,
                extra={
                    "method": method,
                    "route": route,
                    "operation": info.operation,
                    "status": status,
                    "duration_ms": round(duration * 1000, 1),
                },
            )
            CURRENT_REQUEST.reset(token)


class BodyTooLarge(Exception):
    pass


class Protection:
    """Per-caller rate limit (429 with Retry-After) and request body limit (413).

    A token has a bucket of its own once it has authenticated; before that (and always for
    anonymous callers) the client address's bucket counts too."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        # File uploads have their own, larger bound, which api/imports.py enforces itself.
        self.upload_max = max(settings.import_max_bytes, settings.max_body_bytes)
        # Checked when the settings were read (core/settings.py).
        self.limits = parse_many(settings.rate_limit) if settings.rate_limit.strip() else []
        anonymous = settings.rate_limit_anonymous
        self.anonymous_limits = parse_many(anonymous) if anonymous.strip() else []
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        # Ids of tokens that authenticated, most recently used last.
        self.genuine: OrderedDict[str, None] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        refused, unproven = await self._throttled(scope, send)
        if refused:
            return
        if unproven is not None:
            send = self._learning(send, unproven)
        limit = self.upload_max if scope["path"] in UPLOAD_PATHS else self.max_body
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(send, f"{declared} bytes", limit)
            return
        await self._with_body_limit(scope, receive, send, limit)

    async def _throttled(self, scope: Scope, send: Send) -> tuple[bool, str | None]:
        """Whether the request was refused, and the id of a token not yet known to be
        genuine (to be remembered once it authenticated)."""
        token_id = self._token_id(scope)
        client = scope.get("client")
        address = (f"address:{client[0] if client else 'unknown'}", self.anonymous_limits)
        buckets = [address]
        unproven = None
        if token_id is not None:
            token = (f"token:{token_id}", self.limits)
            if token_id in self.genuine:
                self.genuine.move_to_end(token_id)
                buckets = [token]
            else:
                # Until the token has authenticated, its request is also charged to the
                # address: made-up token ids (each of which would have a fresh bucket) share
                # the address's anonymous budget.
                buckets, unproven = [token, address], token_id
        for key, limits in buckets:
            for item in limits:
                if not await self.limiter.hit(item, key):
                    stats = await self.limiter.get_window_stats(item, key)
                    retry = max(1, math.ceil(stats.reset_time - time.time()))
                    count_error("rate_limited")
                    await send_json(
                        send,
                        429,
                        {
                            "detail": f"rate limit of {item} exceeded for this "
                            f"{'token' if key.startswith('token:') else 'address'}; "
                            f"retry in {retry} s"
                        },
                        [(b"retry-after", str(retry).encode())],
                    )
                    return True, None
        return False, unproven

    def _token_id(self, scope: Scope) -> str | None:
        """A bearer token's id, whoever uses it; None for anonymous callers (and malformed
        headers, which get their 401 after this)."""
        try:
            token = bearer_token(_header(scope, b"authorization"))
        except Unauthenticated:
            return None
        if token is None:
            return None
        parts = split_token(token)
        # An OIDC token has no id of ours; its digest stands for it (never the token).
        return parts[0] if parts else hashlib.sha256(token.encode()).hexdigest()[:32]

    def _learning(self, send: Send, token_id: str) -> Send:
        async def send_and_learn(message: Message) -> None:
            # Any answer but 401 means the token authenticated.
            if message["type"] == "http.response.start" and message["status"] != 401:
                self._remember(token_id)
            await send(message)

        return send_and_learn

    def _remember(self, token_id: str) -> None:
        self.genuine[token_id] = None
        if len(self.genuine) > GENUINE_TOKENS_KEPT:
            self.genuine.popitem(last=False)

    async def _with_body_limit(
        self, scope: Scope, receive: Receive, send: Send, limit: int
    ) -> None:
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            # A chunked body without Content-Length, stopped as soon as it passed the limit.
            if response_started:
                raise
            await self._too_large(send, "more", limit)

    async def _too_large(self, send: Send, size: str, limit: int) -> None:
        count_error("body_too_large")
        upload = limit != self.max_body
        setting = "HOMEWARD_IMPORT_MAX_BYTES" if upload else "HOMEWARD_MAX_BODY_BYTES"
        await send_json(
            send,
            413,
            {"detail": f"request body of {size} is over the limit of {limit} bytes ({setting})"},
            [],
        )
