"""The ``sync run`` loop: one cycle, then wait for the interval or the quarantine's next attempt.

Entra runs incremental cycles about every 40 minutes; while a job is quarantined its cycles
back off to +6 h, +12 h, +24 h and then daily, and after four weeks the job is disabled
(docs/reference/entra-engine.md#cycle-interval, docs/reference/entra-engine.md#quarantine).
:func:`run_cycles` is that loop with the clock and the sleep passed in, so tests drive weeks
of it with a fake clock in milliseconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from hostsync.engine.clock import parse_time
from hostsync.engine.ports import JobState, SyncState
from hostsync.engine.runner import CycleReport

Sleep = Callable[[float], Awaitable[None]]


def next_cycle_at(state: JobState, interval: timedelta, finished: datetime) -> datetime | None:
    """When the next cycle is due after one that ended at ``finished`` (None: disabled).

    The interval counts from the end of a cycle; a quarantine's ``next_attempt`` pushes the
    next cycle later, never earlier.
    """
    if state.disabled is not None:
        return None
    due = finished + interval
    if state.quarantine is not None:
        due = max(due, parse_time(state.quarantine.next_attempt))
    return due


def describe_next(due: datetime, now: datetime) -> str:
    """``next cycle at 14:40 UTC (in 40 min)``: when the loop runs again, for a person."""
    seconds = max((due - now).total_seconds(), 0.0)
    minutes = round(seconds / 60)
    if minutes < 1:
        wait = "now"
    elif minutes < 120:
        wait = f"in {minutes} min"
    elif minutes < 48 * 60:
        wait = f"in {minutes / 60:.1f} h".replace(".0 h", " h")
    else:
        wait = f"in {minutes / 1440:.1f} days".replace(".0 days", " days")
    at = due.astimezone(UTC)
    day = "" if at.date() == now.astimezone(UTC).date() else f"{at:%Y-%m-%d} "
    return f"next cycle at {day}{at:%H:%M} UTC ({wait})"


async def run_cycles(
    cycle: Callable[[], Awaitable[CycleReport]],
    store: SyncState,
    *,
    interval: timedelta,
    now: Callable[[], datetime],
    sleep: Sleep,
    on_report: Callable[[CycleReport], None] = lambda report: None,
    on_wait: Callable[[datetime, datetime], None] = lambda due, now: None,
    max_cycles: int | None = None,
) -> CycleReport:
    """Run cycles until the job is disabled (or ``max_cycles`` ran); return the last report.

    Before each wait ``on_wait(due, now)`` is told when the next cycle runs (``sync run``
    prints :func:`describe_next`).
    """
    count = 0
    while True:
        report = await cycle()
        count += 1
        on_report(report)
        if report.state == "Disabled" or (max_cycles is not None and count >= max_cycles):
            return report
        due = next_cycle_at(store.load(), interval, now())
        if due is None:
            return report
        current = now()
        on_wait(due, current)
        await sleep(max((due - current).total_seconds(), 0.0))
