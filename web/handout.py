"""The returnee's handout for one referral: one printed page in the household's language
that says with whom help was arranged, where they are, how to reach them, what to bring and
when the appointment is. It carries nothing of the referral's personal categories (no health,
no contact, no notes): it is printed, carried and perhaps lost.

The page around it speaks the counsellor's language; the handout the language chosen for it
(any of the interface's), its area names and need labels asked of the API in that language.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from core.i18n import translator
from web.pages import render, run
from web.session import API_LANGUAGE, LANGUAGES, page_session

router = APIRouter()

# Only what the handout prints: the referral's own personal categories are never asked for.
HANDOUT = """
query Handout($id: ID!) {
  referral(id: $id) {
    id reference status documents
    needs { label }
    destination { name }
    service {
      name
      locations { name address area { name } }
      organisation { name phone email website }
    }
  }
}
"""


def _appointment(value: str | None) -> datetime | None:
    """The appointment as the form's date-and-time field sends it; anything else is left out
    (the handout is printed as it is, not refused)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@router.get("/referrals/{referral_id}/handout")
async def handout(
    request: Request, referral_id: str, language: str = "", appointment: str = ""
) -> Response:
    session = await page_session(request)
    chosen = language if language in LANGUAGES else session.lang
    in_chosen = dataclasses.replace(session, lang=chosen)
    referral = (await run(request, in_chosen, HANDOUT, {"id": referral_id}))["referral"]
    if referral is None:
        return render(
            request, session, "message.html", status_code=404, title="notfound.title", text=None
        )
    at = _appointment(appointment)
    return render(
        request,
        session,
        "handout.html",
        referral=referral,
        service=referral["service"],
        organisation=(referral["service"] or {}).get("organisation"),
        chosen=chosen,
        ht=translator(API_LANGUAGE[chosen]),
        handout_lang=API_LANGUAGE[chosen],
        appointment=at,
        appointment_value=at.isoformat(timespec="minutes") if at else "",
    )
