"""The GraphQL schema, assembled from one module per domain concept."""

from __future__ import annotations

import strawberry

from api.graphql.organisations import OrganisationMutation, OrganisationQuery


@strawberry.type
class Query(OrganisationQuery):
    pass


@strawberry.type
class Mutation(OrganisationMutation):
    pass


schema = strawberry.Schema(query=Query, mutation=Mutation)
