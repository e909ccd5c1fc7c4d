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


class FakeGroup:
    """A commit group as the turns see it: units open it, ``settle`` commits (or fails)."""

    def __init__(self, limit: int = 16, fail: frozenset[int] = frozenset()) -> None:
        self.collecting = False
        self.units = 0
        self.limit = limit
        self.fail = fail  # which commits (counted from 1) fail
        self.commits: list[int] = []  # units per commit
        self.events: list[str] = []

    @property
    def open(self) -> bool:
        return self.units > 0

    def join(self, name: str) -> str:
        assert self.collecting, "a unit runs while the turns collect"
        self.units += 1
        self.events.append(f"ran {name}")
        return name

    def settle(self) -> None:
        units, self.units = self.units, 0
        self.commits.append(units)
        self.events.append(f"commit {units}")
        if len(self.commits) in self.fail:
            raise RuntimeError("disk full")


def _burst(turns: Turns, group: FakeGroup, count: int) -> list[object]:
    """``count`` units asking for a turn at once."""

    async def scenario() -> list[object]:
        return await asyncio.gather(
            *(turns.run(lambda i=i: group.join(f"u{i}")) for i in range(count)),
            return_exceptions=True,
        )

    return asyncio.run(scenario())


def test_units_that_wait_for_a_turn_commit_together_and_answer_after_the_commit() -> None:
    group = FakeGroup()
    turns = Turns(group)
    answered: list[str] = []

    async def unit(name: str) -> None:
        answered.append(await turns.run(lambda: group.join(name)))
        group.events.append(f"answered {name}")

    async def scenario() -> None:
        await asyncio.gather(*(unit(f"u{i}") for i in range(4)))

    asyncio.run(scenario())
    assert group.commits == [4]
    assert group.events[:5] == ["ran u0", "ran u1", "ran u2", "ran u3", "commit 4"]
    assert answered == ["u0", "u1", "u2", "u3"]


def test_a_lone_unit_commits_at_the_next_turn_of_the_loop_before_it_answers() -> None:
    group = FakeGroup()
    turns = Turns(group)

    async def scenario() -> list[int]:
        first = await turns.run(lambda: group.join("a"))
        assert group.commits == [1]  # committed before it answered
        second = await turns.run(lambda: group.join("b"))
        assert (first, second) == ("a", "b")
        return group.commits

    assert asyncio.run(scenario()) == [1, 1]


def test_a_unit_that_asks_while_another_runs_joins_its_group() -> None:
    """A request whose task was started during a unit's turn (on a server: found by the same
    poll) asks for its turn before the loop's next turn, and joins the group."""
    group = FakeGroup()
    turns = Turns(group)
    late: list[asyncio.Task[str]] = []

    def first() -> str:
        late.append(asyncio.ensure_future(turns.run(lambda: group.join("late"))))
        return group.join("first")

    async def scenario() -> tuple[str, str]:
        answer = await turns.run(first)
        return answer, await late[0]

    assert asyncio.run(scenario()) == ("first", "late")
    assert group.commits == [2]


def test_a_group_commits_at_its_limit_even_while_others_wait() -> None:
    group = FakeGroup(limit=3)
    assert _burst(Turns(group), group, 7) == [f"u{i}" for i in range(7)]
    assert group.commits == [3, 3, 1]


def test_a_failed_commit_fails_every_unit_of_its_group_and_no_other() -> None:
    group = FakeGroup(limit=2, fail=frozenset({1}))
    outcomes = _burst(Turns(group), group, 4)
    assert group.commits == [2, 2]
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes[:2])
    assert outcomes[2:] == ["u2", "u3"]


def test_a_unit_that_fails_in_an_open_group_waits_for_the_commit_then_raises() -> None:
    group = FakeGroup()
    turns = Turns(group)

    def fail() -> None:
        group.join("failing")
        raise ValueError("409")

    async def scenario() -> list[object]:
        return await asyncio.gather(
            turns.run(lambda: group.join("first")), turns.run(fail), return_exceptions=True
        )

    first, failed = asyncio.run(scenario())
    assert first == "first"
    assert isinstance(failed, ValueError)
    assert group.events == ["ran first", "ran failing", "commit 2"]


def test_a_unit_that_opened_no_group_answers_at_once() -> None:
    group = FakeGroup()
    turns = Turns(group)

    async def scenario() -> str:
        return await turns.run(lambda: "read alone")

    assert asyncio.run(scenario()) == "read alone"
    assert group.events == []
