"""REST exports for the humanitarian ecosystem: the 3W table with HXL hashtags, the gap
matrix as GeoJSON, and the gap map picture. Coordinators and admins only."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from api.deps import GraphDep, SettingsDep, authorize_with_session
from core.errors import NotFound, ValidationFailed
from core.languages import from_properties, pick
from core.text import spreadsheet_row
from graph.areas import areas_by_ids
from graph.coordination import GapCell, period, service_gaps, three_w
from reports.gapmap import area_names, gap_picture, state

router = APIRouter(
    prefix="/exports", tags=["exports"], dependencies=[Depends(authorize_with_session)]
)


# Column title, HXL hashtag. HXL (hxlstandard.org) lets 3W tables be merged and mapped by
# the tools of the humanitarian ecosystem without agreeing on column titles first.
THREE_W_COLUMNS = [
    ("Organisation", "#org+name"),
    ("Acronym", "#org+acronym"),
    ("Organisation type", "#org+type"),
    ("Service", "#activity+name"),
    ("Service id", "#activity+code"),
    ("Sector (need)", "#sector+name"),
    ("Need code", "#sector+code"),
    ("Target groups", "#targeted+type"),
    ("Country", "#country+name"),
    ("Country code", "#country+code"),
    ("Region", "#adm1+name"),
    ("Region code", "#adm1+code"),
    ("Municipality", "#adm2+name"),
    ("Municipality code", "#adm2+code"),
    ("Status", "#status"),
    ("Capacity", "#status+capacity"),
    ("Start date", "#date+start"),
]


def three_w_csv(rows: list[dict[str, Any]], *, country_name: str, country: str, lang: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([title for title, _ in THREE_W_COLUMNS])
    writer.writerow([tag for _, tag in THREE_W_COLUMNS])
    for r in rows:
        area_name = pick(from_properties("name", r["area_props"]), lang)
        parent_name = (
            pick(from_properties("name", r["parent_props"]), lang) if r["parent_props"] else ""
        )
        region = municipality = ("", "")
        if r["level"] == "region":
            region = (area_name, r["area_id"])
        elif r["level"] in {"municipality", "settlement"}:
            municipality = (area_name, r["area_id"])
            if r["parent_level"] == "region":
                region = (parent_name, r["parent_id"])
        start = r["start"].to_native().date().isoformat() if r["start"] is not None else ""
        row = [
            r["organisation"],
            r["acronym"] or "",
            r["kind"] or "",
            r["service"],
            r["service_id"],
            pick(from_properties("label", r["need_props"]), lang),
            r["need"],
            " | ".join(r["target_groups"]),
            country_name,
            country,
            *region,
            *municipality,
            r["status"],
            r["capacity"] or "unknown",
            start,
        ]
        writer.writerow(spreadsheet_row(row))
    return out.getvalue()


@router.get("/3w.csv", response_class=Response)
async def export_3w(
    graph: GraphDep,
    country: Annotated[str, Query(description="ISO 3166-1 alpha-2; XK is Kosovo.")] = "XK",
    lang: str = "en",
) -> Response:
    """Who does what where: one row per service, need and area it covers, with a second
    header row of HXL hashtags."""
    try:
        rows = await graph.read(three_w, country=country.upper())
    except NotFound as exc:
        raise HTTPException(404, exc.message) from exc
    found = await graph.read(areas_by_ids, ids=[country.upper()])
    name = found[country.upper()].name(lang) if country.upper() in found else country
    body = three_w_csv(rows, country_name=name, country=country.upper(), lang=lang)
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
    """The gap matrix: one point feature per municipality (its centroid) and need, with
    demand, supply, gap score and the nearest partner outside."""
    cells = await _gaps(
        graph, settings, request, country=country, needs=need, since=since, until=until
    )
    names = await area_names(graph, cells, lang)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [c.lon, c.lat]}
            if c.lat is not None
            else None,
            "properties": {
                "area_id": c.area_id,
                "name": names.get(c.area_id, c.area_id),
                "need": c.need,
                "demand": c.demand,
                "supply": c.supply,
                "listed_not_counted": c.listed_not_counted,
                "gap_score": c.gap_score,
                "state": state(c),
                "nearest_partner": c.nearest_partner.model_dump() if c.nearest_partner else None,
            },
        }
        for c in cells
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
    since: date | None = None,
    until: date | None = None,
    lang: str = "en",
) -> Response:
    """The gap map picture for one need, as PNG or SVG."""
    cells = await _gaps(
        graph, settings, request, country=country, needs=[need], since=since, until=until
    )
    names = await area_names(graph, cells, lang)
    image = gap_picture(
        cells, names=names, need=need, area_id=country.upper(), image_format=image_format
    )
    media = "image/png" if image_format == "png" else "image/svg+xml"
    return Response(image, media_type=media)
