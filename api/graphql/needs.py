"""GraphQL for the needs taxonomy and target groups: labels in the caller's language."""

from __future__ import annotations

import strawberry

from api.graphql.common import LocalizedName
from api.graphql.context import Info
from graph.needs import Need, Term, all_needs
from graph.target_groups import all_target_groups


def _lang(info: Info, argument: str | None, inherited: str | None) -> str | None:
    return argument or inherited or info.context.lang


@strawberry.interface
class TaxonomyTerm:
    code: strawberry.ID
    _term: strawberry.Private[Term]
    _lang: strawberry.Private[str | None]

    @strawberry.field(description="Label in `lang`, else the list's language, else English.")
    def label(self, info: Info, lang: str | None = None) -> str:
        return self._term.label(_lang(info, lang, self._lang))

    @strawberry.field
    def description(self, info: Info, lang: str | None = None) -> str | None:
        return self._term.description(_lang(info, lang, self._lang))

    @strawberry.field
    def labels(self) -> list[LocalizedName]:
        return [LocalizedName(lang=k, value=v) for k, v in sorted(self._term.labels.items())]


@strawberry.type(name="Need")
class NeedType(TaxonomyTerm):
    _need: strawberry.Private[Need]

    @strawberry.field
    async def broader(self, info: Info) -> NeedType | None:
        if self._need.broader is None:
            return None
        found = await info.context.loaders.need.load(self._need.broader)
        return NeedType.from_model(found, self._lang) if found else None

    @strawberry.field
    async def narrower(self, info: Info) -> list[NeedType]:
        found = await info.context.loaders.need.load_many(self._need.narrower)
        return [NeedType.from_model(n, self._lang) for n in found if n is not None]

    @classmethod
    def from_model(cls, need: Need, lang: str | None = None) -> NeedType:
        return cls(code=strawberry.ID(need.code), _term=need, _lang=lang, _need=need)


@strawberry.type(name="TargetGroup")
class TargetGroupType(TaxonomyTerm):
    @classmethod
    def from_model(cls, group: Term, lang: str | None = None) -> TargetGroupType:
        return cls(code=strawberry.ID(group.code), _term=group, _lang=lang)


@strawberry.type
class TaxonomyQuery:
    @strawberry.field(
        description="The needs taxonomy; `topLevelOnly` gives the roots of the tree, whose "
        "`narrower` fields give the rest. A bounded vocabulary, so a list, not a connection."
    )
    async def needs(
        self, info: Info, lang: str | None = None, top_level_only: bool = False
    ) -> list[NeedType]:
        needs = await info.context.graph.read(all_needs)
        info.context.loaders.need.prime_many({n.code: n for n in needs})
        return [
            NeedType.from_model(n, lang) for n in needs if not top_level_only or n.broader is None
        ]

    @strawberry.field(description="Who services are for; a bounded vocabulary.")
    async def target_groups(self, info: Info, lang: str | None = None) -> list[TargetGroupType]:
        groups = await info.context.graph.read(all_target_groups)
        return [TargetGroupType.from_model(g, lang) for g in groups]
