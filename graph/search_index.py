"""The search index: the facts `graph.search.RANKED` filters and scores on, held in the API
process as numpy columns, so that the hard filters and the score of a search cost a few
milliseconds of vector work instead of the interpreted per-row work of the database.

It answers exactly what RANKED answers (the total, the needs answered and the page rows
with the facts their reasons name; tests/graph/test_search_index.py compares the two on
random searches): the same filters, the same sum in the same order of additions, Neo4j's
great-circle distance (haversine on its sphere of 6,378,140 m) and Cypher's rounding (half
up, on the decimal the double prints as). RANKED stays the reference and serves whenever
the index cannot: before its first build, while a rebuild runs, above the size bound.

It is kept current by the change feed of `graph.search_changes`: each search reads the
clock in its own read transaction and first applies the services stamped since the index's
watermark, so a search never ranks on facts older than the last committed write, in any
number of processes. Free text stays in Neo4j's full-text index; its ids arrive as
`text_ids` and are intersected here. The page's facts for the reasons are read by id in the
same transaction (PAGE_FACTS, one batch of at most the page size plus one).

Memory: per service about 60 bytes of columns plus its postings (one int per need, group,
language, programme and covered area) and its sites; see docs/search.md for M. Above
`max_services` (the setting HOMEWARD_SEARCH_INDEX_MAX_SERVICES) no index is built.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from sys import intern
from typing import Any, LiteralString, cast

import numpy as np
from neo4j import AsyncManagedTransaction
from neo4j.time import DateTime

from graph.driver import Graph
from graph.eligibility import RESTRICTED_TO
from graph.organisations import Organisation
from graph.reference import ReferenceCache
from graph.search import (
    NEARBY_BASE,
    NEARBY_RANGE,
    REMOTE,
    WEIGHTS,
    After,
    PartnerSearch,
    Ranked,
    Resolved,
    SearchResult,
    _chain_points,
    bbox,
    search_partners,
)
from graph.search_cache import PageModels
from graph.search_changes import Clock, changed_organisations, read_clock
from graph.services import Service, ServiceStatus

log = logging.getLogger(__name__)

# Neo4j's sphere for WGS-84 distances (org.neo4j.values.storable.CRSCalculator).
EARTH_RADIUS_M = 6378140.0
# Java's Math.toRadians multiplies by this constant.
DEGREES_TO_RADIANS = 0.017453292519943295
# An incremental update larger than this rebuilds in the background instead.
MAX_INCREMENTAL = 5000
# A number of services other than the index's that lasts this long starts a rebuild.
REBUILD_AFTER_S = 2.0

# The facts of a service as the index keeps them.
_FACTS: LiteralString = (
    """
RETURN s.id AS id, s.status AS status, s.capacity AS capacity, s.delivery AS delivery,
       s.need_codes AS needs, s.target_group_codes AS groups, s.languages AS languages,
       s.programme_ids AS programmes, s.covered_area_ids AS areas,
       s.return_types AS return_types,
       [p IN coalesce(s.site_points, []) | [p.y, p.x]] AS sites,
       s.last_verified_at AS verified, s.expected_response_days AS response_days,
       s.referrals_received AS received, s.ack_median_hours AS ack,
       s.acceptance_rate AS acceptance, s.feedback_rate AS feedback,
       """
    + RESTRICTED_TO
    + """ AS restricted_to,
       EXISTS { (s)-[:SAME_AS]->(:Service) } AS merged
"""
)
# A build reads the directory in pages of its own transactions, in order of id.
PAGE: LiteralString = (
    "MATCH (s:Service) WHERE s.id > $after WITH s ORDER BY s.id LIMIT $size" + _FACTS
)
# Keeping current: the services stamped since the watermark, up to the clock read.
CHANGED: LiteralString = (
    "MATCH (s:Service) WHERE s.search_stamp > $since AND s.search_stamp <= $until" + _FACTS
)
BUILD_PAGE = 5000

_STATUS = {ServiceStatus.ACTIVE.value: 1, ServiceStatus.TEMPORARILY_CLOSED.value: 2}
_NO_DATE = np.iinfo(np.int64).min
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _epoch_ns(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1) * 1000


def _verified_ns(value: Any) -> int:
    """A DateTime with a zone as nanoseconds; anything else compares with nothing in Cypher
    (so earns no freshness points), like a missing date."""
    if isinstance(value, DateTime) and value.tzinfo is not None:
        return _epoch_ns(value.to_native()) + value.nanosecond % 1000
    return int(_NO_DATE)


def _response_points(days: Any, measured: bool, ack: Any) -> float:
    w = WEIGHTS
    if measured and ack is not None:
        if ack <= w["fast_hours"]:
            return float(w["response_fast"])
        return float(w["response_week"]) if ack <= w["week_hours"] else 0.0
    if days is None:
        return 0.0
    if days <= w["fast_days"]:
        return float(w["response_fast"])
    return float(w["response_week"]) if days <= w["week_days"] else 0.0


def round_half_up(values: np.ndarray, digits: int) -> np.ndarray:
    """Cypher's `round(x, digits)`: half up (away from zero) on the decimal that the double
    prints as. Vectorised; the few values within a hair of a half go through Decimal."""
    scale = 10.0**digits
    scaled = values * scale
    magnitude = np.abs(scaled)
    out = np.floor(magnitude + 0.5) * np.sign(scaled) / scale
    near_half = np.abs(magnitude - np.floor(magnitude) - 0.5) < 1e-6
    if near_half.any():
        quantum = Decimal(1).scaleb(-digits)
        for i in np.flatnonzero(near_half):
            exact = Decimal(repr(float(values[i]))).quantize(quantum, rounding=ROUND_HALF_UP)
            out[i] = float(exact)
    return out


def haversine_m(lat: np.ndarray, lon: np.ndarray, to_lat: float, to_lon: float) -> np.ndarray:
    """`point.distance(site, destination)` as Neo4j computes it, operation for operation."""
    lat1, lon1 = lat * DEGREES_TO_RADIANS, lon * DEGREES_TO_RADIANS
    lat2, lon2 = to_lat * DEGREES_TO_RADIANS, to_lon * DEGREES_TO_RADIANS
    half_dlat = np.sin((lat2 - lat1) / 2.0)
    half_dlon = np.sin((lon2 - lon1) / 2.0)
    a = half_dlat * half_dlat + np.cos(lat1) * np.cos(lat2) * (half_dlon * half_dlon)
    distance: np.ndarray = EARTH_RADIUS_M * (2.0 * np.arctan2(np.sqrt(a), np.sqrt(1.0 - a)))
    return distance


@dataclass(slots=True)
class _Service:
    """One service's facts as the index keeps them (lists for the postings and sites)."""

    status: int
    full: bool
    capacity_points: float
    closed_points: float
    physical: bool
    remote: bool
    merged: bool
    verified_ns: int
    response_points: float
    measured_points: float
    unrestricted: bool
    open_everywhere_rt: bool
    # (kind, its keys) for the kinds it has any of; the keys are interned strings, as each
    # need code or area id recurs across thousands of services (the index of M held 211 MB
    # of Python objects with a dict, lists and its own copy of every string per service).
    keys: tuple[tuple[str, tuple[str, ...]], ...]
    sites: tuple[tuple[float, float], ...]


def _service(record: Any) -> _Service:
    w = WEIGHTS
    delivery = record["delivery"] or []
    received = record["received"] or 0
    measured = received >= w["min_referrals"]
    measured_points = (
        w["acceptance"] * (record["acceptance"] or 0.0)
        + w["feedback"] * (record["feedback"] or 0.0)
        if measured
        else 0.0
    )
    return _Service(
        status=_STATUS.get(record["status"], 0),
        full=(record["capacity"] or "unknown") == "full",
        capacity_points=float(w["capacity"].get(record["capacity"], 0.0)),
        closed_points=(
            w["temporarily_closed"]
            if record["status"] == ServiceStatus.TEMPORARILY_CLOSED.value
            else 0.0
        ),
        physical=any(d != "remote" for d in delivery),
        remote="remote" in delivery,
        merged=bool(record["merged"]),
        verified_ns=_verified_ns(record["verified"]),
        response_points=_response_points(record["response_days"], measured, record["ack"]),
        measured_points=float(measured_points),
        unrestricted=not record["restricted_to"],
        open_everywhere_rt=not record["return_types"],
        keys=tuple(
            (kind, tuple(intern(key) for key in record[field]))
            for kind, field in _KEYS
            if record[field]
        ),
        sites=tuple((float(lat), float(lon)) for lat, lon in record["sites"]),
    )


# The kinds of keys a service has postings for, and the fields of _FACTS they come from.
_KEYS = (
    ("need", "needs"),
    ("group", "groups"),
    ("language", "languages"),
    ("programme", "programmes"),
    ("area", "areas"),
    ("country", "restricted_to"),
    ("return_type", "return_types"),
)


async def _page(
    tx: AsyncManagedTransaction, *, after: str, size: int
) -> list[tuple[str, _Service]]:
    return [(r["id"], _service(r)) async for r in await tx.run(PAGE, after=after, size=size)]


# The per-service columns: the `_Service` field each holds, and its type.
SCALARS: dict[str, Any] = {
    "status": np.int8,
    "full": np.bool_,
    "capacity_points": np.float64,
    "closed_points": np.float64,
    "physical": np.bool_,
    "remote": np.bool_,
    "merged": np.bool_,
    "verified_ns": np.int64,
    "response_points": np.float64,
    "measured_points": np.float64,
    "unrestricted": np.bool_,
    "open_everywhere_rt": np.bool_,
}


@dataclass(slots=True)
class _Columns:
    """The vector form of the services, made from `_Service`s after every change; slot i
    is the i-th service id in order of arrival."""

    status: np.ndarray
    full: np.ndarray
    capacity_points: np.ndarray
    closed_points: np.ndarray
    physical: np.ndarray
    remote: np.ndarray
    merged: np.ndarray
    verified_ns: np.ndarray
    response_points: np.ndarray
    measured_points: np.ndarray
    unrestricted: np.ndarray
    open_everywhere_rt: np.ndarray
    size: int
    id_rank: np.ndarray  # position of each slot's id in sorted order
    sorted_ids: list[str]
    # Sites sorted by latitude, each with its service's slot.
    site_lat: np.ndarray
    site_lon: np.ndarray
    site_slot: np.ndarray
    # Sites in slot order: those of slot i are [slot_sites[i], slot_sites[i + 1]).
    slot_sites: np.ndarray
    slot_site_lat: np.ndarray
    slot_site_lon: np.ndarray
    masks: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    def put(self, slot: int, id: str, service: _Service, touched: set[tuple[str, str]]) -> None:
        """The columns of one changed service (or a new one at slot `size`), in place; the
        masks of the keys it gained or lost are made again when next asked for."""
        if slot == self.size:
            for name in SCALARS:
                setattr(self, name, np.append(getattr(self, name), getattr(service, name)))
            position = bisect.bisect_left(self.sorted_ids, id)
            self.sorted_ids.insert(position, id)
            self.id_rank[self.id_rank >= position] += 1
            self.id_rank = np.append(self.id_rank, position)
            self.slot_sites = np.append(self.slot_sites, self.slot_sites[-1])
            self.size += 1
            self.masks.clear()  # every mask is a slot short
        else:
            for name in SCALARS:
                getattr(self, name)[slot] = getattr(service, name)
            for key in touched:
                self.masks.pop(key, None)
            self.masks.pop(("open", "active"), None)
            self.masks.pop(("open", "closed too"), None)
        self._place(slot, service.sites)

    def _place(self, slot: int, sites: tuple[tuple[float, float], ...]) -> None:
        """The sites of one service, in both orders (by latitude, by slot)."""
        start, end = int(self.slot_sites[slot]), int(self.slot_sites[slot + 1])
        held = list(zip(self.slot_site_lat[start:end], self.slot_site_lon[start:end], strict=True))
        if held == list(sites):
            return
        lat = np.array([p[0] for p in sites], dtype=np.float64)
        lon = np.array([p[1] for p in sites], dtype=np.float64)
        others = self.site_slot != slot
        by_lat = np.argsort(lat, kind="stable")
        at = np.searchsorted(self.site_lat[others], lat[by_lat], side="right")
        self.site_lat = np.insert(self.site_lat[others], at, lat[by_lat])
        self.site_lon = np.insert(self.site_lon[others], at, lon[by_lat])
        self.site_slot = np.insert(self.site_slot[others], at, slot)
        self.slot_site_lat = np.concatenate(
            [self.slot_site_lat[:start], lat, self.slot_site_lat[end:]]
        )
        self.slot_site_lon = np.concatenate(
            [self.slot_site_lon[:start], lon, self.slot_site_lon[end:]]
        )
        self.slot_sites[slot + 1 :] += len(sites) - (end - start)

    def nearest_m(self, slots: np.ndarray, lat: float, lon: float) -> np.ndarray:
        """Distance from (lat, lon) to the nearest site of each of `slots` (all its sites, as
        RANKED; inf without a site), computing only the candidates' sites rather than every
        site of the directory."""
        starts = self.slot_sites[slots]
        counts = self.slot_sites[slots + 1] - starts
        nearest = np.full(slots.size, np.inf)
        placed = counts > 0
        if not placed.any():
            return nearest
        ends = np.cumsum(counts)
        # The position of every site of the candidates, candidate by candidate.
        positions = np.arange(int(ends[-1])) + np.repeat(starts - (ends - counts), counts)
        distance = haversine_m(
            self.slot_site_lat[positions], self.slot_site_lon[positions], lat, lon
        )
        nearest[placed] = np.minimum.reduceat(distance, (ends - counts)[placed])
        return nearest

    def open(self, *, closed_too: bool) -> np.ndarray:
        """Active services (and temporarily closed ones with `closed_too`) not merged into
        another: the same for every search until the next change, so made once (comparing
        100,000 statuses anew cost a search almost a millisecond)."""
        key = ("open", "closed too" if closed_too else "active")
        mask = self.masks.get(key)
        if mask is None:
            mask = (self.status == 1) | (self.status == 2) if closed_too else self.status == 1
            mask = mask & ~self.merged
            self.masks[key] = mask
        return mask


class SearchIndex:
    """One per API process (like the driver). `ranked` follows `graph.search.RankedSource`."""

    def __init__(
        self,
        graph: Graph | None = None,
        *,
        max_services: int = 1_000_000,
        max_page_models: int = 0,
    ) -> None:
        self._graph = graph
        self.max_services = max_services
        # The models of result pages (graph/search_cache.py), evicted as the index applies
        # changes; 0 keeps none.
        self.models = PageModels(max_page_models)
        self._ids: list[str] = []
        self._slot: dict[str, int] = {}
        self._services: list[_Service] = []
        self._postings: dict[str, defaultdict[str, set[int]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self._columns: _Columns | None = None
        self.epoch: str | None = None
        self.watermark = -1
        self.built = False
        self._lock = asyncio.Lock()
        self._building: asyncio.Task[None] | None = None
        # The shared clock read (`_clock_after_now`): the read not yet sent, which searches
        # that begin now wait for, and one read in flight at a time.
        self._clock_waiting: asyncio.Future[Clock] | None = None
        self._clock_sending = asyncio.Lock()
        self._clock_reads: set[asyncio.Task[None]] = set()
        # Since when the clock has counted another number of services than the index holds
        # (`_caught_up`), and how long that may last before the index is built again.
        self._differs_since: float | None = None
        self.rebuild_after_s = REBUILD_AFTER_S

    @property
    def size(self) -> int:
        return len(self._ids)

    @property
    def building(self) -> bool:
        return self._building is not None and not self._building.done()

    # --- keeping current --------------------------------------------------------------

    async def build(self, graph: Graph) -> bool:
        """Read every service's facts, a page per transaction, into a new index that then
        replaces this one; False (and nothing held) above the bound. Writes during the build
        are stamped above the clock read first, so the next search applies them."""
        clock = await graph.read(read_clock)
        if clock.epoch is None or clock.services > self.max_services:
            self._reset()
            return False
        fresh = SearchIndex(max_services=self.max_services)
        after = ""
        while page := await graph.read(_page, after=after, size=BUILD_PAGE):
            for id, service in page:
                fresh._put(id, service)
            after = page[-1][0]
        self._ids, self._slot = fresh._ids, fresh._slot
        self._services, self._postings = fresh._services, fresh._postings
        self._columns = None
        self.models.clear()
        self.epoch, self.watermark, self.built = clock.epoch, clock.stamp, True
        return True

    def _reset(self) -> None:
        self._ids, self._slot, self._services = [], {}, []
        self._postings.clear()
        self._columns = None
        self.models.clear()
        self.epoch, self.watermark, self.built = None, -1, False

    async def _apply(self, tx: AsyncManagedTransaction, *, since: int, until: int) -> None:
        # Read everything first, then change the index without awaiting in between: a search
        # of another request never sees it half changed.
        result = await tx.run(CHANGED, since=since, until=until)
        changed = [(r["id"], _service(r)) async for r in result]
        organisations = await changed_organisations(tx, since=since, until=until)
        for id, service in changed:
            self._put(id, service)
        self.models.evict(services=[id for id, _ in changed], organisations=organisations)

    def _put(self, id: str, service: _Service) -> None:
        slot = self._slot.get(id)
        touched: set[tuple[str, str]] = set()
        if slot is None:
            slot = len(self._ids)
            self._slot[id] = slot
            self._ids.append(id)
            self._services.append(service)
        else:
            for kind, keys in self._services[slot].keys:
                for key in keys:
                    self._postings[kind][key].discard(slot)
                    touched.add((kind, key))
            self._services[slot] = service
        for kind, keys in service.keys:
            for key in keys:
                self._postings[kind][key].add(slot)
                touched.add((kind, key))
        if self._columns is not None:
            # In place: making the columns anew for 100,000 services took about half a
            # second, which every write would have cost the next search.
            self._columns.put(slot, id, service, touched)

    async def _current(self, tx: AsyncManagedTransaction) -> bool:
        """Bring the index up to the clock this transaction sees; False if it cannot serve
        this search (not built, another epoch, too large, too far behind)."""
        clock = await read_clock(tx)

        async def apply(since: int, until: int) -> None:
            await self._apply(tx, since=since, until=until)

        return await self._caught_up(clock, apply)

    async def _caught_up(self, clock: Clock, apply: Callable[[int, int], Awaitable[None]]) -> bool:
        if clock.services > self.max_services:
            if self.built:
                self._reset()
            return False
        if not self.built or clock.epoch != self.epoch:
            self._build_later(clock)
            return False
        if clock.stamp > self.watermark:
            async with self._lock:
                if not self.built or clock.epoch != self.epoch:
                    return False
                if clock.stamp > self.watermark:
                    if clock.stamp - self.watermark > MAX_INCREMENTAL:
                        self._build_later(clock)
                        return False
                    await apply(self.watermark, clock.stamp)
                    self.watermark = clock.stamp
        if self.size != clock.services:
            # Either a write bypassed the change feed (or a service was deleted), which only
            # a rebuild mends, or a registration committed between the clock read's count
            # of services and its read of the stamp (two reads, each of the latest commit),
            # which the next clock read sees whole. So this search takes the ranked query,
            # and only a difference that lasts starts a rebuild: under the load test's
            # writes at 32 clients, rebuilding at once took the index away again and again.
            now = time.monotonic()
            if self._differs_since is None:
                self._differs_since = now
            elif now - self._differs_since >= self.rebuild_after_s:
                self._differs_since = None
                self.built = False
                self._build_later(clock)
            return False
        self._differs_since = None
        return True

    # --- the shared clock read (`search_page`) ----------------------------------------

    async def _clock_after_now(self, graph: Graph) -> Clock:
        """A clock read sent after this call began: so the search sees every write committed
        before it. Searches that begin while another read is in flight wait for the next
        one together, which is sent once that read is back."""
        waiting = self._clock_waiting
        if waiting is None:
            waiting = asyncio.get_running_loop().create_future()
            self._clock_waiting = waiting
            task = asyncio.create_task(self._send_clock_read(graph, waiting))
            self._clock_reads.add(task)
            task.add_done_callback(self._clock_reads.discard)
        return await asyncio.shield(waiting)

    async def _send_clock_read(self, graph: Graph, waiting: asyncio.Future[Clock]) -> None:
        async with self._clock_sending:
            # Sent now: whoever begins from here on waits for the next read.
            if self._clock_waiting is waiting:
                self._clock_waiting = None
            try:
                clock = await graph.read_autocommit(read_clock)
            except asyncio.CancelledError:  # shutting down
                waiting.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 - raised in every search that waited
                waiting.set_exception(exc)
            else:
                waiting.set_result(clock)

    def warm(self) -> None:
        """Start building now (at start-up) rather than at the first search."""
        if self._graph is not None and (self._building is None or self._building.done()):
            self._building = asyncio.create_task(self._build_in_background())

    async def stop(self) -> None:
        """End a build still running, before the driver it reads through closes: left
        running, it would go on over closed connections and leave their sockets open."""
        building, self._building = self._building, None
        if building is not None and not building.done():
            building.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await building
        for read in list(self._clock_reads):
            read.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await read

    def _build_later(self, clock: Clock) -> None:
        if self._graph is None or clock.epoch is None or clock.services > self.max_services:
            return
        if self._building is None or self._building.done():
            self._building = asyncio.create_task(self._build_in_background())

    async def _build_in_background(self) -> None:
        assert self._graph is not None
        try:
            async with self._lock:
                await self.build(self._graph)
            log.info("search index built: %d services", self.size)
        except Exception:  # the Cypher query keeps serving; the next search tries again
            log.exception("search index not built")

    async def page_models(
        self, tx: AsyncManagedTransaction, *, ids: list[str]
    ) -> tuple[dict[str, Service], dict[str, Organisation]]:
        """The page's services and their organisations, after `ranked` answered in the same
        transaction (so the cache is current for it)."""
        return await self.models.page(tx, ids=ids)

    # --- vectors ----------------------------------------------------------------------

    def _vectors(self) -> _Columns:
        if self._columns is not None:
            return self._columns
        services = self._services

        def column(name: str, dtype: Any) -> np.ndarray:
            return np.fromiter(
                (getattr(s, name) for s in services), dtype=dtype, count=len(services)
            )

        order = sorted(range(len(self._ids)), key=self._ids.__getitem__)
        id_rank = np.empty(len(order), dtype=np.int64)
        id_rank[order] = np.arange(len(order))
        counts = np.fromiter((len(s.sites) for s in services), dtype=np.int64, count=len(services))
        slot_sites = np.zeros(len(services) + 1, dtype=np.int64)
        np.cumsum(counts, out=slot_sites[1:])
        sites = [(lat, lon, slot) for slot, s in enumerate(services) for lat, lon in s.sites]
        sites.sort()
        scalars: dict[str, Any] = {name: column(name, dtype) for name, dtype in SCALARS.items()}
        self._columns = _Columns(
            **scalars,
            size=len(services),
            id_rank=id_rank,
            sorted_ids=[self._ids[i] for i in order],
            site_lat=np.array([s[0] for s in sites], dtype=np.float64),
            site_lon=np.array([s[1] for s in sites], dtype=np.float64),
            site_slot=np.array([s[2] for s in sites], dtype=np.int64),
            slot_sites=slot_sites,
            slot_site_lat=np.array([lat for s in services for lat, _ in s.sites], dtype=np.float64),
            slot_site_lon=np.array([lon for s in services for _, lon in s.sites], dtype=np.float64),
        )
        return self._columns

    def _mask(self, columns: _Columns, kind: str, keys: Iterable[str]) -> np.ndarray:
        """Services holding any of `keys` of one kind (need codes, areas, ...)."""
        out = np.zeros(columns.size, dtype=np.bool_)
        for key in keys:
            mask = columns.masks.get((kind, key))
            if mask is None:
                mask = np.zeros(columns.size, dtype=np.bool_)
                slots = self._postings[kind].get(key)
                if slots:
                    mask[np.fromiter(slots, dtype=np.int64, count=len(slots))] = True
                columns.masks[(kind, key)] = mask
            out |= mask
        return out

    # --- the search -------------------------------------------------------------------

    async def ranked(
        self,
        tx: AsyncManagedTransaction,
        *,
        asked: Resolved,
        text_ids: list[str] | None,
        after: After | None,
        limit: int,
    ) -> Ranked | None:
        if not await self._current(tx):
            return None
        return await self.ranked_now(tx, asked=asked, text_ids=text_ids, after=after, limit=limit)

    async def ranked_now(
        self,
        tx: AsyncManagedTransaction,
        *,
        asked: Resolved,
        text_ids: list[str] | None,
        after: After | None,
        limit: int,
    ) -> Ranked:
        """`ranked` once the index is known to be current."""
        total, answered, page = self.rank(asked=asked, text_ids=text_ids, after=after, limit=limit)
        facts: dict[str, dict[str, Any]] = {}
        if page:
            facts = await self.models.page_facts(tx, ids=[row["id"] for row in page])
        rows = [
            {k: row[k] for k in ("score", "km", "fits", "covered")} | {"service": facts[row["id"]]}
            for row in page
            if row["id"] in facts
        ]
        return Ranked(total=total, answered=answered, rows=rows)

    def rank(
        self, *, asked: Resolved, text_ids: list[str] | None, after: After | None, limit: int
    ) -> tuple[int, set[str], list[dict[str, Any]]]:
        """RANKED's filters, score, order and page over the columns: the total, the needs
        answered and the page rows (ids, not yet their facts)."""
        c = self._vectors()
        search, destination = asked.search, asked.destination
        chain = [a.id for a in destination.chain]
        chain_points = np.array(_chain_points(destination), dtype=np.float64)
        radius_m = search.radius_km * 1000
        lat0, lon0 = destination.point.lat, destination.point.lon

        # The hard filters first: what they leave is usually a small share of the directory,
        # so that distances are computed only for its sites (all sites in the bounding box
        # cost a search on M about half a millisecond of haversine).
        need_codes = {code for codes in asked.expanded.values() for code in codes}
        keep = c.open(closed_too=search.include_temporarily_closed)
        keep = keep & self._mask(c, "need", need_codes)
        if not search.include_full:
            keep &= ~c.full
        if search.sending_country is not None:
            # `graph.eligibility.open_to` over the rule's restriction (RESTRICTED_TO, read
            # with the facts): open to everyone, or to this country among others.
            keep &= c.unrestricted | self._mask(c, "country", [search.sending_country])
        if search.return_type is not None:
            keep &= c.open_everywhere_rt | self._mask(c, "return_type", [search.return_type.value])
        if text_ids is not None:
            text = np.zeros(c.size, dtype=np.bool_)
            slots = [s for id in text_ids if (s := self._slot.get(id)) is not None and s < c.size]
            text[slots] = True
            keep &= text

        # Geography: covering an area of the chain, or a site within the radius (after the
        # same bounding box the point index answers for RANKED).
        covers = [self._mask(c, "area", [area]) for area in chain]
        geo = np.zeros(c.size, dtype=np.bool_)
        for mask in covers:
            geo |= mask
        south_west, north_east = bbox(destination.point, search.radius_km)
        lo = np.searchsorted(c.site_lat, south_west.y, side="left")
        hi = np.searchsorted(c.site_lat, north_east.y, side="right")
        band_lon, band_slots = c.site_lon[lo:hi], c.site_slot[lo:hi]
        asked_for = (band_lon >= south_west.x) & (band_lon <= north_east.x) & keep[band_slots]
        box_slots = band_slots[asked_for]
        near = haversine_m(c.site_lat[lo:hi][asked_for], band_lon[asked_for], lat0, lon0)
        geo[box_slots[near <= radius_m]] = True
        keep &= geo

        idx = np.flatnonzero(keep)
        dist = c.nearest_m(idx, lat0, lon0)
        physical = c.physical[idx]
        covered = (
            np.stack([mask[idx] for mask in covers])
            if covers
            else np.zeros((1, idx.size), dtype=np.bool_)
        )
        any_covered = covered.any(axis=0)
        first_covered = np.argmax(covered, axis=0)
        cover_points = (
            np.where(physical & any_covered, chain_points[first_covered], 0.0)
            if covers
            else np.zeros(idx.size)
        )
        remote_points = np.where(
            c.remote[idx] & search.include_remote & any_covered, float(REMOTE), 0.0
        )
        within = physical & (dist <= radius_m)
        reached = (cover_points > 0) | within | (remote_points > 0)
        idx, dist, covered = idx[reached], dist[reached], covered[:, reached]
        cover_points, remote_points, within = (
            cover_points[reached],
            remote_points[reached],
            within[reached],
        )

        # The score, added in RANKED's order so that the doubles agree.
        fits = np.stack([self._mask(c, "need", codes)[idx] for codes in asked.expanded.values()])
        exact = np.zeros(idx.size, dtype=np.bool_)
        for code in asked.expanded:
            exact |= self._mask(c, "need", [code])[idx]
        w = WEIGHTS
        score = np.where(exact, w["need_exact"], w["need_narrower"])
        further = w["need_further"] * (fits.sum(axis=0) - 1).astype(np.float64)
        score = score + np.where(further > w["need_further_cap"], w["need_further_cap"], further)
        with np.errstate(invalid="ignore"):
            nearby = np.where(within, NEARBY_BASE + NEARBY_RANGE * (1 - dist / radius_m), 0.0)
        geo_points = np.where(nearby > cover_points, nearby, cover_points)
        geo_points = np.where(remote_points > geo_points, remote_points, geo_points)
        score = score + geo_points
        groups = (
            self._mask(c, "group", search.target_groups)[idx]
            if search.target_groups
            else np.zeros(idx.size, dtype=np.bool_)
        )
        score = score + np.where(groups, w["group"], 0.0)
        spoken = np.zeros(idx.size, dtype=np.int64)
        for language in search.languages:
            spoken += self._mask(c, "language", [language])[idx]
        score = score + np.where(
            spoken == 0,
            0.0,
            np.where(spoken == len(search.languages), w["language_all"], w["language_any"]),
        )
        verified = c.verified_ns[idx]
        fresh_since = _epoch_ns(asked.now - timedelta(days=asked.ageing_after_days))
        stale_since = _epoch_ns(asked.now - timedelta(days=asked.stale_after_days))
        score = score + np.where(
            verified >= fresh_since,
            w["fresh"],
            np.where(verified >= stale_since, w["ageing"], 0.0),
        )
        score = score + c.capacity_points[idx]
        score = score + c.closed_points[idx]
        score = score + c.response_points[idx]
        score = score + c.measured_points[idx]
        if search.programme is not None:
            in_programme = self._mask(c, "programme", [search.programme])[idx]
            score = score + np.where(in_programme, w["programme"], 0.0)
        else:
            score = score + 0.0
        score = round_half_up(score, 2)
        has_site = np.isfinite(dist)
        km = np.where(has_site, round_half_up(np.where(has_site, dist, 0.0) / 1000.0, 1), np.inf)

        total = int(idx.size)
        requested = list(asked.expanded)
        answered = {requested[i] for i in np.flatnonzero(fits.any(axis=1))} if total else set()

        # The page: keyset after the cursor, then score desc, km asc (none last), id asc.
        rank = c.id_rank[idx]
        if after is not None:
            after_km = np.inf if after.km is None else after.km
            past_id = rank >= bisect.bisect_right(c.sorted_ids, after.id)
            later = (score < after.score) | (
                (score == after.score)
                & (
                    (~has_site & (after.km is not None))
                    | (has_site & (after.km is not None) & (km > after_km))
                    | (((km == after_km) | (~has_site & (after.km is None))) & past_id)
                )
            )
            if after.km is None:
                # `km = null` is unknown in Cypher, so only both-none ties go on by id.
                later = (score < after.score) | ((score == after.score) & ~has_site & past_id)
            sel = np.flatnonzero(later)
        else:
            sel = np.arange(idx.size)
        if sel.size > 4 * limit:
            # Only rows scoring at least the limit-th best can be on the page (score comes
            # first in the order), so only those are sorted, ties with it included.
            least = -np.partition(-score[sel], limit - 1)[limit - 1]
            sel = sel[score[sel] >= least]
        order = sel[np.lexsort((rank[sel], km[sel], -score[sel]))][:limit]
        page = []
        for i in order:
            page.append(
                {
                    "id": self._ids[idx[i]],
                    "score": float(score[i]),
                    "km": float(km[i]) if has_site[i] else None,
                    "fits": [requested[j] for j in np.flatnonzero(fits[:, i])],
                    "covered": [int(p) for p in np.flatnonzero(covered[:, i])] if chain else [],
                }
            )
        return total, answered, page


async def search_page(
    graph: Graph,
    index: SearchIndex | None,
    *,
    search: PartnerSearch,
    first: int,
    after: str | None,
    now: datetime,
    ageing_after_days: int,
    stale_after_days: int,
    cache: ReferenceCache | None,
) -> SearchResult:
    """`graph.search.search_partners` with the page's services, as the API asks it. When
    the index is current and everything the search names is held (the destination and
    needs in `cache`, the page's facts and models in the index), the one query it sends is
    the clock read, shared with the searches that began while it waited; otherwise (and
    without an index) the whole search runs in a read transaction. A transaction of its own
    for one query cost a search more than half a millisecond of the API's CPU, and at 8
    concurrent searches one clock read now serves several."""
    asked: dict[str, Any] = {
        "search": search,
        "first": first,
        "after": after,
        "now": now,
        "ageing_after_days": ageing_after_days,
        "stale_after_days": stale_after_days,
        "cache": cache,
        "with_services": True,
    }
    if index is not None and index.built and not search.text:
        clock = await index._clock_after_now(graph)

        async def apply(since: int, until: int) -> None:
            await graph.read(index._apply, since=since, until=until)

        if await index._caught_up(clock, apply):
            try:
                # No await in here suspends (every read is answered from memory), so no
                # other search changes the index between the clock and the page.
                return await search_partners(WITHOUT_TRANSACTION, index=_Current(index), **asked)
            except NeedsTransaction:
                pass
    return await graph.read(search_partners, index=index, **asked)


class NeedsTransaction(Exception):
    """The search without a transaction would have to read from the database."""


class _WithoutTransaction:
    """Stands for the transaction where none is open: any query ends the attempt, and the
    search runs again in a read transaction."""

    async def run(self, *_: Any, **__: Any) -> Any:
        raise NeedsTransaction


WITHOUT_TRANSACTION = cast("AsyncManagedTransaction", _WithoutTransaction())


class _Current:
    """The index as the ranked source of one search that already brought it up to the
    clock (`SearchIndex.search`)."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index

    async def ranked(
        self,
        tx: AsyncManagedTransaction,
        *,
        asked: Resolved,
        text_ids: list[str] | None,
        after: After | None,
        limit: int,
    ) -> Ranked:
        return await self.index.ranked_now(
            tx, asked=asked, text_ids=text_ids, after=after, limit=limit
        )

    async def page_models(
        self, tx: AsyncManagedTransaction, *, ids: list[str]
    ) -> tuple[dict[str, Service], dict[str, Organisation]]:
        return await self.index.page_models(tx, ids=ids)
