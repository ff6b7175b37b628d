"""Return cases: one household's return, the record everyone works on, from before
departure (or from the day a returnee walks into a partner's office) through arrival,
reintegration and monitoring. A case holds the household without names (members by role and
age band, each with their needs), the documents checklist, the phases and whereabouts as
events, one consent for the recipients it names, and the referrals made from it.

The parts, each importing only those listed before it:
- `models`: phases and whereabouts with the changes that make sense, household, documents,
  input and read models; no database access.
- `reads`: who sees a case (the owning organisation; organisations a referral of it is
  addressed to, within the consented categories) and one case or a page of them.
- `announcements`: the audit event and webhook notifications every change leaves.
- `writes`: opening, updating, status changes and visits, each an event with a version check.
- `consent`: the household's one consent for the case, extended recipient by recipient.
- `statistics`: counts for coordinators.
- `retention`: what a closed case keeps after its retention period.

Referrals join a case in graph/referrals (`create_referral` with a case); the case's consent
is a `Consent` (graph/referrals/models.py) naming several recipients.
"""

from graph.cases.consent import extend_case_consent, grant_case_consent, revoke_case_consent
from graph.cases.models import (
    CaseConsentRecipients,
    CaseDetails,
    CaseEvent,
    CaseFollowUp,
    CaseFollowUpInput,
    CaseSide,
    Dimension,
    DocumentCheck,
    DocumentState,
    DocumentType,
    Member,
    MemberAge,
    MemberRole,
    OpenCaseInput,
    Phase,
    ReturnCase,
    StatusInput,
    Whereabouts,
)
from graph.cases.reads import CaseFilter, case_owners, cases_by_ids, get_case, list_cases
from graph.cases.retention import purge_closed_cases, purge_expired_cases
from graph.cases.statistics import ArrivalCell, CaseStatistics, case_statistics, planned_arrivals
from graph.cases.writes import open_case, record_case_follow_up, record_status, update_case

__all__ = [
    "ArrivalCell",
    "CaseConsentRecipients",
    "CaseDetails",
    "CaseEvent",
    "CaseFilter",
    "CaseFollowUp",
    "CaseFollowUpInput",
    "CaseSide",
    "CaseStatistics",
    "Dimension",
    "DocumentCheck",
    "DocumentState",
    "DocumentType",
    "Member",
    "MemberAge",
    "MemberRole",
    "OpenCaseInput",
    "Phase",
    "ReturnCase",
    "StatusInput",
    "Whereabouts",
    "case_owners",
    "case_statistics",
    "cases_by_ids",
    "extend_case_consent",
    "get_case",
    "grant_case_consent",
    "list_cases",
    "open_case",
    "planned_arrivals",
    "purge_closed_cases",
    "purge_expired_cases",
    "record_case_follow_up",
    "record_status",
    "revoke_case_consent",
    "update_case",
]
