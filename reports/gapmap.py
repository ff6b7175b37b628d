"""The gap map picture: municipalities of a country for one need, coloured by how demand
meets supply. Drawn at the municipalities' centroids (the gazetteer holds points, not
boundaries), with names, so that it reads without a base map."""

from __future__ import annotations

import io
from collections.abc import Mapping

# The object API, not pyplot: no global figure state, safe in a server's threads.
from matplotlib.figure import Figure

from graph.areas import areas_by_ids
from graph.coordination import GapCell
from graph.driver import Graph

# Colour-blind-safe (Okabe-Ito) and distinguishable in greyscale by marker size.
COLOURS = {
    "demand, no partner": "#D55E00",
    "demand above supply": "#E69F00",
    "supplied": "#009E73",
    # Demand is there but its count is withheld (core.disclosure): not compared with supply.
    "demand, count withheld": "#CC79A7",
    "no demand, no partner": "#999999",
    "no demand": "#56B4E9",
}


def state(cell: GapCell) -> str:
    if cell.unmet:
        return "demand, no partner"
    if cell.demand is None:
        return "demand, count withheld"
    if cell.demand > cell.supply:
        return "demand above supply"
    if cell.supply and cell.demand:
        return "supplied"
    return "no demand" if cell.supply else "no demand, no partner"


def render(
    cells: list[GapCell],
    *,
    names: Mapping[str, str],
    title: str,
    image_format: str = "png",
) -> bytes:
    """PNG or SVG bytes of the map for the cells of one need."""
    figure = Figure(figsize=(8, 9), dpi=110)
    axes = figure.subplots()
    for label, colour in COLOURS.items():
        chosen = [c for c in cells if state(c) == label]
        placed = [(c.lon, c.lat) for c in chosen if c.lon is not None and c.lat is not None]
        axes.scatter(
            [lon for lon, _ in placed],
            [lat for _, lat in placed],
            s=[
                60 + 40 * min(c.demand or 0, 10)
                for c in chosen
                if c.lat is not None and c.lon is not None
            ],
            c=colour,
            edgecolors="black",
            linewidths=0.5,
            label=f"{label} ({len(chosen)})",
            zorder=3,
        )
    for c in cells:
        if c.lat is None or c.lon is None:
            continue
        text = names.get(c.area_id, c.area_id)
        if c.demand:
            text += f" {c.demand}/{c.supply}"
        elif c.demand is None:
            text += f" ?/{c.supply}"
        axes.annotate(text, (c.lon, c.lat), fontsize=7, xytext=(4, 3), textcoords="offset points")
    axes.set_title(title, fontsize=11)
    axes.set_xlabel("longitude")
    axes.set_ylabel("latitude")
    axes.set_aspect(1.35)  # about 1/cos(42°): Kosovo's latitudes not squashed
    axes.grid(True, linewidth=0.3, alpha=0.5)
    axes.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        fontsize=8,
        title="referrals/services",
        title_fontsize=8,
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format, bbox_inches="tight")
    return buffer.getvalue()


async def area_names(graph: Graph, cells: list[GapCell], lang: str) -> dict[str, str]:
    areas = await graph.read(areas_by_ids, ids=sorted({c.area_id for c in cells}))
    return {i: a.name(lang) for i, a in areas.items()}


def gap_picture(
    cells: list[GapCell], *, names: Mapping[str, str], need: str, area_id: str, image_format: str
) -> bytes:
    """The map of one need's cells: for the endpoint and the command line alike."""
    title = f"{need} in {area_id}: referrals/services per municipality"
    return render(cells, names=names, title=title, image_format=image_format)
