"""`homeward referrals`: the personal data of referrals."""

from __future__ import annotations

import typer

from core.clock import utcnow
from core.crypto import cipher_from_settings
from core.errors import HomewardError
from core.settings import get_settings
from graph.cases import purge_expired_cases
from graph.encryption import rotate_all
from graph.referrals import purge_expired
from homeward.cli.common import console, fail
from homeward.cli.runner import with_graph

app = typer.Typer(help="Personal data of referrals.", no_args_is_help=True, add_completion=False)


@app.command("purge")
def referrals_purge() -> None:
    """Erase contact, health, notes and documents of referrals, and household, notes,
    documents and file number of return cases, closed longer than
    HOMEWARD_REFERRAL_RETENTION_DAYS; counts, statuses and phases stay. `make run` also does
    this on a schedule."""
    settings = get_settings()
    now, days = utcnow(), settings.referral_retention_days
    purged = with_graph(settings, lambda g: purge_expired(g, now=now, retention_days=days))
    cases = with_graph(settings, lambda g: purge_expired_cases(g, now=now, retention_days=days))
    console.print(f"{purged} referrals purged")
    console.print(f"{cases} return cases purged")


@app.command("rotate-key")
def referrals_rotate_key() -> None:
    """Re-encrypt every stored encrypted value (referral contents, webhook signing secrets)
    under the first key of HOMEWARD_DATA_KEYS.
    Afterwards the older keys can be removed from the setting."""
    settings = get_settings()
    try:
        cipher = cipher_from_settings(settings)
    except HomewardError as exc:
        raise fail(exc) from exc
    nodes = with_graph(settings, lambda g: rotate_all(g, cipher=cipher))
    console.print(f"{nodes} records re-encrypted under the newest key")
