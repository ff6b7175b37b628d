"""The coordination maps: for one need in a country, a choropleth of the municipalities
answering one question, in the reader's language. The web page, the REST export and the
command line all draw through `draw`.

Questions, each with its own colour scale (docs/coordination.md):

- `gap`: demand (referrals) against counted supply (services that can take a referral), as
  five states, with "referrals / services" printed where there is demand.
- `supply`: counted services per municipality, or per 10,000 residents when every municipality
  of the map has a population.
- `overlap`: the largest number of organisations offering the same need locally in the
  municipality (graph/coordination.py's overlaps: two or more is duplicated provision).
- `arrivals`: households of return cases still preparing whose planned arrival falls in the
  period, with small counts hidden by the one disclosure rule (core/disclosure.py).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from core.disclosure import suppress
from core.i18n import Translator, translator
from core.languages import pick
from graph.areas import areas_by_ids
from graph.cases import planned_arrivals
from graph.coordination import GapCell, period, service_gaps, service_overlaps
from graph.driver import Graph
from graph.needs import needs_by_codes
from graph.outlines import Outline, municipality_outlines, outline_versions
from reports.choropleth import Layout, MapClass, MapSpec, layout, png, svg

Question = Literal["gap", "supply", "overlap", "arrivals"]
QUESTIONS: tuple[Question, ...] = ("gap", "supply", "overlap", "arrivals")

# The gap states in legend order, most urgent first; colour-blind-safe (Okabe-Ito).
STATES = ("unmet", "short", "met", "supply_only", "none")
STATE_COLOURS = {
    "unmet": "#D55E00",
    "short": "#E69F00",
    "met": "#009E73",
    "supply_only": "#56B4E9",
    "none": "#EEEEEE",
}

# Sequential scales (ColorBrewer Blues and Purples, Oranges for overlaps): the first colour
# is for zero, the others for the classes of COUNT_CLASSES or RATE_CLASSES in order.
BLUES = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
PURPLES = ("#fcfbfd", "#efedf5", "#dadaeb", "#bcbddc", "#9e9ac8", "#756bb1", "#54278f")
OVERLAP_COLOURS = ("#f7f7f7", "#fdd0a2", "#fd8d3c", "#d94801")
HIDDEN_COLOUR = "#bdbdbd"
# Fixed class bounds, so that two maps of different needs read alike: [low, high].
COUNT_CLASSES = ((1, 1), (2, 2), (3, 4), (5, 9), (10, 19), (20, None))
RATE_CLASSES = ((0.0, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 5.0), (5.0, 10.0), (10.0, None))
# Planned arrivals are counted ahead from today when no period is given.
ARRIVALS_AHEAD = timedelta(days=182)


def gap_state(cell: GapCell) -> str:
    if cell.unmet:
        return "unmet"
    if cell.demand is None:
        # Demand is there but its count is hidden (core.disclosure): not compared with supply.
        return "hidden"
    if cell.demand > cell.supply:
        return "short"
    if cell.demand:
        return "met"
    return "supply_only" if cell.supply else "none"


@dataclass(frozen=True, slots=True)
class MapData:
    """What the maps of one need in one country are drawn from."""

    country_id: str
    country_name: str
    need: str
    need_label: str
    start: datetime
    end: datetime
    today: date
    outlines: Sequence[Outline]
    plan: Layout
    cells: Sequence[GapCell]
    # Per municipality: the most organisations offering the need (or a narrower one) locally.
    overlaps: Mapping[str, int]
    # Per municipality: households planned to arrive; None where the count is hidden.
    arrivals: Mapping[str, int | None]

    def names(self, lang: str) -> dict[str, str]:
        return {o.area_id: pick(o.names, lang) for o in self.outlines}


# The projected outlines per country, with the version they were made from.
_layouts: dict[str, tuple[tuple[Any, ...], list[Outline], Layout]] = {}


async def outlines_and_layout(graph: Graph, country: str) -> tuple[list[Outline], Layout]:
    """The outlines and their layout, read and projected again only when they changed."""
    version = await graph.read(outline_versions, area_id=country)
    kept = _layouts.get(country)
    if kept is not None and kept[0] == version:
        return kept[1], kept[2]
    outlines = await graph.read(municipality_outlines, area_id=country)
    plan = layout(outlines)
    _layouts[country] = (version, outlines, plan)
    return outlines, plan


async def gather(
    graph: Graph,
    *,
    question: Question,
    country: str,
    need: str,
    since: date | None,
    until: date | None,
    now: datetime,
    stale_after_days: int,
    minimum_count: int,
    lang: str,
) -> MapData:
    """Read what the question's map needs; raises NotFound for an unknown country or need
    and ValidationFailed for a period that ends before it starts."""
    country = country.upper()
    if question == "arrivals" and since is None and until is None:
        start, end = now, now + ARRIVALS_AHEAD
    else:
        start, end = period(since, until, now)
    # Checks the country and the need too (NotFound), so it comes first.
    cells = await graph.read(
        service_gaps,
        area_id=country,
        needs=[need],
        since=start,
        until=end,
        stale_after_days=stale_after_days,
        now=now,
        minimum_count=minimum_count,
    )
    outlines, plan = await outlines_and_layout(graph, country)
    overlaps: dict[str, int] = {}
    if question == "overlap":
        for overlap in await graph.read(
            service_overlaps,
            area_id=country,
            need=need,
            target_group=None,
            since=start,
            stale_after_days=stale_after_days,
            now=now,
            minimum_count=minimum_count,
            limit=10_000,
        ):
            overlaps[overlap.area_id] = max(overlaps.get(overlap.area_id, 0), overlap.organisations)
    arrivals: dict[str, int | None] = {}
    if question == "arrivals":
        # Every month's count first (a minimum of 1 hides nothing), then the one disclosure
        # rule over the municipalities' totals, which is what the map publishes.
        months = await graph.read(
            planned_arrivals,
            since=start.date(),
            until=end.date(),
            area_id=country,
            minimum_count=1,
        )
        totals: dict[str, int] = {}
        for month in months:
            totals[month.municipality_id] = totals.get(month.municipality_id, 0) + (
                month.households or 0
            )
        arrivals = suppress(totals, minimum_count)
    needs = await graph.read(needs_by_codes, codes=[need])
    countries = await graph.read(areas_by_ids, ids=[country])
    return MapData(
        country_id=country,
        country_name=countries[country].name(lang) if country in countries else country,
        need=need,
        need_label=needs[need].label(lang) if need in needs else need,
        start=start,
        end=end,
        today=now.date(),
        outlines=outlines,
        plan=plan,
        cells=cells,
        overlaps=overlaps,
        arrivals=arrivals,
    )


def _classes(
    bounds: Sequence[tuple[Any, Any]], colours: Sequence[str], t: Translator, digits: int
) -> list[tuple[MapClass, Any, Any]]:
    def number(value: float) -> str:
        return t.decimal(value, digits)

    classes = []
    for i, (low, high) in enumerate(bounds):
        if high is None:
            label = t("map.or_more", value=number(low))
        elif low == high:
            label = number(low)
        else:
            label = f"{number(low)}–{number(high)}"
        classes.append((MapClass(f"c{i + 1}", label, colours[i + 1]), low, high))
    return classes


def _class_of(value: float, classes: Sequence[tuple[MapClass, Any, Any]], rate: bool) -> str:
    for entry, low, high in classes:
        # Counts are whole numbers in [low, high]; rates fall in [low, high).
        if value >= low and (high is None or (value < high if rate else value <= high)):
            return entry.key
    return "zero"


def spec(data: MapData, question: Question, lang: str, *, minimum_count: int) -> MapSpec:
    """Title, classes and values of the question's map, in the language `lang`."""
    t = translator(lang)
    subtitle_question = t(f"map.q.{question}")
    classes: list[MapClass]
    classes_of: dict[str, str] = {}
    values: dict[str, str] = {}
    notes: list[str] = []
    legend_title = subtitle_question
    drawn = [o.area_id for o in data.outlines]
    if question == "gap":
        classes = [MapClass(s, t(f"map.state.{s}"), STATE_COLOURS[s]) for s in STATES]
        classes.append(MapClass("hidden", t("map.hidden", count=minimum_count), HIDDEN_COLOUR))
        for cell in data.cells:
            classes_of[cell.area_id] = gap_state(cell)
            if cell.demand:
                values[cell.area_id] = f"{cell.demand} / {cell.supply}"
            elif cell.demand is None:
                values[cell.area_id] = f"? / {cell.supply}"
        notes.append(t("map.note.gap"))
    elif question == "supply":
        populations = {o.area_id: o.population for o in data.outlines}
        rate = bool(populations) and all(populations.get(a) for a in drawn)
        supply = {c.area_id: c.supply for c in data.cells}
        if rate:
            subtitle_question = legend_title = t("map.q.supply_rate")
        scale = _classes(RATE_CLASSES if rate else COUNT_CLASSES, BLUES, t, 1 if rate else 0)
        classes = [MapClass("zero", t("map.none"), BLUES[0]), *(c for c, _, _ in scale)]
        for area in drawn:
            value = float(supply.get(area, 0))
            if rate:
                value = value * 10_000 / (populations[area] or 1)
            classes_of[area] = "zero" if value == 0 else _class_of(value, scale, rate)
            if value:
                values[area] = t.decimal(value, 1 if rate else 0)
    elif question == "overlap":
        classes = [
            MapClass("zero", t("map.no_overlap"), OVERLAP_COLOURS[0]),
            MapClass("c2", "2", OVERLAP_COLOURS[1]),
            MapClass("c3", "3", OVERLAP_COLOURS[2]),
            MapClass("c4", t("map.or_more", value="4"), OVERLAP_COLOURS[3]),
        ]
        for area in drawn:
            orgs = data.overlaps.get(area, 0)
            classes_of[area] = "zero" if orgs < 2 else f"c{min(orgs, 4)}"
            if orgs >= 2:
                values[area] = str(orgs)
    else:
        scale = _classes(COUNT_CLASSES, PURPLES, t, 0)
        classes = [
            MapClass("zero", t("map.none"), PURPLES[0]),
            MapClass("hidden", t("map.hidden", count=minimum_count), HIDDEN_COLOUR),
            *(c for c, _, _ in scale),
        ]
        for area in drawn:
            if area in data.arrivals and data.arrivals[area] is None:
                classes_of[area] = "hidden"
                continue
            households = data.arrivals.get(area) or 0
            classes_of[area] = "zero" if not households else _class_of(households, scale, False)
            if households:
                values[area] = str(households)
    end = data.end - timedelta(days=1) if data.end.time() == datetime.min.time() else data.end
    return MapSpec(
        title=t("map.title", need=data.need_label, country=data.country_name),
        subtitle=t(
            "map.subtitle",
            question=subtitle_question,
            start=t.date(data.start),
            end=t.date(end),
            today=t.date(data.today),
        ),
        legend_title=legend_title,
        classes=classes,
        classes_of=classes_of,
        values=values,
        source=t("map.source", today=t.date(data.today)),
        language=lang,
        notes=notes,
    )


def draw(
    data: MapData, question: Question, lang: str, *, image_format: str, minimum_count: int
) -> bytes:
    """The map as SVG or PNG bytes."""
    drawn = spec(data, question, lang, minimum_count=minimum_count)
    names = data.names(lang)
    if image_format == "png":
        return png(data.plan, drawn, names)
    return svg(data.plan, drawn, names)


# Drawn maps by what they show and the data version they were drawn from (`Graph.data_version`):
# a write anywhere makes a new version, so a kept map is never older than the graph. The day is
# part of the key because "today", the staleness of verifications and an open period move
# with it. Bounded: the oldest entries go first.
MAP_CACHE_SIZE = 256
_maps: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()


async def cached_map(
    graph: Graph,
    *,
    question: Question,
    country: str,
    need: str,
    since: date | None,
    until: date | None,
    now: datetime,
    stale_after_days: int,
    minimum_count: int,
    lang: str,
    image_format: str,
) -> bytes:
    """The map as `draw` makes it, drawn again only when the graph, the day or the asking
    changed; raises what `gather` raises."""
    version = await graph.data_version()
    key = (
        country.upper(),
        need,
        question,
        lang,
        since,
        until,
        now.date(),
        stale_after_days,
        minimum_count,
        image_format,
        version,
    )
    kept = _maps.get(key) if version is not None else None
    if kept is not None:
        _maps.move_to_end(key)
        return kept
    data = await gather(
        graph,
        question=question,
        country=country,
        need=need,
        since=since,
        until=until,
        now=now,
        stale_after_days=stale_after_days,
        minimum_count=minimum_count,
        lang=lang,
    )
    image = draw(data, question, lang, image_format=image_format, minimum_count=minimum_count)
    if version is not None:
        _maps[key] = image
        while len(_maps) > MAP_CACHE_SIZE:
            _maps.popitem(last=False)
    return image
