"""`GET /metrics`: Prometheus text format, for admins or, when the deployment says so, for a
scraper on the same host (docs/operations.md)."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import authorize
from core.metrics import REGISTRY
from core.settings import Settings

router = APIRouter(tags=["operations"])


def from_loopback(request: Request) -> bool:
    if request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    # Authorized here rather than by the router: a scraper on the same host may need no token.
    if not (settings.metrics_from_loopback and from_loopback(request)):
        await authorize(request)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
