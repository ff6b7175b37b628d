"""`homeward report`: coordination reports."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from core.clock import utcnow
from core.settings import get_settings
from graph.coordination import GapCell, service_gaps
from graph.driver import Graph
from homeward.cli.common import JsonOption, console, error, print_json
from homeward.cli.runner import with_graph
from reports.gapmap import area_names, gap_picture

app = typer.Typer(help="Coordination reports.", no_args_is_help=True, add_completion=False)


@app.command("gaps")
def report_gaps(
    need: Annotated[str, typer.Option(help="Need code, e.g. psychosocial.trauma-therapy.")],
    out: Annotated[Path, typer.Option(help="The picture to write: .png or .svg.")],
    country: Annotated[str, typer.Option(help="Country or region id.")] = "XK",
    days: Annotated[int, typer.Option(help="Demand of the last N days.", min=1)] = 365,
    lang: Annotated[str, typer.Option(help="Language of the names.")] = "en",
    as_json: JsonOption = False,
) -> None:
    """Draw the gap map of one need: municipalities with demand and no partner stand out."""
    image_format = out.suffix.lower().lstrip(".")
    if image_format not in {"png", "svg"}:
        error(f"--out: {out.name} must end in .png or .svg")
        raise typer.Exit(code=1)
    settings = get_settings()
    now = utcnow()

    async def work(graph: Graph) -> tuple[list[GapCell], dict[str, str]]:
        cells = await graph.read(
            service_gaps,
            area_id=country.upper(),
            needs=[need],
            since=now - timedelta(days=days),
            until=now,
            stale_after_days=settings.verification_stale_days,
            now=now,
            minimum_count=settings.statistics_minimum_count,
        )
        return cells, await area_names(graph, cells, lang)

    cells, names = with_graph(settings, work)
    out.write_bytes(
        gap_picture(
            cells, names=names, need=need, area_id=country.upper(), image_format=image_format
        )
    )
    if as_json:
        print_json(
            {
                "out": str(out),
                "municipalities": [
                    {"name": names.get(c.area_id, c.area_id), "unmet": c.unmet}
                    | c.model_dump(mode="json")
                    for c in cells
                ],
            }
        )
        return
    unmet = [names.get(c.area_id, c.area_id) for c in cells if c.unmet]
    console.print(f"wrote {out} ({len(cells)} municipalities)")
    console.print(f"demand and no partner: {', '.join(unmet) if unmet else 'none'}")
