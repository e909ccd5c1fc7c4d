"""When a failed delivery is tried again: exponential backoff with full jitter, bounded.

Attempt *n* (1 for the first retry) waits a uniformly random time between 0 and
``min(cap, base * 2**(n-1))`` seconds ("full jitter"): many deliveries that failed together
(an SMTP outage) come back spread out instead of in one burst. A delivery is given up after
``max_attempts`` attempts or once it has waited ``max_age`` since it was queued, whichever
comes first. Pure: the random draw is passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Backoff:
    """The retry schedule: ``base`` and ``cap`` in seconds."""

    base: float = 5.0
    cap: float = 900.0
    max_attempts: int = 20
    max_age: timedelta = timedelta(hours=24)

    def ceiling(self, attempt: int) -> float:
        """The longest wait before retry ``attempt`` (1-based)."""
        exponent = min(max(attempt, 1) - 1, 62)
        return float(min(self.cap, self.base * (2**exponent)))

    def delay(self, attempt: int, draw: Callable[[], float]) -> float:
        """The wait before retry ``attempt``; ``draw`` gives a uniform number in [0, 1)."""
        return self.ceiling(attempt) * min(max(draw(), 0.0), 1.0)

    def next_attempt(
        self, attempts: int, queued_at: datetime, now: datetime, draw: Callable[[], float]
    ) -> datetime | None:
        """When to try again after ``attempts`` failed attempts; None: give up."""
        if attempts >= self.max_attempts:
            return None
        at = now + timedelta(seconds=self.delay(attempts, draw))
        if at - queued_at > self.max_age:
            return None
        return at
