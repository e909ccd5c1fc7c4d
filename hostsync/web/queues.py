"""Writes to one resource wait their turn on the event loop, first come first served.

PostgreSQL grants a contended row lock in no particular order, and each waiter holds one of
the worker's connections meanwhile; queued here, before they take a connection, the writes
run in arrival order and the connections stay free for other requests and tenants.
Measured: bench/JOURNAL.md#resource-queues
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
