"""The GraphQL schema, assembled from one module per domain concept."""

from __future__ import annotations

import strawberry

from api.graphql.access import AccessControl
from api.graphql.areas import AreaQuery
from api.graphql.audit import AuditQuery
from api.graphql.needs import TaxonomyQuery
from api.graphql.organisations import OrganisationMutation, OrganisationQuery
from api.graphql.services import ServiceMutation, ServiceQuery
from api.graphql.users import UserMutation, UserQuery


@strawberry.type
class Query(OrganisationQuery, ServiceQuery, AreaQuery, TaxonomyQuery, UserQuery, AuditQuery):
    pass


@strawberry.type
class Mutation(OrganisationMutation, ServiceMutation, UserMutation):
    pass


schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=[AccessControl])
