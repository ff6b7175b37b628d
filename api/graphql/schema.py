"""The GraphQL schema, assembled from one module per domain concept."""

from __future__ import annotations

import strawberry

from api.graphql.areas import AreaQuery
from api.graphql.needs import TaxonomyQuery
from api.graphql.organisations import OrganisationMutation, OrganisationQuery
from api.graphql.services import ServiceQuery


@strawberry.type
class Query(OrganisationQuery, ServiceQuery, AreaQuery, TaxonomyQuery):
    pass


@strawberry.type
class Mutation(OrganisationMutation):
    pass


schema = strawberry.Schema(query=Query, mutation=Mutation)
