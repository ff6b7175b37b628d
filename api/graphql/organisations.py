"""GraphQL for organisations: the `organisation` query, `registerOrganisation`, and
`updateOrganisation` for an organisation's own name and contacts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from api.graphql.areas import AreaType
from api.graphql.context import Info
from api.graphql.enums import OrganisationKind
from api.graphql.errors import (
    ForbiddenError,
    NotFoundError,
    PossibleDuplicatesError,
    ValidationError,
    VersionConflictError,
    to_graphql_error,
    validate_input,
)
from api.graphql.pagination import Connection, to_connection
from api.graphql.services import ServiceType
from api.policy import service_scope
from core.errors import HomewardError
from graph.organisations import (
    Organisation,
    OrganisationContacts,
    OrganisationInput,
    list_organisations,
    register_organisation,
    update_organisation,
)
from graph.pagination import checked_cursor, page_size


@strawberry.type(name="Organisation")
class OrganisationType:
    id: strawberry.ID
    name: str
    alternate_names: list[str]
    acronym: str | None
    kind: OrganisationKind
    description: str | None
    website: str | None
    email: str | None
    phone: str | None
    country_code: str = strawberry.field(description="ISO 3166-1 alpha-2; XK is Kosovo.")
    independent_of_authorities: bool | None
    version: int
    created_at: datetime
    updated_at: datetime
    _based_in: strawberry.Private[str | None]

    @strawberry.field
    async def country(self, info: Info) -> AreaType | None:
        area = await info.context.loaders.area.load(self.country_code)
        return AreaType.from_model(area) if area else None

    @strawberry.field(description="The town or region of its office, else its country.")
    async def based_in(self, info: Info) -> AreaType | None:
        if self._based_in is None:
            return None
        area = await info.context.loaders.area.load(self._based_in)
        return AreaType.from_model(area) if area else None

    @strawberry.field
    async def services(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ServiceType]:
        page = await info.context.loaders.services_of_organisation.load(
            (str(self.id), page_size(first), checked_cursor(after))
        )
        info.context.loaders.service.prime_many({e.node.id: e.node for e in page.edges})
        return to_connection(page, ServiceType.from_model)

    @classmethod
    def from_model(cls, o: Organisation) -> OrganisationType:
        return cls(
            id=strawberry.ID(o.id),
            name=o.name,
            alternate_names=o.alternate_names,
            acronym=o.acronym,
            kind=o.kind,
            description=o.description,
            website=o.website,
            email=o.email,
            phone=o.phone,
            country_code=o.country,
            independent_of_authorities=o.independent_of_authorities,
            version=o.version,
            created_at=o.created_at,
            updated_at=o.updated_at,
            _based_in=o.based_in,
        )


@strawberry.input
class RegisterOrganisationInput:
    name: str
    kind: OrganisationKind
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code; XK is Kosovo.")
    alternate_names: list[str] = strawberry.field(default_factory=list)
    acronym: str | None = None
    description: str | None = None
    website: str | None = None
    email: str | None = None
    phone: str | None = None
    independent_of_authorities: bool | None = None
    based_in: str | None = strawberry.field(
        default=None, description="Area id of the town or region of its office."
    )


@strawberry.type
class RegisterOrganisationPayload:
    organisation: OrganisationType


RegisterOrganisationResult = Annotated[
    RegisterOrganisationPayload
    | ValidationError
    | NotFoundError
    | ForbiddenError
    | VersionConflictError
    | PossibleDuplicatesError,
    strawberry.union("RegisterOrganisationResult"),
]


@strawberry.input
class OrganisationContactsInput:
    """The whole of what an organisation says about itself after registration: a field left
    out is cleared."""

    name: str
    acronym: str | None = None
    description: str | None = None
    website: str | None = None
    email: str | None = None
    phone: str | None = None


@strawberry.type
class OrganisationPayload:
    organisation: OrganisationType


UpdateOrganisationResult = Annotated[
    OrganisationPayload
    | ValidationError
    | NotFoundError
    | ForbiddenError
    | VersionConflictError
    | PossibleDuplicatesError,
    strawberry.union("UpdateOrganisationResult"),
]


@strawberry.type
class OrganisationQuery:
    @strawberry.field
    async def organisation(self, info: Info, id: strawberry.ID) -> OrganisationType | None:
        found = await info.context.loaders.organisation.load(str(id))
        return OrganisationType.from_model(found) if found else None

    @strawberry.field(description="Organisations by name, optionally those based in an area.")
    async def organisations(
        self,
        info: Info,
        area_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[OrganisationType]:
        page = await info.context.graph.read(
            list_organisations,
            area_id=str(area_id) if area_id is not None else None,
            first=page_size(first),
            after=after,
        )
        info.context.loaders.organisation.prime_many({e.node.id: e.node for e in page.edges})
        return to_connection(page, OrganisationType.from_model)


@strawberry.type
class OrganisationMutation:
    @strawberry.mutation
    async def register_organisation(
        self, info: Info, input: RegisterOrganisationInput, confirm_not_duplicate: bool = False
    ) -> RegisterOrganisationResult:
        try:
            data = validate_input(OrganisationInput, strawberry.asdict(input))
            organisation = await info.context.graph.write(
                register_organisation,
                id=str(uuid.uuid4()),
                data=data,
                actor=info.context.actor,
                confirm_not_duplicate=confirm_not_duplicate,
            )
        except HomewardError as exc:
            return to_graphql_error(exc)
        return RegisterOrganisationPayload(organisation=OrganisationType.from_model(organisation))

    @strawberry.mutation(
        description="An organisation's own name, description and contacts, if the caller saw "
        "its current version (partners of the organisation, admins); audited."
    )
    async def update_organisation(
        self,
        info: Info,
        id: strawberry.ID,
        expected_version: int,
        input: OrganisationContactsInput,
    ) -> UpdateOrganisationResult:
        try:
            data = validate_input(OrganisationContacts, strawberry.asdict(input))
            organisation = await info.context.graph.write(
                update_organisation,
                id=str(id),
                expected_version=expected_version,
                data=data,
                actor=info.context.actor,
                allowed_organisations=service_scope(info.context.actor),
            )
        except HomewardError as exc:
            return to_graphql_error(exc)
        return OrganisationPayload(organisation=OrganisationType.from_model(organisation))
