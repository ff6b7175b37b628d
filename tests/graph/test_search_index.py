"""The in-process search index answers exactly what the ranked query answers: the same total,
needs answered, page rows (score, distance, needs, covered areas) and facts of the reasons, on
random searches over a generated directory (data set M at a small scale); and a write through
any of the application's writers is seen by the next search of an index built before it (as
in another API process)."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, LiteralString

import numpy as np
from neo4j import AsyncManagedTransaction
from rich.progress import Progress

from bench.dataset import DEFAULT_AS_OF, DEFAULT_SEED, generate, load
from core.errors import ValidationFailed
from graph.driver import Graph
from graph.pagination import encode_cursor
from graph.programmes import ProgrammeRecord, upsert_programmes
from graph.referrals.responsiveness import update_responsiveness
from graph.search import (
    PartnerSearch,
    Ranked,
    Resolved,
    SearchResult,
    _cursor_key,
    _decode_after,
    expand_needs,
    ranked,
    resolve_destination,
    search_partners,
    text_matches,
)
from graph.search_changes import read_clock, services_changed
from graph.search_index import SCALARS, SearchIndex, round_half_up
from graph.services import (
    Capacity,
    LocationInput,
    ReturnType,
    ServiceInput,
    get_service,
    set_service_capacity,
    verify_service,
)
from graph.services.writes import upsert_row, upsert_services
from graph.users import Actor

NOW = datetime.combine(DEFAULT_AS_OF, datetime.min.time(), tzinfo=UTC)
SEARCHES = 100  # bounded: each one runs the ranked query too

AREAS: LiteralString = """
MATCH (a:Area) WHERE a.level IN ['municipality', 'settlement', 'region']
  AND a.centroid IS NOT NULL
RETURN a.id AS id ORDER BY a.id
"""
CODES: LiteralString = """
RETURN COLLECT { MATCH (n:Need) RETURN n.code ORDER BY n.code } AS needs,
       COLLECT { MATCH (t:TargetGroup) RETURN t.code ORDER BY t.code } AS groups,
       COLLECT { MATCH (p:Programme) RETURN p.id ORDER BY p.id } AS programmes
"""
# Some confirmed duplicates, as a reviewer's decision leaves them.
MERGE_SOME: LiteralString = """
MATCH (s:Service) WITH s ORDER BY s.id SKIP 3 LIMIT 12
MATCH (c:Service {id: 'bench-svc-000001'})
MERGE (s)-[:SAME_AS {candidate_id: 'test-' + s.id}]->(c)
RETURN collect(s.id) AS ids
"""


async def _reference(tx: AsyncManagedTransaction) -> dict[str, list[str]]:
    areas = [r["id"] async for r in await tx.run(AREAS)]
    record = await (await tx.run(CODES)).single(strict=True)
    return {"areas": areas} | {k: list(record[k]) for k in ("needs", "groups", "programmes")}


async def _directory(graph: Graph) -> dict[str, list[str]]:
    data = generate(scale=0.003, seed=DEFAULT_SEED, as_of=DEFAULT_AS_OF)
    with Progress(disable=True) as progress:
        await load(data, graph, progress=progress, deadline=None)

    async def merge(tx: AsyncManagedTransaction) -> None:
        record = await (await tx.run(MERGE_SOME)).single(strict=True)
        await services_changed(tx, ids=list(record["ids"]))

    await graph.write(merge)
    return await graph.read(_reference)


def _random_search(rng: random.Random, ref: dict[str, list[str]]) -> PartnerSearch:
    kosovo = [a for a in ref["areas"] if a.startswith("XK-")]
    return PartnerSearch(
        area_id=rng.choice(kosovo if rng.random() < 0.7 else ref["areas"]),
        needs=rng.sample(ref["needs"], rng.choice([1, 1, 2, 3])),
        radius_km=rng.choice([5, 10, 25, 25, 50, 120]),
        target_groups=rng.sample(ref["groups"], rng.choice([0, 0, 1, 2])),
        languages=rng.choice([[], ["sq"], ["sq", "de"], ["sr"], ["en", "sq", "sr"]]),
        sending_country=rng.choice([None, None, "DE", "AT", "CH", "SE"]),
        programme=rng.choice([None, None, *ref["programmes"]]),
        return_type=rng.choice([None, None, None, *ReturnType]),
        include_remote=rng.random() < 0.8,
        include_full=rng.random() < 0.8,
        include_temporarily_closed=rng.random() < 0.3,
        text=rng.choice([None] * 8 + ["bench", "ngo", "centre"]),
    )


async def _both(
    tx: AsyncManagedTransaction,
    *,
    index: SearchIndex,
    search: PartnerSearch,
    after: str | None,
    limit: int,
) -> tuple[Ranked, Ranked | None]:
    asked = Resolved(
        search=search,
        destination=await resolve_destination(tx, search=search),
        expanded=await expand_needs(tx, codes=search.needs),
        now=NOW,
        ageing_after_days=180,
        stale_after_days=365,
    )
    text_ids = await text_matches(tx, text=search.text) if search.text else None
    resume = _decode_after(after)
    reference = await ranked(tx, asked=asked, text_ids=text_ids, after=resume, limit=limit)
    mine = await index.ranked(tx, asked=asked, text_ids=text_ids, after=resume, limit=limit)
    return reference, mine


def _cursor(row: dict[str, Any]) -> str:
    return encode_cursor(_cursor_key(row["score"], row["km"]), row["service"]["id"])


async def test_the_index_answers_random_searches_exactly_as_the_ranked_query(
    graph: Graph,
) -> None:
    ref = await _directory(graph)
    index = SearchIndex(graph)
    assert await index.build(graph)
    rng = random.Random(23)
    compared = pages = 0
    for _ in range(SEARCHES):
        search = _random_search(rng, ref)
        limit = rng.choice([3, 11, 21])
        try:
            reference, mine = await graph.read(
                _both, index=index, search=search, after=None, limit=limit
            )
        except ValidationFailed:
            continue  # an area without coordinates to search around
        assert mine is not None
        assert (mine.total, mine.answered, mine.rows) == (
            reference.total,
            reference.answered,
            reference.rows,
        ), search
        compared += 1
        if len(reference.rows) == limit:
            # The next page, from the cursor of the last row shown.
            after = _cursor(reference.rows[-2])
            reference, mine = await graph.read(
                _both, index=index, search=search, after=after, limit=limit
            )
            assert mine is not None
            assert (mine.total, mine.rows) == (reference.total, reference.rows), search
            pages += 1
    # The generated directory is big enough that most searches find something.
    assert compared >= SEARCHES * 0.8
    assert pages >= 5


def test_rounding_is_cyphers_half_up_on_the_printed_decimal() -> None:
    import numpy as np

    values = np.array([2.675, 0.125, -2.675, 1.005, 12.344999, 0.0, 33.335])
    assert list(round_half_up(values, 2)) == [2.68, 0.13, -2.68, 1.01, 12.34, 0.0, 33.34]
    assert list(round_half_up(np.array([12.25, 3.35, 0.05]), 1)) == [12.3, 3.4, 0.1]


# --- freshness ---------------------------------------------------------------------------

ACTOR = Actor(user_id="user-test", email="test@example.org")
SEARCH = PartnerSearch(area_id="XK-prizren", needs=["employment"], radius_km=30)


async def _search(graph: Graph, index: SearchIndex | None, search: PartnerSearch) -> SearchResult:
    return await graph.read(
        search_partners,
        search=search,
        first=50,
        after=None,
        now=NOW,
        ageing_after_days=180,
        stale_after_days=365,
        index=index,
    )


async def _same_as_cypher(
    graph: Graph, index: SearchIndex, search: PartnerSearch = SEARCH
) -> SearchResult:
    mine = await _search(graph, index, search)
    assert mine.by_index
    reference = await _search(graph, None, search)
    assert replace(mine, by_index=False) == reference
    return mine


async def _upsert(tx: AsyncManagedTransaction, id: str, data: ServiceInput) -> None:
    await upsert_services(tx, rows=[upsert_row(id, data, {})])


def _ids(result: SearchResult) -> set[str]:
    return {m.service_id for m in result.matches}


def _columns_by_id(index: SearchIndex) -> dict[str, tuple[Any, ...]]:
    """Each service's columns and sites as the index holds them, by id (slots differ between
    an index kept current and one built anew)."""
    c = index._vectors()
    by_latitude: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for lat, lon, slot in zip(c.site_lat, c.site_lon, c.site_slot, strict=True):
        by_latitude[int(slot)].append((float(lat), float(lon)))
    out = {}
    for id, slot in index._slot.items():
        start, end = int(c.slot_sites[slot]), int(c.slot_sites[slot + 1])
        lats, lons = c.slot_site_lat[start:end].tolist(), c.slot_site_lon[start:end].tolist()
        by_slot = zip(lats, lons, strict=True)
        out[id] = (
            tuple(getattr(c, name)[slot].item() for name in SCALARS),
            sorted(by_latitude[slot]),
            sorted(by_slot),
            c.sorted_ids[c.id_rank[slot]],
        )
    return out


def _kept_like_built_anew(kept: SearchIndex, built: SearchIndex) -> None:
    """The columns changed in place equal those made from scratch; the site latitudes stay
    sorted; every mask still held equals its postings."""
    columns = _columns_by_id(kept)
    assert columns == _columns_by_id(built)
    assert all(id == rank_id for id, (*_, rank_id) in columns.items())  # keyset order
    c = kept._vectors()
    assert c.size == kept.size
    assert bool(np.all(np.diff(c.site_lat) >= 0))
    for (kind, key), mask in c.masks.items():
        if kind != "open":
            expected = np.zeros(c.size, dtype=np.bool_)
            expected[list(kept._postings[kind].get(key, ()))] = True
            assert np.array_equal(mask, expected), (kind, key)


async def test_a_write_in_one_process_is_seen_by_the_next_search_in_another(
    graph: Graph,
) -> None:
    ref = await _directory(graph)
    other = SearchIndex(graph)  # another API process, built before the writes
    assert await other.build(graph)
    before = await _same_as_cypher(graph, other)
    assert before.total > 0
    organisation = (await graph.read(get_service, id=before.matches[0].service_id)).organisation_id
    new = ServiceInput(
        organisation_id=organisation,
        name="Placement desk",
        delivery=["in_person"],
        needs=["employment.job-placement"],
        covers=["XK-prizren"],
    )

    # A new service is found; a changed need loses it again.
    await graph.write(_upsert, id="svc-new", data=new)
    assert "svc-new" in _ids(await _same_as_cypher(graph, other))
    await graph.write(_upsert, id="svc-new", data=new.model_copy(update={"needs": ["housing"]}))
    assert "svc-new" not in _ids(await _same_as_cypher(graph, other))

    # Found by a site in Prizren alone; not once the site is deleted.
    at_site = new.model_copy(
        update={"covers": [], "locations": [LocationInput(name="Desk", area="XK-prizren")]}
    )
    await graph.write(_upsert, id="svc-new", data=at_site)
    assert "svc-new" in _ids(await _same_as_cypher(graph, other))
    await graph.write(_upsert, id="svc-new", data=at_site.model_copy(update={"locations": []}))
    assert "svc-new" not in _ids(await _same_as_cypher(graph, other))

    # Verification, capacity and referral statistics move the score.
    await graph.write(_upsert, id="svc-new", data=new)
    unverified = {m.service_id: m.score for m in (await _same_as_cypher(graph, other)).matches}
    await graph.write(verify_service, id="svc-new", at=NOW, actor=ACTOR, allowed_organisations=None)
    verified = {m.service_id: m.score for m in (await _same_as_cypher(graph, other)).matches}
    assert verified["svc-new"] > unverified["svc-new"]
    await graph.write(
        set_service_capacity, id="svc-new", capacity=Capacity.FULL, note=None,
        as_of=DEFAULT_AS_OF, actor=ACTOR, allowed_organisations=None,
    )  # fmt: skip
    full = {m.service_id: m.score for m in (await _same_as_cypher(graph, other)).matches}
    assert full["svc-new"] < verified["svc-new"]
    await graph.write(update_responsiveness, service_ids=[m.service_id for m in before.matches])
    await _same_as_cypher(graph, other)

    # A programme that now names its sending countries restricts the services it funds.
    for programme in ref["programmes"]:
        await graph.write(
            upsert_programmes,
            records=[ProgrammeRecord(id=programme, name=programme, sending_countries=["SE"])],
        )
    await _same_as_cypher(graph, other, SEARCH.model_copy(update={"sending_country": "AT"}))
    assert other.watermark > 0
    # All of it was applied to the columns in place, as a build now would make them.
    anew = SearchIndex(graph)
    assert await anew.build(graph)
    _kept_like_built_anew(other, anew)


async def test_a_count_of_services_that_differs_once_is_waited_out_one_that_lasts_rebuilds(
    graph: Graph,
) -> None:
    """The clock counts the services and reads the stamp in two reads, so a registration
    committed between them makes one clock read count a service the stamp does not cover
    yet: that search takes the ranked query and the index stays. A service written past the
    change feed makes the difference last, and then the index is built again."""
    await _directory(graph)
    index = SearchIndex(graph)
    assert await index.build(graph)
    clock = await graph.read(read_clock)

    async def nothing_to_apply(since: int, until: int) -> None:
        raise AssertionError("no stamps were read")

    raced = replace(clock, services=clock.services + 1)
    assert not await index._caught_up(raced, nothing_to_apply)
    assert await index._caught_up(clock, nothing_to_apply)
    assert index.built
    assert not index.building

    await graph.write(_past_the_change_feed)
    index.rebuild_after_s = 0.0
    assert not (await _search(graph, index, SEARCH)).by_index
    assert not (await _search(graph, index, SEARCH)).by_index  # lasted: built again
    assert index.building
    for _ in range(600):
        if not index.building:
            break
        await asyncio.sleep(0.05)
    assert index.size == clock.services + 1
    await _same_as_cypher(graph, index)


async def _past_the_change_feed(tx: AsyncManagedTransaction) -> None:
    await tx.run("CREATE (:Service {id: 'svc-unstamped', name: 'Written past the feed'})")
