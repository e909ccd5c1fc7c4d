"""Bounded in-process caches: at most ``limit`` entries, whatever clients send.

Each cache picks what happens when it is full, by who chooses its keys:

- :class:`LeastRecent` drops the entry least recently stored or touched. For keys a client
  can churn (addresses, API keys): a flood of new keys cannot push out the ones in use.
- :class:`StartOver` empties itself before the entry that would not fit. For values that are
  cheap to rebuild and keys that rarely churn: no bookkeeping on a hit.

Neither locks: a cache shared between threads is guarded by its owner's lock. This module
imports nothing from hostsync, so every layer may use it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LeastRecent(Generic[K, V]):
    """Past ``limit`` entries, the least recently put one is dropped (LRU on writes)."""

    __slots__ = ("_entries", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value kept for ``key``; a read does not make it recent (:meth:`put` does)."""
        return self._entries.get(key)

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` as the most recent entry, dropping the least recent if over."""
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self.limit:
            self._entries.popitem(last=False)

    def pop(self, key: K) -> V | None:
        """Forget ``key``; return what was kept for it."""
        return self._entries.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


class StartOver(dict[K, V]):
    """When ``limit`` entries are kept, the next :meth:`put` empties the cache first.

    A ``dict`` itself, so a hit costs one ``dict.get``: this is the cache of the hot paths
    (path resolutions, PATCH plans, page splices).
    """

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> None:
        """Keep ``value``; a full cache is emptied before it (even to replace ``key``)."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
