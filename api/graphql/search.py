"""GraphQL for `searchPartners`: matches with their reasons, worded in the caller's language."""

from __future__ import annotations

import asyncio
import gettext
from functools import lru_cache
from typing import Annotated, Any

import pycountry
import strawberry

from api.graphql.areas import AreaType
from api.graphql.context import Info
from api.graphql.enums import ReturnType
from api.graphql.errors import FieldError, ValidationError, to_graphql_error, validate_input
from api.graphql.needs import NeedType
from api.graphql.organisations import OrganisationType
from api.graphql.pagination import PageInfo
from api.graphql.services import ServiceType, responsiveness_disclosed
from core.errors import HomewardError
from core.i18n import translator
from graph.organisations import Organisation
from graph.pagination import MAX_PAGE_SIZE
from graph.search import (
    RESPONSIVENESS_REASONS,
    Match,
    PartnerSearch,
    Reason,
    SearchResult,
)
from graph.search_index import search_page
from graph.services import Service

# Reasons are worded by the catalogues (core/locale), each kind under `match.<kind>`. Those
# that word a number name the parameter counted, whose plural form each language chooses. The
# referral count of the measured ones is at least MIN_REFERRALS, so only the hours or days
# vary in form.
COUNTED = {"verified": "days", "response": "days", "answers_hours": "hours", "answers_days": "days"}
# Numbers written as the caller's language writes them ("12.5 km", "12,5 km"); km to 0.1.
NUMBERS = {"km": 1, "percent": 0, "count": 0, "hours": 0, "days": 0}
_GETTEXT_LOCALE = {"sr-Latn": "sr@latin", "sr-Cyrl": "sr", "sr": "sr@latin"}


@lru_cache(maxsize=64)
def language_name(code: str, lang: str) -> str:
    """The name of a language in another one, from the ISO 639 names pycountry ships."""
    entry = pycountry.languages.get(alpha_2=code) or pycountry.languages.get(alpha_3=code)
    if entry is None:
        return code
    locale = _GETTEXT_LOCALE.get(lang, lang.split("-")[0])
    translation = gettext.translation(
        "iso639-3", pycountry.LOCALES_DIR, languages=[locale], fallback=True
    )
    return translation.gettext(entry.name)


@strawberry.input
class PartnerSearchInput:
    needs: list[str] = strawberry.field(
        description="Need codes; a broad need also finds its narrower ones."
    )
    area_id: strawberry.ID | None = strawberry.field(default=None, description="Destination.")
    place: str | None = strawberry.field(
        default=None, description="Destination by name, in any language or script."
    )
    lat: float | None = None
    lon: float | None = None
    radius_km: float = strawberry.field(default=25.0, description="Up to 200 km.")
    target_groups: list[str] = strawberry.field(default_factory=list)
    languages: list[str] = strawberry.field(
        default_factory=list, description="ISO 639 codes of the household's languages."
    )
    sending_country: str | None = strawberry.field(
        default=None, description="Where the household returns from (ISO 3166-1 alpha-2)."
    )
    programme: strawberry.ID | None = None
    return_type: ReturnType | None = None
    include_remote: bool = True
    text: str | None = strawberry.field(
        default=None, description="Words to find in names and descriptions, any language."
    )
    include_full: bool = strawberry.field(
        default=True, description="Full services stay findable but rank lower."
    )
    include_temporarily_closed: bool = False


@strawberry.type
class PartnerMatch:
    score: float
    distance_km: float | None = strawberry.field(
        description="Great-circle distance from the destination to the nearest site."
    )
    reasons: list[str]
    _match: strawberry.Private[Match]
    # Loaded with the page (`_prefetch`): plain fields cost Strawberry less per result than
    # resolvers that await the loaders again.
    _service: strawberry.Private[Service]
    _organisation: strawberry.Private[Organisation | None]

    @strawberry.field
    def service(self) -> ServiceType:
        return ServiceType.from_model(self._service)

    @strawberry.field
    def organisation(self) -> OrganisationType | None:
        found = self._organisation
        return OrganisationType.from_model(found) if found else None

    @strawberry.field(description="The areas it covers that contain the destination.")
    async def matched_areas(self, info: Info) -> list[AreaType]:
        found = await info.context.loaders.area.load_many(self._match.matched_area_ids)
        return [AreaType.from_model(a) for a in found if a is not None]

    @strawberry.field(description="The requested needs it answers.")
    async def matched_needs(self, info: Info) -> list[NeedType]:
        found = await info.context.loaders.need.load_many(self._match.matched_needs)
        return [NeedType.from_model(n) for n in found if n is not None]


@strawberry.type
class PartnerMatchEdge:
    cursor: str
    node: PartnerMatch


@strawberry.type
class PartnerSearchResults:
    edges: list[PartnerMatchEdge]
    page_info: PageInfo
    total_count: int
    destination: AreaType
    _unmatched: strawberry.Private[list[str]]

    @strawberry.field(description="Requested needs for which no partner was found at all.")
    async def unmatched_needs(self, info: Info) -> list[NeedType]:
        found = await info.context.loaders.need.load_many(self._unmatched)
        return [NeedType.from_model(n) for n in found if n is not None]

    @strawberry.field
    def nodes(self) -> list[PartnerMatch]:
        return [edge.node for edge in self.edges]


PartnerSearchResult = Annotated[
    PartnerSearchResults | ValidationError, strawberry.union("PartnerSearchResult")
]


async def _prefetch(info: Info, result: SearchResult) -> None:
    """Load everything the page and its reasons name in one batch per kind, so that the
    wording below and the matches' fields are answered from the loaders' caches. The page's
    services and organisations came with the search; areas, needs, target groups and
    programmes mostly come from the process's reference cache."""
    loaders = info.context.loaders
    loaders.service.prime_many(result.services)
    loaders.organisation.prime_many(result.organisations)
    matches = result.matches
    areas, needs, groups, programmes = {result.destination_id}, set(), set(), set()
    for match in matches:
        areas |= set(match.matched_area_ids)
        needs |= set(match.matched_needs)
        for reason in match.reasons:
            params = reason.params
            areas |= {params[k] for k in ("area",) if k in params}
            areas |= set(params.get("countries", []))
            needs |= {params[k] for k in ("need", "of") if k in params}
            groups |= set(params.get("groups", []))
            programmes |= {params["programme"]} if "programme" in params else set()
    services = await loaders.service.load_many([m.service_id for m in matches])
    await asyncio.gather(
        loaders.area.load_many(sorted(areas)),
        loaders.need.load_many(sorted(needs)),
        loaders.target_group.load_many(sorted(groups)),
        loaders.programme.load_many(sorted(programmes)),
        loaders.organisation.load_many(sorted({s.organisation_id for s in services if s})),
    )


def _disclosed(info: Info, match: Match, service: Service) -> list[Reason]:
    """The reasons the caller may read: what a service's referrals show only as far as its
    `responsiveness` field shows it (the answer times carry the referral count)."""
    found = service.responsiveness
    if responsiveness_disclosed(info, found.referrals_received if found else 0):
        return match.reasons
    return [r for r in match.reasons if r.kind not in RESPONSIVENESS_REASONS]


async def _reason_texts(info: Info, reasons: list[Reason], lang: str | None) -> list[str]:
    """Word each reason; names of areas, needs and groups come through the loaders."""
    loaders = info.context.loaders
    texts = []
    for reason in reasons:
        params: dict[str, Any] = dict(reason.params)
        for key in ("area",):
            if key in params:
                area = await loaders.area.load(params[key])
                params[key] = area.name(lang) if area else params[key]
        for key in ("need", "of"):
            if key in params:
                need = await loaders.need.load(params[key])
                params[key] = need.label(lang) if need else params[key]
        if "groups" in params:
            groups = await loaders.target_group.load_many(params["groups"])
            params["groups"] = ", ".join(g.label(lang) for g in groups if g is not None)
        if "countries" in params:
            countries = await loaders.area.load_many(params["countries"])
            params["countries"] = ", ".join(
                c.name(lang) if c else code
                for c, code in zip(countries, params["countries"], strict=True)
            )
        if "programme" in params:
            programme = await loaders.programme.load(params["programme"])
            params["programme"] = programme.name if programme else params["programme"]
        frozen = tuple(
            sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items())
        )
        texts.append(_worded(lang, reason.kind, frozen))
    return texts


@lru_cache(maxsize=8192)
def _worded(lang: str | None, kind: str, frozen: tuple[tuple[str, Any], ...]) -> str:
    """One reason in words, once its names are resolved: the same few thousand reasons
    recur on every page (a distance, a freshness in days, a capacity), and formatting their
    numbers and plurals costs more than finding them again. The names are part of the key,
    so a renamed area or need is worded anew."""
    t = translator(lang)
    raw = dict(frozen)
    params: dict[str, Any] = dict(raw)
    if "languages" in params:
        params["languages"] = ", ".join(
            language_name(code, lang or "en") for code in params["languages"]
        )
    if "capacity" in params:
        params["capacity"] = t(f"match.capacity.{params['capacity']}")
    for key, digits in NUMBERS.items():
        if key in params:
            params[key] = t.decimal(params[key], digits)
    key = f"match.{kind}"
    if kind in COUNTED:
        return t.counted(key, int(raw[COUNTED[kind]]), **params)
    return t(key, **params)


@strawberry.type
class SearchQuery:
    @strawberry.field(
        description="Partners for a returnee household's needs near its place of return, "
        "ranked, each with the reasons it was chosen (in `lang`, else Accept-Language). "
        "Matching and score are described in docs/search.md."
    )
    async def search_partners(
        self,
        info: Info,
        query: PartnerSearchInput,
        first: int | None = 20,
        after: str | None = None,
        lang: str | None = None,
    ) -> PartnerSearchResult:
        language = lang or info.context.lang
        size = 20 if first is None else first
        if not 1 <= size <= MAX_PAGE_SIZE:
            return ValidationError(
                message=f"invalid input: first: must be between 1 and {MAX_PAGE_SIZE}",
                fields=[
                    FieldError(field="first", message=f"must be between 1 and {MAX_PAGE_SIZE}")
                ],
            )
        try:
            search = validate_input(PartnerSearch, strawberry.asdict(query), argument="query")
            settings = info.context.settings
            result = await search_page(
                info.context.graph,
                info.context.search_index,
                search=search,
                first=size,
                after=after,
                now=info.context.now,
                ageing_after_days=settings.verification_ageing_days,
                stale_after_days=settings.verification_stale_days,
                cache=info.context.reference,
            )
        except HomewardError as exc:
            error = to_graphql_error(exc, argument="query")
            assert isinstance(error, ValidationError)
            return error
        await _prefetch(info, result)
        loaders = info.context.loaders
        edges = []
        for cursor, match in zip(result.cursors, result.matches, strict=True):
            service = await loaders.service.load(match.service_id)
            assert service is not None
            reasons = await _reason_texts(info, _disclosed(info, match, service), language)
            edges.append(
                PartnerMatchEdge(
                    cursor=cursor,
                    node=PartnerMatch(
                        score=match.score,
                        distance_km=match.distance_km,
                        reasons=reasons,
                        _match=match,
                        _service=service,
                        _organisation=await loaders.organisation.load(service.organisation_id),
                    ),
                )
            )
        destination = await info.context.loaders.area.load(result.destination_id)
        assert destination is not None
        return PartnerSearchResults(
            edges=edges,
            page_info=PageInfo(
                has_next_page=result.has_next_page,
                end_cursor=result.cursors[-1] if result.cursors else None,
            ),
            total_count=result.total,
            destination=AreaType.from_model(destination),
            _unmatched=result.unmatched_needs,
        )
