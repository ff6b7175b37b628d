"""Key rotation of the personal data stored on referrals."""

from __future__ import annotations

from datetime import timedelta

from cryptography.fernet import Fernet

from core.crypto import DataCipher
from graph.driver import Graph
from graph.referrals.models import Action
from graph.referrals.reads import get_referral
from graph.referrals.retention import rotate_all
from tests.graph.referrals.conftest import COUNSELLOR, KEY, NOW, POLICY, new_referral, step


async def test_rotation_moves_every_stored_value_to_the_new_key(world: Graph) -> None:
    await new_referral(world, "rot-1")
    await step(world, "rot-1", Action.SEND)
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
