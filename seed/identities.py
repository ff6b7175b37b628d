"""Demo identities: one user per role, with published tokens, for trying the API.

They exist so that a newcomer can open GraphiQL and act as a counsellor, a partner, a
coordinator or an admin. Everything about them is invented and marked `demo`; the tokens are
printed by `make run` and are no secret. Authentication refuses them whenever
HOMEWARD_DEMO_USERS is off or the environment is production, so switching them off takes
effect at once without deleting anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from neo4j import AsyncManagedTransaction

from graph.users import Role, UserInput, create_user, hash_secret, issue_token


@dataclass(frozen=True, slots=True)
class DemoIdentity:
    user_id: str
    email: str
    display_name: str
    organisation_id: str
    role: Role

    @property
    def token_id(self) -> str:
        return f"demo{self.role.value}"

    @property
    def secret(self) -> str:
        return f"not-a-secret-{self.role.value}"

    @property
    def token(self) -> str:
        return f"hwt_{self.token_id}_{self.secret}"


# Organisations from the demo directory (seed/data/organisations.json).
DEMO_IDENTITIES = (
    DemoIdentity(
        "demo-counsellor",
        "counsellor.demo@example.org",
        "Demo counsellor (Munich return assistance)",
        "de-muenchen-rueckkehrhilfe",
        Role.COUNSELLOR,
    ),
    DemoIdentity(
        "demo-partner",
        "partner.demo@example.org",
        "Demo partner (KRCT)",
        "xk-krct",
        Role.PARTNER,
    ),
    DemoIdentity(
        "demo-coordinator",
        "coordinator.demo@example.org",
        "Demo coordinator (Ministry for Communities and Returns)",
        "xk-mkk",
        Role.COORDINATOR,
    ),
    DemoIdentity(
        "demo-admin",
        "admin.demo@example.org",
        "Demo admin",
        "xk-mkk",
        Role.ADMIN,
    ),
)


async def create_demo_identities(tx: AsyncManagedTransaction) -> list[DemoIdentity]:
    """Idempotent: the same users and tokens every time."""
    for identity in DEMO_IDENTITIES:
        await create_user(
            tx,
            id=identity.user_id,
            data=UserInput(
                email=identity.email,
                display_name=identity.display_name,
                organisation_id=identity.organisation_id,
                role=identity.role,
            ),
            demo=True,
        )
        await issue_token(
            tx,
            user_id=identity.user_id,
            token_id=identity.token_id,
            secret_hash=hash_secret(identity.secret),
            label="demo",
            expires_at=None,
        )
    return list(DEMO_IDENTITIES)
