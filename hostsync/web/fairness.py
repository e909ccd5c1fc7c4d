"""A fair share of the server: costly queries run a few at a time, each tenant its own share.

A costly list query (store/budget.py) holds a connection for up to its time budget, so at most
``total`` run in a process and ``per_tenant`` of one tenant; the rest wait on the loop in
arrival order, for at most ``wait_seconds`` (then 503 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from types import TracebackType
from typing import TypeVar

from hostsync.scim.errors import UnavailableError

WAITING_PER_TENANT = 32
"""Costly queries of one tenant that may wait for a slot; the next answers 503 at once."""
BACKGROUND_NICENESS = 10
"""How much lower the CPU priority of the threads that run costly SQLite queries is."""
T = TypeVar("T")


class CostlyGate:
    """Slots for costly queries: ``total`` in the process, ``per_tenant`` per tenant."""

    def __init__(self, total: int, per_tenant: int, wait_seconds: float) -> None:
        self.total = max(1, total)
        self.per_tenant = max(1, min(per_tenant, self.total))
        self.wait_seconds = max(0.0, wait_seconds)
        self.retry_after = max(1, math.ceil(self.wait_seconds))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: dict[str, int] = {}  # tenant -> queries holding a slot
        self._waiting: dict[str, int] = {}  # tenant -> queries waiting for one
        self._queue: deque[tuple[str, asyncio.Future[None]]] = deque()
        self._busy = 0

    @property
    def running(self) -> int:
        """How many costly queries hold a slot."""
        return self._busy

    def slot(self, tenant_id: str) -> _Slot:
        """``async with gate.slot(tenant):`` runs the block holding one of the slots."""
        return _Slot(self, tenant_id)

    def _may_run(self, tenant_id: str) -> bool:
        return self._busy < self.total and self._running.get(tenant_id, 0) < self.per_tenant

    def _take(self, tenant_id: str) -> None:
        self._busy += 1
        self._running[tenant_id] = self._running.get(tenant_id, 0) + 1

    async def acquire(self, tenant_id: str) -> None:
        """Take a slot, waiting at most ``wait_seconds`` (503 + ``Retry-After`` past it)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # futures belong to one loop (tests start several)
            self._loop, self._queue, self._running, self._waiting, self._busy = (
                loop,
                deque(),
                {},
                {},
                0,
            )
        if self._may_run(tenant_id):  # a waiter left queued with a slot free may not run
            self._take(tenant_id)
            return
        if self._waiting.get(tenant_id, 0) >= WAITING_PER_TENANT or not self.wait_seconds:
            raise self._busy_error()
        waiter: asyncio.Future[None] = loop.create_future()
        self._queue.append((tenant_id, waiter))
        self._waiting[tenant_id] = self._waiting.get(tenant_id, 0) + 1
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.wait_seconds)
        except (TimeoutError, asyncio.CancelledError):
            if waiter.done() and not waiter.cancelled():
                self.release(tenant_id)  # granted as the wait ended: give it on
            else:
                waiter.cancel()  # skipped when its turn comes
            self._unwait(tenant_id)
            raise self._busy_error() from None
        self._unwait(tenant_id)

    def _unwait(self, tenant_id: str) -> None:
        left = self._waiting.get(tenant_id, 0) - 1
        if left > 0:
            self._waiting[tenant_id] = left
        else:
            self._waiting.pop(tenant_id, None)

    def release(self, tenant_id: str) -> None:
        """Give a slot back and hand it to the oldest waiter whose tenant may run."""
        self._busy -= 1
        left = self._running.get(tenant_id, 0) - 1
        if left > 0:
            self._running[tenant_id] = left
        else:
            self._running.pop(tenant_id, None)
        self._grant()

    def _grant(self) -> None:
        queue = self._queue
        while queue and self._busy < self.total:
            granted = False
            for index, (tenant_id, waiter) in enumerate(queue):
                if waiter.done():  # given up
                    continue
                if self._running.get(tenant_id, 0) < self.per_tenant:
                    del queue[index]
                    self._take(tenant_id)
                    waiter.set_result(None)
                    granted = True
                    break
            while queue and queue[0][1].done():
                queue.popleft()
            if not granted:
                return

    def _busy_error(self) -> UnavailableError:
        return UnavailableError(
            "Too many costly queries (filters or sorts that no index answers) are running; "
            f"retry after {self.retry_after} s, or narrow the filter with an 'eq' on id, "
            "userName, externalId or displayName",
            self.retry_after,
        )


class _Slot:
    __slots__ = ("gate", "tenant_id")

    def __init__(self, gate: CostlyGate, tenant_id: str) -> None:
        self.gate = gate
        self.tenant_id = tenant_id

    async def __aenter__(self) -> None:
        await self.gate.acquire(self.tenant_id)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.gate.release(self.tenant_id)


class BackgroundThreads:
    """Threads for costly SQLite queries, at a lower CPU priority than the event loop.

    Python's ``sqlite3`` lets go of the GIL while SQLite steps, so a scan in one of these
    threads leaves the loop free to serve cheap requests; but on a server given one core,
    the scan and the loop share that core. Each thread lowers its own priority by
    :data:`BACKGROUND_NICENESS` (Linux applies ``nice`` per thread) when it starts, so the
    kernel hands the core to the loop as soon as a request wakes it; the scan gets what the
    loop leaves. Where per-thread priorities are not available the threads run as others do.
    """

    def __init__(self, threads: int) -> None:
        self.threads = max(1, threads)
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor_now(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.threads, "hostsync-costly", initializer=_lower_priority
                )
            return self._executor

    async def run(self, function: Callable[[], T]) -> T:
        """Run ``function`` in one of the threads and wait for it on the loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor_now(), function)

    def shutdown(self) -> None:
        """Let the threads end once their work is done."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)


def _lower_priority() -> None:
    with suppress(AttributeError, OSError):  # not Linux, or not allowed: normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)
