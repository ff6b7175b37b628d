"""A directory with one service to refer to, and the two people who send and answer."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from cryptography.fernet import Fernet

from core.crypto import DataCipher
from graph.driver import Graph
from graph.referrals.consent import grant_consent
from graph.referrals.lifecycle import TRANSITIONS, create_referral, transition
from graph.referrals.models import (
    Action,
    ConsentInput,
    DataCategory,
    DeclineReason,
    Outcome,
    Policy,
    ReferralInput,
    ReferralStatus,
)
from graph.services import ReturnType
from graph.users import Actor, Membership, Role
from tests import directory

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
POLICY = Policy()
COUNSELLOR = Actor(
    user_id="c", memberships=[Membership(organisation_id="org-aprk", role=Role.COUNSELLOR)]
)
PARTNER = Actor(
    user_id="p", memberships=[Membership(organisation_id="org-krct", role=Role.PARTNER)]
)


@pytest.fixture
async def world(countries: Graph) -> Graph:
    await directory.build(countries)
    await directory.add_services(countries, [("svc-krct", directory.service())])
    return countries


KEY = Fernet.generate_key()
CIPHER = DataCipher([KEY])


async def new_referral(graph: Graph, id: str) -> None:
    data = ReferralInput(
        service_id="svc-krct",
        destination="XK-prizren",
        needs=["psychosocial.trauma-therapy"],
        return_type=ReturnType.FORCED,
        health="Illustrative health note",
    )
    await graph.write(
        create_referral, id=id, data=data, actor=COUNSELLOR, cipher=CIPHER, now=NOW, policy=POLICY
    )
    consent = ConsentInput(
        referral_id=id,
        categories=[DataCategory.NEEDS, DataCategory.HEALTH],
        purpose="trauma therapy",
        evidence_reference="form 1",
        expires_on=date(2027, 1, 1),
    )
    await graph.write(
        grant_consent, id=f"consent-{id}", data=consent, actor=COUNSELLOR, now=NOW, cipher=CIPHER
    )


async def step(graph: Graph, id: str, action: Action) -> ReferralStatus:
    side = TRANSITIONS[action].side.value
    referral = await graph.write(
        transition,
        id=id,
        action=action,
        actor=COUNSELLOR if side == "sender" else PARTNER,
        cipher=CIPHER,
        now=NOW,
        policy=POLICY,
        reason=DeclineReason.NO_CAPACITY if action is Action.DECLINE else None,
        outcome=Outcome.GOT_HELP if action is Action.COMPLETE else None,
    )
    return referral.status
