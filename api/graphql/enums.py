"""The domain's enums as GraphQL enums. Each is registered here once, under its GraphQL name,
on the domain class itself; types and arguments then annotate with the domain enum, and
importing it from here guarantees it is registered before any schema is built."""

from __future__ import annotations

import strawberry

from graph.areas import AreaLevel
from graph.cases import (
    CaseSide,
    Dimension,
    DocumentState,
    DocumentType,
    MemberAge,
    MemberRole,
    Phase,
    Whereabouts,
)
from graph.duplicates import Decision, Kind, State
from graph.mail.preferences import MailFrequency
from graph.notifications import NotificationKind
from graph.organisations import OrganisationKind
from graph.referrals import (
    Access,
    Action,
    AgeBand,
    DataCategory,
    DeclineReason,
    DocumentKind,
    Employment,
    Housing,
    Intention,
    Outcome,
    ReferralStatus,
    Schooling,
    Side,
)
from graph.services import (
    Capacity,
    DeliveryMode,
    Freshness,
    ReturnType,
    ServiceStatus,
    Weekday,
)
from graph.users import Role
from graph.webhooks import DeliveryState, WebhookEvent

__all__ = [
    "Access",
    "Action",
    "AgeBand",
    "AreaLevel",
    "Capacity",
    "CaseSide",
    "DataCategory",
    "Decision",
    "DeclineReason",
    "DeliveryMode",
    "DeliveryState",
    "Dimension",
    "DocumentKind",
    "DocumentState",
    "DocumentType",
    "Employment",
    "Freshness",
    "Housing",
    "Intention",
    "Kind",
    "MailFrequency",
    "MemberAge",
    "MemberRole",
    "NotificationKind",
    "OrganisationKind",
    "Outcome",
    "Phase",
    "ReferralStatus",
    "ReturnType",
    "Role",
    "Schooling",
    "ServiceStatus",
    "Side",
    "State",
    "WebhookEvent",
    "Weekday",
    "Whereabouts",
]

strawberry.enum(AreaLevel, name="AreaLevel")

strawberry.enum(Kind, name="DuplicateKind")
strawberry.enum(State, name="DuplicateState")
strawberry.enum(Decision, name="DuplicateDecision")

strawberry.enum(OrganisationKind, name="OrganisationKind")

strawberry.enum(NotificationKind, name="NotificationKind")
strawberry.enum(MailFrequency, name="MailFrequency")

strawberry.enum(ReferralStatus, name="ReferralStatus")
strawberry.enum(Action, name="ReferralAction")
strawberry.enum(Side, name="ReferralSide")
strawberry.enum(DataCategory, name="DataCategory")
strawberry.enum(AgeBand, name="AgeBand")
strawberry.enum(DocumentKind, name="DocumentKind")
strawberry.enum(DeclineReason, name="DeclineReason")
strawberry.enum(Outcome, name="Outcome")
strawberry.enum(Employment, name="Employment")
strawberry.enum(Schooling, name="Schooling")
strawberry.enum(Access, name="AccessLevel")
strawberry.enum(Housing, name="Housing")
strawberry.enum(Intention, name="Intention")

strawberry.enum(Phase, name="CasePhase")
strawberry.enum(Whereabouts, name="Whereabouts")
strawberry.enum(CaseSide, name="CaseSide")
strawberry.enum(MemberRole, name="MemberRole")
strawberry.enum(MemberAge, name="MemberAge")
strawberry.enum(DocumentType, name="CaseDocument")
strawberry.enum(DocumentState, name="DocumentState")
strawberry.enum(Dimension, name="ReintegrationDimension")

strawberry.enum(ServiceStatus, name="ServiceStatus")
strawberry.enum(DeliveryMode, name="DeliveryMode")
strawberry.enum(Capacity, name="Capacity")
strawberry.enum(ReturnType, name="ReturnType")
strawberry.enum(Freshness, name="Freshness")
strawberry.enum(Weekday, name="Weekday", description="HSDS 3.0 `byday` (iCalendar) codes.")

strawberry.enum(Role, name="Role")

strawberry.enum(
    WebhookEvent, name="WebhookEvent", description="`REFERRAL_SENT` is sent as `referral.sent`."
)
strawberry.enum(DeliveryState, name="WebhookDeliveryState")
