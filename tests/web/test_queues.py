"""ResourceQueues (web/queues.py): writes to one resource one at a time, in arrival order."""

from __future__ import annotations

import asyncio

import pytest

from hostsync.web.queues import ResourceQueues


async def _held(queues: ResourceQueues, key: str) -> tuple[asyncio.Task[None], asyncio.Event]:
    """A write that holds ``key``'s turn until the returned event is set."""
    inside, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with queues.turn(key):
            inside.set()
            await release.wait()

    task = asyncio.create_task(hold())
    await inside.wait()
    return task, release


async def test_writes_to_one_resource_take_turns_in_arrival_order() -> None:
    queues = ResourceQueues()
    running: list[str] = []
    overlapped: list[tuple[str, ...]] = []
    order: list[str] = []

    async def write(name: str) -> None:
        async with queues.turn("group-1"):
            running.append(name)
            overlapped.append(tuple(running))
            order.append(name)
            await asyncio.sleep(0.001)
            running.remove(name)

    await asyncio.gather(*(write(f"w{i}") for i in range(8)))
    assert order == [f"w{i}" for i in range(8)]
    assert all(len(seen) == 1 for seen in overlapped)
    assert len(queues) == 0  # nothing kept once no one waits


async def test_writes_to_different_resources_do_not_wait_for_each_other() -> None:
    queues = ResourceQueues()
    holder, release = await _held(queues, "user-1")
    async with asyncio.timeout(1):
        async with queues.turn("user-2"):
            assert len(queues) == 2
    release.set()
    await holder
    assert len(queues) == 0


async def test_a_failed_or_cancelled_write_gives_up_its_turn() -> None:
    queues = ResourceQueues()
    with pytest.raises(RuntimeError):
        async with queues.turn("group-1"):
            raise RuntimeError("the unit of work failed")

    async def waiter() -> None:
        async with queues.turn("group-1"):
            pass

    first, release = await _held(queues, "group-1")
    second = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    second.cancel()  # the client went away while waiting
    with pytest.raises(asyncio.CancelledError):
        await second
    release.set()
    await first
    assert len(queues) == 0
    async with asyncio.timeout(1), queues.turn("group-1"):
        pass
