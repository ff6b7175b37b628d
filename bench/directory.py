"""Organisations and services of data set M: where they sit, what they offer, to whom.

Organisations concentrate in capitals and big towns (Zipf-like within each country); a tenth
are sending organisations in host countries; a few are planted duplicates of another
(`bench_duplicate_of`, with the evidence a check could find) and a few exist on paper only.
Services are built as `ServiceInput`s, so every rule of the application applies to them, and
turned into rows for `graph.services.upsert_services` by its own `upsert_row`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bench.gazetteer import Gazetteer, Place
from bench.sampling import Weighted, jitter, rng_for
from bench.shape import (
    CAPACITY_WEIGHTS,
    CAPITAL_KINDS,
    CODE_WEIGHTS,
    DELIVERY_WEIGHTS,
    DORMANT_SHARE,
    DUPLICATE_EVIDENCE,
    DUPLICATE_SHARE,
    FAMILY_WEIGHTS,
    FUNDED_SHARE,
    KIND_ABBREVIATIONS,
    KIND_FOCUS,
    KIND_NAMES,
    LANGUAGES,
    M_ORGANISATIONS,
    M_SERVICES,
    NEED_COUNTS,
    NEVER_VERIFIED_SHARE,
    ORIGIN_SHARES,
    PHONE_CODES,
    PROGRAMME_COUNTRIES,
    RECEIVING_KINDS,
    RECEIVING_SERVICE_COUNTS,
    REFERRAL_METHODS,
    RESTRICTED_RETURN_TYPE_SHARE,
    RESTRICTED_SENDING_SHARE,
    RETURN_TYPE_RESTRICTIONS,
    SENDING_FAMILIES,
    SENDING_KIND_NAMES,
    SENDING_KINDS,
    SENDING_SERVICE_COUNTS,
    SENDING_SHARE,
    SENDING_SHARES,
    SERVICE_NAME_ENDINGS,
    SITE_RADIUS_KM,
    SOURCE,
    STATUS_WEIGHTS,
    TARGET_GROUP_COUNTS,
    TARGET_GROUP_WEIGHTS,
    VERIFIED_WITHIN_DAYS,
)
from graph.organisations import OrganisationInput, OrganisationKind
from graph.services import (
    Capacity,
    DeliveryMode,
    LocationInput,
    ReturnType,
    ServiceInput,
    ServiceStatus,
    upsert_row,
)


@dataclass(slots=True)
class OrganisationPlan:
    id: str
    country: str
    kind: OrganisationKind
    town: Place
    home: Place  # the town or one of its settlements: where the organisation is BASED_IN
    sending: bool
    dormant: bool
    focus: Weighted[str]  # need families, weighted by what this organisation mostly does
    data: OrganisationInput
    extra: dict[str, Any]
    sites: list[LocationInput]
    services: int = 0


def _focus(kind: OrganisationKind, sending: bool, rng: random.Random) -> Weighted[str]:
    if sending:
        return Weighted.of(SENDING_FAMILIES)
    weights = {f: w * KIND_FOCUS.get(kind, {}).get(f, 1.0) for f, w in FAMILY_WEIGHTS.items()}
    # Each organisation has one or two things it is known for.
    for family in Weighted.of(weights).pick_distinct(rng, rng.choice((1, 1, 2))):
        weights[family] *= 6
    return Weighted.of(weights)


def _sites(
    org_id: str, short_name: str, home: Place, town: Place, gaz: Gazetteer, rng: random.Random
) -> list[LocationInput]:
    """The organisation's offices: one where it is based, sometimes more in nearby towns."""
    homes = [home]
    extra = rng.choices((0, 1, 2), weights=(75, 18, 7))[0]
    for neighbour in rng.sample(town.neighbours, k=min(extra, len(town.neighbours))):
        place = gaz.places[neighbour]
        if place.settlements and rng.random() < 0.3:
            place = gaz.places[rng.choice(place.settlements)]
        homes.append(place)
    return [
        LocationInput(
            id=f"{org_id}.site-{k}",
            name=f"{short_name}, {place.name} office",
            address=f"{rng.randint(1, 240)} Synthetic Street, {place.name}",
            area=place.id,
            point=jitter(place.lat, place.lon, SITE_RADIUS_KM, rng),
        )
        for k, place in enumerate(homes)
    ]


def generate_organisations(
    gaz: Gazetteer, *, count: int, seed: int, need_labels: Mapping[str, str]
) -> list[OrganisationPlan]:
    rng = rng_for(seed, "organisations")
    n_sending = round(count * SENDING_SHARE)
    sending_at = set(rng.sample(range(count), k=n_sending))
    origin = Weighted.of(ORIGIN_SHARES)
    host = Weighted.of(SENDING_SHARES)
    receiving_kinds = Weighted.of(RECEIVING_KINDS)
    sending_kinds = Weighted.of(SENDING_KINDS)
    originals: list[OrganisationPlan] = []  # receiving organisations a duplicate may copy
    plans: list[OrganisationPlan] = []
    for index in range(count):
        number = index + 1
        org_id = f"bench-org-{number:06d}"
        sending = index in sending_at
        duplicate_of: OrganisationPlan | None = None
        if not sending and originals and rng.random() < DUPLICATE_SHARE:
            duplicate_of = rng.choice(originals)

        if duplicate_of is not None:
            country, kind = duplicate_of.country, duplicate_of.kind
            town, home = duplicate_of.town, duplicate_of.home
        else:
            country = host.pick(rng) if sending else origin.pick(rng)
            kind = (sending_kinds if sending else receiving_kinds).pick(rng)
            big_town = kind in CAPITAL_KINDS and rng.random() < 0.7
            town = gaz.places[
                gaz.towns[country][0].id if big_town else gaz.town_choice[country].pick(rng)
            ]
            home = town
            if town.settlements and rng.random() < 0.25:
                home = gaz.places[rng.choice(town.settlements)]

        kind_name = (SENDING_KIND_NAMES if sending else KIND_NAMES)[kind]
        name = f"Bench {kind_name} {number} {town.name}"
        acronym = f"B{KIND_ABBREVIATIONS[kind]}{number}" if rng.random() < 0.3 else None
        alternate_names = [f"{town.name} {kind_name} {number}"] if rng.random() < 0.2 else []
        domain = f"{org_id}.bench.example"
        phone = f"+{PHONE_CODES[country]} 9{number:07d}"
        evidence: str | None = None
        if duplicate_of is not None:
            original = duplicate_of.data
            evidence = rng.choice(DUPLICATE_EVIDENCE)
            if evidence == "name spelling":
                name = original.name.upper().replace(" ", " - ", 1)
            elif evidence == "acronym":
                acronym = original.acronym or f"B{KIND_ABBREVIATIONS[kind]}{number}"
                name, alternate_names = f"{acronym} {town.name}", [original.name]
            elif evidence == "website":
                domain = duplicate_of.id + ".bench.example"
            elif evidence == "phone":
                phone = original.phone or phone
            else:
                domain = duplicate_of.id + ".bench.example"  # the same mailbox

        dormant = not sending and rng.random() < DORMANT_SHARE
        focus = duplicate_of.focus if duplicate_of is not None else _focus(kind, sending, rng)
        topics = ", ".join(need_labels[f].lower() for f in _top_families(focus, 2))
        independent = (
            None
            if kind is OrganisationKind.OTHER
            else kind in {OrganisationKind.NGO, OrganisationKind.NETWORK, OrganisationKind.EMPLOYER}
        )
        data = OrganisationInput(
            name=name,
            alternate_names=alternate_names,
            acronym=acronym,
            kind=kind,
            description=(
                f"Synthetic organisation of the Homeward benchmark data set M; not a real "
                f"organisation. {kind_name} in {home.name} working mainly on {topics}."
            ),
            website=f"https://{domain}/",
            email=f"info@{domain}",
            phone=phone,
            country=country,
            independent_of_authorities=independent,
            based_in=home.id,
        )
        plan = OrganisationPlan(
            id=org_id,
            country=country,
            kind=kind,
            town=town,
            home=home,
            sending=sending,
            dormant=dormant,
            focus=focus,
            data=data,
            extra={
                "synthetic": True,
                "source": SOURCE,
                "bench_duplicate_of": duplicate_of.id if duplicate_of is not None else None,
                "bench_duplicate_evidence": evidence,
            },
            sites=_sites(org_id, acronym or f"Bench {number}", home, town, gaz, rng),
        )
        plans.append(plan)
        if not sending and duplicate_of is None:
            originals.append(plan)

    _count_services(plans, rng)
    return plans


def _top_families(focus: Weighted[str], k: int) -> list[str]:
    """The `k` families with the largest weights."""
    weights = {
        item: focus.cumulative[i] - (focus.cumulative[i - 1] if i else 0.0)
        for i, item in enumerate(focus.items)
    }
    return sorted(weights, key=lambda f: (-weights[f], f))[:k]


def _count_services(plans: list[OrganisationPlan], rng: random.Random) -> None:
    """Draw the number of services of each organisation, then nudge the counts until they add
    up to exactly the size of M at this scale."""
    receiving = Weighted.of(RECEIVING_SERVICE_COUNTS)
    sending = Weighted.of(SENDING_SERVICE_COUNTS)
    for plan in plans:
        plan.services = (sending if plan.sending else receiving).pick(rng)
    target = round(M_SERVICES * len(plans) / M_ORGANISATIONS)
    adjustable = [p for p in plans if not p.sending] or plans
    top = max(RECEIVING_SERVICE_COUNTS)
    if (
        not len(adjustable)
        <= target
        <= top * len(adjustable) + sum(p.services for p in plans if p.sending)
    ):
        raise ValueError(f"cannot give {len(plans)} organisations {target} services")
    total = sum(p.services for p in plans)
    while total != target:
        plan = rng.choice(adjustable)
        if total < target and plan.services < top:
            plan.services += 1
            total += 1
        elif total > target and plan.services > 1:
            plan.services -= 1
            total -= 1


# --- services ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceRef:
    """What the referral generator needs to know about a service."""

    id: str
    organisation: str
    country: str
    needs: tuple[str, ...]
    covers: tuple[str, ...]
    status: ServiceStatus
    sending_countries: tuple[str, ...]
    return_types: tuple[ReturnType, ...]
    expected_response_days: int
    receiving: bool


@dataclass(slots=True)
class ServiceTables:
    """Weighted choices shared by every service."""

    families: Weighted[str]
    codes: dict[str, Weighted[str]]
    need_counts: Weighted[int]
    group_counts: Weighted[int]
    groups: Weighted[str]
    statuses: Weighted[ServiceStatus]
    deliveries: Weighted[tuple[DeliveryMode, ...]]
    capacities: Weighted[Capacity | None]
    hosts: Weighted[str]
    programmes: list[str]
    need_labels: Mapping[str, str]


def service_tables(
    need_codes: set[str], group_codes: set[str], programmes: list[str], labels: Mapping[str, str]
) -> ServiceTables:
    codes = {f: Weighted.of(CODE_WEIGHTS.get(f, {f: 1.0})) for f in FAMILY_WEIGHTS}
    used = {c for w in codes.values() for c in w.items}
    if used - need_codes or set(TARGET_GROUP_WEIGHTS) - group_codes:
        missing = sorted((used - need_codes) | (set(TARGET_GROUP_WEIGHTS) - group_codes))
        raise ValueError(f"the seed taxonomy has no {', '.join(missing)}")
    return ServiceTables(
        families=Weighted.of(FAMILY_WEIGHTS),
        codes=codes,
        need_counts=Weighted.of(NEED_COUNTS),
        group_counts=Weighted.of(TARGET_GROUP_COUNTS),
        groups=Weighted.of(TARGET_GROUP_WEIGHTS),
        statuses=Weighted.of(STATUS_WEIGHTS),
        deliveries=Weighted.of(DELIVERY_WEIGHTS),
        capacities=Weighted.of(CAPACITY_WEIGHTS),
        hosts=Weighted.of(SENDING_SHARES),
        programmes=programmes,
        need_labels=labels,
    )


def _needs(org: OrganisationPlan, tables: ServiceTables, rng: random.Random) -> list[str]:
    wanted = tables.need_counts.pick(rng)
    needs: dict[str, None] = {}
    family = org.focus.pick(rng)
    for _ in range(wanted * 6):
        if len(needs) == wanted:
            break
        needs.setdefault(tables.codes[family].pick(rng), None)
        # Most services combine related help (job placement with vocational training).
        if rng.random() >= 0.6:
            family = org.focus.pick(rng)
    return list(needs)


def _coverage(
    org: OrganisationPlan, remote_only: bool, gaz: Gazetteer, rng: random.Random
) -> list[str]:
    town = org.town
    nearby = town.neighbours
    r = rng.random()
    if org.sending:
        return [town.id] if r < 0.7 else [org.country]
    if remote_only:
        return [org.country] if r < 0.7 else [town.id, *rng.sample(nearby, min(3, len(nearby)))]
    if org.home is not town and r < 0.25:
        return [org.home.id]  # a village office for its own village
    if r < 0.62:
        return [town.id]
    if r < 0.74:
        return [town.id, *rng.sample(nearby, min(rng.randint(1, 4), len(nearby)))]
    if r < 0.84:
        if town.region is not None:
            return [town.region]
        return [town.id, *rng.sample(nearby, min(rng.randint(2, 5), len(nearby)))]
    return [org.country]


def _languages(org: OrganisationPlan, rng: random.Random) -> list[str]:
    key = "IQ-KR" if org.country == "IQ" and org.town.region == "IQ-KR" else org.country
    return [code for code, p in LANGUAGES[key] if p >= 1 or rng.random() < p]


def _service(
    org: OrganisationPlan,
    service_id: str,
    names_taken: set[str],
    tables: ServiceTables,
    gaz: Gazetteer,
    rng: random.Random,
    as_of: datetime,
) -> tuple[dict[str, Any], ServiceRef]:
    needs = _needs(org, tables, rng)
    label = tables.need_labels[needs[0]]
    name = f"{label}{rng.choice(SERVICE_NAME_ENDINGS)} (bench)"
    if name in names_taken:
        name = f"{label} in {org.home.name} (bench)"
    serial = 2
    while name in names_taken:
        name = f"{label} {serial} (bench)"
        serial += 1
    names_taken.add(name)

    delivery = tables.deliveries.pick(rng)
    remote_only = delivery == (DeliveryMode.REMOTE,)
    covers = _coverage(org, remote_only, gaz, rng)
    sites: list[LocationInput] = []
    if not remote_only:
        first = org.sites[0] if rng.random() < 0.8 else rng.choice(org.sites)
        sites = [first]
        others = [s for s in org.sites if s is not first]
        if others and rng.random() < 0.3:
            sites.append(rng.choice(others))

    if org.dormant:
        status = rng.choice((ServiceStatus.INACTIVE, ServiceStatus.DEFUNCT))
    else:
        status = tables.statuses.pick(rng)
    groups = [] if org.sending else tables.groups.pick_distinct(rng, tables.group_counts.pick(rng))
    min_age: int | None = None
    max_age: int | None = None
    if "unaccompanied-children" in groups or ("children-youth" in groups and rng.random() < 0.6):
        min_age, max_age = 0, 17
    elif "elderly" in groups:
        min_age = 60
    elif needs[0].startswith("employment") and rng.random() < 0.5:
        min_age, max_age = 16, 64

    capacity = tables.capacities.pick(rng)
    capacity_date: date | None = None
    capacity_note: str | None = None
    if capacity is not None and capacity is not Capacity.UNKNOWN:
        capacity_date = (as_of - timedelta(days=rng.randint(0, 120))).date()
        if capacity in (Capacity.LIMITED, Capacity.FULL):
            capacity_note = f"Waiting list of about {rng.randint(1, 16)} weeks"

    sending_countries: list[str] = []
    return_types: list[ReturnType] = []
    programmes: list[str] = []
    if not org.sending:
        if rng.random() < RESTRICTED_SENDING_SHARE:
            sending_countries = tables.hosts.pick_distinct(rng, rng.randint(1, 3))
        if rng.random() < RESTRICTED_RETURN_TYPE_SHARE:
            return_types = list(rng.choice(RETURN_TYPE_RESTRICTIONS))
        if rng.random() < FUNDED_SHARE:
            fitting = [
                p
                for p in tables.programmes
                if PROGRAMME_COUNTRIES.get(p, org.country) == org.country
            ]
            programmes = rng.sample(fitting, k=min(len(fitting), rng.choice((1, 1, 2))))

    response_days = min(21, max(1, round(rng.lognormvariate(math.log(4), 0.6))))
    verified_at: datetime | None = None
    if rng.random() >= NEVER_VERIFIED_SHARE:
        verified_at = as_of - timedelta(seconds=rng.randint(0, VERIFIED_WITHIN_DAYS * 86_400))
    covered = ", ".join(gaz.places[c].name for c in covers)
    data = ServiceInput(
        organisation_id=org.id,
        name=name,
        description=(
            "Synthetic benchmark service. "
            + "; ".join(tables.need_labels[n] for n in needs)
            + f" for returnees in {covered}."
        ),
        status=status,
        delivery=list(delivery),
        needs=needs,
        target_groups=groups,
        covers=covers,
        locations=sites,
        languages=_languages(org, rng),
        eligibility_description=(
            f"Returnees living in {covered} who arrived in the last 12 months."
            if rng.random() < 0.3
            else None
        ),
        minimum_age=min_age,
        maximum_age=max_age,
        sending_countries=sending_countries,
        programmes=programmes,
        return_types=return_types,
        fees_description="Free of charge" if rng.random() < 0.9 else "Small fee, waived on request",
        referral_method=rng.choice(REFERRAL_METHODS),
        expected_response_days=response_days,
        capacity=capacity,
        capacity_note=capacity_note,
        capacity_date=capacity_date,
    )
    extra = {
        "synthetic": True,
        "source": SOURCE,
        "last_verified_at": verified_at,
        "last_verified_by": f"verifier@{org.id}.bench.example" if verified_at else None,
    }
    ref = ServiceRef(
        id=service_id,
        organisation=org.id,
        country=org.country,
        needs=tuple(needs),
        covers=tuple(covers),
        status=status,
        sending_countries=tuple(sending_countries),
        return_types=tuple(return_types),
        expected_response_days=response_days,
        receiving=not org.sending,
    )
    return upsert_row(service_id, data, extra), ref


def generate_services(
    orgs: list[OrganisationPlan],
    gaz: Gazetteer,
    tables: ServiceTables,
    *,
    seed: int,
    as_of: datetime,
) -> tuple[list[dict[str, Any]], list[ServiceRef]]:
    rng = rng_for(seed, "services")
    rows: list[dict[str, Any]] = []
    refs: list[ServiceRef] = []
    for org in orgs:
        names_taken: set[str] = set()
        for _ in range(org.services):
            service_id = f"bench-svc-{len(rows) + 1:06d}"
            row, ref = _service(org, service_id, names_taken, tables, gaz, rng, as_of)
            rows.append(row)
            refs.append(ref)
    return rows, refs
