"""REST exports for the humanitarian ecosystem: the 3W table with HXL hashtags and the
municipality outlines (public where the directory is), the gap matrix as GeoJSON and the
coordination maps (coordinators and admins only: they count referrals)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from api.deps import GraphDep, SettingsDep, authorize_with_session
from core.errors import NotFound, ValidationFailed
from core.i18n import translator
from core.languages import pick
from graph.areas import areas_by_ids
from graph.coordination import GapCell, period, service_gaps, service_overlaps, three_w
from importers.three_w import three_w_csv
from reports.maps import Question, cached_map, gap_state, outlines_and_layout

router = APIRouter(
    prefix="/exports", tags=["exports"], dependencies=[Depends(authorize_with_session)]
)


@router.get("/3w.csv", response_class=Response)
async def export_3w(
    graph: GraphDep,
    country: Annotated[str, Query(description="ISO 3166-1 alpha-2; XK is Kosovo.")] = "XK",
    lang: str = "en",
    bom: Annotated[
        bool, Query(description="Start with a UTF-8 byte-order mark, for Excel.")
    ] = True,
) -> Response:
    """Who does what where: one row per service, need and area it covers, with a second
    header row of HXL hashtags. Public where the directory is (the same rule as /hsds/)."""
    try:
        rows = await graph.read(three_w, country=country.upper())
    except NotFound as exc:
        raise HTTPException(404, exc.message) from exc
    found = await graph.read(areas_by_ids, ids=[country.upper()])
    name = found[country.upper()].name(lang) if country.upper() in found else country
    body = three_w_csv(rows, country_name=name, country=country.upper(), lang=lang, bom=bom)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="3w-{country.upper()}.csv"'},
    )


async def _gaps(
    graph: GraphDep,
    settings: SettingsDep,
    request: Request,
    *,
    country: str,
    needs: list[str],
    since: date | None,
    until: date | None,
) -> list[GapCell]:
    now: datetime = request.app.state.clock()
    try:
        start, end = period(since, until, now)
    except ValidationFailed as exc:
        raise HTTPException(422, exc.message) from exc
    try:
        return await graph.read(
            service_gaps,
            area_id=country.upper(),
            needs=needs,
            since=start,
            until=end,
            stale_after_days=settings.verification_stale_days,
            now=now,
            minimum_count=settings.statistics_minimum_count,
        )
    except NotFound as exc:
        raise HTTPException(404, exc.message) from exc


@router.get("/outlines.geojson")
async def export_outlines(graph: GraphDep, country: str = "XK", lang: str = "en") -> JSONResponse:
    """The municipality polygons of a country, with their names in `lang`: the base map of
    the pages' interactive maps, which use no online tiles. Public where the directory is:
    the boundaries are public geodata."""
    outlines, _ = await outlines_and_layout(graph, country.upper())
    if not outlines and not await graph.read(areas_by_ids, ids=[country.upper()]):
        raise HTTPException(404, f"no area {country.upper()!r}")
    features = [
        {
            "type": "Feature",
            "id": o.area_id,
            "geometry": o.boundary,
            "properties": {"area_id": o.area_id, "code": o.code, "name": pick(o.names, lang)},
        }
        for o in outlines
        if o.boundary is not None
    ]
    return JSONResponse(
        {"type": "FeatureCollection", "features": features},
        media_type="application/geo+json",
    )


NeedsQuery = Annotated[list[str], Query(description="Need codes; narrower needs count.")]


@router.get("/gaps.geojson")
async def export_gaps_geojson(
    request: Request,
    graph: GraphDep,
    settings: SettingsDep,
    need: NeedsQuery,
    country: str = "XK",
    since: date | None = None,
    until: date | None = None,
    lang: str = "en",
) -> JSONResponse:
    """Gaps and overlaps as municipality polygons: one feature per municipality, its id the
    area id, with flat properties per need (`<need>:demand`, `<need>:state`, ...) so that
    QGIS and ogr read each as a column (docs/coordination.md)."""
    cells = await _gaps(
        graph, settings, request, country=country, needs=need, since=since, until=until
    )
    outlines, _ = await outlines_and_layout(graph, country.upper())
    now: datetime = request.app.state.clock()
    start, _ = period(since, until, now)
    overlaps: dict[tuple[str, str], int] = {}
    for code in dict.fromkeys(need):
        for overlap in await graph.read(
            service_overlaps,
            area_id=country.upper(),
            need=code,
            target_group=None,
            since=start,
            stale_after_days=settings.verification_stale_days,
            now=now,
            minimum_count=settings.statistics_minimum_count,
            limit=10_000,
        ):
            key = (overlap.area_id, code)
            overlaps[key] = max(overlaps.get(key, 0), overlap.organisations)
    t = translator(lang)
    by_area: dict[str, dict[str, Any]] = {}
    for c in cells:
        state = gap_state(c)
        nearest = c.nearest_partner
        by_area.setdefault(c.area_id, {}).update(
            {
                f"{c.need}:demand": c.demand,
                f"{c.need}:supply": c.supply,
                f"{c.need}:listed_not_counted": c.listed_not_counted,
                f"{c.need}:gap_score": c.gap_score,
                f"{c.need}:state": state,
                f"{c.need}:state_label": t(f"map.state.{state}"),
                f"{c.need}:overlap_organisations": overlaps.get((c.area_id, c.need), 0),
                f"{c.need}:nearest_service": nearest.service_name if nearest else None,
                f"{c.need}:nearest_organisation": nearest.organisation_name if nearest else None,
                f"{c.need}:nearest_km": nearest.distance_km if nearest else None,
            }
        )
    features = [
        {
            "type": "Feature",
            "id": o.area_id,
            "geometry": o.boundary
            or (
                {"type": "Point", "coordinates": [o.centroid.lon, o.centroid.lat]}
                if o.centroid
                else None
            ),
            "properties": {
                "area_id": o.area_id,
                "code": o.code,
                "name": pick(o.names, lang),
                **by_area.get(o.area_id, {}),
            },
        }
        for o in outlines
    ]
    return JSONResponse(
        {"type": "FeatureCollection", "features": features},
        media_type="application/geo+json",
    )


@router.get("/gaps.{image_format}", response_class=Response)
async def export_gaps_picture(
    request: Request,
    graph: GraphDep,
    settings: SettingsDep,
    image_format: Literal["png", "svg"],
    need: str,
    country: str = "XK",
    question: Annotated[
        Question, Query(description="gap, supply, overlap or arrivals: what the colours show.")
    ] = "gap",
    since: date | None = None,
    until: date | None = None,
    lang: str = "en",
) -> Response:
    """A choropleth map of the municipalities for one need, as SVG or PNG."""
    try:
        image = await cached_map(
            graph,
            question=question,
            country=country,
            need=need,
            since=since,
            until=until,
            now=request.app.state.clock(),
            stale_after_days=settings.verification_stale_days,
            minimum_count=settings.statistics_minimum_count,
            lang=lang,
            image_format=image_format,
        )
    except NotFound as exc:
        raise HTTPException(404, exc.message) from exc
    except ValidationFailed as exc:
        raise HTTPException(422, exc.message) from exc
    media = "image/png" if image_format == "png" else "image/svg+xml"
    return Response(image, media_type=media)
