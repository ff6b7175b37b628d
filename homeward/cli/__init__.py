"""`homeward`: the operator's command line.

One module per command group; `lazy.LazyGroup` imports a group's module only when one of its
commands runs, so this module itself imports nothing heavier than typer.
"""

from __future__ import annotations

from typing import ClassVar

import typer

from homeward.cli.lazy import Entry, LazyGroup


class Homeward(LazyGroup):
    entries: ClassVar[dict[str, Entry]] = {
        "migrate": Entry(
            "homeward.cli.directory:migrate",
            "Apply schema migrations not yet applied (idempotent).",
        ),
        "seed": Entry(
            "homeward.cli.directory:seed",
            "Load the gazetteer, taxonomy and demo directory (idempotent).",
        ),
        "serve": Entry(
            "homeward.cli.directory:serve",
            "Serve the API (starting the local Neo4j first when no NEO4J_URI is set).",
        ),
        "demo-users": Entry(
            "homeward.cli.users:demo_users",
            "Create the demo user of each role (idempotent) and print their tokens.",
        ),
        "backup": Entry(
            "homeward.cli.exchange:backup_command",
            "Write the whole graph (users, token hashes, referrals still encrypted) as gzipped\n"
            "JSON lines; see docs/operations.md. Equal graphs give equal files.",
        ),
        "restore": Entry(
            "homeward.cli.exchange:restore_command",
            "Load a backup into an empty database (with --force, into any: its data is deleted\n"
            "first). The file is checked whole before anything is written.",
        ),
        "db": Entry("homeward.cli.db:app", "The local Neo4j (not used when NEO4J_URI is set)."),
        "users": Entry("homeward.cli.users:users_app", "Accounts and their memberships."),
        "tokens": Entry("homeward.cli.users:tokens_app", "API tokens."),
        "verification": Entry("homeward.cli.verification:app", "Keeping entries current."),
        "referrals": Entry("homeward.cli.referrals:app", "Personal data of referrals."),
        "report": Entry("homeward.cli.reports:app", "Coordination reports."),
        "duplicates": Entry("homeward.cli.duplicates:app", "Duplicate records."),
        "import": Entry(
            "homeward.cli.exchange:import_app", "Import a directory from an exchange format."
        ),
        "export": Entry(
            "homeward.cli.exchange:export_app", "Export the directory in an exchange format."
        ),
    }


app = typer.Typer(
    cls=Homeward,
    help="Homeward: referral and partner directory for return work.",
    no_args_is_help=True,
)


@app.callback()
def main() -> None:
    """Without it, typer would take an app with no commands of its own for a mistake."""
