"""`homeward report`: coordination reports."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from core.clock import utcnow
from core.settings import get_settings
from graph.driver import Graph
from homeward.cli.common import JsonOption, console, error, print_json
from homeward.cli.runner import with_graph
from reports.maps import QUESTIONS, MapData, Question, draw, gather

app = typer.Typer(help="Coordination reports.", no_args_is_help=True, add_completion=False)


@app.command("gaps")
def report_gaps(
    need: Annotated[str, typer.Option(help="Need code, e.g. psychosocial.trauma-therapy.")],
    out: Annotated[Path, typer.Option(help="The picture to write: .png or .svg.")],
    country: Annotated[str, typer.Option(help="Country or region id.")] = "XK",
    question: Annotated[
        str, typer.Option(help="What the colours show: gap, supply, overlap or arrivals.")
    ] = "gap",
    days: Annotated[int, typer.Option(help="Demand of the last N days.", min=1)] = 365,
    lang: Annotated[str, typer.Option(help="Language of the map.")] = "en",
    as_json: JsonOption = False,
) -> None:
    """Draw the map of one need that the coordination page shows: municipalities with demand
    and no partner stand out."""
    image_format = out.suffix.lower().lstrip(".")
    if image_format not in {"png", "svg"}:
        error(f"--out: {out.name} must end in .png or .svg")
        raise typer.Exit(code=1)
    if question not in QUESTIONS:
        error(f"--question: {question!r} is not one of {', '.join(QUESTIONS)}")
        raise typer.Exit(code=1)
    asked: Question = question  # narrowed by the check above
    settings = get_settings()
    now = utcnow()

    async def work(graph: Graph) -> MapData:
        return await gather(
            graph,
            question=asked,
            country=country,
            need=need,
            since=(now - timedelta(days=days)).date() if asked != "arrivals" else None,
            until=None,
            now=now,
            stale_after_days=settings.verification_stale_days,
            minimum_count=settings.statistics_minimum_count,
            lang=lang,
        )

    data = with_graph(settings, work)
    out.write_bytes(
        draw(
            data,
            asked,
            lang,
            image_format=image_format,
            minimum_count=settings.statistics_minimum_count,
        )
    )
    names = data.names(lang)
    if as_json:
        print_json(
            {
                "out": str(out),
                "municipalities": [
                    {"name": names.get(c.area_id, c.area_id), "unmet": c.unmet}
                    | c.model_dump(mode="json")
                    for c in data.cells
                ],
            }
        )
        return
    unmet = [names.get(c.area_id, c.area_id) for c in data.cells if c.unmet]
    console.print(f"wrote {out} ({len(data.cells)} municipalities)")
    console.print(f"demand and no partner: {', '.join(unmet) if unmet else 'none'}")
