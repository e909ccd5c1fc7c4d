"""Turns for the database work that runs on the event loop, in the order requests arrived.

On SQLite each request's unit of work runs inline on the event loop
(:meth:`~hostsync.web.scim_routes.ScimEndpoints.blocking`). The loop then serves requests in
batches: one poll of the sockets hands it every request that has arrived, and it works
through all of them before it polls again. A request that arrives just after a poll waits for
the whole batch in progress and then for its place in the next one. Under a closed loop of 16
connections (wrk, or Entra's parallel requests) the same two connections missed the poll
round after round and waited two batches each time: with a fixed 300 µs of work per request,
uvicorn served 14 or 15 other requests between two of most connections' requests, and 29
between two of theirs, so the p99 latency was 2.2 times the p50 (13.9 / 6.3 ms at 2,300
requests/s).

:class:`Turns` makes the units of work take turns, one per turn of the event loop, in the
order they asked: a unit that finishes hands the turn to the oldest waiter, which runs after
the loop has polled the sockets once more, so requests that arrived meanwhile queue behind it
instead of ahead of it. When no one waits, the turn is given back only at the next turn of the
loop, so the requests of the same batch queue too. ``bench/arrival_order.py`` (that app, in
batches and in turns): requests that waited for more than one round of the others 6 to 7 % → 0,
p99 12.6 to 14.0 → 8.0 to 9.9 ms, at 2 to 10 % fewer requests/s (each waiter suspends and is woken
through its coroutines). In hostsync at 100,000 users the same share went from 6.7 to 12.3 %
to 0 to 0.05 %; its p99 over HTTP fell by a quarter to a third in most alternating pairs
(lookups 15.6 / 15.8 / 12.4 / 13.9 → 10.0 / 11.8 / 8.7 / 8.5 ms) and in others stayed within
the machine's noise (bench/README.md).

A turn is held only around work that never waits on the network (a unit of work on SQLite,
in-process): never while a body is read or a response is written, so a slow client cannot
hold the others up. Nor does a costly list query on a SQLite file take a turn (a filter or
sort that no index bounds, which reads every row of its tenant): those run in threads of their
own, a few at a time (web/fairness.py, store/budget.py).

**Group commit.** Given the database's :class:`~hostsync.store.units.CommitGroup`, the turns
also decide when the units that ran commit: while others wait for a turn, a unit's
transaction stays open for the next one, and the group commits when the turn finds no one
waiting (at the loop's next turn, so the requests that arrived meanwhile join it first) or
when a unit fills it to its limit. Each unit's outcome (its result or its error) is kept until
that commit; if the commit fails, every unit of the group gets its error instead. So nothing is
answered before it is committed, and a burst of writes commits once instead of once per
request (store/units.py, bench/README.md). Committing at the unit's own end whenever no one
waited yet left every other group a single unit over HTTP (the first request after a group's
answers found no one behind it): creates 2,543/s against 2,800 to 2,900/s.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Group(Protocol):
    """What the turns need of a commit group (:class:`~hostsync.store.units.CommitGroup`)."""

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


__all__ = ["Turns"]
