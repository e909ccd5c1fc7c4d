"""hostsync.caching: each bounded cache keeps at most its limit, and drops what it says."""

from __future__ import annotations

from hostsync.caching import LeastRecent, StartOver


def test_least_recent_drops_the_least_recently_put_entry_past_its_limit() -> None:
    """Over the limit, the entry put longest ago goes; putting a key again makes it recent."""
    cache: LeastRecent[str, int] = LeastRecent(3)
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        cache.put(key, value)
    cache.put("a", 10)  # touched: now the most recent
    cache.put("d", 4)
    assert len(cache) == 3
    assert "b" not in cache
    assert [cache.get(key) for key in ("a", "c", "d")] == [10, 3, 4]


def test_least_recent_reads_do_not_make_an_entry_recent() -> None:
    """Only a put refreshes an entry: a key read often but never put again still ages out."""
    cache: LeastRecent[str, int] = LeastRecent(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    assert "a" in cache
    cache.put("c", 3)
    assert cache.get("a") is None
    assert cache.get("b") == 2


def test_least_recent_pop_forgets_a_key_and_returns_its_value() -> None:
    """pop returns the kept value, or None for a key that is not kept."""
    cache: LeastRecent[str, int] = LeastRecent(2)
    cache.put("a", 1)
    assert cache.pop("a") == 1
    assert cache.pop("a") is None
    assert len(cache) == 0


def test_start_over_empties_itself_before_the_entry_that_would_not_fit() -> None:
    """At the limit, the next put leaves only that entry."""
    cache: StartOver[str, int] = StartOver(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert len(cache) == 2
    cache.put("c", 3)
    assert len(cache) == 1
    assert cache.get("c") == 3
    assert cache.get("a") is None


def test_start_over_empties_a_full_cache_even_to_replace_a_kept_key() -> None:
    """The check is on size alone (as web/auth.py's credential cache always did)."""
    cache: StartOver[str, int] = StartOver(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 5)
    assert len(cache) == 1
    assert cache.get("a") == 5
    assert "b" not in cache


def test_start_over_clear_forgets_everything() -> None:
    """clear empties the cache; it fills again from nothing."""
    cache: StartOver[str, int] = StartOver(4)
    cache.put("a", 1)
    cache.clear()
    assert len(cache) == 0
    cache.put("b", 2)
    assert cache.get("b") == 2
