"""Where and when a request's database work runs: chosen once, from the database.

SQLite's units are CPU in this process, so they run on the event loop, taking turns
(web/turns.py); PostgreSQL's wait on the network, so they run in worker threads, no more at
once than the pool keeps connections, writes to one resource queued (web/queues.py). Costly
reads first take a slot of their tenant's share (web/fairness.py) and run off the loop.
Measured: bench/JOURNAL.md#inline-units
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar

import anyio
import anyio.to_thread

from hostsync.config import Settings
from hostsync.store.database import Database
from hostsync.web.fairness import BackgroundThreads, CostlyGate
from hostsync.web.queues import ResourceQueues
from hostsync.web.turns import Turns

T = TypeVar("T")


class Scheduler(Protocol):
    """Runs synchronous database work for the event loop and waits for it."""

    async def run(self, function: Callable[[], T], *, resource: Hashable | None = None) -> T:
        """Run a unit of work (or a lookup, or a log write).

        ``resource`` names what a write changes: writes naming the same resource run one at
        a time, in arrival order.
        """

    async def run_costly(self, tenant_id: str, function: Callable[[], T]) -> T:
        """Run a costly read (store/budget.py) in a slot of its tenant's share, off the loop."""

    def close(self) -> None:
        """Let the scheduler's threads end (the server is stopping)."""


class InlineScheduler:
    """SQLite: units on the event loop, one per turn in arrival order, committed in groups."""

    def __init__(self, database: Database, gate: CostlyGate) -> None:
        self.turns = Turns(database.commit_group)
        self.gate = gate
        # A file's costly reads run in threads of lower CPU priority; an in-memory database
        # has its one connection, on the loop.
        self.background = (
            BackgroundThreads(gate.total) if database.commit_group is not None else None
        )

    async def run(self, function: Callable[[], T], *, resource: Hashable | None = None) -> T:
        """Run ``function`` in its turn; the turns already keep writes in arrival order."""
        return await self.turns.run(function)

    async def run_costly(self, tenant_id: str, function: Callable[[], T]) -> T:
        """Run a costly read in its tenant's share, in a background thread (a file)."""
        async with self.gate.slot(tenant_id):
            if self.background is not None:
                return await self.background.run(function)
            return await self.turns.run(function)

    def close(self) -> None:
        """Let the costly reads' threads end."""
        if self.background is not None:
            self.background.shutdown()


class ThreadScheduler:
    """PostgreSQL: units in worker threads, one per kept connection, writes queued per resource."""

    def __init__(self, database: Database, gate: CostlyGate) -> None:
        self.threads = anyio.CapacityLimiter(database.postgres_connections)
        self.queues = ResourceQueues()
        self.gate = gate

    async def run(self, function: Callable[[], T], *, resource: Hashable | None = None) -> T:
        """Run ``function`` in a worker thread, after the writes to ``resource`` before it."""
        if resource is None:
            return await anyio.to_thread.run_sync(function, limiter=self.threads)
        async with self.queues.turn(resource):
            return await anyio.to_thread.run_sync(function, limiter=self.threads)

    async def run_costly(self, tenant_id: str, function: Callable[[], T]) -> T:
        """Run a costly read in its tenant's share, in a worker thread."""
        async with self.gate.slot(tenant_id):
            return await anyio.to_thread.run_sync(function, limiter=self.threads)

    def close(self) -> None:
        """Nothing to end: anyio's worker threads are the event loop's."""


def scheduler_for(database: Database, settings: Settings) -> Scheduler:
    """Inline turns for SQLite, worker threads and resource queues for PostgreSQL."""
    gate = CostlyGate(
        settings.costly_queries,
        settings.costly_queries_per_tenant,
        settings.costly_wait_ms / 1000,
    )
    if database.dialect == "sqlite":
        return InlineScheduler(database, gate)
    return ThreadScheduler(database, gate)
