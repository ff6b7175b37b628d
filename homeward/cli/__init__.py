"""`homeward`: the operator's command line."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from core.clock import utcnow
from core.crypto import cipher_from_settings
from core.errors import HomewardError, ValidationFailed
from core.settings import Settings, get_settings
from graph.coordination import GapCell, service_gaps
from graph.driver import Graph, create_driver
from graph.duplicate_review import ProgressFn, ScanReport, State, scan
from graph.duplicates import THRESHOLD, Kind
from graph.migrations import migrate as run_migrations
from graph.referrals import purge_expired, rotate_all
from graph.services import freshness, verification_due
from graph.users import (
    SYSTEM,
    Role,
    User,
    UserInput,
    create_user,
    issue_token,
    list_users,
    new_token,
    revoke_token,
    set_user_disabled,
)
from homeward import neo4j_server
from reports.gapmap import area_names, gap_picture

if TYPE_CHECKING:
    from graph.backup import RestoreReport
    from importers.hsds.assembly import ImportReport
    from importers.hsds.loader import Plan

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

app = typer.Typer(
    help="Homeward: referral and partner directory for return work.", no_args_is_help=True
)
db_app = typer.Typer(help="The local Neo4j (not used when NEO4J_URI is set).", no_args_is_help=True)
app.add_typer(db_app, name="db")
users_app = typer.Typer(help="Accounts and their memberships.", no_args_is_help=True)
app.add_typer(users_app, name="users")
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")
verification_app = typer.Typer(help="Keeping entries current.", no_args_is_help=True)
app.add_typer(verification_app, name="verification")
referrals_app = typer.Typer(help="Personal data of referrals.", no_args_is_help=True)
app.add_typer(referrals_app, name="referrals")
report_app = typer.Typer(help="Coordination reports.", no_args_is_help=True)
app.add_typer(report_app, name="report")
duplicates_app = typer.Typer(help="Duplicate records.", no_args_is_help=True)
app.add_typer(duplicates_app, name="duplicates")
import_app = typer.Typer(help="Import a directory from an exchange format.", no_args_is_help=True)
app.add_typer(import_app, name="import")
export_app = typer.Typer(help="Export the directory in an exchange format.", no_args_is_help=True)
app.add_typer(export_app, name="export")
console = Console()
err = Console(stderr=True)


def _local(settings: Settings) -> neo4j_server.LocalNeo4j:
    return neo4j_server.LocalNeo4j(
        home=settings.local_neo4j_home,
        port=settings.local_neo4j_port,
        heap=settings.local_neo4j_heap,
        pagecache=settings.local_neo4j_pagecache,
    )


def _fail(exc: HomewardError) -> typer.Exit:
    if isinstance(exc, ValidationFailed):
        for problem in exc.problems:
            err.print(f"[red]error[/red] {problem.field}: {problem.message}")
    else:
        err.print(f"[red]error[/red] {exc.message}")
    return typer.Exit(code=1)


def _with_graph(settings: Settings, work: Callable[[Graph], Awaitable[T]]) -> T:
    async def main() -> T:
        driver = create_driver(settings)
        try:
            return await work(Graph(driver, settings.neo4j_database))
        finally:
            await driver.close()

    try:
        return asyncio.run(main())
    except HomewardError as exc:
        raise _fail(exc) from exc


def _ensure_local_neo4j(settings: Settings) -> None:
    if not settings.uses_local_neo4j:
        return
    instance = _local(settings)
    with console.status(f"starting Neo4j on {instance.uri} ..."):
        try:
            pid = neo4j_server.start(instance, timeout_s=settings.local_neo4j_start_timeout_s)
        except HomewardError as exc:
            raise _fail(exc) from exc
    console.print(f"Neo4j up on {instance.uri} (pid {pid}, data in {instance.home})")


@db_app.command("start")
def db_start() -> None:
    """Start the local Neo4j and wait until it answers (at most HOMEWARD_NEO4J_START_TIMEOUT)."""
    settings = get_settings()
    if not settings.uses_local_neo4j:
        console.print(f"NEO4J_URI is set ({settings.neo4j_uri}); no local Neo4j is started.")
        return
    _ensure_local_neo4j(settings)


@db_app.command("stop")
def db_stop() -> None:
    """Stop the local Neo4j cleanly."""
    instance = _local(get_settings())
    if neo4j_server.stop(instance):
        console.print(f"Neo4j on {instance.uri} stopped")
    else:
        console.print("Neo4j was not running")


@db_app.command("status")
def db_status() -> None:
    """Say whether the local Neo4j runs and answers; exit 1 if it does not."""
    settings = get_settings()
    if not settings.uses_local_neo4j:
        console.print(f"external Neo4j: {settings.neo4j_uri}")
        info = _with_graph(settings, lambda g: g.ping(timeout_s=5.0))
        console.print(f"answering: {info['agent']} at {info['address']}")
        return
    instance = _local(settings)
    pid = neo4j_server.running_pid(instance)
    if pid is None:
        console.print(f"Neo4j is not running (data in {instance.home})")
        raise typer.Exit(code=1)
    info = _with_graph(settings, lambda g: g.ping(timeout_s=5.0))
    console.print(f"Neo4j running, pid {pid}, {info['agent']} on {instance.uri}")


@app.command()
def migrate() -> None:
    """Apply schema migrations not yet applied (idempotent)."""
    applied = _with_graph(get_settings(), run_migrations)
    console.print(f"applied migrations {applied}" if applied else "schema is up to date")


@app.command()
def seed() -> None:
    """Load the gazetteer, taxonomy and demo directory (idempotent)."""
    from seed.loader import seed as load_seed

    report = _with_graph(get_settings(), load_seed)
    for kind, count in report.counts.items():
        console.print(f"{kind}: {count} written")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Default HOMEWARD_HOST, 127.0.0.1."),
    port: int | None = typer.Option(None, help="Default HOMEWARD_PORT, 8000."),
) -> None:
    """Serve the API (starting the local Neo4j first when no NEO4J_URI is set)."""
    import uvicorn

    from homeward.app import create_app

    settings = get_settings()
    _ensure_local_neo4j(settings)
    bind_host = host or settings.api_host
    bind_port = port or settings.api_port
    console.print(
        f"Homeward on http://{bind_host}:{bind_port}  GraphiQL: http://{bind_host}:{bind_port}"
        "/graphql  health: /health\nCtrl-C stops the API; `make stop` (homeward db stop) "
        "stops Neo4j."
    )
    from core.logs import configure_logging

    configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=bind_host,
        port=bind_port,
        # Our handler (JSON lines) and our access line, which leaves out query strings and
        # client addresses; uvicorn's own would log both.
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) or None,
    )


@app.command("demo-users")
def demo_users() -> None:
    """Create the demo user of each role (idempotent) and print their tokens."""
    from seed.identities import create_demo_identities

    settings = get_settings()
    if not settings.demo_users_enabled:
        console.print("demo users are switched off (HOMEWARD_DEMO_USERS, HOMEWARD_ENV)")
        return
    identities = _with_graph(settings, lambda g: g.write(create_demo_identities))
    console.print(
        "Demo identities (invented, for trying the API; HOMEWARD_DEMO_USERS=false "
        "switches them off). In GraphiQL, set the header"
    )
    for identity in identities:
        console.print(
            f"  {identity.role.value:<12} Authorization: Bearer {identity.token}",
            highlight=False,
            soft_wrap=True,  # a token cut in two cannot be copied
        )


@users_app.command("create")
def users_create(
    email: str,
    organisation: Annotated[str, typer.Option(help="Organisation id the user belongs to.")],
    role: Annotated[Role, typer.Option(help="counsellor, partner, coordinator or admin.")],
    name: Annotated[str, typer.Option(help="Display name.")],
) -> None:
    """Create a user with one membership."""
    data = _validated(
        UserInput,
        {"email": email, "organisation_id": organisation, "role": role, "display_name": name},
    )
    user = _with_graph(
        get_settings(), lambda g: g.write(create_user, id=str(uuid.uuid4()), data=data)
    )
    console.print(f"created {user.email} ({user.id})")


@users_app.command("list")
def users_list() -> None:
    """All users with their memberships."""

    async def all_users(graph: Graph) -> list[User]:
        users: list[User] = []
        after: str | None = None
        while True:
            page = await graph.read(list_users, first=100, after=after)
            users += [e.node for e in page.edges]
            if not page.has_next_page:
                return users
            after = page.end_cursor

    table = Table("id", "email", "name", "memberships", "state")
    for user in _with_graph(get_settings(), all_users):
        table.add_row(
            user.id,
            user.email,
            user.display_name,
            ", ".join(f"{m.role.value}@{m.organisation_id}" for m in user.memberships),
            ("disabled" if user.disabled else "active") + (" (demo)" if user.demo else ""),
        )
    console.print(table)


@users_app.command("disable")
def users_disable(user_id: str) -> None:
    """Disable an account: its tokens stop working at once."""
    user = _with_graph(
        get_settings(), lambda g: g.write(set_user_disabled, id=user_id, disabled=True)
    )
    console.print(f"disabled {user.email}")


@tokens_app.command("issue")
def tokens_issue(
    user_id: str,
    days: int = typer.Option(90, min=1, max=366, help="Days until it expires."),
    label: str | None = typer.Option(None, help="What the token is for."),
) -> None:
    """Issue an API token; it is printed once and only its hash is stored."""
    token, token_id, secret_hash = new_token()
    _with_graph(
        get_settings(),
        lambda g: g.write(
            issue_token,
            user_id=user_id,
            token_id=token_id,
            secret_hash=secret_hash,
            label=label,
            expires_at=utcnow() + timedelta(days=days),
        ),
    )
    console.print(f"token {token_id} (shown once, keep it safe):")
    console.print(token, highlight=False, soft_wrap=True)


@tokens_app.command("revoke")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token by its id (the part after `hwt_`)."""
    _with_graph(get_settings(), lambda g: g.write(revoke_token, token_id=token_id))
    console.print(f"revoked {token_id}")


def _validated(model: type[M], data: dict[str, object]) -> M:
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            err.print(f"[red]error[/red] {where}: {error['msg']}")
        raise typer.Exit(code=1) from exc


@verification_app.command("due")
def verification_due_command(
    organisation: Annotated[str | None, typer.Option(help="Only this organisation.")] = None,
) -> None:
    """Services to confirm again, per organisation: never verified, past the ageing
    threshold (HOMEWARD_VERIFICATION_AGEING_DAYS), or flagged by referral outcomes."""
    settings = get_settings()
    now = utcnow()
    due = _with_graph(
        settings,
        lambda g: g.read(
            verification_due,
            due_before=now - timedelta(days=settings.verification_ageing_days),
            organisation_id=organisation,
        ),
    )
    if not due:
        console.print("nothing is due")
        return
    table = Table("organisation", "service", "id", "freshness", "last verified", "flagged")
    for service in due:
        state = freshness(
            service.last_verified_at,
            now=now,
            ageing_after_days=settings.verification_ageing_days,
            stale_after_days=settings.verification_stale_days,
        )
        verified = service.last_verified_at.date().isoformat() if service.last_verified_at else "-"
        table.add_row(
            service.organisation_id,
            service.name,
            service.id,
            state.value,
            verified,
            service.reverification_reason or "",
        )
    console.print(table)
    console.print(f"{len(due)} services due")


@referrals_app.command("purge")
def referrals_purge() -> None:
    """Erase contact, health, notes and documents of referrals closed longer than
    HOMEWARD_REFERRAL_RETENTION_DAYS; counts and statuses stay. `make run` also does this
    on a schedule."""
    settings = get_settings()
    purged = _with_graph(
        settings,
        lambda g: purge_expired(g, now=utcnow(), retention_days=settings.referral_retention_days),
    )
    console.print(f"{purged} referrals purged")


@referrals_app.command("rotate-key")
def referrals_rotate_key() -> None:
    """Re-encrypt every stored personal value under the first key of HOMEWARD_DATA_KEYS.
    Afterwards the older keys can be removed from the setting."""
    settings = get_settings()
    try:
        cipher = cipher_from_settings(settings)
    except HomewardError as exc:
        raise _fail(exc) from exc
    nodes = _with_graph(settings, lambda g: rotate_all(g, cipher=cipher))
    console.print(f"{nodes} records re-encrypted under the newest key")


@app.command("backup")
def backup_command(
    out: Annotated[Path, typer.Argument(help="The file to write, e.g. homeward.jsonl.gz.")],
) -> None:
    """Write the whole graph (users, token hashes, referrals still encrypted) as gzipped
    JSON lines; see docs/operations.md. Equal graphs give equal files."""
    from graph.backup import backup

    report = _with_graph(get_settings(), lambda g: backup(g, out))
    console.print(f"{report.nodes} nodes and {report.relationships} relationships in {out}")


@app.command("restore")
def restore_command(
    source: Annotated[Path, typer.Argument(help="A file written by `homeward backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Delete what the database holds first.")
    ] = False,
) -> None:
    """Load a backup into an empty database (with --force, into any: its data is deleted
    first). The file is checked whole before anything is written."""
    from graph.backup import restore

    async def work(graph: Graph) -> RestoreReport:
        with _progress() as progress:
            tasks: dict[str, TaskID] = {}

            def report(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = progress.add_task(phase, total=total)
                progress.update(tasks[phase], completed=done)

            return await restore(graph, source, force=force, progress=report)

    result = _with_graph(get_settings(), work)
    if result.wiped:
        console.print(f"{result.wiped} nodes deleted first (--force)")
    console.print(
        f"restored {result.nodes} nodes and {result.relationships} relationships from {source}"
    )


@report_app.command("gaps")
def report_gaps(
    need: Annotated[str, typer.Option(help="Need code, e.g. psychosocial.trauma-therapy.")],
    out: Annotated[Path, typer.Option(help="The picture to write: .png or .svg.")],
    country: Annotated[str, typer.Option(help="Country or region id.")] = "XK",
    days: Annotated[int, typer.Option(help="Demand of the last N days.", min=1)] = 365,
    lang: Annotated[str, typer.Option(help="Language of the names.")] = "en",
) -> None:
    """Draw the gap map of one need: municipalities with demand and no partner stand out."""
    image_format = out.suffix.lower().lstrip(".")
    if image_format not in {"png", "svg"}:
        err.print(f"[red]error[/red] --out: {out.name} must end in .png or .svg")
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
        )
        return cells, await area_names(graph, cells, lang)

    cells, names = _with_graph(settings, work)
    out.write_bytes(
        gap_picture(
            cells, names=names, need=need, area_id=country.upper(), image_format=image_format
        )
    )
    unmet = [names.get(c.area_id, c.area_id) for c in cells if c.unmet]
    console.print(f"wrote {out} ({len(cells)} municipalities)")
    console.print(f"demand and no partner: {', '.join(unmet) if unmet else 'none'}")


@duplicates_app.command("scan")
def duplicates_scan(
    kind: Annotated[
        Kind | None, typer.Option(help="organisation or service; both when not given.")
    ] = None,
    min_score: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Keep pairs scoring at least this.")
    ] = THRESHOLD,
) -> None:
    """Compare the whole directory and keep probable duplicates for review. Safe to run
    again: nothing is added twice, decided pairs stay decided unless a record changed."""
    reports = _with_graph(
        get_settings(),
        lambda g: run_scan(g, kinds=[kind] if kind else list(Kind), min_score=min_score),
    )
    table = Table("kind", "records", "pairs compared", "candidates", "new", "reopened",
                  "removed", "open", "same", "different", "seconds")  # fmt: skip
    for r in reports:
        table.add_row(
            r.kind.value,
            f"{r.records:,}",
            f"{r.pairs_compared:,}",
            f"{r.candidates:,}",
            f"{r.new:,}",
            f"{r.reopened:,}",
            f"{r.pruned:,}",
            *(f"{r.by_state.get(s.value, 0):,}" for s in State),
            f"{r.seconds['total']:.1f}",
        )
    console.print(table)
    console.print("review them with the duplicateCandidates query and resolveDuplicate")


def _reporter(report: ProgressFn, kind: Kind) -> ProgressFn:
    def for_kind(phase: str, done: int, total: int) -> None:
        report(f"{kind.value}s: {phase}", done, total)

    return for_kind


async def run_scan(graph: Graph, *, kinds: list[Kind], min_score: float) -> list[ScanReport]:
    """The scans with a progress bar per phase (read, compare, write) and kind."""
    reports = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(phase, total=total)
            progress.update(tasks[phase], completed=done, total=max(total, 1))

        for kind in kinds:
            reports.append(
                await scan(graph, kind=kind, min_score=min_score, progress=_reporter(report, kind))
            )
    return reports


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _print_report(report: ImportReport) -> None:
    """Rejected rows as `file:line: field: message`, then warnings, then counts."""
    if report.errors:
        err.print(f"[red]{len(report.errors)} problems; these rows were not imported:[/red]")
        for problem in report.errors:
            err.print(str(problem), highlight=False, markup=False, soft_wrap=True)
    if report.warnings:
        err.print(f"[yellow]{len(report.warnings)} warnings (imported):[/yellow]")
        for problem in report.warnings:
            err.print(str(problem), highlight=False, markup=False, soft_wrap=True)


def _print_counts(report: ImportReport) -> None:
    table = Table("table", "rows read", "rejected")
    for name, count in report.read.items():
        table.add_row(name, str(count), str(report.rejected.get(name, 0)))
    console.print(table)
    console.print(
        "written: " + ", ".join(f"{count} {kind}" for kind, count in report.written.items())
    )
    if report.import_id:
        console.print(f"audit events of this import: entity id {report.import_id}")


StrictOption = Annotated[
    bool, typer.Option(help="Any rejected row aborts the import; nothing is written.")
]


@import_app.command("hsds")
def import_hsds_command(
    path: Annotated[Path, typer.Argument(help="Folder or zip of HSDS CSV files, or HSDS JSON.")],
    strict: StrictOption = False,
    default_country: Annotated[
        str | None,
        typer.Option(help="ISO 3166-1 code for organisations whose sites give no country."),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="Taxonomy mapping file (default: the shipped one).")
    ] = None,
) -> None:
    """Import Open Referral HSDS 3.0 data (idempotent: importing again changes nothing).
    Rejected rows are listed as `file:line: field: message`; the good rows are imported and
    the exit status is 1 when any row was rejected."""
    from importers.hsds.loader import prepare
    from importers.hsds.source import read_path
    from importers.hsds.taxonomy_map import load_map

    try:
        source = read_path(path)
        taxonomy_map = load_map(mapping) if mapping else load_map()
    except HomewardError as exc:
        raise _fail(exc) from exc
    _run_import(
        lambda graph: prepare(graph, source, mapping=taxonomy_map, default_country=default_country),
        strict=strict,
        source=path.name,
    )


def _run_import(
    prepare: Callable[[Graph], Awaitable[tuple[Plan, ImportReport]]],
    *,
    strict: bool,
    source: str,
) -> None:
    """Check everything, print the report, then (unless strict and anything was wrong)
    write with a progress bar; exit status 1 when any row was rejected. The audit events of
    the import name the system as actor: the command line runs with the database's own
    access, not as a user of the API."""
    from importers.hsds.loader import ImportRejected, Provenance, plan_size, write_plan

    async def work(graph: Graph) -> ImportReport:
        plan, report = await prepare(graph)
        _print_report(report)
        if strict and report.errors:
            raise ImportRejected(report)
        with _progress() as progress:
            task = progress.add_task("writing", total=plan_size(plan))
            await write_plan(
                graph,
                plan,
                report,
                provenance=Provenance(SYSTEM, source),
                progress=lambda kind, n: progress.update(task, advance=n, description=kind),
            )
        return report

    report = _with_graph(get_settings(), work)
    _print_counts(report)
    if report.errors:
        raise typer.Exit(code=1)


@import_app.command("sheet")
def import_sheet_command(
    path: Annotated[Path, typer.Argument(help="A CSV or XLSX file, one row per service.")],
    strict: StrictOption = False,
    organisation: Annotated[
        str | None,
        typer.Option(help="Id of the organisation every row belongs to (no column needed)."),
    ] = None,
) -> None:
    """Import a partner's list of services from a spreadsheet (README, "Spreadsheet
    import"). Rejected rows are listed as `file:line: column: message`; the good rows are
    imported; importing the same file again changes nothing."""
    from importers.hsds.source import MalformedInput
    from importers.sheet.loader import prepare_sheet
    from importers.sheet.source import read_sheet

    try:
        if not path.is_file():
            raise MalformedInput(str(path), "no such file")
        sheet = read_sheet(path.name, path.read_bytes(), organisation_given=bool(organisation))
    except HomewardError as exc:
        raise _fail(exc) from exc
    _run_import(
        lambda graph: prepare_sheet(graph, sheet, organisation_id=organisation),
        strict=strict,
        source=path.name,
    )


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


@export_app.command("hsds")
def export_hsds_command(
    out: Annotated[Path, typer.Argument(help="Folder (or .zip) for csv; a .json file for json.")],
    format: Annotated[ExportFormat, typer.Option(help="csv: tabular form; json: nested.")] = (
        ExportFormat.CSV
    ),
) -> None:
    """Export the directory as Open Referral HSDS 3.0 (Homeward profile: README, "HSDS import
    and export"); importing the export gives the same directory back."""
    from importers.hsds.export import export_tables, write_json, write_tabular

    tables = _with_graph(get_settings(), export_tables)
    if format is ExportFormat.JSON:
        write_json(tables, out)
    else:
        write_tabular(tables, out)
    counts = ", ".join(f"{len(tables.get(t, []))} {t}" for t in ("organizations", "services"))
    console.print(f"exported {counts} to {out}")
