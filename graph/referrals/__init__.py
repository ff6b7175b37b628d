"""Referrals: one request from a sending organisation to a receiving service, its lifecycle,
the returnee's consent, follow-up after arrival, and what each side may see of it.

The parts, each importing only those listed before it:
- `models`: statuses, actions, sides and the rest of the vocabulary, the input and read
  models, the deployment's `Policy`; no database access.
- `reads`: which side a person stands on, and one referral or a page of them as that side
  may see it.
- `lifecycle`: the state machine (`TRANSITIONS` and nowhere else), creating a draft, and the
  steps after it with their events, version checks and webhook announcements.
- `responsiveness`: how each service answers referrals (acknowledgement time, acceptance and
  feedback rates), one query for a transition and for bulk writes alike.
- `consent`: recording and revoking the returnee's consent for a referral's recipient (a
  return case's one consent for all its recipients is graph/cases/consent.py's).
- `followup`: monitoring visits after arrival.
- `retention`: purging closed referrals' personal data (re-encrypting under a new key is
  `graph.encryption`'s, for every encrypted value).
- `statistics`: counts for coordinators.
- `overdue`: announcing referrals the receiver has not answered in time.
- `history`: past referrals kept as anonymous statistics (seed, imports).

Personal categories (contact, health, notes) are encrypted at rest with
`core.crypto.DataCipher`; the receiving organisation reads a personal category only while a
valid consent covers it. No names or birth dates exist anywhere in the model: a referral is
known by its generated reference.
"""

from graph.referrals.consent import (
    grant_consent,
    revoke_consent,
)
from graph.referrals.followup import announce_follow_ups_due, record_follow_up
from graph.referrals.history import ReferralHistoryRecord, write_referral_history
from graph.referrals.lifecycle import (
    REFERRAL_NEED_CODES,
    TRANSITIONS,
    allowed_actions,
    create_referral,
    transition,
)
from graph.referrals.models import (
    FOLLOW_UP_STATUSES,
    Access,
    Action,
    AgeBand,
    CaseConsentInput,
    Consent,
    ConsentInput,
    DataCategory,
    DeclineReason,
    DocumentKind,
    Employment,
    FollowUp,
    FollowUpInput,
    Household,
    Housing,
    Intention,
    Outcome,
    Policy,
    Referral,
    ReferralEvent,
    ReferralInput,
    ReferralStatus,
    Schooling,
    Side,
)
from graph.referrals.overdue import announce_overdue
from graph.referrals.reads import ReferralFilter, get_referral, list_referrals
from graph.referrals.retention import purge_closed, purge_expired
from graph.referrals.statistics import referral_statistics

__all__ = [
    "FOLLOW_UP_STATUSES",
    "REFERRAL_NEED_CODES",
    "TRANSITIONS",
    "Access",
    "Action",
    "AgeBand",
    "CaseConsentInput",
    "Consent",
    "ConsentInput",
    "DataCategory",
    "DeclineReason",
    "DocumentKind",
    "Employment",
    "FollowUp",
    "FollowUpInput",
    "Household",
    "Housing",
    "Intention",
    "Outcome",
    "Policy",
    "Referral",
    "ReferralEvent",
    "ReferralFilter",
    "ReferralHistoryRecord",
    "ReferralInput",
    "ReferralStatus",
    "Schooling",
    "Side",
    "allowed_actions",
    "announce_follow_ups_due",
    "announce_overdue",
    "create_referral",
    "get_referral",
    "grant_consent",
    "list_referrals",
    "purge_closed",
    "purge_expired",
    "record_follow_up",
    "referral_statistics",
    "revoke_consent",
    "transition",
    "write_referral_history",
]
