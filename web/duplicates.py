"""Why two records may be one, as a person reads it: the scorer's evidence (`needs`,
`psychosocial.trauma-therapy, employment`, `XK-prizren`, `120 m apart`) worded in the page's
language with need, area and organisation names instead of codes and ids.

Both the registration check on the service form and the coordinators' review page (below)
show it. A review decision takes a note and a confirmation, and can be undone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from core.i18n import Translator, translator
from web.errors import page_error
from web.pages import render, run, see_other, typed_error
from web.session import API_LANGUAGE, WebSession, check_form, page_session

# The scorer's evidence fields (graph/duplicates/scoring.py) and the message naming each.
EVIDENCE_LABELS = {
    "name": "dup.ev.name",
    "acronym": "dup.ev.acronym",
    "website": "dup.ev.website",
    "phone": "dup.ev.phone",
    "email": "dup.ev.email",
    "country": "dup.ev.country",
    "area": "dup.ev.area",
    "site": "dup.ev.site",
    "organisation": "dup.ev.organisation",
    "needs": "dup.ev.needs",
    "target groups": "dup.ev.target_groups",
}
# Evidence values that list codes or ids, and how the scorer joins them.
SEPARATORS = {
    "needs": ", ",
    "target groups": ", ",
    "area": " / ",
    "country": " / ",
    "organisation": " ~ ",
}
METRES = re.compile(r"^(\d+) m apart$")


def _value(field: str, value: str, t: Translator, names: Mapping[str, str]) -> str:
    if field == "needs" and value == "none shared":
        return t("dup.ev.none_shared")
    if field == "site" and (metres := METRES.match(value)):
        return t("dup.ev.metres", metres=t.decimal(int(metres.group(1))))
    separator = SEPARATORS.get(field)
    if separator is None:
        return value
    return separator.join(names.get(part, part) for part in value.split(separator))


def evidence_lines(
    evidence: Iterable[Mapping[str, Any]], t: Translator, names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Each piece of evidence as {"label", "value", "against", "similarity"}; `names` maps
    the codes and ids the scorer speaks of (needs, target groups, areas, organisations) to
    what the page calls them."""
    return [
        {
            "label": t(EVIDENCE_LABELS.get(str(e["field"]), "dup.ev.other")),
            "value": _value(str(e["field"]), str(e["value"]), t, names),
            "against": float(e.get("weight") or 0.0) < 0,
            "similarity": e.get("similarity"),
        }
        for e in evidence
    ]


# --- the review page ------------------------------------------------------------------------

router = APIRouter()

RECORD = """
  id name
  organisation { id name country { id name } basedIn { id name } }
  service { organisation { id name } coverage { id name } }
"""
PAIR = (
    "id kind score state decidedAt decidedBy note canonicalId"
    " evidence { field value similarity weight }"
    " a {" + RECORD + "} b {" + RECORD + "}"
)
DUPLICATES = (
    "query Duplicates {"
    " needs { code label } targetGroups { code label }"
    " open: duplicateCandidates(first: 50) { nodes {" + PAIR + "} }"
    " same: duplicateCandidates(state: SAME, first: 20) { nodes {" + PAIR + "} }"
    " different: duplicateCandidates(state: DIFFERENT, first: 20) { nodes {" + PAIR + "} } }"
)
OUTCOME = """
    __typename
    ... on DuplicatePairPayload { candidate { id state } }
    ... on ValidationError { message fields { field message suggestions } }
    ... on NotFoundError { message }
    ... on ForbiddenError { message }
"""
RESOLVE = (
    "mutation Resolve($input: ResolveDuplicateInput!) {"
    " resolveDuplicate(input: $input) {" + OUTCOME + "} }"
)
UNDO = (
    "mutation Undo($candidate: ID!) {"
    " undoDuplicateResolution(candidate: $candidate) {" + OUTCOME + "} }"
)
DECISIONS = ("SAME", "DIFFERENT")


def _names(data: dict[str, Any]) -> dict[str, str]:
    """What the page calls the codes and ids the evidence speaks of."""
    names = {n["code"]: n["label"] for n in data["needs"]}
    names |= {g["code"]: g["label"] for g in data["targetGroups"]}
    for group in ("open", "same", "different"):
        for pair in data[group]["nodes"]:
            for record in (pair["a"], pair["b"]):
                if (org := record["organisation"]) is not None:
                    names[org["id"]] = org["name"]
                    for area in (org["country"], org["basedIn"]):
                        if area is not None:
                            names[area["id"]] = area["name"]
                if (service := record["service"]) is not None:
                    names[service["organisation"]["id"]] = service["organisation"]["name"]
                    names |= {a["id"]: a["name"] for a in service["coverage"]}
    return names


def _shown(pair: dict[str, Any], t: Translator, names: Mapping[str, str]) -> dict[str, Any]:
    return pair | {"lines": evidence_lines(pair["evidence"], t, names)}


async def _page(
    request: Request,
    session: WebSession,
    *,
    status_code: int = 200,
    error: dict[str, Any] | None = None,
    note_missing: str | None = None,
) -> Response:
    t = translator(API_LANGUAGE[session.lang])
    data = await run(request, session, DUPLICATES)
    names = _names(data)
    decided = sorted(
        data["same"]["nodes"] + data["different"]["nodes"],
        key=lambda p: p["decidedAt"] or "",
        reverse=True,
    )
    return render(
        request,
        session,
        "duplicates.html",
        status_code=status_code,
        pairs=[_shown(p, t, names) for p in data["open"]["nodes"]],
        decided=[_shown(p, t, names) for p in decided[:20]],
        saved=request.query_params.get("saved") == "1",
        undone=request.query_params.get("undone") == "1",
        perror=page_error(error, t, {}),
        note_missing=note_missing,
    )


@router.get("/duplicates")
async def duplicates_page(request: Request) -> Response:
    session = await page_session(request)
    return await _page(request, session)


@router.post("/duplicates/{candidate_id}")
async def resolve_duplicate(
    request: Request,
    candidate_id: str,
    decision: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    canonical: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """A decision takes two steps: the form with its note, then a page that says what will
    happen (which record is merged into which) and asks to confirm."""
    session = await page_session(request)
    check_form(request, session, csrf)
    note = note.strip()
    if decision not in DECISIONS or not note:
        return await _page(request, session, status_code=422, note_missing=candidate_id)
    if confirmed != "1":
        t = translator(API_LANGUAGE[session.lang])
        data = await run(request, session, DUPLICATES)
        pair = next((p for p in data["open"]["nodes"] if p["id"] == candidate_id), None)
        if pair is None:
            return await _page(
                request, session, status_code=404, error={"__typename": "NotFoundError"}
            )
        kept, merged = (pair["b"], pair["a"]) if canonical == pair["b"]["id"] else (
            pair["a"], pair["b"]
        )  # fmt: skip
        return render(
            request,
            session,
            "duplicate_confirm.html",
            pair=_shown(pair, t, _names(data)),
            decision=decision,
            note=note,
            kept=kept,
            merged=merged,
        )
    decided: dict[str, Any] = {"candidate": candidate_id, "decision": decision, "note": note}
    if decision == "SAME" and canonical:
        decided["canonicalId"] = canonical
    result = (await run(request, session, RESOLVE, {"input": decided}))["resolveDuplicate"]
    error = typed_error(result)
    if error is not None:
        return await _page(request, session, status_code=422, error=error)
    return see_other(session, "/app/duplicates?saved=1")


@router.post("/duplicates/{candidate_id}/undo")
async def undo_duplicate(
    request: Request, candidate_id: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Opens a decided pair again; a merge it made is undone."""
    session = await page_session(request)
    check_form(request, session, csrf)
    result = (await run(request, session, UNDO, {"candidate": candidate_id}))[
        "undoDuplicateResolution"
    ]
    error = typed_error(result)
    if error is not None:
        return await _page(request, session, status_code=422, error=error)
    return see_other(session, "/app/duplicates?undone=1")
