"""Why two records may be one, as a person reads it: the scorer's evidence (`needs`,
`psychosocial.trauma-therapy, employment`, `XK-prizren`, `120 m apart`) worded in the page's
language with need, area and organisation names instead of codes and ids.

Both the registration check on the service form and the coordinators' review page show it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from core.i18n import Translator

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
