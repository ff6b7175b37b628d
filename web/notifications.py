"""The person's notices: what happened to referrals on the other side, newest first, with
the unread ones marked and a way to mark them read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from web.pages import render, run, see_other, typed_error
from web.session import check_form, page_session

router = APIRouter()

LIST = """
query Notices {
  notifications(first: 100) {
    unreadCount
    nodes { id kind referralId reference status createdAt readAt }
  }
}
"""

MARK = """
mutation Mark($ids: [ID!]) {
  markNotificationsRead(ids: $ids) {
    __typename
    ... on NotificationsRead { marked unreadCount }
    ... on ValidationError { message }
  }
}
"""


@router.get("/notifications")
async def notices(request: Request) -> Response:
    session = await page_session(request)
    data = (await run(request, session, LIST))["notifications"]
    return render(
        request, session, "notifications.html", rows=data["nodes"], unread=data["unreadCount"]
    )


@router.post("/notifications/read")
async def mark_read(
    request: Request, csrf: Annotated[str, Form()] = "", id: Annotated[str, Form()] = ""
) -> Response:
    """One notice (`id`), or every unread one when no id is sent."""
    session = await page_session(request)
    check_form(request, session, csrf)
    result = (await run(request, session, MARK, {"ids": [id] if id else None}))[
        "markNotificationsRead"
    ]
    if typed_error(result) is not None:
        raise RuntimeError(result["message"])  # one id or none cannot be too many
    return see_other(session, "/app/notifications")
