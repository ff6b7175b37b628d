"""The person's own settings: how they hear of their notices by mail (each at once, a daily
summary, or none) and the language of those mails."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from web.pages import render, run, see_other, typed_error
from web.session import API_LANGUAGE, LANGUAGES, WebSession, check_form, page_session

router = APIRouter()

READ = "query Mail { mailPreference { frequency language } }"

SAVE = """
mutation Save($frequency: MailFrequency!, $language: String!) {
  setMailPreference(frequency: $frequency, language: $language) {
    __typename
    ... on MailPreference { frequency language }
    ... on ValidationError { message }
  }
}
"""

FREQUENCIES = ("IMMEDIATE", "DIGEST", "NONE")
# The mails' languages by their names in themselves, as the language switch names them.
MAIL_LANGUAGES = {API_LANGUAGE[code]: name for code, name in LANGUAGES.items()}


def _page(
    request: Request, session: WebSession, *, preference: dict[str, str], saved: bool
) -> Response:
    return render(
        request,
        session,
        "settings.html",
        preference=preference,
        frequencies=FREQUENCIES,
        mail_languages=MAIL_LANGUAGES,
        mail_enabled=request.app.state.settings.mail_enabled,
        saved=saved,
    )


@router.get("/settings")
async def settings_page(request: Request) -> Response:
    session = await page_session(request)
    preference = (await run(request, session, READ))["mailPreference"]
    saved = request.query_params.get("saved") == "1"
    return _page(request, session, preference=preference, saved=saved)


@router.post("/settings")
async def save_settings(
    request: Request,
    csrf: Annotated[str, Form()] = "",
    frequency: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "",
) -> Response:
    session = await page_session(request)
    check_form(request, session, csrf)
    # The form offers only these; anything else is a forged form, answered with the page.
    if frequency not in FREQUENCIES or language not in MAIL_LANGUAGES:
        preference = (await run(request, session, READ))["mailPreference"]
        return _page(request, session, preference=preference, saved=False)
    result = (await run(request, session, SAVE, {"frequency": frequency, "language": language}))[
        "setMailPreference"
    ]
    if typed_error(result) is not None:
        raise RuntimeError(result["message"])  # both values were checked above
    return see_other(session, "/app/settings?saved=1")
