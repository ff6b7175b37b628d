"""`homeward verification`: keeping entries current."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.table import Table

from core.clock import utcnow
from core.settings import get_settings
from graph.services import freshness, verification_due
from homeward.cli.common import JsonOption, console, print_json
from homeward.cli.runner import with_graph


class Due(BaseModel):
    """One row of the list, as the table shows it and `--json` prints it."""

    organisation_id: str
    name: str
    id: str
    freshness: str
    last_verified_at: datetime | None
    reverification_reason: str | None


app = typer.Typer(help="Keeping entries current.", no_args_is_help=True, add_completion=False)


@app.command("due")
def verification_due_command(
    organisation: Annotated[str | None, typer.Option(help="Only this organisation.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Services to confirm again, per organisation: never verified, past the ageing
    threshold (HOMEWARD_VERIFICATION_AGEING_DAYS), or flagged by referral outcomes."""
    settings = get_settings()
    now = utcnow()
    due = with_graph(
        settings,
        lambda g: g.read(
            verification_due,
            due_before=now - timedelta(days=settings.verification_ageing_days),
            organisation_id=organisation,
        ),
    )
    rows = [
        Due(
            organisation_id=service.organisation_id,
            name=service.name,
            id=service.id,
            freshness=freshness(
                service.last_verified_at,
                now=now,
                ageing_after_days=settings.verification_ageing_days,
                stale_after_days=settings.verification_stale_days,
            ).value,
            last_verified_at=service.last_verified_at,
            reverification_reason=service.reverification_reason,
        )
        for service in due
    ]
    if as_json:
        print_json([row.model_dump(mode="json") for row in rows])
        return
    if not rows:
        console.print("nothing is due")
        return
    table = Table("organisation", "service", "id", "freshness", "last verified", "flagged")
    for row in rows:
        verified = row.last_verified_at.date().isoformat() if row.last_verified_at else "-"
        table.add_row(
            row.organisation_id,
            row.name,
            row.id,
            row.freshness,
            verified,
            row.reverification_reason or "",
        )
    console.print(table)
    console.print(f"{len(rows)} services due")
