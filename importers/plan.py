"""Writing an import: the records every importer plans (countries, programmes,
organisations, services, as the application's own input models) and the batched writer
that puts them in the graph with one audit event per batch.

Every write MERGEs on ids and replaces a record's relationships, so running the same import
again changes nothing, and an import interrupted half way, run again, ends in the same graph
as one uninterrupted run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from neo4j import AsyncManagedTransaction

from core.batching import batches
from graph.areas import AreaRecord, area_rows, upsert_areas
from graph.audit import FieldChange, record_event
from graph.driver import Graph
from graph.organisations import OrganisationInput, upsert_organisations
from graph.programmes import ProgrammeRecord, upsert_programmes
from graph.services import upsert_services
from graph.users import Actor
from importers.report import ImportReport

# Rows per write transaction: fewer, larger transactions cost the database less per row
# (measured on data set M, docs/benchmarks.md), and one batch of services stays well inside
# the bench Neo4j's heap.
BATCH_SIZE = 5000


@dataclass
class Plan:
    countries: list[AreaRecord] = field(default_factory=list)
    programmes: list[ProgrammeRecord] = field(default_factory=list)
    organisations: list[tuple[str, OrganisationInput, dict[str, Any]]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)


Progress = Callable[[str, int], None]
# Called after each batch with its kind and how many batches are done; tests use it to
# stop an import half way.
AfterBatch = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who imports which file. Each batch is written together with an audit event (action
    "import", the entity kind, `id` as its entity id) naming the actor, the file and the ids
    of the records the batch wrote, in the batch's own transaction: an import stopped half way
    leaves events for exactly the batches it wrote. One event per batch rather than per
    record keeps a directory-sized import from writing a hundred thousand events."""

    actor: Actor
    source: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


# The audit entity of each kind, and the id of one of its planned rows.
_ENTITIES: dict[str, tuple[str, Callable[[Any], str]]] = {
    "countries": ("area", lambda record: str(record.id)),
    "programmes": ("programme", lambda record: str(record.id)),
    "organisations": ("organisation", lambda row: str(row[0])),
    "services": ("service", lambda row: str(row["id"])),
}


async def write_plan(
    graph: Graph,
    plan: Plan,
    report: ImportReport,
    *,
    provenance: Provenance,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    after_batch: AfterBatch | None = None,
) -> None:
    """Write the plan in batches, each with its audit event; then the report says what was
    written and under which import id its events are."""
    written: dict[str, int] = {}
    done = 0

    async def run(kind: str, rows: Sequence[Any], write: Any, **params: Any) -> None:
        nonlocal done
        written[kind] = 0
        entity, row_id = _ENTITIES[kind]

        async def audited(tx: AsyncManagedTransaction, /, **batch: Any) -> int:
            count: int = await write(tx, **batch)
            await record_event(
                tx,
                actor=provenance.actor,
                action="import",
                entity=entity,
                entity_id=provenance.id,
                organisation_id=None,
                changes=[
                    FieldChange(field="source", previous=None, replacement=provenance.source),
                    FieldChange(
                        field="ids",
                        previous=None,
                        replacement=[row_id(row) for row in batch[params["key"]]],
                    ),
                ],
            )
            return count

        for batch in batches(rows, batch_size):
            written[kind] += await graph.write(audited, **{params["key"]: list(batch)})
            done += 1
            if progress is not None:
                progress(kind, len(batch))
            if after_batch is not None:
                after_batch(kind, done)

    if plan.countries:
        await run("countries", plan.countries, _write_countries, key="records")
    if plan.programmes:
        await run("programmes", plan.programmes, upsert_programmes, key="records")
    await run("organisations", plan.organisations, upsert_organisations, key="rows")
    await run("services", plan.services, upsert_services, key="rows")
    report.written = written
    report.import_id = provenance.id


async def _write_countries(tx: Any, *, records: list[AreaRecord]) -> int:
    return await upsert_areas(tx, rows=area_rows(records))


def plan_size(plan: Plan) -> int:
    return len(plan.countries) + len(plan.programmes) + len(plan.organisations) + len(plan.services)
