"""Who may do what: the one place where access is decided.

`RULES` names every root field of the GraphQL schema (a test fails when one is missing) and
says which roles may call it. Rules about *which* records (own organisation's services, audit
of own organisation) are the scope functions below; graph/ applies the scope they return
inside the same transaction as the write.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import Forbidden, Unauthenticated
from core.settings import Settings
from graph.users import Actor, Role

ALL_ROLES = frozenset(Role)


@dataclass(frozen=True, slots=True)
class Rule:
    roles: frozenset[Role]
    # The public directory: anonymous callers too, where the deployment allows it.
    public: bool = False
    description: str = ""


DIRECTORY = Rule(ALL_ROLES, public=True, description="the public directory")
SIGNED_IN = Rule(ALL_ROLES, description="any signed-in user")
ADMIN = Rule(frozenset({Role.ADMIN}), description="admins")
MAINTAIN_SERVICES = Rule(
    frozenset({Role.PARTNER, Role.ADMIN}), description="partners (own organisation) and admins"
)
REGISTER_ORGANISATIONS = Rule(
    frozenset({Role.COORDINATOR, Role.ADMIN}), description="coordinators and admins"
)
# The organisations that send or receive referrals are the ones told about them.
MANAGE_WEBHOOKS = Rule(
    frozenset({Role.COUNSELLOR, Role.PARTNER, Role.ADMIN}),
    description="counsellors and partners (own organisation) and admins",
)

# Referrals: the sending side sends, cancels and records consent; the receiving side answers.
# Who stands on which side of a given referral is decided in graph/referrals/reads.py.
SEND_REFERRALS = Rule(frozenset({Role.COUNSELLOR}), description="counsellors")
ANSWER_REFERRALS = Rule(frozenset({Role.PARTNER}), description="partners")
REFERRAL_PARTIES = Rule(
    frozenset({Role.COUNSELLOR, Role.PARTNER}),
    description="counsellors and partners of the organisations involved",
)
# Return cases: the owning organisation (a counsellor before departure, a partner for a
# walk-in after arrival) and organisations a referral of the case is addressed to, each as
# graph/cases/reads.py decides.
CASE_PARTIES = Rule(
    frozenset({Role.COUNSELLOR, Role.PARTNER}),
    description="counsellors and partners of the organisations working on the case",
)
# Aggregates, coordination views and duplicate review (which merges records of any
# organisation): never a single referral.
COORDINATION = Rule(
    frozenset({Role.COORDINATOR, Role.ADMIN}), description="coordinators and admins"
)

RULES: dict[str, Rule] = {
    "Query.searchPartners": DIRECTORY,
    "Query.organisation": DIRECTORY,
    "Query.organisations": DIRECTORY,
    "Query.service": DIRECTORY,
    "Query.area": DIRECTORY,
    "Query.areas": DIRECTORY,
    "Query.needs": DIRECTORY,
    "Query.targetGroups": DIRECTORY,
    "Query.me": SIGNED_IN,
    # Each person's own notices only (graph/notifications.py starts from the caller).
    "Query.notifications": SIGNED_IN,
    "Mutation.markNotificationsRead": SIGNED_IN,
    "Query.mailPreference": SIGNED_IN,
    "Mutation.setMailPreference": SIGNED_IN,
    "Query.users": ADMIN,
    "Query.auditEvents": SIGNED_IN,  # scoped: admins all, others their organisations' data
    "Query.webhookSubscriptions": MANAGE_WEBHOOKS,
    "Query.webhookDeliveries": MANAGE_WEBHOOKS,
    "Mutation.registerOrganisation": REGISTER_ORGANISATIONS,
    "Mutation.updateOrganisation": MAINTAIN_SERVICES,  # scoped: partners their own
    "Mutation.registerService": MAINTAIN_SERVICES,
    "Mutation.updateService": MAINTAIN_SERVICES,
    "Mutation.verifyService": MAINTAIN_SERVICES,
    "Mutation.setServiceCapacity": MAINTAIN_SERVICES,
    "Mutation.createUser": ADMIN,
    "Mutation.setUserDisabled": ADMIN,
    "Mutation.endUserSessions": ADMIN,
    "Mutation.issuePasswordLink": ADMIN,
    "Mutation.issueToken": ADMIN,
    "Mutation.revokeToken": ADMIN,
    "Mutation.inviteUser": ADMIN,
    "Query.referral": REFERRAL_PARTIES,
    "Query.referrals": REFERRAL_PARTIES,
    "Query.referralStatistics": COORDINATION,
    "Query.serviceOverlaps": COORDINATION,
    "Query.serviceGaps": COORDINATION,
    "Query.supportComparison": COORDINATION,
    "Mutation.createReferral": SEND_REFERRALS,
    "Mutation.sendReferral": SEND_REFERRALS,
    "Mutation.cancelReferral": SEND_REFERRALS,
    "Mutation.grantConsent": SEND_REFERRALS,
    "Mutation.revokeConsent": SEND_REFERRALS,
    "Mutation.acknowledgeReferral": ANSWER_REFERRALS,
    "Mutation.acceptReferral": ANSWER_REFERRALS,
    "Mutation.declineReferral": ANSWER_REFERRALS,
    "Mutation.startReferral": ANSWER_REFERRALS,
    "Mutation.completeReferral": ANSWER_REFERRALS,
    "Mutation.recordFollowUp": REFERRAL_PARTIES,
    "Query.returnCase": CASE_PARTIES,
    "Query.returnCases": CASE_PARTIES,
    "Query.plannedArrivals": COORDINATION,
    "Query.returnCaseStatistics": COORDINATION,
    "Mutation.openReturnCase": CASE_PARTIES,
    "Mutation.updateReturnCase": CASE_PARTIES,
    "Mutation.recordCaseStatus": CASE_PARTIES,
    "Mutation.recordCaseFollowUp": CASE_PARTIES,
    "Mutation.grantCaseConsent": CASE_PARTIES,
    "Mutation.extendCaseConsent": CASE_PARTIES,
    "Mutation.revokeCaseConsent": CASE_PARTIES,
    "Mutation.createWebhookSubscription": MANAGE_WEBHOOKS,
    "Mutation.deleteWebhookSubscription": MANAGE_WEBHOOKS,
    "Query.duplicateCandidates": COORDINATION,
    "Mutation.resolveDuplicate": COORDINATION,
    "Mutation.undoDuplicateResolution": COORDINATION,
}

# The REST endpoints beside GraphQL, by method and path template of their route (see
# rest_operation; a test fails when a route has no rule, and api.deps.Authorize refuses it):
# exports of coordination data, the HSDS read API of the public directory (`api/hsds.py`), the
# import template (public, like the directory it describes) and the imports, which write any
# organisation's records.
REST_RULES: dict[str, Rule] = {
    "GET /hsds/": DIRECTORY,
    "GET /hsds/profile": DIRECTORY,
    "GET /hsds/services": DIRECTORY,
    "GET /hsds/services/{id}": DIRECTORY,
    "GET /hsds/organizations": DIRECTORY,
    "GET /hsds/organizations/{id}": DIRECTORY,
    "GET /hsds/service_at_locations": DIRECTORY,
    "GET /hsds/service_at_locations/{id}": DIRECTORY,
    "GET /hsds/taxonomies": DIRECTORY,
    "GET /hsds/taxonomies/{id}": DIRECTORY,
    "GET /hsds/taxonomy_terms": DIRECTORY,
    "GET /hsds/taxonomy_terms/{id}": DIRECTORY,
    # Directory data only (services, their needs and places): public as /hsds/ is.
    "GET /exports/3w.csv": DIRECTORY,
    "GET /exports/outlines.geojson": DIRECTORY,
    "GET /exports/gaps.geojson": COORDINATION,
    "GET /exports/gaps.{image_format}": COORDINATION,
    "GET /imports/template.xlsx": DIRECTORY,
    "GET /imports/template.csv": DIRECTORY,
    "POST /imports/hsds": ADMIN,
    "POST /imports/sheet": ADMIN,
    # Request counts and latencies are operational data; a scraper on the same host may be
    # let in without a token by HOMEWARD_METRICS_FROM_LOOPBACK (api/metrics.py).
    "GET /metrics": ADMIN,
    # The web pages (web/): each the same rule as the GraphQL operations it runs, which
    # check again. Sign-in and sign-out show no data and are open (web.OPEN_PAGES).
    "GET /app/search": SIGNED_IN,
    "GET /app/places.json": SIGNED_IN,
    "GET /app/referrals": SEND_REFERRALS,
    "GET /app/referrals/new": SEND_REFERRALS,
    "POST /app/referrals": SEND_REFERRALS,
    "GET /app/referrals/{referral_id}": REFERRAL_PARTIES,
    "POST /app/referrals/{referral_id}/consent": SEND_REFERRALS,
    "POST /app/referrals/{referral_id}/action": REFERRAL_PARTIES,
    "POST /app/referrals/{referral_id}/follow-up": REFERRAL_PARTIES,
    "GET /app/referrals/{referral_id}/handout": REFERRAL_PARTIES,
    "GET /app/incoming": ANSWER_REFERRALS,
    "GET /app/cases": CASE_PARTIES,
    "GET /app/cases/new": CASE_PARTIES,
    "POST /app/cases": CASE_PARTIES,
    "GET /app/cases/{case_id}": CASE_PARTIES,
    "GET /app/cases/{case_id}/edit": CASE_PARTIES,
    "POST /app/cases/{case_id}/edit": CASE_PARTIES,
    "POST /app/cases/{case_id}/status": CASE_PARTIES,
    "POST /app/cases/{case_id}/consent": CASE_PARTIES,
    "POST /app/cases/{case_id}/visit": CASE_PARTIES,
    "GET /app/services/{service_id}": SIGNED_IN,
    "GET /app/organisation": MAINTAIN_SERVICES,
    "GET /app/organisation/edit": MAINTAIN_SERVICES,
    "POST /app/organisation/edit": MAINTAIN_SERVICES,
    "GET /app/services/new": MAINTAIN_SERVICES,
    "POST /app/services": MAINTAIN_SERVICES,
    "GET /app/services/{service_id}/edit": MAINTAIN_SERVICES,
    "POST /app/services/{service_id}": MAINTAIN_SERVICES,
    "POST /app/services/{service_id}/verify": MAINTAIN_SERVICES,
    "POST /app/services/{service_id}/capacity": MAINTAIN_SERVICES,
    "GET /app/gaps": COORDINATION,
    "GET /app/gaps.csv": COORDINATION,
    "GET /app/support": COORDINATION,
    "GET /app/support.csv": COORDINATION,
    "GET /app/overlaps": COORDINATION,
    "GET /app/overlaps.csv": COORDINATION,
    "GET /app/arrivals": COORDINATION,
    "GET /app/arrivals.csv": COORDINATION,
    "GET /app/duplicates": COORDINATION,
    "POST /app/duplicates/{candidate_id}": COORDINATION,
    "POST /app/duplicates/{candidate_id}/undo": COORDINATION,
    "GET /app/notifications": SIGNED_IN,
    "POST /app/notifications/read": SIGNED_IN,
    "GET /app/admin/users": ADMIN,
    "POST /app/admin/users": ADMIN,
    "POST /app/admin/users/{user_id}/disabled": ADMIN,
    "POST /app/admin/users/{user_id}/sessions": ADMIN,
    "POST /app/admin/users/{user_id}/invitation": ADMIN,
    "POST /app/admin/users/{user_id}/password-link": ADMIN,
    "GET /app/admin/organisations": ADMIN,
    "GET /app/settings": SIGNED_IN,
    "POST /app/settings": SIGNED_IN,
}


def rest_operation(method: str, path: str) -> str:
    """The key of a route in REST_RULES: its method and path template, routers' prefixes
    included ("GET /hsds/services/{id}"), never the path requested."""
    return f"{method} {path}"


def check(operation: str, actor: Actor, settings: Settings, rules: dict[str, Rule] = RULES) -> None:
    """Raise Unauthenticated or Forbidden unless `actor` may call `operation`
    ("Query.organisation", "Mutation.updateService"). An operation without a rule is
    refused: a new field is closed until someone decides who may use it."""
    rule = rules.get(operation)
    if rule is None:
        raise Forbidden(f"{operation} has no access rule")
    if not actor.authenticated:
        if rule.public and settings.allow_anonymous_read:
            return
        raise Unauthenticated(f"{operation} needs a bearer token")
    if actor.system or actor.roles & rule.roles:
        return
    raise Forbidden(f"{operation} is for {rule.description}")


def service_scope(actor: Actor) -> set[str] | None:
    """Organisations whose services `actor` may change; None means all of them."""
    if actor.system or Role.ADMIN in actor.roles:
        return None
    return actor.organisations_with(Role.PARTNER)


def audit_scope(actor: Actor) -> list[str] | None:
    """Organisations whose audit trail `actor` may read; None means all of them."""
    if actor.system or Role.ADMIN in actor.roles:
        return None
    return sorted({m.organisation_id for m in actor.memberships})


def webhook_scope(actor: Actor) -> set[str] | None:
    """Organisations whose webhooks `actor` may manage and read; None means all of them. A
    coordinator membership gives none: the delivery log is about individual referrals."""
    if actor.system or Role.ADMIN in actor.roles:
        return None
    return actor.organisations_with(Role.COUNSELLOR, Role.PARTNER)
