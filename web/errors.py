"""A mutation's typed error as a form shows it: in the page's language, each problem beside
the field it is about, and never the API's own words (field paths, English developer text).

The API names a problem's field by its input path (`input.household.adults`); each form says
which of its fields that path is and which message of the catalogues words the problem there.
A problem on a path the form does not show is worded generally, at the top.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.i18n import Translator

# The message at the top of the form, by the error's GraphQL type.
SUMMARIES = {
    "ValidationError": "error.check_fields",
    "NotFoundError": "error.not_found",
    "ForbiddenError": "error.forbidden",
    "VersionConflictError": "error.version_conflict",
    "IllegalTransitionError": "error.illegal_transition",
    "ConsentMissingError": "error.consent_missing",
    "PossibleDuplicatesError": "error.possible_duplicates",
}


def page_error(
    error: dict[str, Any] | None,
    t: Translator,
    fields: Mapping[str, tuple[str, str]],
) -> dict[str, Any] | None:
    """`fields` maps an API path (without `input.`, list indexes dropped) to (form field,
    message key); a form field of a list's row names the row by the indexes of the path
    (`site-{0}-name` for `input.locations.2.name`). Returns {"message", "fields": {form
    field: text}, "others": [text], "suggestions": {form field: [names]}} for the templates'
    `page_error` macro."""
    if error is None:
        return None
    placed: dict[str, str] = {}
    suggestions: dict[str, list[str]] = {}
    others: list[str] = []
    for problem in error.get("fields") or []:
        parts = str(problem["field"]).split(".")[1:]
        path = ".".join(part for part in parts if not part.isdigit())
        indexes = [part for part in parts if part.isdigit()]
        known = fields.get(path)
        if known is None:
            text = t("error.other_field")
            if text not in others:
                others.append(text)
            continue
        name, key = known
        name = name.format(*indexes) if indexes else name
        placed.setdefault(name, t(key))
        if problem.get("suggestions"):
            suggestions.setdefault(name, []).extend(problem["suggestions"])
    summary = t(SUMMARIES.get(str(error.get("__typename")), "error.other_field"))
    if error.get("__typename") == "ConsentMissingError":
        keys = ["category." + c for c in error.get("missingCategories") or []]
        categories = [t(key) for key in keys]
        summary = t("error.consent_missing", categories=", ".join(categories))
    return {"message": summary, "fields": placed, "others": others, "suggestions": suggestions}
