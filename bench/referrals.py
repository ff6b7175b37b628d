"""Referrals of data set M, written with the application's own bulk write of referral history
(`graph.referrals.history.HISTORY`), and each receiving service's responsiveness kept by the
application's own query (`graph.referrals.responsiveness.update_responsiveness`), as a
transition keeps it.

Popular services receive a hundred times more referrals than typical ones (log-normal
popularity); a quarter are never chosen (offices that exist on paper), and with about two
referrals per service half of the receiving services get none in the two years;
senders respect a service's restriction to sending countries; statuses follow the lifecycle
of DESIGN.md, with recent referrals still moving and old ones mostly completed. Each referral
carries the stamps the lifecycle leaves (`graph.referrals.lifecycle.STAMP`, `closed_at`),
which is what the responsiveness is measured from.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from neo4j import AsyncManagedTransaction

from bench.directory import OrganisationPlan, ServiceRef
from bench.gazetteer import Gazetteer
from bench.sampling import Weighted, rng_for
from bench.shape import (
    ACKNOWLEDGED_STATUSES,
    DECLINE_REASONS,
    OLD_STATUSES,
    OUTCOMES,
    RECENT_DAYS,
    RECENT_STATUSES,
    REFERRALS_WITHIN_DAYS,
    RETURN_TYPES,
    SENDER_ACTIVITY_SIGMA,
    SENT_STATUSES,
    SERVICE_POPULARITY_SIGMA,
    TRANSITIONS,
    UNUSED_SERVICE_SHARE,
)
from graph.areas import AreaLevel
from graph.referrals.history import HISTORY
from graph.referrals.lifecycle import STAMP
from graph.referrals.models import CLOSED, ReferralStatus
from graph.services import ServiceStatus


async def write_referrals(tx: AsyncManagedTransaction, *, rows: list[dict[str, Any]]) -> int:
    """M's referrals through the statement that writes referral history (MERGE on the id, so
    a retried batch or a `--reuse` load creates nothing twice)."""
    result = await tx.run(HISTORY, rows=rows)
    record = await result.single(strict=True)
    return int(record["written"])


def referred_services(rows: list[dict[str, Any]]) -> list[str]:
    """The services M's referrals went to, each once, in the order first referred: the ones
    whose responsiveness the application would have kept (the others never had a referral)."""
    return list(dict.fromkeys(row["service"] for row in rows))


def _stamps(
    status: ReferralStatus,
    *,
    acknowledged_at: datetime | None,
    updated: datetime,
) -> dict[str, Any]:
    """The moments the lifecycle stamps on the way to `status` (beyond sending and
    acknowledgement, which the generator draws): the last step at the referral's last change,
    the steps between acknowledgement and it at the acknowledgement, as accepting straight
    from "sent" stamps both at once in the application."""
    path = {
        ReferralStatus.ACCEPTED: [ReferralStatus.ACCEPTED],
        ReferralStatus.DECLINED: [ReferralStatus.DECLINED],
        ReferralStatus.IN_PROGRESS: [ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS],
        ReferralStatus.COMPLETED: [
            ReferralStatus.ACCEPTED,
            ReferralStatus.IN_PROGRESS,
            ReferralStatus.COMPLETED,
        ],
        ReferralStatus.CANCELLED: [ReferralStatus.CANCELLED],
    }.get(status, [])
    stamps: dict[str, Any] = {STAMP[step]: acknowledged_at for step in path[:-1]}
    if path:
        stamps[STAMP[path[-1]]] = updated
    if status in CLOSED:
        stamps["closed_at"] = updated
    return stamps


def _destination(service: ServiceRef, gaz: Gazetteer, rng: random.Random) -> str:
    """Where the returnee goes: a town the service covers, sometimes a village of it."""
    area = gaz.places[rng.choice(service.covers)]
    if area.level is AreaLevel.SETTLEMENT:
        return area.id
    if area.level is AreaLevel.COUNTRY:
        town = gaz.places[gaz.town_choice[area.country].pick(rng)]
    else:
        town = gaz.places[rng.choice(gaz.towns_under.get(area.id) or [area.id])]
    if town.settlements and rng.random() < 0.35:
        return rng.choice(town.settlements)
    return town.id


def generate_referrals(
    services: list[ServiceRef],
    orgs: list[OrganisationPlan],
    gaz: Gazetteer,
    *,
    count: int,
    seed: int,
    as_of: datetime,
) -> list[dict[str, Any]]:
    rng = rng_for(seed, "referrals")
    targets = [s for s in services if s.receiving]
    senders = [o for o in orgs if o.sending]
    if count and (not targets or not senders):
        raise ValueError("referrals need both receiving services and sending organisations")
    status_factor = {
        ServiceStatus.ACTIVE: 1.0, ServiceStatus.TEMPORARILY_CLOSED: 0.3,
        ServiceStatus.INACTIVE: 0.1, ServiceStatus.DEFUNCT: 0.05,
    }  # fmt: skip
    # Log-normal, not Pareto: a heavy tail without one service taking a tenth of all referrals.
    popularity = [
        0.0
        if rng.random() < UNUSED_SERVICE_SHARE
        else rng.lognormvariate(0.0, SERVICE_POPULARITY_SIGMA) * status_factor[s.status]
        for s in targets
    ]
    sender_weight = {o.id: rng.lognormvariate(0.0, SENDER_ACTIVITY_SIGMA) for o in senders}
    by_country: dict[str, Weighted[str]] = {}
    for country in {o.country for o in senders}:
        by_country[country] = Weighted.of(
            {o.id: sender_weight[o.id] for o in senders if o.country == country}
        )
    any_sender = Weighted.of(sender_weight)
    recent, old = Weighted.of(RECENT_STATUSES), Weighted.of(OLD_STATUSES)
    outcomes, reasons = Weighted.of(OUTCOMES), Weighted.of(DECLINE_REASONS)
    return_types = Weighted.of(RETURN_TYPES)

    rows: list[dict[str, Any]] = []
    chosen = rng.choices(targets, weights=popularity, k=count) if count else []
    for number, service in enumerate(chosen, start=1):
        allowed = [c for c in service.sending_countries if c in by_country]
        pool = by_country[rng.choice(allowed)] if allowed else any_sender
        sender = pool.pick(rng)
        needs = [rng.choice(service.needs)]
        if len(service.needs) > 1 and rng.random() < 0.15:
            needs = rng.sample(service.needs, 2)

        age = timedelta(seconds=rng.randint(0, REFERRALS_WITHIN_DAYS * 86_400))
        created = as_of - age
        status = (recent if age < timedelta(days=RECENT_DAYS) else old).pick(rng)
        sent_at: datetime | None = None
        acknowledged_at: datetime | None = None
        transitions = TRANSITIONS.get(status, 0)
        if status == "cancelled":
            # Cancelled before sending, after sending, or after acknowledgement.
            stage = rng.choice(("draft", "sent", "acknowledged"))
            transitions = TRANSITIONS[stage] + 1
        else:
            stage = status
        if stage in SENT_STATUSES:
            sent_at = min(as_of, created + timedelta(minutes=rng.randint(5, 72 * 60)))
        if stage in ACKNOWLEDGED_STATUSES and sent_at is not None:
            answer_days = rng.uniform(0.05, 2.0 * service.expected_response_days)
            acknowledged_at = min(as_of, sent_at + timedelta(days=answer_days))
        updated = max(t for t in (created, sent_at, acknowledged_at) if t is not None)
        if transitions > TRANSITIONS.get(stage, 0) or stage in {"accepted", "in_progress"}:
            updated = min(as_of, updated + timedelta(days=rng.uniform(0.5, 60)))
        if status == "completed":
            updated = min(as_of, updated + timedelta(days=rng.uniform(30, 240)))

        rows.append(
            {
                "id": f"bench-ref-{number:07d}",
                "from": sender,
                "service": service.id,
                "needs": needs,
                "destination": _destination(service, gaz, rng),
                # HISTORY dates the node by the row's `sent_at`: `created_at` when it creates
                # it (the props below set M's own), `updated_at` always: the last change.
                "sent_at": updated,
                "props": {
                    "reference": f"HWB-{created:%y%m}-{number:07d}",
                    "status": status,
                    "return_type": (
                        rng.choice(service.return_types)
                        if service.return_types
                        else return_types.pick(rng)
                    ).value,
                    "planned_arrival": (created + timedelta(days=rng.randint(7, 120))).date(),
                    "created_at": created,
                    "sent_at": sent_at,
                    "acknowledged_at": acknowledged_at,
                    "outcome": outcomes.pick(rng) if status == "completed" else None,
                    "decline_reason": reasons.pick(rng) if status == "declined" else None,
                    "version": transitions + 1,
                    "synthetic": True,
                }
                | _stamps(ReferralStatus(status), acknowledged_at=acknowledged_at, updated=updated),
            }
        )
    return rows
