"""The per-process cache of reference data: entries expire, misses are never kept."""

from __future__ import annotations

from graph.reference import Expiring, ReferenceCache


def test_cached_reference_data_expires() -> None:
    clock = [0.0]
    cache = ReferenceCache(ttl_s=60, clock=lambda: clock[0])
    cache.narrower.put("employment", ["employment", "employment.job-placement"])
    clock[0] = 59.0
    assert cache.narrower.get("employment") == ["employment", "employment.job-placement"]
    clock[0] = 61.0
    assert cache.narrower.get("employment") is None


async def test_only_what_is_missing_is_fetched_and_unknown_keys_are_asked_again() -> None:
    kept: Expiring[str, str] = Expiring(60, lambda: 0.0)
    asked: list[list[str]] = []

    async def fetch(keys: list[str]) -> dict[str, str]:
        asked.append(keys)
        return {k: k.upper() for k in keys if k != "nowhere"}

    assert await kept.get_many(["xk", "al"], fetch) == {"xk": "XK", "al": "AL"}
    assert await kept.get_many(["xk", "rs", "nowhere"], fetch) == {"xk": "XK", "rs": "RS"}
    assert await kept.get_many(["nowhere"], fetch) == {}
    assert asked == [["xk", "al"], ["rs", "nowhere"], ["nowhere"]]
