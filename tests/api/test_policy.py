"""The whole access matrix, role by operation, for every root field of the schema.

A field added to the schema without a row here (and a rule in api/policy.py) fails
`test_every_root_field_has_a_rule_and_a_row`.
"""

from __future__ import annotations

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from api import policy
from api.deps import Authorize, authorize
from api.graphql.schema import schema
from core.errors import Forbidden, Unauthenticated
from core.settings import Environment, Settings
from graph.referrals.models import Side
from graph.referrals.reads import side_of
from graph.users import ANONYMOUS, Actor, Membership, Role
from homeward.app import create_app
from web import OPEN_PAGES, page_operations

C, P, K, A = Role.COUNSELLOR, Role.PARTNER, Role.COORDINATOR, Role.ADMIN
EVERYONE = {C, P, K, A}

# operation -> (anonymous may call it where anonymous reading is allowed, roles allowed)
MATRIX: dict[str, tuple[bool, set[Role]]] = {
    "Query.searchPartners": (True, EVERYONE),
    "Query.organisation": (True, EVERYONE),
    "Query.organisations": (True, EVERYONE),
    "Query.service": (True, EVERYONE),
    "Query.area": (True, EVERYONE),
    "Query.areas": (True, EVERYONE),
    "Query.needs": (True, EVERYONE),
    "Query.targetGroups": (True, EVERYONE),
    "Query.me": (False, EVERYONE),
    "Query.notifications": (False, EVERYONE),
    "Mutation.markNotificationsRead": (False, EVERYONE),
    "Query.mailPreference": (False, EVERYONE),
    "Mutation.setMailPreference": (False, EVERYONE),
    "Query.users": (False, {A}),
    "Query.auditEvents": (False, EVERYONE),
    "Query.webhookSubscriptions": (False, {C, P, A}),
    "Query.webhookDeliveries": (False, {C, P, A}),
    "Mutation.registerOrganisation": (False, {K, A}),
    "Mutation.updateOrganisation": (False, {P, A}),
    "Mutation.registerService": (False, {P, A}),
    "Mutation.updateService": (False, {P, A}),
    "Mutation.verifyService": (False, {P, A}),
    "Mutation.setServiceCapacity": (False, {P, A}),
    "Mutation.createUser": (False, {A}),
    "Mutation.setUserDisabled": (False, {A}),
    "Mutation.endUserSessions": (False, {A}),
    "Mutation.issuePasswordLink": (False, {A}),
    "Mutation.issueToken": (False, {A}),
    "Mutation.revokeToken": (False, {A}),
    "Mutation.inviteUser": (False, {A}),
    "Query.referral": (False, {C, P}),
    "Query.referrals": (False, {C, P}),
    "Query.referralStatistics": (False, {K, A}),
    "Query.serviceOverlaps": (False, {K, A}),
    "Query.serviceGaps": (False, {K, A}),
    "Query.supportComparison": (False, {K, A}),
    "Mutation.createReferral": (False, {C}),
    "Mutation.sendReferral": (False, {C}),
    "Mutation.cancelReferral": (False, {C}),
    "Mutation.grantConsent": (False, {C}),
    "Mutation.revokeConsent": (False, {C}),
    "Mutation.acknowledgeReferral": (False, {P}),
    "Mutation.acceptReferral": (False, {P}),
    "Mutation.declineReferral": (False, {P}),
    "Mutation.startReferral": (False, {P}),
    "Mutation.completeReferral": (False, {P}),
    "Mutation.recordFollowUp": (False, {C, P}),
    "Query.returnCase": (False, {C, P}),
    "Query.returnCases": (False, {C, P}),
    "Query.plannedArrivals": (False, {K, A}),
    "Query.returnCaseStatistics": (False, {K, A}),
    "Mutation.openReturnCase": (False, {C, P}),
    "Mutation.updateReturnCase": (False, {C, P}),
    "Mutation.recordCaseStatus": (False, {C, P}),
    "Mutation.recordCaseFollowUp": (False, {C, P}),
    "Mutation.grantCaseConsent": (False, {C, P}),
    "Mutation.extendCaseConsent": (False, {C, P}),
    "Mutation.revokeCaseConsent": (False, {C, P}),
    "Mutation.createWebhookSubscription": (False, {C, P, A}),
    "Mutation.deleteWebhookSubscription": (False, {C, P, A}),
    "Query.duplicateCandidates": (False, {K, A}),
    "Mutation.resolveDuplicate": (False, {K, A}),
    "Mutation.undoDuplicateResolution": (False, {K, A}),
}


def _root_fields() -> set[str]:
    graphql_schema = schema._schema
    fields = set()
    for root in (graphql_schema.query_type, graphql_schema.mutation_type):
        assert root is not None
        fields |= {f"{root.name}.{name}" for name in root.fields}
    return fields


def test_every_root_field_has_a_rule_and_a_row() -> None:
    assert set(policy.RULES) == _root_fields()
    assert set(MATRIX) == _root_fields()


def _actor(role: Role) -> Actor:
    return Actor(
        user_id=f"u-{role.value}", memberships=[Membership(organisation_id="o", role=role)]
    )


@pytest.mark.parametrize("operation", sorted(MATRIX))
@pytest.mark.parametrize("role", list(Role))
def test_role_matrix(operation: str, role: Role) -> None:
    settings = Settings()
    allowed = role in MATRIX[operation][1]
    if allowed:
        policy.check(operation, _actor(role), settings)
    else:
        with pytest.raises(Forbidden):
            policy.check(operation, _actor(role), settings)


@pytest.mark.parametrize("operation", sorted(MATRIX))
@pytest.mark.parametrize("anonymous_read", [True, False])
def test_anonymous_matrix(operation: str, anonymous_read: bool) -> None:
    settings = Settings(HOMEWARD_ALLOW_ANONYMOUS_READ=anonymous_read)
    if MATRIX[operation][0] and anonymous_read:
        policy.check(operation, ANONYMOUS, settings)
    else:
        with pytest.raises(Unauthenticated):
            policy.check(operation, ANONYMOUS, settings)


def test_an_operation_without_a_rule_is_refused() -> None:
    with pytest.raises(Forbidden, match="has no access rule"):
        policy.check("Query.somethingNew", _actor(Role.ADMIN), Settings())


def test_scopes() -> None:
    partner = Actor(
        user_id="u",
        memberships=[
            Membership(organisation_id="a", role=Role.PARTNER),
            Membership(organisation_id="b", role=Role.COUNSELLOR),
        ],
    )
    assert policy.service_scope(partner) == {"a"}
    assert policy.audit_scope(partner) == ["a", "b"]
    assert policy.service_scope(_actor(Role.ADMIN)) is None
    assert policy.audit_scope(_actor(Role.ADMIN)) is None
    assert policy.service_scope(_actor(Role.COORDINATOR)) == set()
    assert policy.webhook_scope(partner) == {"a", "b"}
    assert policy.webhook_scope(_actor(Role.ADMIN)) is None
    assert policy.webhook_scope(_actor(Role.COORDINATOR)) == set()


# Routes anyone may call whatever the rules: health, and the GraphQL endpoint, whose fields
# have their own rules above.
UNRULED_ROUTES = {"/health", "/graphql"}
# Authorized in its handler rather than by its router: a scraper on the same host may need no
# token (api/metrics.py).
AUTHORIZED_IN_HANDLER = {"GET /metrics"}


def _guarded(route: RouteContext) -> bool:
    return any(isinstance(d.call, Authorize) for d in route.dependant.dependencies)


def test_every_rest_route_has_a_rule() -> None:
    app = create_app(
        Settings(HOMEWARD_ENV=Environment.TEST, HOMEWARD_DATA_KEYS=Fernet.generate_key().decode())
    )
    # The web pages check their route's rule through web.session.page_session.
    pages = page_operations()
    operations = set()
    # Each route as the application serves it, with the prefixes and dependencies of the
    # routers that include it.
    for route in iter_route_contexts(app.routes):
        path = route.path
        if not isinstance(route.original_route, APIRoute) or path is None or path in UNRULED_ROUTES:
            continue
        for method in route.methods or ():
            operation = policy.rest_operation(method, path)
            if operation in OPEN_PAGES:
                continue
            assert operation in policy.REST_RULES, f"{operation} has no rule in REST_RULES"
            operations.add(operation)
            if operation not in pages | AUTHORIZED_IN_HANDLER:
                assert _guarded(route), f"{operation} is not guarded by api.deps.Authorize"
    assert operations == set(policy.REST_RULES)  # no rule without its route
    assert policy.REST_RULES["GET /metrics"] == policy.ADMIN
    assert policy.REST_RULES["POST /imports/sheet"] == policy.ADMIN
    assert policy.REST_RULES["POST /imports/hsds"] == policy.ADMIN


async def test_a_guarded_route_without_a_rule_is_closed() -> None:
    """A route added to a guarded router before anyone wrote its rule refuses everyone, and
    its key holds the prefixes of every router above it."""
    router = APIRouter(prefix="/new", dependencies=[Depends(authorize)])

    @router.get("/thing")
    async def thing() -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(router, prefix="/outer")
    app.state.graph = None
    app.state.settings = Settings(HOMEWARD_ENV=Environment.TEST)
    app.state.jwt_verifier = None
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        refused = await client.get("/outer/new/thing")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "GET /outer/new/thing has no access rule"


@pytest.mark.parametrize("role", list(Role))
def test_who_may_read_referral_contents(role: Role) -> None:
    """The matrix's `Query.referral` row, record by record: counsellors of the sending
    organisation and partners of the receiving one; a coordinator or an admin of either reads
    none (an admin who mints a token for a member reads as that member, with an access
    notice: graph/access.py)."""
    both = Actor(
        user_id="u",
        memberships=[Membership(organisation_id=o, role=role) for o in ("org-a", "org-b")],
    )
    side = side_of(both, sender="org-a", receiver="org-b")
    expected = {C: Side.SENDER, P: Side.RECEIVER, K: None, A: None}[role]
    assert side is expected
    assert "Query.referral" in policy.RULES
    assert MATRIX["Query.referral"] == (False, {C, P})
