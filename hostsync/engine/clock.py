"""The engine's clock: timestamps as the state and the logs write them, and back-off delays.

The clock is passed in (``Clock``), never read from the system inside a cycle, so tests run
weeks of escrow and quarantine delays on a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
"""Gives the current time, timezone-aware."""


def system_clock() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """``2025-01-06T09:00:00Z``: UTC, whole seconds."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """A timestamp written by :func:`format_time`."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def backoff(delays_minutes: Sequence[float], attempt: int) -> timedelta:
    """The delay after the ``attempt``-th consecutive failure (1-based); the last one repeats."""
    index = min(max(attempt, 1), len(delays_minutes)) - 1
    return timedelta(minutes=delays_minutes[index])
