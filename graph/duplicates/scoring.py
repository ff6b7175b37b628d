"""Scoring probable duplicates: how alike two organisations or two services are.

One scorer serves both entry points: the front door (a registration is checked against the
records that already exist, `organisation_candidates` / `service_candidates`) and the batch
review (`graph.duplicates.review.scan` compares the whole directory). What it compares:

- names folded by `core.text.fold` (Serbian Cyrillic to Latin, no diacritics, case folded),
  with rapidfuzz's edit-distance ratios; a word replaced by another ("... Prizren" against
  "... Pejë") or different numbers ("Office 1", "Office 2") count against the names;
- acronyms, also against the words of the other record's names ("KRCT Prishtinë");
- website domain, phone number (its last digits) and e-mail;
- country and home area; the distance between sites;
- for services: the organisation (the same, or organisations that are themselves probable
  or confirmed duplicates), shared needs, areas and target groups.

Each part that matched adds a weight and becomes one `Evidence`; the score is their sum,
clipped to 0..1. A pair at or above `THRESHOLD` is a candidate, both at registration (which
then returns `PossibleDuplicatesError`) and in the batch scan. One strong identifier alone
(the same phone, e-mail, website domain or acronym) or a nearly identical name reaches it;
a fairly similar name needs support from another field.

Nothing here reads or writes the graph (that is `graph.duplicates.queries`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel
from rapidfuzz import fuzz

from core.text import fold, search_keys

# Phone numbers are compared on their last digits: "+383 38 000 041", "038/000-041" and
# "00383 38 000041" are one number written three ways.
PHONE_DIGITS = 8

# A pair scoring this or more is a candidate, at registration and in the batch scan.
THRESHOLD = 0.45
# From here on a candidate is "likely" rather than "possible" (shown to reviewers first).
LIKELY = 0.75

# Weights of the parts of the score (see the module docstring).
W_NAME = 0.6  # organisation names, at full similarity
W_SERVICE_NAME = 0.5
W_ACRONYM = 0.5
W_ACRONYM_IN_NAME = 0.35
W_ACRONYM_OF_BRANCHES = 0.2
BRANCH_NAMES = 0.5  # names at least this similar, but for a word, are two branches
W_DOMAIN = 0.5
W_PHONE = 0.5
W_EMAIL = 0.55
W_OTHER_COUNTRY = -0.3
W_SAME_AREA = 0.05
W_OTHER_AREA = -0.15  # based in two different towns of one country
W_NEAR_SITE = 0.1
W_SAME_ORGANISATION = 0.2
W_RELATED_ORGANISATION = 0.15
W_SAME_NEEDS = 0.15
W_SOME_NEEDS = 0.08
W_NO_SHARED_NEED = -0.3
W_SHARED_AREA = 0.1
W_SHARED_GROUP = 0.05
# Name similarity below which names contribute nothing, and at which they count fully.
NAME_FLOOR = 0.6
NAME_FULL = 0.95
# Services of the same kind in the same place are overlap, not duplicates: without a
# similar name a service pair stays below the threshold whatever else it shares. Within
# one organisation, or between unrelated ones, the names must be closer still.
SERVICE_NAME_GATE = 0.7
SERVICE_NAME_GATE_DISTINCT = 0.85
SERVICE_REPLACED_WORD = 0.85
SERVICE_CAP_WITHOUT_NAME = 0.4
NEAR_SITE_KM = 0.25

# Words too common in names to say anything about identity, in the directory's languages.
STOPWORDS = frozenset({
    "a", "and", "da", "de", "del", "der", "des", "di", "die", "du", "e", "for", "fur", "i", "in",
    "ja", "na", "o", "od", "of", "per", "pe", "po", "por", "pour", "sa", "se", "te", "the", "to",
    "u", "und", "y", "za", "zu",
})  # fmt: skip


class Kind(StrEnum):
    ORGANISATION = "organisation"
    SERVICE = "service"


class Evidence(BaseModel):
    """One field that speaks for (or, with a negative weight, against) the pair."""

    field: str
    value: str
    similarity: float | None = None
    weight: float = 0.0


class DuplicateCandidate(BaseModel):
    entity: str
    id: str
    name: str
    evidence: list[Evidence]
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class Match:
    score: float
    evidence: list[Evidence]


# --- keys kept on organisations ------------------------------------------------------------


def website_domain(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    host = host.lower().removeprefix("www.")
    return host or None


def phone_digits(phone: str | None) -> str | None:
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
    return digits[-PHONE_DIGITS:] if len(digits) >= PHONE_DIGITS else None


def organisation_keys(
    *, name: str, alternate_names: list[str], acronym: str | None, website: str | None,
    phone: str | None, email: str | None,
) -> dict[str, Any]:  # fmt: skip
    """The derived properties an organisation is matched on."""
    return {
        "name_keys": search_keys([name, *alternate_names, acronym or ""]),
        "website_domain": website_domain(website),
        "phone_digits": phone_digits(phone),
        "email": email.lower() if email else None,
    }


# --- what the scorer sees ------------------------------------------------------------------

Point = tuple[float, float]  # (lat, lon)


@dataclass(slots=True)
class OrganisationFeatures:
    id: str
    name: str
    names: list[tuple[str, str]]  # (as written, folded): the name, then alternate names
    acronym: str | None  # folded, without spaces
    domain: str | None
    phone: str | None
    email: str | None
    country: str | None
    area: str | None
    points: list[Point] = field(default_factory=list)

    def fingerprint(self) -> str:
        return _fingerprint(
            [self.names, self.acronym, self.domain, self.phone, self.email, self.country,
             self.area, sorted(self.points)]
        )  # fmt: skip


@dataclass(slots=True)
class ServiceFeatures:
    id: str
    name: str
    folded: str
    organisation_id: str
    needs: frozenset[str]
    groups: frozenset[str]
    areas: frozenset[str]  # covered areas and the areas of its sites
    points: list[Point] = field(default_factory=list)

    def fingerprint(self) -> str:
        return _fingerprint(
            [self.folded, self.organisation_id, sorted(self.needs), sorted(self.groups),
             sorted(self.areas), sorted(self.points)]
        )  # fmt: skip


def _fingerprint(parts: list[Any]) -> str:
    """What a reviewer saw: a decision stands until this changes."""
    text = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def organisation_features(
    *, id: str, name: str, alternate_names: Sequence[str] = (), acronym: str | None = None,
    domain: str | None = None, phone: str | None = None, email: str | None = None,
    country: str | None = None, area: str | None = None, points: Sequence[Point] = (),
) -> OrganisationFeatures:  # fmt: skip
    seen: dict[str, str] = {}
    for written in [name, *alternate_names]:
        folded = fold(written)
        if folded:
            seen.setdefault(folded, written)
    return OrganisationFeatures(
        id=id,
        name=name,
        names=[(w, f) for f, w in seen.items()],
        acronym=fold(acronym).replace(" ", "") or None if acronym else None,
        domain=domain,
        phone=phone,
        email=email.lower() if email else None,
        country=country,
        area=area,
        points=sorted({(round(lat, 5), round(lon, 5)) for lat, lon in points}),
    )


def service_features(
    *, id: str, name: str, organisation_id: str, needs: Iterable[str], groups: Iterable[str],
    areas: Iterable[str], points: Sequence[Point] = (),
) -> ServiceFeatures:  # fmt: skip
    return ServiceFeatures(
        id=id,
        name=name,
        folded=fold(name),
        organisation_id=organisation_id,
        needs=frozenset(needs),
        groups=frozenset(groups),
        areas=frozenset(areas),
        points=sorted({(round(lat, 5), round(lon, 5)) for lat, lon in points}),
    )


# --- similarity ----------------------------------------------------------------------------


def name_words(folded: str) -> list[str]:
    return [w for w in folded.split() if w not in STOPWORDS]


def name_similarity(x: str, y: str, *, replaced_word: float = 0.75) -> float:
    """Similarity of two folded names, 0..1. Edit distance on the whole name and on its
    sorted words, lowered when they carry different numbers, and by `replaced_word` when
    each name has a word the other lacks (for organisations: another town, another branch);
    raised a little when one name's words are all in the other ("One to One" and "One to
    One Kosova")."""
    if x == y:
        return 1.0
    base = max(fuzz.ratio(x, y), fuzz.token_sort_ratio(x, y)) / 100
    if base < NAME_FLOOR and fuzz.token_set_ratio(x, y) * 0.85 / 100 < NAME_FLOOR:
        return base  # far apart whatever the words say; the common case, kept cheap
    wx, wy = name_words(x), name_words(y)
    numbers_x = {w for w in wx if w.isdigit()}
    numbers_y = {w for w in wy if w.isdigit()}
    if numbers_x and numbers_y and numbers_x != numbers_y:
        return base * 0.5
    only_x = [w for w in wx if not any(fuzz.ratio(w, v) >= 80 for v in wy)]
    only_y = [w for w in wy if not any(fuzz.ratio(w, v) >= 80 for v in wx)]
    if only_x and only_y:
        return base * replaced_word
    if wx and wy and (only_x or only_y):
        base = max(base, 0.85 * fuzz.token_set_ratio(x, y) / 100)
    return base


def replaced_word(x: str, y: str) -> bool:
    """Each of the two folded names has a word the other lacks."""
    wx, wy = name_words(x), name_words(y)
    return any(not any(fuzz.ratio(w, v) >= 80 for v in wy) for w in wx) and any(
        not any(fuzz.ratio(w, v) >= 80 for v in wx) for w in wy
    )


def _scaled(similarity: float, weight: float) -> float:
    return weight * min(1.0, max(0.0, (similarity - NAME_FLOOR) / (NAME_FULL - NAME_FLOOR)))


def distance_km(a: Point, b: Point) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, h)))


def _nearest(a: Sequence[Point], b: Sequence[Point]) -> float | None:
    if not a or not b:
        return None
    return min(distance_km(p, q) for p in a for q in b)


def _finish(evidence: list[Evidence], cap: float = 1.0) -> Match:
    total = sum(e.weight for e in evidence)
    return Match(score=round(min(cap, max(0.0, total)), 4), evidence=evidence)


def _site_evidence(a: Sequence[Point], b: Sequence[Point]) -> list[Evidence]:
    nearest = _nearest(a, b)
    if nearest is None or nearest > NEAR_SITE_KM:
        return []
    return [Evidence(field="site", value=f"{round(nearest * 1000)} m apart", weight=W_NEAR_SITE)]


def score_organisations(a: OrganisationFeatures, b: OrganisationFeatures) -> Match:
    evidence: list[Evidence] = []
    best = (0.0, "", "")
    for (wa, fa), (wb, fb) in itertools.product(a.names, b.names):
        similarity = name_similarity(fa, fb)
        if similarity > best[0]:
            best = (similarity, wa, wb)
    name_weight = _scaled(best[0], W_NAME)
    if name_weight > 0:
        value = best[1] if fold(best[1]) == fold(best[2]) else f"{best[1]} ~ {best[2]}"
        evidence.append(
            Evidence(field="name", value=value, similarity=round(best[0], 3), weight=name_weight)
        )
    # Each name has a word the other lacks: two branches of one network, which share an
    # acronym ("QPS" of every centre for social work) and a name but not their town.
    branches = BRANCH_NAMES <= best[0] < NAME_FULL and replaced_word(fold(best[1]), fold(best[2]))
    if a.acronym and a.acronym == b.acronym:
        weight = W_ACRONYM_OF_BRANCHES if branches else W_ACRONYM
        evidence.append(Evidence(field="acronym", value=a.acronym.upper(), weight=weight))
    else:
        for one, other in ((a, b), (b, a)):
            if (
                one.acronym
                and len(one.acronym) >= 2
                and any(one.acronym in f.split() for _, f in other.names)
            ):
                evidence.append(
                    Evidence(
                        field="acronym",
                        value=f"{one.acronym.upper()} in {other.name}",
                        weight=W_ACRONYM_IN_NAME,
                    )
                )
                break
    if a.domain and a.domain == b.domain:
        evidence.append(Evidence(field="website", value=a.domain, weight=W_DOMAIN))
    if a.phone and a.phone == b.phone:
        evidence.append(Evidence(field="phone", value=a.phone, weight=W_PHONE))
    if a.email and a.email == b.email:
        evidence.append(Evidence(field="email", value=a.email, weight=W_EMAIL))
    if a.country and b.country and a.country != b.country:
        evidence.append(
            Evidence(field="country", value=f"{a.country} / {b.country}", weight=W_OTHER_COUNTRY)
        )
    elif a.area and a.area == b.area:
        evidence.append(Evidence(field="area", value=a.area, weight=W_SAME_AREA))
    elif a.area and b.area and a.country not in (a.area, b.area):
        evidence.append(Evidence(field="area", value=f"{a.area} / {b.area}", weight=W_OTHER_AREA))
    evidence += _site_evidence(a.points, b.points)
    return _finish(evidence)


def score_services(a: ServiceFeatures, b: ServiceFeatures, *, related: bool) -> Match:
    """`related`: the two organisations are probable or confirmed duplicates of each other."""
    evidence: list[Evidence] = []
    # Service names are descriptions: "support" for "counselling" is mostly a rewording.
    similarity = name_similarity(a.folded, b.folded, replaced_word=SERVICE_REPLACED_WORD)
    name_weight = _scaled(similarity, W_SERVICE_NAME)
    if name_weight > 0:
        value = a.name if a.folded == b.folded else f"{a.name} ~ {b.name}"
        evidence.append(
            Evidence(field="name", value=value, similarity=round(similarity, 3), weight=name_weight)
        )
    if a.organisation_id == b.organisation_id:
        evidence.append(
            Evidence(field="organisation", value=a.organisation_id, weight=W_SAME_ORGANISATION)
        )
    elif related:
        evidence.append(
            Evidence(
                field="organisation",
                value=f"{a.organisation_id} ~ {b.organisation_id}",
                weight=W_RELATED_ORGANISATION,
            )
        )
    shared_needs = a.needs & b.needs
    if not shared_needs:
        evidence.append(Evidence(field="needs", value="none shared", weight=W_NO_SHARED_NEED))
    else:
        weight = W_SAME_NEEDS if a.needs == b.needs else W_SOME_NEEDS
        evidence.append(
            Evidence(field="needs", value=", ".join(sorted(shared_needs)), weight=weight)
        )
    shared_areas = sorted(a.areas & b.areas)
    for index, area in enumerate(shared_areas):
        # One weight for sharing areas at all; each shared area is listed.
        evidence.append(
            Evidence(field="area", value=area, weight=W_SHARED_AREA if index == 0 else 0.0)
        )
    shared_groups = a.groups & b.groups
    if shared_groups:
        evidence.append(
            Evidence(
                field="target groups", value=", ".join(sorted(shared_groups)), weight=W_SHARED_GROUP
            )
        )
    if a.organisation_id != b.organisation_id:
        # One organisation's services share its offices anyway: no evidence then.
        evidence += _site_evidence(a.points, b.points)
    # An organisation often names its services alike ("Job placement Prizren", "... Peja"),
    # and two organisations are mostly two offers: the name must be closer for both.
    gate = SERVICE_NAME_GATE if related else SERVICE_NAME_GATE_DISTINCT
    cap = 1.0 if similarity >= gate else SERVICE_CAP_WITHOUT_NAME
    return _finish(evidence, cap)
