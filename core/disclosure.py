"""One rule for every published count of people: a count below the deployment's minimum
(`HOMEWARD_STATISTICS_MINIMUM_COUNT`) is never shown, nor anything it could be recovered
from. In a small municipality "one Roma family referred for trauma therapy" identifies the
family; so does a total minus the cells shown beside it.

- `suppress`: primary suppression of every small cell of a breakdown whose total is shown,
  then complementary suppression: while a single cell is hidden, or the hidden cells together
  hold fewer than the minimum (so that the total minus the shown cells would narrow them down
  to a small count), the smallest cell still shown is hidden too.
  A cell of 0 is shown (it points at nobody) and is never hidden to protect another: it
  would add nothing to the hidden sum.
- `too_small`: whether a single count (one service's referrals shown to the public) must be
  withheld; `shown` is that count, or None.
- `share`: a proportion of a group, withheld where the group, the part in it or the part
  outside it is a small count ("one of ten households was not visited").

The views that publish counts of people (referral and case statistics, planned arrivals,
gaps and their GeoJSON, overlaps, a service's responsiveness and its search reasons shown
anonymously) all go through these functions; docs/security.md lists them.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def too_small(count: int, minimum: int) -> bool:
    return 0 < count < minimum


def shown(count: int, minimum: int) -> int | None:
    """A single count or total, None where it is too small to publish."""
    return None if too_small(count, minimum) else count


def share(part: int, whole: int, minimum: int) -> float | None:
    """part / whole to three places, or None: a rate over three households says what
    happened to each, and 9 of 10 says what happened to the tenth."""
    if whole < minimum or too_small(part, minimum) or too_small(whole - part, minimum):
        return None
    return round(part / whole, 3)


def suppress(counts: Mapping[K, int], minimum: int) -> dict[K, int | None]:
    """The cells, None where hidden; ties are broken by key, so the result is stable."""
    hidden = {key for key, count in counts.items() if too_small(count, minimum)}
    if hidden:
        # Only a cell with someone in it makes the hidden sum harder to narrow down.
        others = sorted(
            ((n, key) for key, n in counts.items() if key not in hidden and n > 0),
            key=lambda cell: (cell[0], str(cell[1])),
        )
        while others and (len(hidden) < 2 or sum(counts[k] for k in hidden) < minimum):
            hidden.add(others.pop(0)[1])
    return {key: None if key in hidden else count for key, count in counts.items()}
