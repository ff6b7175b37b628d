"""One rule for every published count of people: a count below the deployment's minimum
(`HOMEWARD_STATISTICS_MINIMUM_COUNT`) is never shown, nor anything it could be recovered
from. In a small municipality "one Roma family referred for trauma therapy" identifies the
family; so does a total minus the cells shown beside it.

- `suppress`: primary suppression of every small cell of a breakdown whose total is shown,
  then complementary suppression: while a single cell is hidden, or the hidden cells together
  hold fewer than the minimum (so that the total minus the shown cells would narrow them down
  to a small count), the smallest cell still shown is hidden too.
- `too_small`: whether a single count (one service's referrals shown to the public) must be
  withheld.
"""

from __future__ import annotations

from collections.abc import Mapping


def too_small(count: int, minimum: int) -> bool:
    return 0 < count < minimum


def suppress(counts: Mapping[str, int], minimum: int) -> dict[str, int | None]:
    """The cells, None where hidden; ties are broken by key, so the result is stable."""
    hidden = {key for key, count in counts.items() if too_small(count, minimum)}
    if hidden:
        shown = sorted((count, key) for key, count in counts.items() if key not in hidden)
        while shown and (len(hidden) < 2 or sum(counts[k] for k in hidden) < minimum):
            hidden.add(shown.pop(0)[1])
    return {key: None if key in hidden else count for key, count in counts.items()}
