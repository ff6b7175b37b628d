"""How deep JSON nests, found without parsing it: a parser recurses as deep as the document
and fails (RecursionError) without saying where, so uploads and GraphQL variables are
checked with this first."""

from __future__ import annotations

import re

# Strings (skipped whole, so that brackets inside them do not count) and brackets.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def too_deep_at(text: str, limit: int) -> int | None:
    """The offset of the first bracket that opens level `limit + 1`, None if none does."""
    depth = 0
    for token in _TOKENS.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return token.start()
        elif bracket in "]}":
            depth -= 1
    return None
