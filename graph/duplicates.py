"""Probable duplicate records: the same organisation or service entered twice.

One scorer serves both entry points: the front door (a registration is checked against the
records that already exist, `organisation_candidates` / `service_candidates`) and the batch
review (`graph.duplicate_review.scan` compares the whole directory). What it compares:

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

Comparing every pair is out of the question at the size of the directory, so records are
first put into blocks (`organisation_blocks`, `service_blocks`): only records that share a
block are compared. Blocks larger than `MAX_BLOCK` say little (every NGO of a big town) and
are skipped.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, LiteralString
from urllib.parse import urlsplit

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel
from rapidfuzz import fuzz

from core.errors import HomewardError
from core.text import fold, search_keys

# Phone numbers are compared on their last digits: "+383 38 000 041", "038/000-041" and
# "00383 38 000041" are one number written three ways.
PHONE_DIGITS = 8

# A pair scoring this or more is a candidate, at registration and in the batch scan.
THRESHOLD = 0.45
# From here on a candidate is "likely" rather than "possible" (shown to reviewers first).
LIKELY = 0.75
# Blocks with more records than this are skipped: a word shared by hundreds of names is
# no sign of anything.
MAX_BLOCK = 100

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
# Sites within about a kilometre share a cell (0.01 degree of latitude is 1.1 km).
CELL_DEGREES = 0.01

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


def _words(folded: str) -> list[str]:
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
    wx, wy = _words(x), _words(y)
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
    wx, wy = _words(x), _words(y)
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


# --- blocking ------------------------------------------------------------------------------


def _cells(points: Iterable[Point]) -> set[str]:
    return {
        f"{math.floor(lat / CELL_DEGREES)}:{math.floor(lon / CELL_DEGREES)}" for lat, lon in points
    }


def _sorted_prefix(folded: str) -> str | None:
    """The first letters of the name's first words in alphabetical order: survives word
    order, case, script and most typos after the third letter."""
    words = sorted(w for w in _words(folded) if len(w) > 1)
    return "".join(w[:3] for w in words[:3]) if len(words) >= 2 else None


def organisation_blocks(o: OrganisationFeatures) -> set[str]:
    keys: set[str] = set()
    for _, folded in o.names:
        keys |= {f"w:{w}" for w in _words(folded) if len(w) > 1}
        prefix = _sorted_prefix(folded)
        if prefix:
            keys.add(f"s:{prefix}")
    if o.acronym:
        keys.add(f"w:{o.acronym}")  # meets the same word in the other record's name
    if o.domain:
        keys.add(f"d:{o.domain}")
    if o.phone:
        keys.add(f"p:{o.phone}")
    if o.email:
        keys.add(f"e:{o.email}")
    keys |= {f"g:{c}" for c in _cells(o.points)}
    return keys


def service_blocks(s: ServiceFeatures, group: str) -> set[str]:
    """`group`: the organisation, or the representative of the organisations that are
    probable or confirmed duplicates of each other. Services are compared within such a
    group only: two unrelated organisations offering the same help in the same place is
    overlap (a coordination question), not one record entered twice."""
    return {f"o:{group}"}


@dataclass(slots=True)
class Blocking:
    pairs: list[tuple[int, int]]
    blocks: int
    skipped_blocks: int


def candidate_pairs(keys: Sequence[Iterable[str]], *, max_block: int = MAX_BLOCK) -> Blocking:
    """Pairs of record indexes that share at least one block of at most `max_block`."""
    members: dict[str, list[int]] = defaultdict(list)
    for index, record_keys in enumerate(keys):
        for key in record_keys:
            members[key].append(index)
    pairs: set[tuple[int, int]] = set()
    used = skipped = 0
    for indexes in members.values():
        if len(indexes) < 2:
            continue
        if len(indexes) > max_block:
            skipped += 1
            continue
        used += 1
        pairs.update(itertools.combinations(indexes, 2))
    return Blocking(pairs=sorted(pairs), blocks=used, skipped_blocks=skipped)


class OrganisationGroups:
    """Organisations that are probable or confirmed duplicates of each other, as groups
    (union-find): their services are compared with each other."""

    def __init__(self, links: Iterable[tuple[str, str]] = ()) -> None:
        self._parent: dict[str, str] = {}
        for a, b in links:
            self.join(a, b)

    def find(self, id: str) -> str:
        root = id
        while self._parent.get(root, root) != root:
            root = self._parent[root]
        while id != root:
            self._parent[id], id = root, self._parent.get(id, id)
        return root

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)

    def related(self, a: str, b: str) -> bool:
        return a != b and self.find(a) == self.find(b)


# --- reading features from the graph -------------------------------------------------------

ORGANISATION_FEATURES: LiteralString = """
RETURN o.id AS id, o.name AS name, coalesce(o.alternate_names, []) AS alternate_names,
       o.acronym AS acronym, o.website_domain AS domain, o.phone_digits AS phone,
       o.email AS email, o.country AS country,
       COLLECT { MATCH (o)-[:BASED_IN]->(a:Area) RETURN a.id }[0] AS area,
       COLLECT { MATCH (o)-[:PROVIDES]->(:Service)-[:DELIVERED_AT]->(l:Location)
                 WHERE coalesce(l.point_source, 'given') = 'given' AND l.point IS NOT NULL
                 RETURN DISTINCT [l.point.y, l.point.x] LIMIT 10 } AS points
"""

ORGANISATIONS_BY_IDS: LiteralString = (
    "UNWIND $ids AS id MATCH (o:Organisation {id: id}) " + ORGANISATION_FEATURES
)

SERVICE_FEATURES: LiteralString = """
RETURN s.id AS id, s.name AS name, o.id AS organisation_id,
       COLLECT { MATCH (s)-[:ADDRESSES]->(n:Need) RETURN n.code } AS needs,
       COLLECT { MATCH (s)-[:SERVES]->(t:TargetGroup) RETURN t.code } AS groups,
       COLLECT { MATCH (s)-[:COVERS]->(a:Area) RETURN a.id }
       + COLLECT { MATCH (s)-[:DELIVERED_AT]->(:Location)-[:IN]->(a:Area) RETURN a.id }
         AS areas,
       COLLECT { MATCH (s)-[:DELIVERED_AT]->(l:Location)
                 WHERE coalesce(l.point_source, 'given') = 'given' AND l.point IS NOT NULL
                 RETURN [l.point.y, l.point.x] } AS points
"""

SERVICES_BY_IDS: LiteralString = (
    "UNWIND $ids AS id MATCH (o:Organisation)-[:PROVIDES]->(s:Service {id: id}) " + SERVICE_FEATURES
)


# The whole directory comes as a few big lists of rows rather than one record per row:
# for 100,000 services that is about 4 s instead of about 50 s in the driver.
CHUNK = 5_000
ORGANISATION_FIELDS = (
    "id", "name", "alternate_names", "acronym", "domain", "phone", "email", "country", "area",
    "points",
)  # fmt: skip
ALL_ORGANISATIONS: LiteralString = """
MATCH (o:Organisation)
WITH collect([o.id, o.name, coalesce(o.alternate_names, []), o.acronym, o.website_domain,
  o.phone_digits, o.email, o.country,
  COLLECT { MATCH (o)-[:BASED_IN]->(a:Area) RETURN a.id }[0],
  COLLECT { MATCH (o)-[:PROVIDES]->(:Service)-[:DELIVERED_AT]->(l:Location)
            WHERE coalesce(l.point_source, 'given') = 'given' AND l.point IS NOT NULL
            RETURN DISTINCT [l.point.y, l.point.x] LIMIT 10 }]) AS rows
UNWIND range(0, size(rows) - 1, $chunk) AS i
RETURN rows[i..i + $chunk] AS chunk
"""
SERVICE_FIELDS = ("id", "name", "organisation_id", "needs", "groups", "areas", "points")
ALL_SERVICES: LiteralString = """
MATCH (o:Organisation)-[:PROVIDES]->(s:Service)
WITH collect([s.id, s.name, o.id,
  COLLECT { MATCH (s)-[:ADDRESSES]->(n:Need) RETURN n.code },
  COLLECT { MATCH (s)-[:SERVES]->(t:TargetGroup) RETURN t.code },
  COLLECT { MATCH (s)-[:COVERS]->(a:Area) RETURN a.id }
  + COLLECT { MATCH (s)-[:DELIVERED_AT]->(:Location)-[:IN]->(a:Area) RETURN a.id },
  COLLECT { MATCH (s)-[:DELIVERED_AT]->(l:Location)
            WHERE coalesce(l.point_source, 'given') = 'given' AND l.point IS NOT NULL
            RETURN [l.point.y, l.point.x] }]) AS rows
UNWIND range(0, size(rows) - 1, $chunk) AS i
RETURN rows[i..i + $chunk] AS chunk
"""


async def _rows(
    tx: AsyncManagedTransaction, statement: LiteralString, fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    result = await tx.run(statement, chunk=CHUNK)
    return [dict(zip(fields, row, strict=True)) async for r in result for row in r["chunk"]]


async def load_organisations(
    tx: AsyncManagedTransaction, *, ids: list[str] | None = None
) -> list[OrganisationFeatures]:
    """All organisations (`ids` None) or those named, as the scorer sees them."""
    if ids is None:
        rows = await _rows(tx, ALL_ORGANISATIONS, ORGANISATION_FIELDS)
    else:
        rows = [r.data() async for r in await tx.run(ORGANISATIONS_BY_IDS, ids=ids)]
    return [organisation_features(**row) for row in rows]


async def load_services(
    tx: AsyncManagedTransaction, *, ids: list[str] | None = None
) -> list[ServiceFeatures]:
    if ids is None:
        rows = await _rows(tx, ALL_SERVICES, SERVICE_FIELDS)
    else:
        rows = [r.data() async for r in await tx.run(SERVICES_BY_IDS, ids=ids)]
    return [service_features(**row) for row in rows]


# Organisations linked as confirmed duplicates, or as candidates nobody dismissed.
RELATED_ORGANISATIONS: LiteralString = """
MATCH (a:Organisation)-[r:SAME_AS|POSSIBLY_SAME_AS]->(b:Organisation)
WHERE r:SAME_AS OR r.state <> 'different'
RETURN a.id AS a, b.id AS b
"""


async def organisation_groups(tx: AsyncManagedTransaction) -> OrganisationGroups:
    result = await tx.run(RELATED_ORGANISATIONS)
    return OrganisationGroups([(r["a"], r["b"]) async for r in result])


# --- the front door ------------------------------------------------------------------------

_LUCENE_SPECIAL = re.compile(r'([+\-!(){}\[\]^"~*?:\\/]|&&|\|\|)')


def fuzzy_terms(names: Iterable[str]) -> str | None:
    """A Lucene query matching any word of the names, each within one edit."""
    words = sorted({w for name in names for w in _words(fold(name)) if len(w) > 2})
    if not words:
        return None
    return " ".join(_LUCENE_SPECIAL.sub(r"\\\1", w) + "~1" for w in words[:12])


# Records found by an exact key (indexed), and by the folded words of their names within
# one edit (the full-text index over `search_text`); the scorer decides among them.
_BY_WORDS: LiteralString = """
  WITH $terms AS terms WHERE terms <> ''
  CALL db.index.fulltext.queryNodes('directory_text', terms, {limit: 60}) YIELD node
"""
ORGANISATION_LOOKUP: LiteralString = (
    """
CALL () {
  MATCH (o:Organisation) WHERE $domain IS NOT NULL AND o.website_domain = $domain RETURN o
  UNION
  MATCH (o:Organisation) WHERE $phone IS NOT NULL AND o.phone_digits = $phone RETURN o
  UNION
  MATCH (o:Organisation) WHERE $email IS NOT NULL AND o.email = $email RETURN o
  UNION
"""
    + _BY_WORDS
    + """
  WITH node WHERE node:Organisation RETURN node AS o
}
RETURN DISTINCT o.id AS id LIMIT 60
"""
)
SERVICE_LOOKUP: LiteralString = (
    """
CALL () {
  MATCH (o:Organisation)-[:PROVIDES]->(s:Service) WHERE o.id IN $organisations RETURN s
  UNION
  MATCH (s:Service) WHERE s.name_key = $name_key RETURN s
  UNION
"""
    + _BY_WORDS
    + """
  WITH node WHERE node:Service RETURN node AS s
}
RETURN DISTINCT s.id AS id LIMIT 200
"""
)

RELATED_ORGANISATION_IDS: LiteralString = """
MATCH (:Organisation {id: $id})-[r:SAME_AS|POSSIBLY_SAME_AS]-(other:Organisation)
WHERE r:SAME_AS OR r.state <> 'different'
RETURN collect(DISTINCT other.id) AS ids
"""


def _ranked(
    matches: Iterable[tuple[str, str, Match]], entity: Kind, limit: int = 10
) -> list[DuplicateCandidate]:
    kept = sorted(
        (m for m in matches if m[2].score >= THRESHOLD), key=lambda m: (-m[2].score, m[1], m[0])
    )
    return [
        DuplicateCandidate(
            entity=entity.value, id=id, name=name, evidence=match.evidence, score=match.score
        )
        for id, name, match in kept[:limit]
    ]


async def organisation_candidates(
    tx: AsyncManagedTransaction, *, record: OrganisationFeatures
) -> list[DuplicateCandidate]:
    """Existing organisations that `record` (not yet written) probably repeats."""
    terms = fuzzy_terms([n for n, _ in record.names] + [record.acronym or ""])
    result = await tx.run(
        ORGANISATION_LOOKUP,
        domain=record.domain,
        phone=record.phone,
        email=record.email,
        terms=terms or "",
    )
    ids = [r["id"] async for r in result if r["id"] != record.id]
    existing = await load_organisations(tx, ids=ids) if ids else []
    return _ranked(
        ((o.id, o.name, score_organisations(record, o)) for o in existing), Kind.ORGANISATION
    )


async def service_candidates(
    tx: AsyncManagedTransaction, *, record: ServiceFeatures
) -> list[DuplicateCandidate]:
    """Existing services that `record` (not yet written) probably repeats: those of its own
    organisation and of organisations that duplicate it, and those with similar words."""
    related = await (await tx.run(RELATED_ORGANISATION_IDS, id=record.organisation_id)).single(
        strict=True
    )
    related_ids = set(related["ids"])
    result = await tx.run(
        SERVICE_LOOKUP,
        organisations=[record.organisation_id, *related_ids],
        name_key=record.folded,
        terms=fuzzy_terms([record.name]) or "",
    )
    ids = [r["id"] async for r in result if r["id"] != record.id]
    existing = await load_services(tx, ids=ids) if ids else []
    return _ranked(
        (
            (s.id, s.name, score_services(record, s, related=s.organisation_id in related_ids))
            for s in existing
        ),
        Kind.SERVICE,
    )


class PossibleDuplicates(HomewardError):
    """A registration that probably repeats an existing record; nothing was written."""

    def __init__(self, entity: str, candidates: list[DuplicateCandidate]) -> None:
        names = ", ".join(f"{c.name} ({c.id})" for c in candidates)
        super().__init__(
            f"this {entity} probably exists already: {names}; register it anyway with "
            "confirmNotDuplicate: true if it is a different one"
        )
        self.candidates = candidates
