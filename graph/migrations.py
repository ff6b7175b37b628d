"""Versioned schema migrations: constraints and indexes, each `IF NOT EXISTS`, and the odd
data backfill that a new derived property needs (idempotent too: it recomputes the property).

A migration is applied once; its version is recorded as a `(:SchemaMigration)` node. Because
every statement is idempotent, two processes migrating at the same time are harmless.
New migrations are appended with a higher version; applied ones are never edited. Versions
need not be consecutive (work on separate lines reserves numbers ahead): each one missing
from the database is applied, in order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel

from graph.driver import Graph
from graph.hsds_ids import backfill_hsds_keys


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[LiteralString, ...]
    # Data that Cypher cannot compute, written after the statements by Python in batches;
    # idempotent like them (it recomputes).
    backfill: Callable[[Graph], Awaitable[Any]] | None = None


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="unique ids of the directory, referral and identity nodes",
        statements=(
            "CREATE CONSTRAINT schema_migration_version IF NOT EXISTS "
            "FOR (m:SchemaMigration) REQUIRE m.version IS UNIQUE",
            "CREATE CONSTRAINT organisation_id IF NOT EXISTS "
            "FOR (o:Organisation) REQUIRE o.id IS UNIQUE",
            "CREATE CONSTRAINT service_id IF NOT EXISTS FOR (s:Service) REQUIRE s.id IS UNIQUE",
            "CREATE CONSTRAINT location_id IF NOT EXISTS FOR (l:Location) REQUIRE l.id IS UNIQUE",
            "CREATE CONSTRAINT area_id IF NOT EXISTS FOR (a:Area) REQUIRE a.id IS UNIQUE",
            "CREATE CONSTRAINT need_code IF NOT EXISTS FOR (n:Need) REQUIRE n.code IS UNIQUE",
            "CREATE CONSTRAINT target_group_code IF NOT EXISTS "
            "FOR (t:TargetGroup) REQUIRE t.code IS UNIQUE",
            "CREATE CONSTRAINT programme_id IF NOT EXISTS FOR (p:Programme) REQUIRE p.id IS UNIQUE",
            "CREATE CONSTRAINT user_id IF NOT EXISTS FOR (u:User) REQUIRE u.id IS UNIQUE",
            "CREATE CONSTRAINT referral_id IF NOT EXISTS FOR (r:Referral) REQUIRE r.id IS UNIQUE",
        ),
    ),
    Migration(
        version=2,
        description="lookup indexes for area levels, name keys and organisation names",
        statements=(
            "CREATE INDEX area_level IF NOT EXISTS FOR (a:Area) ON (a.level)",
            "CREATE INDEX area_search_keys IF NOT EXISTS FOR (a:Area) ON (a.search_keys)",
            "CREATE INDEX organisation_name IF NOT EXISTS FOR (o:Organisation) ON (o.name)",
            "CREATE INDEX organisation_country IF NOT EXISTS FOR (o:Organisation) ON (o.country)",
        ),
    ),
    Migration(
        version=3,
        description="point indexes for sites and centroids; folding full-text indexes",
        statements=(
            "CREATE POINT INDEX location_point IF NOT EXISTS FOR (l:Location) ON (l.point)",
            "CREATE POINT INDEX area_centroid IF NOT EXISTS FOR (a:Area) ON (a.centroid)",
            "CREATE INDEX service_status IF NOT EXISTS FOR (s:Service) ON (s.status)",
            "CREATE INDEX service_name IF NOT EXISTS FOR (s:Service) ON (s.name)",
            "CREATE INDEX need_search_keys IF NOT EXISTS FOR (n:Need) ON (n.search_keys)",
            # `search_text` holds the folded, Cyrillic-to-Latin form written by core/text.py;
            # the standard-folding analyzer also folds diacritics of the original fields.
            "CREATE FULLTEXT INDEX directory_text IF NOT EXISTS "
            "FOR (n:Organisation|Service) ON EACH [n.name, n.description, n.search_text] "
            "OPTIONS {indexConfig: {`fulltext.analyzer`: 'standard-folding'}}",
            "CREATE FULLTEXT INDEX taxonomy_text IF NOT EXISTS FOR (n:Need|TargetGroup) "
            "ON EACH [n.label_en, n.label_de, n.label_sq, n.label_sr_Latn, n.label_sr_Cyrl, "
            "n.label_ar, n.label_fa, n.description_en, n.description_de, n.search_text] "
            "OPTIONS {indexConfig: {`fulltext.analyzer`: 'standard-folding'}}",
            "CREATE FULLTEXT INDEX area_text IF NOT EXISTS FOR (a:Area) "
            "ON EACH [a.name_en, a.name_de, a.name_sq, a.name_sr_Latn, a.name_sr_Cyrl, "
            "a.name_ar, a.name_fa, a.search_text] "
            "OPTIONS {indexConfig: {`fulltext.analyzer`: 'standard-folding'}}",
        ),
    ),
    Migration(
        version=4,
        description="accounts, tokens and audit; keys of the duplicate check",
        statements=(
            "CREATE CONSTRAINT user_email IF NOT EXISTS FOR (u:User) REQUIRE u.email IS UNIQUE",
            "CREATE CONSTRAINT api_token_id IF NOT EXISTS FOR (t:ApiToken) REQUIRE t.id IS UNIQUE",
            "CREATE CONSTRAINT audit_event_id IF NOT EXISTS "
            "FOR (e:AuditEvent) REQUIRE e.id IS UNIQUE",
            "CREATE INDEX audit_entity IF NOT EXISTS FOR (e:AuditEvent) ON (e.entity_id, e.at)",
            "CREATE INDEX audit_organisation IF NOT EXISTS "
            "FOR (e:AuditEvent) ON (e.organisation_id, e.at)",
            "CREATE INDEX service_name_key IF NOT EXISTS FOR (s:Service) ON (s.name_key)",
            "CREATE INDEX organisation_domain IF NOT EXISTS "
            "FOR (o:Organisation) ON (o.website_domain)",
            "CREATE INDEX organisation_phone IF NOT EXISTS "
            "FOR (o:Organisation) ON (o.phone_digits)",
            "CREATE INDEX organisation_email IF NOT EXISTS FOR (o:Organisation) ON (o.email)",
        ),
    ),
    Migration(
        version=5,
        description="referrals: events, consent, follow-up; lookups for lists and retention",
        statements=(
            "CREATE CONSTRAINT referral_event_id IF NOT EXISTS "
            "FOR (e:ReferralEvent) REQUIRE e.id IS UNIQUE",
            "CREATE CONSTRAINT consent_id IF NOT EXISTS FOR (c:Consent) REQUIRE c.id IS UNIQUE",
            "CREATE CONSTRAINT follow_up_id IF NOT EXISTS FOR (f:FollowUp) REQUIRE f.id IS UNIQUE",
            "CREATE CONSTRAINT referral_reference IF NOT EXISTS "
            "FOR (r:Referral) REQUIRE r.reference IS UNIQUE",
            "CREATE INDEX referral_case IF NOT EXISTS FOR (r:Referral) ON (r.case_reference)",
            "CREATE INDEX referral_status IF NOT EXISTS FOR (r:Referral) ON (r.status)",
            "CREATE INDEX referral_closed IF NOT EXISTS FOR (r:Referral) ON (r.closed_at)",
            "CREATE INDEX referral_sent IF NOT EXISTS FOR (r:Referral) ON (r.sent_at)",
            "CREATE INDEX consent_case IF NOT EXISTS FOR (c:Consent) ON (c.case_reference)",
        ),
    ),
    Migration(
        version=6,
        description="webhook subscriptions and the delivery outbox",
        statements=(
            "CREATE CONSTRAINT webhook_subscription_id IF NOT EXISTS "
            "FOR (s:WebhookSubscription) REQUIRE s.id IS UNIQUE",
            "CREATE CONSTRAINT webhook_delivery_id IF NOT EXISTS "
            "FOR (d:WebhookDelivery) REQUIRE d.id IS UNIQUE",
            # The dispatcher's question: which deliveries are due (or whose lease expired).
            "CREATE INDEX webhook_delivery_due IF NOT EXISTS "
            "FOR (d:WebhookDelivery) ON (d.state, d.next_attempt_at)",
        ),
    ),
    Migration(
        version=7,
        description="duplicate review: candidates by id and state, decisions by candidate",
        statements=(
            "CREATE INDEX possibly_same_as_id IF NOT EXISTS "
            "FOR ()-[r:POSSIBLY_SAME_AS]-() ON (r.id)",
            "CREATE INDEX possibly_same_as_state IF NOT EXISTS "
            "FOR ()-[r:POSSIBLY_SAME_AS]-() ON (r.kind, r.state)",
            "CREATE CONSTRAINT duplicate_review_event_id IF NOT EXISTS "
            "FOR (e:DuplicateReviewEvent) REQUIRE e.id IS UNIQUE",
            "CREATE INDEX duplicate_review_event_candidate IF NOT EXISTS "
            "FOR (e:DuplicateReviewEvent) ON (e.candidate_id, e.at)",
        ),
    ),
    Migration(
        version=8,
        description="HSDS ids of imported records; change dates for the HSDS API",
        statements=(
            "CREATE INDEX organisation_hsds_id IF NOT EXISTS FOR (o:Organisation) ON (o.hsds_id)",
            "CREATE INDEX service_hsds_id IF NOT EXISTS FOR (s:Service) ON (s.hsds_id)",
            "CREATE INDEX location_hsds_id IF NOT EXISTS FOR (l:Location) ON (l.hsds_id)",
            "CREATE INDEX service_updated_at IF NOT EXISTS FOR (s:Service) ON (s.updated_at)",
        ),
    ),
    Migration(
        version=9,
        description="search facts on services (need codes, coverage, groups, programmes, sites)",
        # Data, not schema: services written before graph.services.writes.UPSERT kept these lists
        # get them once; from then on every write sets them. In batches, so that a large
        # directory does not need one huge transaction.
        statements=(
            "MATCH (s:Service) CALL (s) { "
            "SET s.need_codes = COLLECT { MATCH (s)-[:ADDRESSES]->(n:Need) "
            "RETURN n.code ORDER BY n.code }, "
            "s.target_group_codes = COLLECT { MATCH (s)-[:SERVES]->(t:TargetGroup) "
            "RETURN t.code ORDER BY t.code }, "
            "s.covered_area_ids = COLLECT { MATCH (s)-[:COVERS]->(a:Area) "
            "RETURN a.id ORDER BY a.id }, "
            "s.programme_ids = COLLECT { MATCH (s)-[:FUNDED_BY]->(p:Programme) "
            "RETURN p.id ORDER BY p.id }, "
            "s.site_points = COLLECT { MATCH (s)-[:DELIVERED_AT]->(l:Location) "
            "WHERE l.point IS NOT NULL RETURN l.point ORDER BY l.id } "
            "} IN TRANSACTIONS OF 5000 ROWS",
        ),
    ),
    Migration(
        version=10,
        description="need codes on referrals, for the gap matrix",
        # Data: referrals written before graph.referrals kept the list get it once.
        statements=(
            "MATCH (r:Referral) CALL (r) { "
            "SET r.need_codes = COLLECT { MATCH (r)-[:FOR]->(n:Need) "
            "RETURN n.code ORDER BY n.code } "
            "} IN TRANSACTIONS OF 5000 ROWS",
        ),
    ),
    Migration(
        version=11,
        description="HSDS ids of organisations, services, sites and services at sites",
        # Every write keeps `hsds_key` (graph/hsds_ids.py); records written before get it
        # here, so that the HSDS API finds any record by its HSDS id with one indexed read.
        statements=(
            "CREATE INDEX organisation_hsds_key IF NOT EXISTS FOR (o:Organisation) ON (o.hsds_key)",
            "CREATE INDEX service_hsds_key IF NOT EXISTS FOR (s:Service) ON (s.hsds_key)",
            "CREATE INDEX location_hsds_key IF NOT EXISTS FOR (l:Location) ON (l.hsds_key)",
            "CREATE INDEX delivered_at_hsds_key IF NOT EXISTS "
            "FOR ()-[d:DELIVERED_AT]-() ON (d.hsds_key)",
        ),
        backfill=backfill_hsds_keys,
    ),
    Migration(
        version=12,
        description="return cases: one per case reference of earlier referrals",
        # Every referral written from now on belongs to a case (graph/referrals/lifecycle.py);
        # the referrals written before get one here per sending organisation and case
        # reference, with what the earliest of them said of the household. Nothing is taken
        # from the referrals; consents already keyed by the case reference cover it as before.
        # Past referrals kept as statistics only (`history_only`) stay without a case.
        statements=(
            "CREATE CONSTRAINT return_case_id IF NOT EXISTS "
            "FOR (c:ReturnCase) REQUIRE c.id IS UNIQUE",
            "CREATE CONSTRAINT return_case_reference IF NOT EXISTS "
            "FOR (c:ReturnCase) REQUIRE c.reference IS UNIQUE",
            "CREATE CONSTRAINT return_case_file_key IF NOT EXISTS "
            "FOR (c:ReturnCase) REQUIRE c.file_key IS UNIQUE",
            "CREATE INDEX return_case_file_number IF NOT EXISTS "
            "FOR (c:ReturnCase) ON (c.file_number)",
            "CREATE INDEX return_case_planned_arrival IF NOT EXISTS "
            "FOR (c:ReturnCase) ON (c.planned_arrival)",
            "CREATE INDEX case_follow_up_months IF NOT EXISTS "
            "FOR (f:CaseFollowUp) ON (f.months_after_arrival)",
            "MATCH (r:Referral)-[:FROM]->(o:Organisation) "
            "WHERE r.case_reference IS NOT NULL AND r.history_only IS NULL "
            "AND NOT EXISTS { MATCH (r)-[:IN_CASE]->(:ReturnCase) } "
            "WITH o, r ORDER BY r.created_at, r.id "
            "WITH o, r.case_reference AS reference, collect(r) AS referrals "
            "CALL (o, reference, referrals) { "
            "WITH o, reference, referrals, referrals[0] AS first, "
            "COLLECT { UNWIND referrals AS r MATCH (r)-[:FOR]->(n:Need) "
            "RETURN DISTINCT n.code ORDER BY n.code } AS needs, "
            "COLLECT { UNWIND referrals AS r MATCH (r)-[:CONCERNS]->(t:TargetGroup) "
            "RETURN DISTINCT t.code ORDER BY t.code } AS groups "
            "MERGE (c:ReturnCase {reference: reference}) "
            "ON CREATE SET c.id = randomUUID(), c.version = 1, "
            "c.created_at = first.created_at, c.updated_at = first.created_at, "
            "c.return_type = first.return_type, c.planned_arrival = first.planned_arrival, "
            "c.languages = coalesce(first.languages, []), "
            "c.need_codes = needs, c.target_group_codes = groups, "
            "c.documents = [], c.opened_by = first.created_by, "
            "c.phase = CASE WHEN first.planned_arrival <= date() THEN 'arrived' "
            "ELSE 'preparing' END, "
            "c.whereabouts = CASE WHEN first.planned_arrival <= date() THEN 'in_destination' "
            "ELSE 'host_country' END "
            "MERGE (c)-[:OWNED_BY]->(o) "
            "WITH c, first, referrals "
            "CALL (c, referrals) { UNWIND referrals AS r MERGE (r)-[:IN_CASE]->(c) } "
            "CALL (c, first) { MATCH (first)-[:DESTINATION]->(d:Area) "
            "WHERE NOT EXISTS { MATCH (c)-[:DESTINATION]->() } "
            "CREATE (c)-[:DESTINATION]->(d) } "
            "CALL (c, first) { MATCH (first)-[:UNDER]->(p:Programme) "
            "MERGE (c)-[:UNDER]->(p) } "
            "CALL (c, first) { "
            "WITH c, first WHERE NOT EXISTS { MATCH (:HouseholdMember)-[:OF]->(c) } "
            "WITH c, [x IN range(1, coalesce(first.household_adults, 0)) | 'adult'] "
            "+ coalesce(first.household_children, []) AS ages "
            "UNWIND range(0, size(ages) - 1) AS i "
            "CREATE (:HouseholdMember {ordinal: i, age: ages[i], needs: [], target_groups: [], "
            "role: CASE WHEN ages[i] = 'adult' THEN 'adult' ELSE 'child' END})-[:OF]->(c) } "
            "MERGE (e:CaseEvent {id: c.id + '-opened'}) "
            "ON CREATE SET e.seq = 0, e.at = c.created_at, "
            "e.actor = coalesce(c.opened_by, 'system'), e.action = 'opened', "
            "e.phase = c.phase, e.whereabouts = c.whereabouts "
            "MERGE (e)-[:OF]->(c) "
            "} IN TRANSACTIONS OF 500 ROWS",
        ),
    ),
    Migration(
        version=13,
        description="web sessions: one per sign-in, found by id",
        # Pages sign in to a server-side session (graph/users.py) instead of carrying the API
        # token in the cookie; the id is what the cookie holds, so it is unique and indexed.
        statements=(
            "CREATE CONSTRAINT web_session_id IF NOT EXISTS "
            "FOR (s:WebSession) REQUIRE s.id IS UNIQUE",
        ),
    ),
    Migration(
        version=14,
        description="password links: one-time links that set a password, found by id",
        # The id is the part of the link (graph/passwords.py) that finds it; the secret beside
        # it is only ever compared with the stored hash.
        statements=(
            "CREATE CONSTRAINT password_link_id IF NOT EXISTS "
            "FOR (l:PasswordLink) REQUIRE l.id IS UNIQUE",
        ),
    ),
    Migration(
        version=15,
        description="return cases: when each was closed, for the retention purge",
        # Closing a case now records when (graph/cases/writes.py); a case closed before gets
        # its last change, which is no earlier than its closing.
        statements=(
            "CREATE INDEX return_case_closed_at IF NOT EXISTS FOR (c:ReturnCase) ON (c.closed_at)",
            "MATCH (c:ReturnCase {phase: 'closed'}) WHERE c.closed_at IS NULL "
            "SET c.closed_at = c.updated_at",
        ),
    ),
    Migration(
        version=16,
        description="notifications: in-app notices per user, found by id",
        # A notice (graph/notifications.py) is marked read by its id; the list and the unread
        # count start from the user and follow FOR, so no other index is needed.
        statements=(
            "CREATE CONSTRAINT notification_id IF NOT EXISTS "
            "FOR (n:Notification) REQUIRE n.id IS UNIQUE",
        ),
    ),
    Migration(
        version=17,
        description="mail outbox: mails by id, and the due ones by state and time",
        # The sender (api/mail_delivery.py) claims by state and next attempt, as the webhook
        # dispatcher does; digests are found by the users' frequency.
        statements=(
            "CREATE CONSTRAINT mail_id IF NOT EXISTS FOR (m:Mail) REQUIRE m.id IS UNIQUE",
            "CREATE INDEX mail_due IF NOT EXISTS FOR (m:Mail) ON (m.state, m.next_attempt_at)",
            "CREATE INDEX user_mail_frequency IF NOT EXISTS FOR (u:User) ON (u.mail_frequency)",
        ),
    ),
    Migration(
        version=18,
        description="the change feed of the search facts: one clock, a stamp on each service",
        # graph/search_changes.py: the clock is made by the first write (MERGE on this unique
        # id), and services stamped from then on; a process builds its index in full first.
        statements=(
            "CREATE CONSTRAINT search_clock_id IF NOT EXISTS "
            "FOR (c:SearchClock) REQUIRE c.id IS UNIQUE",
            "CREATE INDEX service_search_stamp IF NOT EXISTS FOR (s:Service) ON (s.search_stamp)",
            # Organisations too: the search keeps the models of its pages (graph/search_cache.py).
            "CREATE INDEX organisation_search_stamp IF NOT EXISTS "
            "FOR (o:Organisation) ON (o.search_stamp)",
            "MERGE (c:SearchClock {id: 'directory'}) "
            "ON CREATE SET c.epoch = randomUUID(), c.stamp = 0",
        ),
    ),
)


class AppliedMigration(BaseModel):
    version: int
    description: str
    applied_at: datetime


APPLIED: LiteralString = """
MATCH (m:SchemaMigration)
RETURN m.version AS version, m.description AS description, m.applied_at AS applied_at
ORDER BY m.version
"""


async def applied_migrations(tx: AsyncManagedTransaction) -> list[AppliedMigration]:
    result = await tx.run(APPLIED)
    return [
        AppliedMigration(
            version=r["version"],
            description=r["description"],
            applied_at=r["applied_at"].to_native(),
        )
        async for r in result
    ]


RECORD: LiteralString = """
MERGE (m:SchemaMigration {version: $version})
ON CREATE SET m.description = $description, m.applied_at = datetime()
"""


async def record_migration(tx: AsyncManagedTransaction, *, version: int, description: str) -> None:
    await tx.run(RECORD, version=version, description=description)


async def migrate(graph: Graph, *, progress: Callable[[int], None] | None = None) -> list[int]:
    """Apply the migrations not yet recorded, in order; return the versions applied now.
    `progress` hears how many of MIGRATIONS are done (applied now or before): a backfill
    over a large directory takes minutes, and the command line shows a bar meanwhile."""
    # The constraint on SchemaMigration comes with migration 1, so the first read may find
    # no label at all; that is simply "nothing applied".
    done = {m.version for m in await graph.read(applied_migrations)}
    applied_now: list[int] = []
    for position, migration in enumerate(MIGRATIONS, start=1):
        if migration.version not in done:
            await _apply(graph, migration)
            await graph.write(
                record_migration, version=migration.version, description=migration.description
            )
            applied_now.append(migration.version)
        if progress is not None:
            progress(position)
    return applied_now


async def _apply(graph: Graph, migration: Migration) -> None:
    for statement in migration.statements:
        await graph.run_schema(statement)
    if migration.backfill is not None:
        await migration.backfill(graph)


async def apply_again(graph: Graph, *, made_under: list[int]) -> list[int]:
    """Apply again every migration not in `made_under` (each is idempotent): data restored
    from a backup made before a migration lacks what it would have set (a backfill ran on
    the empty database before the restore). Returns the versions applied."""
    missing = [m for m in MIGRATIONS if m.version not in set(made_under)]
    for migration in missing:
        await _apply(graph, migration)
    return [m.version for m in missing]


def latest_version() -> int:
    return MIGRATIONS[-1].version
