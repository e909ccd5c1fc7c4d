"""Writes to one resource wait their turn on the event loop, first come first served.

On PostgreSQL a write unit of work locks the row it changes (``SELECT … FOR UPDATE``) until it
commits. When many requests change one resource at once (members added to one group), each
holds one of the worker's connections while it waits for that lock, and PostgreSQL does not
grant it in arrival order: with 16 concurrent member adds to one group, the median fell while
the p99 rose to 255 and 382 ms in two runs (bench/README.md). :class:`ResourceQueues` queues
such writes before they take a connection: one unit per resource runs at a time, the others
wait on an :class:`asyncio.Lock`, which wakes its waiters in the order they came, and the
connections stay free for other requests and other tenants.

SQLite needs none of this: its units run one at a time on the loop (web/turns.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class ResourceQueues:
    """One FIFO queue per resource key, kept only while someone is in it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, list[int]]] = {}

    def __len__(self) -> int:
        """How many resources have a write running or waiting."""
        return len(self._locks)

    @asynccontextmanager
    async def turn(self, key: Hashable) -> AsyncIterator[None]:
        """Wait until the writes to ``key`` that came first are done, then hold the turn."""
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._locks[key]
