"""Inline units of work take turns on the event loop: one per loop turn, in arrival order.

A unit that ends hands the turn to the oldest waiter, which runs after the loop has polled the
sockets once more, so requests that arrived meanwhile queue behind it, not ahead of it. A turn
never spans a wait on the network (a body read, a response written).

Group commit: given a commit group, a unit's transaction stays open while others wait, and the
group commits when a turn finds no one waiting or the group is full; no unit is answered
before that commit, and if it fails every unit of the group gets its error.
Measured: bench/JOURNAL.md#arrival-order, bench/JOURNAL.md#group-commit-next-turn
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Group(Protocol):
    """What the turns need of a commit group (:class:`~hostsync.store.sqlite.units.CommitGroup`)."""

    collecting: bool  # units begun while it is set join the group
    units: int  # units in the open transaction
    limit: int  # units at most before it commits

    @property
    def open(self) -> bool:
        """Whether units wait for its commit."""

    def settle(self) -> None:
        """Commit; raise what the units should answer if the commit fails."""


class Turns:
    """One unit of work at a time on the event loop, first come first served (module doc)."""

    def __init__(self, group: Group | None = None) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy = False  # someone has the turn, or it comes back at the loop's next turn
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._group = group
        self._settling: list[asyncio.Future[None]] = []  # units waiting for the group's commit

    async def run(self, function: Callable[[], T]) -> T:
        """Wait for a turn, run ``function`` (synchronous work) in it, and pass the turn on."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # futures belong to one loop (tests start several)
            self._loop, self._busy, self._waiters, self._settling = loop, False, deque(), []
        if self._busy:
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._pass_on(loop)  # handed the turn, then cancelled before using it
                raise  # else still queued: a cancelled future is skipped when its turn comes
        else:
            self._busy = True
        group = self._group
        if group is None:
            try:
                return function()
            finally:
                self._pass_on(loop)
        group.collecting = True
        failure: BaseException | None = None
        try:
            result = function()
        except BaseException as exc:
            failure = exc
        finally:
            group.collecting = False
        committed: asyncio.Future[None] | None = None
        try:
            if group.open:  # else it ran alone, or failed as the group's first unit
                if group.units < group.limit:
                    committed = loop.create_future()  # commits with the units to come
                    self._settling.append(committed)
                else:  # full: commit now
                    failure = self._settle() or failure
        finally:
            self._pass_on(loop)
        if committed is not None:
            await committed  # the group's commit, or its failure (then raised here)
        if failure is not None:
            raise failure
        return result

    def _pass_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """To the oldest waiter, which runs at the loop's next turn; else free, at that turn."""
        if not self._hand_over():
            loop.call_soon(self._free)

    def _free(self) -> None:
        if not self._hand_over():
            self._settle()  # no one else is coming: commit what the group holds
            self._busy = False

    def _settle(self) -> BaseException | None:
        """Commit the group and hand the units that wait for it the outcome; return a failure."""
        group, settling = self._group, self._settling
        if group is None or not group.open:
            return None
        self._settling = []
        try:
            group.settle()
        except BaseException as exc:
            for committed in settling:
                if not committed.done():
                    committed.set_exception(exc)
            return exc
        for committed in settling:
            if not committed.done():
                committed.set_result(None)
        return None

    def _hand_over(self) -> bool:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():  # not cancelled meanwhile
                waiter.set_result(None)  # the turn is theirs: still busy
                return True
        return False
