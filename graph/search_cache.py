"""The models of the services and organisations that search result pages show, kept in the
API process so that a page of 20 results does not read 20 services (with their sites,
needs, areas, programmes and eligibility) and their organisations through the driver on
every search: measured, that reading and building the models was the larger part of a
search's cost once the index (`graph.search_index`) ranks in memory.

Kept current by the same change feed as the index (`graph.search_changes`): every write that
changes what these models show stamps the service or organisation, and the index, when it
applies the changes since its watermark before a search, evicts them here. So a page never
shows a model older than the last write committed before the search read the clock.

A fill races with the evictions: a model read before a write commits could be stored after
the search that applied that write evicted it. Each fill therefore notes the generation (the
count of evictions and clears) before its read and stores what it read only if none happened
meanwhile; the page still uses what it read, which is as fresh as its own transaction.

Bounded: at most `max_entries` services (their models and their reasons' facts) and as many
organisations, least recently used out first: about 10 KB per service with its share of
organisations, measured on the benchmark's data (docs/search.md). 0 keeps nothing, and every
page is read through the driver as without the cache.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Generic, TypeVar

from neo4j import AsyncManagedTransaction

from graph.organisations import Organisation, organisations_by_ids
from graph.search import PAGE_FACTS
from graph.services import Service, services_by_ids

Model = TypeVar("Model")


class _Lru(Generic[Model]):
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Model] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, ids: list[str]) -> tuple[dict[str, Model], list[str]]:
        """The models held (marked as used) and the ids not held."""
        found: dict[str, Model] = {}
        missing: list[str] = []
        for id in ids:
            model = self._entries.get(id)
            if model is None:
                missing.append(id)
            else:
                self._entries.move_to_end(id)
                found[id] = model
        return found, missing

    def put(self, models: dict[str, Model]) -> None:
        if self.max_entries <= 0:
            return
        for id, model in models.items():
            self._entries[id] = model
            self._entries.move_to_end(id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def evict(self, ids: list[str]) -> None:
        for id in ids:
            self._entries.pop(id, None)

    def clear(self) -> None:
        self._entries.clear()


class PageModels:
    """One per API process, owned by its search index (which evicts through it)."""

    def __init__(self, max_entries: int) -> None:
        self.services: _Lru[Service] = _Lru(max_entries)
        self.organisations: _Lru[Organisation] = _Lru(max_entries)
        # The facts the reasons of a page row name (graph.search.PAGE_FACTS), per service.
        self.facts: _Lru[dict[str, Any]] = _Lru(max_entries)
        self.generation = 0
        # Reads through the driver, for tests and the benchmark's account of a page.
        self.misses = 0

    def evict(self, *, services: list[str], organisations: list[str]) -> None:
        if services or organisations:
            self.generation += 1
            self.services.evict(services)
            self.facts.evict(services)
            self.organisations.evict(organisations)

    def clear(self) -> None:
        self.generation += 1
        self.services.clear()
        self.facts.clear()
        self.organisations.clear()

    async def page_facts(
        self, tx: AsyncManagedTransaction, *, ids: list[str]
    ) -> dict[str, dict[str, Any]]:
        """The reasons' facts of the services of `ids` (the page rows the index ranked):
        those held, and the missing ones read in one batch in this transaction."""
        generation = self.generation
        facts, missing = self.facts.get(ids)
        if missing:
            result = await tx.run(PAGE_FACTS, ids=missing)
            read = {r["service"]["id"]: r["service"] async for r in result}
            facts |= read
            self.misses += len(missing)
            if generation == self.generation:
                self.facts.put(read)
        return facts

    async def page(
        self, tx: AsyncManagedTransaction, *, ids: list[str]
    ) -> tuple[dict[str, Service], dict[str, Organisation]]:
        """The services of `ids` and their organisations: those held, and the missing ones
        read in one batch each in this transaction."""
        generation = self.generation
        services, missing = self.services.get(ids)
        read_services: dict[str, Service] = {}
        if missing:
            read_services = await services_by_ids(tx, ids=missing)
            services |= read_services
            self.misses += len(missing)
        owners = sorted({s.organisation_id for s in services.values()})
        organisations, missing = self.organisations.get(owners)
        read_organisations: dict[str, Organisation] = {}
        if missing:
            read_organisations = await organisations_by_ids(tx, ids=missing)
            organisations |= read_organisations
            self.misses += len(missing)
        if generation == self.generation:
            self.services.put(read_services)
            self.organisations.put(read_organisations)
        # In the order asked, as the reads through the driver answer.
        return (
            {id: services[id] for id in ids if id in services},
            {id: organisations[id] for id in owners if id in organisations},
        )
