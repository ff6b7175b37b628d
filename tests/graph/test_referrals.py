"""The referral state machine in the database: every illegal step, concurrent steps, and
key rotation of the stored personal data."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st
from neo4j import AsyncManagedTransaction

from core.crypto import DataCipher
from core.errors import IllegalTransition, NotFound
from graph.driver import Graph
from graph.referrals import (
    TRANSITIONS,
    Action,
    ConsentInput,
    DataCategory,
    DeclineReason,
    Outcome,
    Policy,
    ReferralInput,
    ReferralStatus,
    Side,
    allowed_actions,
    create_referral,
    get_referral,
    grant_consent,
    next_status,
    rotate_all,
    transition,
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

# How to reach each state from a fresh draft, and who takes each step.
PATHS: dict[ReferralStatus, list[Action]] = {
    ReferralStatus.DRAFT: [],
    ReferralStatus.SENT: [Action.SEND],
    ReferralStatus.ACKNOWLEDGED: [Action.SEND, Action.ACKNOWLEDGE],
    ReferralStatus.ACCEPTED: [Action.SEND, Action.ACCEPT],
    ReferralStatus.DECLINED: [Action.SEND, Action.DECLINE],
    ReferralStatus.IN_PROGRESS: [Action.SEND, Action.ACCEPT, Action.START],
    ReferralStatus.COMPLETED: [Action.SEND, Action.ACCEPT, Action.COMPLETE],
    ReferralStatus.CANCELLED: [Action.CANCEL],
}


def test_every_state_is_reachable_and_closed_states_allow_nothing() -> None:
    assert set(PATHS) == set(ReferralStatus)
    for status in (ReferralStatus.DECLINED, ReferralStatus.COMPLETED, ReferralStatus.CANCELLED):
        assert allowed_actions(status) == []


@given(st.lists(st.sampled_from(list(Action)), max_size=30))
def test_random_sequences_never_leave_the_state_machine(actions: list[Action]) -> None:
    status = ReferralStatus.DRAFT
    for action in actions:
        if action not in allowed_actions(status):
            with pytest.raises(IllegalTransition) as refused:
                next_status(status, action)
            assert refused.value.current == status.value
            assert action.value not in refused.value.allowed
            continue
        after = next_status(status, action)
        assert status in TRANSITIONS[action].sources
        assert after is TRANSITIONS[action].target
        status = after
    # Once closed, always closed.
    if status in {ReferralStatus.COMPLETED, ReferralStatus.CANCELLED, ReferralStatus.DECLINED}:
        assert allowed_actions(status) == []


@pytest.fixture
async def world(countries: Graph) -> Graph:
    await directory.build(countries)
    await directory.add_services(countries, [("svc-krct", directory.service())])
    return countries


KEY = Fernet.generate_key()
CIPHER = DataCipher([KEY])


async def _referral(graph: Graph, id: str) -> None:
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
    await graph.write(grant_consent, id=f"consent-{id}", data=consent, actor=COUNSELLOR, now=NOW)


async def _step(graph: Graph, id: str, action: Action) -> ReferralStatus:
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


async def test_a_new_referral_keeps_its_need_codes_for_the_gap_matrix(world: Graph) -> None:
    await _referral(world, "ref-needs")

    async def kept(tx: AsyncManagedTransaction) -> list[str]:
        result = await tx.run("MATCH (r:Referral {id: 'ref-needs'}) RETURN r.need_codes AS c")
        record = await result.single(strict=True)
        return list(record["c"])

    assert await world.read(kept) == ["psychosocial.trauma-therapy"]


async def test_every_illegal_transition_is_refused_in_the_database(world: Graph) -> None:
    refused = 0
    for status, path in PATHS.items():
        id = f"ref-{status.value}"
        await _referral(world, id)
        for action in path:
            await _step(world, id, action)
        legal = set(allowed_actions(status))
        for action in set(Action) - legal:
            if status is ReferralStatus.DRAFT and TRANSITIONS[action].side is Side.RECEIVER:
                # A draft is not shared: to the receiver it does not exist yet.
                with pytest.raises(NotFound):
                    await _step(world, id, action)
                refused += 1
                continue
            with pytest.raises(IllegalTransition) as caught:
                await _step(world, id, action)
            assert caught.value.current == status.value
            assert caught.value.allowed == [a.value for a in allowed_actions(status)]
            refused += 1
        after = await world.read(
            get_referral, id=id, actor=COUNSELLOR, cipher=CIPHER, now=NOW, policy=POLICY
        )
        assert after.status is status
        assert len(after.events) == len(path) + 1  # refusals leave no event
    assert refused == sum(len(set(Action) - set(allowed_actions(s))) for s in ReferralStatus)


ROUNDS = 15
RACERS = 6


async def test_concurrent_steps_never_both_succeed_from_the_same_state(world: Graph) -> None:
    """Each round, several clients fire at a freshly sent referral at once: acknowledging,
    accepting, declining and the sender cancelling all start from "sent", so exactly one of
    them may win and the others must see the state it left."""
    racing = [Action.ACKNOWLEDGE, Action.ACCEPT, Action.DECLINE, Action.CANCEL] * 2
    wins_total = 0
    for round_ in range(ROUNDS):
        id = f"race-{round_}"
        await _referral(world, id)
        await _step(world, id, Action.SEND)
        actions = racing[round_ % 4 : round_ % 4 + RACERS]
        results = await asyncio.gather(
            *(_step(world, id, a) for a in actions), return_exceptions=True
        )
        wins = [r for r in results if isinstance(r, ReferralStatus)]
        errors = [r for r in results if not isinstance(r, ReferralStatus)]
        assert all(isinstance(e, IllegalTransition) for e in errors), errors
        after = await world.read(
            get_referral, id=id, actor=COUNSELLOR, cipher=CIPHER, now=NOW, policy=POLICY
        )
        from_sent = [e for e in after.events if e.from_status is ReferralStatus.SENT]
        assert len(from_sent) == 1, [(e.action, e.from_status) for e in after.events]
        # Every success is one event, in a chain: each starts where the previous ended.
        chain = after.events[1:]
        assert len(chain) == 1 + len(wins)
        for earlier, later in itertools.pairwise(chain):
            assert later.from_status is earlier.to_status
        assert after.version == 2 + len(wins)
        wins_total += len(wins)
    assert wins_total >= ROUNDS


async def test_rotation_moves_every_stored_value_to_the_new_key(world: Graph) -> None:
    await _referral(world, "rot-1")
    await _step(world, "rot-1", Action.SEND)
    new_key = Fernet.generate_key()
    both = DataCipher([new_key, KEY])
    assert await rotate_all(world, cipher=both) == 1
    only_new = DataCipher([new_key])
    seen = await world.read(
        get_referral,
        id="rot-1",
        actor=COUNSELLOR,
        cipher=only_new,
        now=NOW + timedelta(seconds=1),
        policy=POLICY,
    )
    assert seen.health == "Illustrative health note"
