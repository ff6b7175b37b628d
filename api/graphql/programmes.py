"""GraphQL type of return and reintegration programmes."""

from __future__ import annotations

import strawberry

from graph.programmes import Programme


@strawberry.type(name="Programme")
class ProgrammeType:
    id: strawberry.ID
    name: str
    funder: str | None
    sending_countries: list[str]

    @classmethod
    def from_model(cls, p: Programme) -> ProgrammeType:
        return cls(
            id=strawberry.ID(p.id),
            name=p.name,
            funder=p.funder,
            sending_countries=p.sending_countries,
        )
