"""Work over many items with at most ``concurrency`` of them in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from hostsync.engine.progress import ProgressSink

T = TypeVar("T")
R = TypeVar("R")


async def bounded(
    items: Sequence[T], work: Callable[[T], Awaitable[R]], concurrency: int
) -> list[R]:
    """Run ``work`` over ``items`` with at most ``concurrency`` at a time, results in order."""
    results: list[R | None] = [None] * len(items)
    queue = iter(enumerate(items))

    async def worker() -> None:
        for index, item in queue:
            results[index] = await work(item)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(items))):
                group.create_task(worker())
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None  # the first failure (StopSync) stops the phase
    return [result for result in results if result is not None]


async def counted(
    items: Sequence[T],
    work: Callable[[T], Awaitable[R]],
    concurrency: int,
    progress: ProgressSink | None,
) -> list[R]:
    """:func:`bounded`, advancing ``progress`` as each item finishes."""
    if progress is None:
        return await bounded(items, work, concurrency)

    async def one(item: T) -> R:
        try:
            return await work(item)
        finally:
            progress.advance()

    return await bounded(items, one, concurrency)
