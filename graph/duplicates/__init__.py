"""Probable duplicate records: the same organisation or service entered twice.

- `scoring`: how alike two records are, with the evidence (pure, no database);
- `blocking`: which pairs get compared at all, and the comparison of a whole list;
- `queries`: what is read from and written to the graph for the registration check and the
  batch scan;
- `review`: the batch scan, and the candidates people decide, merge and undo.

The names callers use are re-exported here.
"""

from graph.duplicates.blocking import MAX_BLOCK, ProgressFn, candidate_pairs, find_matches
from graph.duplicates.queries import (
    PossibleDuplicates,
    organisation_candidates,
    service_candidates,
)
from graph.duplicates.review import (
    CANONICAL_ORGANISATION,
    CANONICAL_SERVICE,
    Decision,
    DuplicatePair,
    ScanReport,
    State,
    canonical_ids,
    get_candidate,
    list_candidates,
    resolve_duplicate,
    scan,
    undo_resolution,
)
from graph.duplicates.scoring import (
    LIKELY,
    THRESHOLD,
    DuplicateCandidate,
    Evidence,
    Kind,
    OrganisationFeatures,
    ServiceFeatures,
    organisation_features,
    organisation_keys,
    phone_digits,
    service_features,
    website_domain,
)

__all__ = [
    "CANONICAL_ORGANISATION",
    "CANONICAL_SERVICE",
    "LIKELY",
    "MAX_BLOCK",
    "THRESHOLD",
    "Decision",
    "DuplicateCandidate",
    "DuplicatePair",
    "Evidence",
    "Kind",
    "OrganisationFeatures",
    "PossibleDuplicates",
    "ProgressFn",
    "ScanReport",
    "ServiceFeatures",
    "State",
    "candidate_pairs",
    "canonical_ids",
    "find_matches",
    "get_candidate",
    "list_candidates",
    "organisation_candidates",
    "organisation_features",
    "organisation_keys",
    "phone_digits",
    "resolve_duplicate",
    "scan",
    "service_candidates",
    "service_features",
    "undo_resolution",
    "website_domain",
]
