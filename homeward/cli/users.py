"""`homeward users`, `homeward tokens` and `homeward demo-users`: accounts and their access."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from api.passwords import PROBLEMS, issue_link, link_url
from core.clock import utcnow
from core.errors import NotFound, ValidationFailed
from core.passwords import hash_password, password_problem
from core.settings import get_settings
from graph.driver import Graph
from graph.passwords import LINK_LIFETIME, set_password
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
    user_by_email,
)
from homeward.cli.common import JsonOption, console, fail, print_json, validated
from homeward.cli.runner import with_graph

users_app = typer.Typer(
    help="Accounts and their memberships.", no_args_is_help=True, add_completion=False
)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True, add_completion=False)


@users_app.command("create")
def users_create(
    email: str,
    organisation: Annotated[str, typer.Option(help="Organisation id the user belongs to.")],
    role: Annotated[Role, typer.Option(help="counsellor, partner, coordinator or admin.")],
    name: Annotated[str, typer.Option(help="Display name.")],
) -> None:
    """Create a user with one membership."""
    data = validated(
        UserInput,
        {"email": email, "organisation_id": organisation, "role": role, "display_name": name},
    )
    user = with_graph(
        get_settings(), lambda g: g.write(create_user, id=str(uuid.uuid4()), data=data)
    )
    console.print(f"created {user.email} ({user.id})")


async def _all_users(graph: Graph) -> list[User]:
    users: list[User] = []
    after: str | None = None
    while True:
        page = await graph.read(list_users, first=100, after=after)
        users += [e.node for e in page.edges]
        if not page.has_next_page:
            return users
        after = page.end_cursor


@users_app.command("list")
def users_list(as_json: JsonOption = False) -> None:
    """All users with their memberships."""
    users = with_graph(get_settings(), _all_users)
    if as_json:
        print_json([user.model_dump(mode="json") for user in users])
        return
    table = Table("id", "email", "name", "memberships", "state")
    for user in users:
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
    user = with_graph(
        get_settings(), lambda g: g.write(set_user_disabled, id=user_id, disabled=True)
    )
    console.print(f"disabled {user.email}")


@users_app.command("password-link")
def users_password_link(email: str) -> None:
    """A one-time link with which the person sets their password (to send them); it expires
    after three days, and a new link or a new password voids it."""
    settings = get_settings()
    secret, link = with_graph(settings, lambda g: issue_link(email, graph=g, actor=SYSTEM))
    hours = int(LINK_LIFETIME.total_seconds() // 3600)
    console.print(f"link for {link.email}, valid for {hours} hours (shown once):")
    console.print(link_url(settings.base_url, secret), highlight=False, soft_wrap=True)


@users_app.command("set-password")
def users_set_password(email: str) -> None:
    """Set a person's password at the terminal (asked twice, never echoed); their web
    sessions end."""
    password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password, email=email)
    if problem is not None:
        raise fail(ValidationFailed.single("password", PROBLEMS[problem]))

    async def work(graph: Graph) -> str:
        user = await graph.read(user_by_email, email=email.strip().lower())
        if user is None:
            raise NotFound("user", email)
        await graph.write(
            set_password, user_id=user.id, password_hash=hash_password(password), now=utcnow()
        )
        return user.email

    console.print(f"password set for {with_graph(get_settings(), work)}")


@tokens_app.command("issue")
def tokens_issue(
    user_id: str,
    days: int = typer.Option(90, min=1, max=366, help="Days until it expires."),
    label: str | None = typer.Option(None, help="What the token is for."),
) -> None:
    """Issue an API token; it is printed once and only its hash is stored."""
    token, token_id, secret_hash = new_token()
    with_graph(
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
    with_graph(get_settings(), lambda g: g.write(revoke_token, token_id=token_id))
    console.print(f"revoked {token_id}")


def demo_users() -> None:
    """Create the demo user of each role (idempotent) and print their tokens."""
    from seed.identities import create_demo_identities

    settings = get_settings()
    if not settings.demo_users_enabled:
        console.print("demo users are switched off (HOMEWARD_DEMO_USERS, HOMEWARD_ENV)")
        return
    identities = with_graph(settings, lambda g: g.write(create_demo_identities))
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
