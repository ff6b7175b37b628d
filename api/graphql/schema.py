"""The GraphQL schema, assembled from one module per domain concept."""

from __future__ import annotations

from functools import cache

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

from api.failures import ErrorCodes
from api.graphql.access import guard_root_fields
from api.graphql.areas import AreaQuery
from api.graphql.audit import AuditQuery
from api.graphql.cases import CaseMutation, CaseQuery
from api.graphql.coordination import CoordinationQuery
from api.graphql.duplicates import DuplicateMutation, DuplicateQuery
from api.graphql.needs import TaxonomyQuery
from api.graphql.notifications import NotificationMutation, NotificationQuery
from api.graphql.organisations import OrganisationMutation, OrganisationQuery
from api.graphql.protection import (
    HomewardSchema,
    MaskUnexpectedErrors,
    PageSizeLimit,
    QueryCostLimit,
)
from api.graphql.referrals import ReferralMutation, ReferralQuery
from api.graphql.search import SearchQuery
from api.graphql.services import ServiceMutation, ServiceQuery
from api.graphql.users import UserMutation, UserQuery
from api.graphql.webhooks import WebhookMutation, WebhookQuery


@strawberry.type
class Query(
    SearchQuery,
    OrganisationQuery,
    ServiceQuery,
    AreaQuery,
    TaxonomyQuery,
    UserQuery,
    AuditQuery,
    ReferralQuery,
    CaseQuery,
    WebhookQuery,
    CoordinationQuery,
    DuplicateQuery,
    NotificationQuery,
):
    pass


@strawberry.type
class Mutation(
    OrganisationMutation,
    ServiceMutation,
    UserMutation,
    ReferralMutation,
    CaseMutation,
    WebhookMutation,
    DuplicateMutation,
    NotificationMutation,
):
    pass


guard_root_fields(Query, Mutation)


# Parsing and validation are cached (the same few queries come again and again); depth,
# token and alias limits keep one request from costing what a thousand should.
MAX_DEPTH = 12
MAX_TOKENS = 3000
MAX_ALIASES = 20

# The depth and alias limiters are validation rules that each limiter builds as a new class.
# The validation cache is keyed by the rules too, so the rules are built once here and every
# request adds the same classes; a limiter built per request made every request a cache miss
# and validated each document again (several milliseconds per search page).
LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]


def build_schema(*, introspection: bool) -> strawberry.Schema:
    rules = LIMIT_RULES if introspection else [*LIMIT_RULES, NoSchemaIntrospectionCustomRule]
    return HomewardSchema(
        query=Query,
        mutation=Mutation,
        # Without introspection, no "Did you mean ...?" either: suggestions map the schema
        # out name by name just as well.
        suggestions=introspection,
        extensions=[
            MaskUnexpectedErrors,
            ErrorCodes,
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            lambda: AddValidationRules(rules),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            PageSizeLimit,
            QueryCostLimit,
        ],
    )


# The schema of development and tests, and the one `make schema` writes out.
schema = build_schema(introspection=True)


@cache
def schema_for(*, introspection: bool) -> strawberry.Schema:
    """Production answers no `__schema` or `__type` (its schema is published as
    schema.graphql); the second schema is built only where it is used."""
    return schema if introspection else build_schema(introspection=False)
