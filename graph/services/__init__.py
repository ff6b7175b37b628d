"""Services: one offer of an organisation, where and for whom it is delivered.

- `models`: what a service is, and the input every entry path validates with;
- `writes`: checking an input against the graph, the upsert, registration and edits;
- `reads`: one service, some by id, pages of an organisation's or an area's;
- `verification`: freshness, confirmation, re-verification flags and capacity.

The names callers use are re-exported here.
"""

from graph.services.models import (
    ID_PATTERN,
    Capacity,
    DeliveryMode,
    HsdsIdentity,
    Location,
    LocationInput,
    OpeningHours,
    Responsiveness,
    ReturnType,
    Service,
    ServiceInput,
    ServiceStatus,
    Weekday,
)
from graph.services.reads import (
    get_service,
    service_ids_by_names,
    services_after,
    services_by_ids,
    services_in_area,
    services_in_areas,
    services_of_organisation,
    services_of_organisations,
)
from graph.services.verification import (
    Freshness,
    flag_for_reverification,
    freshness,
    set_service_capacity,
    verification_due,
    verify_service,
)
from graph.services.writes import (
    reference_problems,
    register_service,
    update_service,
    upsert_row,
    upsert_services,
)

__all__ = [
    "ID_PATTERN",
    "Capacity",
    "DeliveryMode",
    "Freshness",
    "HsdsIdentity",
    "Location",
    "LocationInput",
    "OpeningHours",
    "Responsiveness",
    "ReturnType",
    "Service",
    "ServiceInput",
    "ServiceStatus",
    "Weekday",
    "flag_for_reverification",
    "freshness",
    "get_service",
    "reference_problems",
    "register_service",
    "service_ids_by_names",
    "services_after",
    "services_by_ids",
    "services_in_area",
    "services_in_areas",
    "services_of_organisation",
    "services_of_organisations",
    "set_service_capacity",
    "update_service",
    "upsert_row",
    "upsert_services",
    "verification_due",
    "verify_service",
]
