"""Turns (web/turns.py): inline units of work, one per turn of the event loop, in arrival order."""

from __future__ import annotations

import asyncio

import pytest

from hostsync.web.turns import Turns


def test_units_run_in_the_order_they_asked_and_late_comers_queue_behind() -> None:
    turns = Turns()
    ran: list[str] = []

    async def unit(name: str) -> str:
        return await turns.run(lambda: ran.append(name) or name)

    async def scenario() -> list[str]:
        first = [asyncio.create_task(unit(f"early{i}")) for i in range(3)]
        await asyncio.sleep(0)  # early0 ran; early1 and early2 wait for their turns
        late = asyncio.create_task(unit("late"))
        return await asyncio.gather(*first, late)

    results = asyncio.run(scenario())
    assert results == ["early0", "early1", "early2", "late"]
    assert ran == ["early0", "early1", "early2", "late"]


def test_the_loop_turns_between_two_units_of_one_batch() -> None:
    """What became ready during a unit (on a server: requests that arrived, found by the
    loop's next poll) runs before the next unit, not after the whole batch."""
    turns = Turns()
    events: list[str] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()

        def first() -> None:
            events.append("unit 1")
            loop.call_soon(events.append, "ready during unit 1")

        both = asyncio.gather(turns.run(first), turns.run(lambda: events.append("unit 2")))
        await both

    asyncio.run(scenario())
    assert events == ["unit 1", "ready during unit 1", "unit 2"]


def test_a_failing_unit_passes_the_turn_on() -> None:
    turns = Turns()

    def fail() -> None:
        raise ValueError("boom")

    async def scenario() -> tuple[object, ...]:
        return tuple(
            await asyncio.gather(turns.run(fail), turns.run(lambda: "next"), return_exceptions=True)
        )

    failed, following = asyncio.run(scenario())
    assert isinstance(failed, ValueError)
    assert following == "next"


def test_a_waiter_cancelled_in_the_queue_does_not_hold_up_the_rest() -> None:
    turns = Turns()
    ran: list[str] = []

    async def scenario() -> None:
        tasks = [
            asyncio.create_task(turns.run(lambda name=name: ran.append(name)))
            for name in ("a", "b", "c")
        ]
        await asyncio.sleep(0)  # a ran; b and c wait
        tasks[1].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(results[1], asyncio.CancelledError)

    asyncio.run(scenario())
    assert ran == ["a", "c"]


def test_a_waiter_cancelled_after_it_was_handed_the_turn_passes_it_on() -> None:
    turns = Turns()
    ran: list[str] = []

    async def scenario() -> None:
        tasks = [
            asyncio.create_task(turns.run(lambda name=name: ran.append(name)))
            for name in ("a", "b", "c")
        ]
        await asyncio.sleep(0)  # a ran; b and c wait
        await asyncio.sleep(0)  # the turn came back and was handed to b, not yet running
        tasks[1].cancel()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 1)
        assert isinstance(results[1], asyncio.CancelledError)
        assert await asyncio.wait_for(turns.run(lambda: "free"), 1) == "free"

    asyncio.run(scenario())
    assert ran == ["a", "c"]


def test_one_instance_serves_event_loops_one_after_another() -> None:
    """Test clients start loops of their own; an asyncio.Lock belongs to one loop."""
    turns = Turns()

    async def scenario() -> list[int]:
        return list(await asyncio.gather(*(turns.run(lambda i=i: i) for i in range(3))))

    assert asyncio.run(scenario()) == [0, 1, 2]
    assert asyncio.run(scenario()) == [0, 1, 2]


@pytest.mark.parametrize("waiting", [0, 2])
def test_the_turn_comes_back_once_everyone_is_served(waiting: int) -> None:
    turns = Turns()

    async def scenario() -> str:
        await asyncio.gather(*(turns.run(lambda: None) for _ in range(waiting + 1)))
        await asyncio.sleep(0)  # the last unit gave the turn back at the loop's next turn
        return await asyncio.wait_for(turns.run(lambda: "free"), timeout=1)

    assert asyncio.run(scenario()) == "free"
