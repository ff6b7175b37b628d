"""The referral state machine, in Python and in the database: every illegal step, and
concurrent steps."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from neo4j import AsyncManagedTransaction

from core.errors import IllegalTransition, NotFound
from graph.driver import Graph
from graph.referrals.lifecycle import TRANSITIONS, allowed_actions, next_status
from graph.referrals.models import Action, ReferralStatus, Side
from graph.referrals.reads import get_referral
from tests.graph.referrals.conftest import CIPHER, COUNSELLOR, NOW, POLICY, new_referral, step

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


async def test_a_new_referral_keeps_its_need_codes_for_the_gap_matrix(world: Graph) -> None:
    await new_referral(world, "ref-needs")

    async def kept(tx: AsyncManagedTransaction) -> list[str]:
        result = await tx.run("MATCH (r:Referral {id: 'ref-needs'}) RETURN r.need_codes AS c")
        record = await result.single(strict=True)
        return list(record["c"])

    assert await world.read(kept) == ["psychosocial.trauma-therapy"]


async def test_every_illegal_transition_is_refused_in_the_database(world: Graph) -> None:
    refused = 0
    for status, path in PATHS.items():
        id = f"ref-{status.value}"
        await new_referral(world, id)
        for action in path:
            await step(world, id, action)
        legal = set(allowed_actions(status))
        for action in set(Action) - legal:
            if status is ReferralStatus.DRAFT and TRANSITIONS[action].side is Side.RECEIVER:
                # A draft is not shared: to the receiver it does not exist yet.
                with pytest.raises(NotFound):
                    await step(world, id, action)
                refused += 1
                continue
            with pytest.raises(IllegalTransition) as caught:
                await step(world, id, action)
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
        await new_referral(world, id)
        await step(world, id, Action.SEND)
        actions = racing[round_ % 4 : round_ % 4 + RACERS]
        results = await asyncio.gather(
            *(step(world, id, a) for a in actions), return_exceptions=True
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
