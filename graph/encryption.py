"""Every value encrypted at rest, in one registry, and re-encrypting them all under the newest
data key (`homeward referrals rotate-key`).

A new encrypted property is added to `ENCRYPTED_FIELDS` or rotation leaves it under the old
key, unreadable once that key is removed: tests/graph/referrals/test_retention.py finds every
`*_enc` property stored and fails on one this registry does not name.
"""

from __future__ import annotations

from typing import LiteralString

from neo4j import AsyncManagedTransaction

from core.crypto import DataCipher
from graph.driver import Graph

# Label -> its properties holding `DataCipher` tokens.
ENCRYPTED_FIELDS: dict[LiteralString, tuple[LiteralString, ...]] = {
    "Referral": ("note_enc", "contact_enc", "health_enc"),
    "ReferralEvent": ("note_enc",),
    "FollowUp": ("note_enc",),
    "Consent": ("purpose_enc", "evidence_enc"),
    "ReturnCase": ("note_enc",),
    "CaseEvent": ("note_enc",),
    "CaseFollowUp": ("note_enc",),
    "WebhookSubscription": ("secret_enc",),
}
_KEYS: tuple[LiteralString, ...] = tuple(
    dict.fromkeys(key for keys in ENCRYPTED_FIELDS.values() for key in keys)
)

ENCRYPTED: LiteralString = (
    "MATCH (x) WHERE ("
    + " OR ".join("x:" + label for label in ENCRYPTED_FIELDS)
    + ") AND elementId(x) > $after AND ("
    + " OR ".join("x." + key + " IS NOT NULL" for key in _KEYS)
    + """)
WITH x ORDER BY elementId(x) LIMIT $batch
RETURN elementId(x) AS ref, [k IN $keys WHERE x[k] IS NOT NULL | [k, x[k]]] AS values
"""
)

REWRITE: LiteralString = """
UNWIND $rows AS row
MATCH (x) WHERE elementId(x) = row.ref
SET x += row.values
"""


async def rotate_batch(
    tx: AsyncManagedTransaction, *, cipher: DataCipher, after: str, batch: int = 500
) -> tuple[str, int] | None:
    """Re-encrypt one batch of stored values under the newest key; returns the position to
    continue from and the batch's size, or None when done."""
    result = await tx.run(ENCRYPTED, after=after, batch=batch, keys=list(_KEYS))
    rows = []
    last: str | None = None
    async for r in result:
        last = r["ref"]
        rows.append({"ref": r["ref"], "values": {k: cipher.rotate(v) for k, v in r["values"]}})
    if not rows or last is None:
        return None
    await tx.run(REWRITE, rows=rows)
    return last, len(rows)


async def rotate_all(graph: Graph, *, cipher: DataCipher) -> int:
    """Re-encrypt every stored value under the newest key, in batches (each its own
    transaction). Returns how many nodes were rewritten (values already under the newest key
    included)."""
    position, nodes = "", 0
    while (done := await graph.write(rotate_batch, cipher=cipher, after=position)) is not None:
        position, count = done
        nodes += count
    return nodes
