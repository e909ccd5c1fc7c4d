"""scheduler_for (web/scheduling.py): the database picks, once, where SCIM work runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostsync.config import Settings
from hostsync.store.database import Database
from hostsync.web.scheduling import InlineScheduler, Scheduler, ThreadScheduler, scheduler_for

SETTINGS = Settings(costly_queries=3, costly_queries_per_tenant=1, costly_wait_ms=250)


@pytest.fixture
def opened() -> Iterator[list[Database]]:
    databases: list[Database] = []
    yield databases
    for database in databases:
        database.dispose()


async def _threads_of(scheduler: Scheduler) -> tuple[str, str, str]:
    """The thread that ran a unit, a write to a resource and a costly read."""

    def name() -> str:
        return threading.current_thread().name

    try:
        return (
            await scheduler.run(name),
            await scheduler.run(name, resource=("tenant", "Users", "id")),
            await scheduler.run_costly("tenant", name),
        )
    finally:
        scheduler.close()


async def test_a_sqlite_file_runs_units_in_turns_on_the_loop_and_costly_reads_in_threads(
    tmp_path: Path, opened: list[Database]
) -> None:
    """A SQLite file: turns on the loop, committed in groups; costly reads in background."""
    database = Database(f"sqlite:///{tmp_path / 'hostsync.db'}")
    opened.append(database)
    scheduler = scheduler_for(database, SETTINGS)
    assert isinstance(scheduler, InlineScheduler)
    assert database.commit_group is not None
    assert scheduler.background is not None
    assert scheduler.background.threads == scheduler.gate.total == 3
    loop = threading.current_thread().name
    unit, write, costly = await _threads_of(scheduler)
    assert unit == write == loop
    assert costly.startswith("hostsync-costly")


async def test_an_in_memory_sqlite_database_runs_even_costly_reads_in_turns(
    opened: list[Database],
) -> None:
    """In memory: its one connection is the loop's, so no commit group and no threads."""
    database = Database("sqlite://")
    opened.append(database)
    scheduler = scheduler_for(database, SETTINGS)
    assert isinstance(scheduler, InlineScheduler)
    assert scheduler.background is None
    loop = threading.current_thread().name
    assert await _threads_of(scheduler) == (loop, loop, loop)


async def test_postgresql_runs_worker_threads_one_per_kept_connection_and_queues_writes(
    opened: list[Database],
) -> None:
    """PostgreSQL: threads bounded by the kept connections, writes queued per resource."""
    database = Database("postgresql+psycopg://nobody@127.0.0.1:1/none", postgres_connections=3)
    opened.append(database)
    scheduler = scheduler_for(database, SETTINGS)
    assert isinstance(scheduler, ThreadScheduler)
    assert scheduler.threads.total_tokens == 3
    assert (scheduler.gate.total, scheduler.gate.per_tenant) == (3, 1)
    assert scheduler.gate.wait_seconds == 0.25
    loop = threading.current_thread().name
    unit, write, costly = await _threads_of(scheduler)
    assert loop not in (unit, write, costly)
    assert not costly.startswith("hostsync-costly")
    assert len(scheduler.queues) == 0  # the write's queue is gone once it ran
