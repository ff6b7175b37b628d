"""The typed per-request context, with DataLoaders so that lists cost a fixed number of
round trips to Neo4j however many items they hold."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict, TypeVar

import strawberry
from fastapi import HTTPException, Request
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from api.auth import authenticate
from api.deps import GraphDep, SettingsDep
from core.crypto import DataCipher
from core.errors import Unauthenticated
from core.settings import Settings
from graph.areas import Area, areas_by_ids, children_of_areas
from graph.cases import ReturnCase, cases_by_ids
from graph.driver import Graph
from graph.geocoding import Geocoder
from graph.needs import Need, needs_by_codes
from graph.organisations import Organisation, organisations_by_ids, organisations_in_areas
from graph.pagination import Page, ParentPage
from graph.programmes import Programme, programmes_by_ids
from graph.reference import Expiring, ReferenceCache
from graph.referrals import Policy, Referral, ReferralFilter, list_referrals
from graph.search_index import SearchIndex
from graph.services import (
    Service,
    services_by_ids,
    services_in_areas,
    services_of_organisations,
)
from graph.target_groups import TargetGroup, target_groups_by_codes
from graph.users import Actor

# A case holds a few referrals; this bounds one batch of a page of cases.
REFERRALS_PER_CASE = 100

T = TypeVar("T")


def _batch_by_id(
    graph: Graph,
    fetch: Callable[..., Awaitable[Mapping[str, T]]],
    key: str = "ids",
    kept: Expiring[str, T] | None = None,
) -> Callable[[list[str]], Awaitable[Sequence[T | None]]]:
    """One read transaction per batch; for reference data (`kept`), only for what the
    process's reference cache does not hold."""

    async def read(ids: list[str]) -> Mapping[str, T]:
        return await graph.read(fetch, **{key: list(ids)})

    async def load(ids: list[str]) -> Sequence[T | None]:
        found = await (kept.get_many(list(ids), read) if kept is not None else read(ids))
        return [found.get(i) for i in ids]

    return load


# A nested list's page: parent id, page size, cursor.
PageKey = tuple[str, int, str | None]


def _batch_pages(
    graph: Graph,
    fetch: Callable[..., Awaitable[Mapping[ParentPage, Page[T]]]],
) -> Callable[[list[PageKey]], Awaitable[Sequence[Page[T]]]]:
    """The pages of every parent of a level in one read; pages of another size (rare: an
    alias asking for a different `first`) take one read per size."""

    async def load(keys: list[PageKey]) -> Sequence[Page[T]]:
        by_size: dict[int, list[ParentPage]] = {}
        for parent, size, after in keys:
            by_size.setdefault(size, []).append((parent, after))
        found: dict[PageKey, Page[T]] = {}
        for size, wanted in by_size.items():
            pages = await graph.read(fetch, wanted=wanted, first=size)
            found.update({(parent, size, after): page for (parent, after), page in pages.items()})
        return [found[key] for key in keys]

    return load


@dataclass
class Loaders:
    area: DataLoader[str, Area | None]
    organisation: DataLoader[str, Organisation | None]
    service: DataLoader[str, Service | None]
    need: DataLoader[str, Need | None]
    target_group: DataLoader[str, TargetGroup | None]
    programme: DataLoader[str, Programme | None]
    services_of_organisation: DataLoader[PageKey, Page[Service]]
    services_in_area: DataLoader[PageKey, Page[Service]]
    organisations_in_area: DataLoader[PageKey, Page[Organisation]]
    children_of_area: DataLoader[PageKey, Page[Area]]

    @classmethod
    def for_request(cls, graph: Graph, reference: ReferenceCache) -> Loaders:
        # Built apart, so that each batch function's type comes from its own arguments.
        areas = _batch_by_id(graph, areas_by_ids, kept=reference.areas)
        needs = _batch_by_id(graph, needs_by_codes, "codes", kept=reference.needs)
        groups = _batch_by_id(graph, target_groups_by_codes, "codes", kept=reference.target_groups)
        programmes = _batch_by_id(graph, programmes_by_ids, kept=reference.programmes)
        return cls(
            area=DataLoader(load_fn=areas),
            organisation=DataLoader(load_fn=_batch_by_id(graph, organisations_by_ids)),
            service=DataLoader(load_fn=_batch_by_id(graph, services_by_ids)),
            need=DataLoader(load_fn=needs),
            target_group=DataLoader(load_fn=groups),
            programme=DataLoader(load_fn=programmes),
            services_of_organisation=DataLoader(
                load_fn=_batch_pages(graph, services_of_organisations)
            ),
            services_in_area=DataLoader(load_fn=_batch_pages(graph, services_in_areas)),
            organisations_in_area=DataLoader(load_fn=_batch_pages(graph, organisations_in_areas)),
            children_of_area=DataLoader(load_fn=_batch_pages(graph, children_of_areas)),
        )


def referral_policy_of(settings: Settings) -> Policy:
    """The deployment's rules for referrals and cases, from its settings."""
    return Policy(
        default_response_days=settings.referral_default_response_days,
        follow_up_months=tuple(settings.follow_up_months),
        retention_days=settings.referral_retention_days,
    )


@dataclass
class PartyLoaders:
    """Loaders of what depends on who asks: the cases and referrals the actor may see, as
    that actor may see them."""

    return_case: DataLoader[str, ReturnCase | None]
    case_referrals: DataLoader[str, list[Referral]]

    @classmethod
    def for_request(
        cls, graph: Graph, *, actor: Actor, cipher: DataCipher, now: datetime, policy: Policy
    ) -> PartyLoaders:
        async def cases(ids: list[str]) -> Sequence[ReturnCase | None]:
            found = await graph.read(
                cases_by_ids, ids=list(ids), actor=actor, cipher=cipher, now=now, policy=policy
            )
            return [found.get(i) for i in ids]

        async def referrals(references: list[str]) -> Sequence[list[Referral]]:
            page = await graph.read(
                list_referrals,
                actor=actor,
                filter=ReferralFilter(case_references=list(references)),
                first=REFERRALS_PER_CASE * len(references),
                after=None,
                cipher=cipher,
                now=now,
                policy=policy,
            )
            by_case: dict[str, list[Referral]] = {r: [] for r in references}
            for edge in page.edges:
                by_case[edge.node.case_reference].append(edge.node)
            # Oldest first, and by ordinal within a moment (HW-...-2 before HW-...-10).
            return [
                sorted(by_case[r], key=lambda x: (x.created_at, len(x.reference), x.reference))
                for r in references
            ]

        return cls(
            return_case=DataLoader(load_fn=cases),
            case_referrals=DataLoader(load_fn=referrals),
        )


class PartyScope(TypedDict):
    """What every read and write of referrals and cases is given besides its own arguments:
    who asks, the key to the personal fields, the request's moment and the deployment's
    rules. Unpacked into `Graph.read`/`Graph.write`, whose ParamSpec still checks each one."""

    actor: Actor
    cipher: DataCipher
    now: datetime
    policy: Policy


class Context(BaseContext):
    def __init__(
        self,
        graph: Graph,
        lang: str | None,
        actor: Actor,
        settings: Settings,
        now: datetime,
        geocoder: Geocoder,
        cipher: DataCipher,
        reference: ReferenceCache,
        search_index: SearchIndex | None = None,
    ) -> None:
        super().__init__()
        self.search_index = search_index
        self.cipher = cipher
        self.geocoder = geocoder
        self.reference = reference
        # One moment per request, so that every freshness in a response agrees.
        self.now = now
        self.graph = graph
        self.lang = lang
        self.actor = actor
        self.settings = settings
        self.loaders = Loaders.for_request(graph, reference)
        self.policy = referral_policy_of(settings)
        self.party = PartyLoaders.for_request(graph, **self.party_scope())

    def party_scope(self) -> PartyScope:
        return PartyScope(actor=self.actor, cipher=self.cipher, now=self.now, policy=self.policy)


def preferred_language(request: Request) -> str | None:
    """The first tag of Accept-Language (`de-AT,de;q=0.9` -> `de-AT`); quality is ignored
    because every field falls back along the language anyway."""
    header = request.headers.get("accept-language", "")
    first = header.split(",")[0].split(";")[0].strip()
    return first or None


async def get_context(request: Request, graph: GraphDep, settings: SettingsDep) -> Context:
    try:
        actor = await authenticate(
            request.headers.get("authorization"),
            graph=graph,
            settings=settings,
            verifier=request.app.state.jwt_verifier,
        )
    except Unauthenticated as exc:
        challenge = f'Bearer error="invalid_token", error_description="{exc.message}"'
        raise HTTPException(
            status_code=401, detail=exc.message, headers={"WWW-Authenticate": challenge}
        ) from exc
    return context_for(request, actor=actor, lang=preferred_language(request))


def context_for(request: Request, *, actor: Actor, lang: str | None) -> Context:
    """The context of one request from the application's state: for /graphql and for the web
    pages, which execute the same schema in-process on behalf of the signed-in actor."""
    state = request.app.state
    return Context(
        graph=state.graph,
        lang=lang,
        actor=actor,
        settings=state.settings,
        now=state.clock(),
        geocoder=state.geocoder,
        cipher=state.cipher,
        reference=state.reference_cache,
        search_index=getattr(state, "search_index", None),
    )


Info = strawberry.Info[Context, None]
